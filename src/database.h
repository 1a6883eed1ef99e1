/*-------------------------------------------------------------------------
 *
 * database.h
 *	  The directory of databases that have mq, their workers' doorbells,
 *	  pauses and statistics.  The struct and its locks are private to
 *	  database.c, whose header comment gives the lock discipline.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/database.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_DATABASE_H
#define MQ_DATABASE_H

#include "catalog/pg_database.h"
#include "datatype/timestamp.h"
#include "postmaster/bgworker.h"

/*
 * The jobs of a database worker, each with its statistics in its
 * directory entry (shown by mq.worker_jobs()).
 */
typedef enum MqJob
{
	MQ_JOB_WATCHDOG,			/* clear in-flight ranges of dead producers */
	MQ_JOB_DEDUP,				/* forget expired dedup entries and resolved
								 * half messages */
	MQ_JOB_ROLL,				/* roll segments by size and age */
	MQ_JOB_RETENTION,			/* drop segments past retention */
	MQ_JOB_MEMBERS,				/* expire group members */
	MQ_JOB_RELEASE,				/* release due delayed messages and retries */
	MQ_JOB_CHECKBACK,			/* check back unresolved half messages */
	MQ_JOB_NOTIFY,				/* NOTIFY listeners of moved topics */
	MQ_JOB_SHARE,				/* fold shared groups' acks into positions */
	MQ_JOB_METRICS,				/* forget counters of dropped topics and
								 * groups */
	MQ_JOB_COUNT
} MqJob;

/* How the launcher registers a worker for a database (launcher.c). */
typedef BackgroundWorkerHandle *(*MqStartWorker) (Oid dboid);

/* From mq.c's shared memory hooks. */
extern void mq_database_shmem_request(void);
extern void mq_database_shmem_startup(void);

/* Events reported by mq.c's hooks, inside the transaction that causes them. */
extern void mq_database_extension_created(void);
extern void mq_database_extension_dropped(void);
extern void mq_database_created(void);
extern void mq_database_pause(Oid dboid);

/* Doorbells rung by committing sessions: a flag and a latch, never a wait. */
extern void mq_database_notify(void);
extern void mq_database_wake_at(TimestampTz due);
extern void mq_database_wake_all(void);

/* Transaction end, from mq.c's single transaction callback. */
extern bool mq_database_xact_pending(void);
extern void mq_database_xact_end(bool commit);

/* The launcher (launcher.c). */
extern bool mq_database_is_eligible(Form_pg_database pgdb);
extern void mq_database_launcher_attach(void);
extern bool mq_database_launcher_rescan_requested(void);
extern void mq_database_launcher_scan(void);
extern long mq_database_launcher_manage(MqStartWorker start);

/* A database worker (worker.c), about its own entry. */
extern void mq_database_worker_attach(Oid dboid);
extern bool mq_database_tick_begin(void);
extern void mq_database_worker_absent(bool eligible);
extern void mq_database_worker_running(void);
extern void mq_database_tick_end(void);
extern void mq_database_doorbell(bool *tick, bool *notify);
extern void mq_database_notify_done(void);
extern void mq_database_reset_due(void);
extern void mq_database_offer_due(TimestampTz due);
extern TimestampTz mq_database_next_due(void);
extern void mq_database_job_done(MqJob job, int64 count, int64 backlog,
								 const char *error);
extern const char *mq_database_job_name(MqJob job);

#endif							/* MQ_DATABASE_H */
