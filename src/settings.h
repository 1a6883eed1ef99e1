/*-------------------------------------------------------------------------
 *
 * settings.h
 *	  The mq.* settings, and the names and limits every subsystem shares.
 *
 * The bottom of the layers: settings.c defines the settings (called from
 * _PG_init in mq.c); every other file may read them.  A limit that is not
 * a setting is named once, in the header of the file that enforces it.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/settings.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_SETTINGS_H
#define MQ_SETTINGS_H

/* Name of the extension, its library and its schema. */
#define MQ_EXTENSION_NAME	"mq"

/* The extension version this library's C code is written for. */
#define MQ_EXTENSION_VERSION	"0.2"

/* Longest topic or group name, in bytes. */
#define MQ_NAME_MAX			200

/*
 * A message's payload type, as a segment's payload_type column and the
 * delayed and half-message stores keep it.
 */
#define MQ_PAYLOAD_TEXT		't'
#define MQ_PAYLOAD_JSONB	'j'
#define MQ_PAYLOAD_BYTEA	'b'

/*
 * Deepest nesting of a text payload taken for a JSON document (produce.c):
 * PostgreSQL's JSON parser recurses once per level, and the send may itself
 * run deep in the stack (PL/pgSQL recursion, triggers) with the smallest
 * max_stack_depth (100kB).
 */
#define MQ_JSON_TEXT_DEPTH	100

/* Most messages one fetch, poll, read or lookup returns. */
#define MQ_MAX_BATCH		100000

/* Most partitions a topic can have. */
#define MQ_MAX_PARTITIONS_PER_TOPIC	100000

/*
 * Most delivery attempts mq counts: the highest max_retries, and the
 * highest "mq.attempt" header a retry trusts (headers are producer data).
 */
#define MQ_MAX_ATTEMPTS		1000

/* Rows a worker purge pass deletes at most (dedup entries, half messages). */
#define MQ_PURGE_BATCH		10000

/* Sizing settings (PGC_POSTMASTER): they size shared memory. */
extern int	mq_max_databases;
extern int	mq_max_topics;
extern int	mq_max_partitions;
extern int	mq_share_window;
extern int	mq_max_share_partitions;
extern int	mq_max_metrics;

/* Worker cadence settings (PGC_SIGHUP). */
extern int	mq_worker_naptime;
extern int	mq_launcher_naptime;

/* Producer settings (PGC_USERSET). */
extern int	mq_max_message_size;
extern int	mq_send_buffer_limit;
extern int	mq_auto_commit_timeout;
extern int	mq_notify_interval;

/* Timed work settings (delay.c, retry.c, half.c). */
extern int	mq_max_delay;
extern bool mq_test_clock;
extern int	mq_check_interval;
extern int	mq_check_max;
extern int	mq_check_timeout;

extern void mq_settings_define(void);

#endif							/* MQ_SETTINGS_H */
