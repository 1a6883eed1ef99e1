/*-------------------------------------------------------------------------
 *
 * mq.h
 *	  Settings and entry points shared by every mq subsystem.
 *
 * mq.c owns the module's life cycle: _PG_init, the mq.* settings, and the
 * hooks that PostgreSQL calls back (shared memory, utility commands, object
 * access, transaction end).  Subsystems declare their own interfaces in
 * their own headers; this one holds only what all of them read.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/mq.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_H
#define MQ_H

/* Name of the extension, its library and its schema. */
#define MQ_EXTENSION_NAME	"mq"

/* Longest topic or group name, in bytes. */
#define MQ_NAME_MAX			200

/* Sizing settings (PGC_POSTMASTER): they size shared memory. */
extern int	mq_max_databases;
extern int	mq_max_topics;
extern int	mq_max_partitions;

/* Worker cadence settings (PGC_SIGHUP). */
extern int	mq_worker_naptime;
extern int	mq_launcher_naptime;

/* Producer settings (PGC_USERSET). */
extern int	mq_max_message_size;
extern int	mq_send_buffer_limit;
extern int	mq_auto_commit_timeout;
extern int	mq_notify_interval;

/* Timed work settings (delay.c, retry.c, txn.c). */
extern int	mq_max_delay;
extern bool mq_test_clock;
extern int	mq_check_interval;
extern int	mq_check_max;
extern int	mq_check_timeout;

#endif							/* MQ_H */
