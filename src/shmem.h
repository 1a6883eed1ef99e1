/*-------------------------------------------------------------------------
 *
 * shmem.h
 *	  mq's shared memory: the per-database directory of workers, topics,
 *	  partitions and consumer groups.
 *
 * Shared memory is a cache.  The extension's tables are the source of
 * truth; after a restart (or a crash, which re-initialises shared memory)
 * every entry is rebuilt lazily from them.  Entries are fixed-size and
 * their number is capped by the mq.max_* settings; running out is an error
 * (SQLSTATE 53400) that names the setting, never a crash.
 *
 * Lock discipline (lock order is top to bottom; never take an earlier lock
 * while holding a later one):
 *
 *	MqShared->dir_lock ("mq directory" tranche)
 *		the database hash and every MqDatabase field except the tick
 *		statistics, plus the launcher fields of MqShared.  Held for a few
 *		dozen instructions: no I/O, no catalog access, no ereport(ERROR)
 *		except the slot-exhaustion error raised before anything is changed.
 *	MqShared->topic_lock ("mq topics" tranche)
 *		the topic and partition hashes: entries are added and removed under
 *		it held exclusively, and looked up under it held shared.  An entry
 *		found may be used after releasing it as long as the caller holds a
 *		lock on the topic's segment table, which dropping the topic needs
 *		exclusively, or the entry is pinned by an in-flight range.
 *	MqPartition.lock ("mq partition" tranche), then MqPartition.mutex
 *		see MqPartition.
 *	MqDatabase.mutex (spinlock)
 *		the tick statistics, written by the database's worker every tick
 *		and read by mq.worker_status().  A handful of assignments only.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/shmem.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_SHMEM_H
#define MQ_SHMEM_H

#include "datatype/timestamp.h"
#include "port/atomics.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/hsearch.h"

#include "mq.h"

/*
 * What the launcher knows of a database's worker.  The worker itself moves
 * an entry from STARTING to RUNNING, or to ABSENT when the extension is not
 * installed there; the launcher does everything else.
 */
typedef enum MqWorkerState
{
	MQ_WORKER_STOPPED,			/* no process; restart after a delay */
	MQ_WORKER_STARTING,			/* registered, not yet checked in */
	MQ_WORKER_RUNNING,			/* connected, extension present */
	MQ_WORKER_ABSENT			/* extension not installed: exited for good */
} MqWorkerState;

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
	MQ_JOB_COUNT
} MqJob;

#define MQ_JOB_ERROR_MAX	256

typedef struct MqJobStats
{
	TimestampTz last_run;		/* end of its last run, 0 if none */
	uint64		runs;
	int64		last_count;		/* what the last run did (rows, topics) */
	int64		backlog;		/* work left after it, -1 if not measured */
	uint64		errors;			/* runs that failed */
	TimestampTz last_error_at;
	char		last_error[MQ_JOB_ERROR_MAX];
} MqJobStats;

/*
 * One database in which mq is installed, or is being looked for.
 * Key: dboid.  Protected by MqShared->dir_lock unless noted.
 */
typedef struct MqDatabase
{
	Oid			dboid;			/* hash key */
	MqWorkerState state;
	bool		start_requested;	/* CREATE EXTENSION committed here */
	bool		probe;			/* launcher looking for mq; evictable */
	int			pins;			/* open transactions that need the entry */
	int			pauses;			/* utility commands that need no worker */
	int			restarts;		/* unexpected worker exits so far */
	pid_t		pid;			/* worker process, 0 if none */
	Latch	   *latch;			/* its latch, NULL if none */
	TimestampTz started_at;		/* when the current worker checked in */

	/* tick statistics, protected by mutex */
	slock_t		mutex;
	TimestampTz last_tick;		/* end of the worker's last pass */
	uint64		ticks;			/* passes since the worker started */
	bool		notify_pending; /* a stable offset moved: notify listeners */
	bool		tick_requested; /* run a pass now, not at the next naptime */

	/*
	 * Earliest time, on mq's clock (mq_now), at which timed work is due: a
	 * delayed message or a retry to release, a half message to check.
	 * Producers lower it when they commit such work; the worker sets it from
	 * its tables after each pass (see worker.c).  Protected by mutex.
	 */
	TimestampTz next_due;

	/* per-job statistics, protected by mutex */
	MqJobStats	jobs[MQ_JOB_COUNT];
} MqDatabase;

/*
 * Topic directory entry: name to id, partition count and the segment that
 * receives new messages.  Loaded from mq's tables on first use (topic.c);
 * removed when the topic is dropped, when the transaction that created it
 * aborts, or when the extension is dropped.  Protected by topic_lock.
 */
typedef struct MqTopicKey
{
	Oid			dboid;
	char		name[MQ_NAME_MAX + 1];	/* zero-padded */
} MqTopicKey;

typedef struct MqTopic
{
	MqTopicKey	key;			/* hash key */
	int32		topic_id;
	int32		partitions;
	Oid			segment_relid;	/* active segment table */
} MqTopic;

/*
 * Commit-time offsets (produce.c).  A producer reserves a contiguous range
 * of offsets at commit and registers it as in flight until its transaction
 * has ended.  The ranges of a partition are registered in increasing order
 * in a ring; the stable offset is the start of the oldest range still in
 * flight, or next_offset when none is.  Readers read strictly below it.
 */
#define MQ_INFLIGHT_SLOTS	32
#define MQ_WAKE_CHANNELS	16

typedef struct MqInflight
{
	int64		start;			/* first offset of the range */
	TransactionId xid;			/* top-level transaction that holds it */
	bool		done;			/* ended, waiting to leave the ring */
} MqInflight;

typedef struct MqPartitionKey
{
	Oid			dboid;
	int32		topic_id;
	int32		partition;
} MqPartitionKey;

/*
 * One partition.  lock (tranche "mq partition") serialises reservations,
 * including the durable high-mark bump that may do I/O; mutex guards
 * next_offset and the ring for the few instructions that read or change
 * them.  Take lock before mutex.
 */
typedef struct MqPartition
{
	MqPartitionKey key;			/* hash key */
	LWLock		lock;
	slock_t		mutex;
	int64		next_offset;	/* next offset to assign */
	int64		high_mark;		/* durable: next_offset never passes it */
	int64		notified;		/* stable offset of the last NOTIFY */
	int			head;			/* oldest ring entry */
	int			count;			/* ring entries in use */
	MqInflight	ring[MQ_INFLIGHT_SLOTS];
	ConditionVariable cv;		/* broadcast when the stable offset moves */
} MqPartition;

/* The fixed part of mq's shared memory. */
typedef struct MqShared
{
	LWLock	   *dir_lock;
	LWLock	   *topic_lock;
	int			partition_tranche;	/* tranche of MqPartition.lock */

	/* launcher, protected by dir_lock */
	pid_t		launcher_pid;
	Latch	   *launcher_latch;
	TimestampTz launcher_started_at;
	TimestampTz launcher_last_scan; /* end of its last pg_database scan */
	bool		rescan_requested;	/* look at pg_database again */

	/* broadcast whenever a database worker exits */
	ConditionVariable worker_exit_cv;

	/*
	 * Broadcast whenever a partition's stable offset moves, on the channel of
	 * its database (dboid % MQ_WAKE_CHANNELS): what mq.poll sleeps on.
	 */
	ConditionVariable wake_cv[MQ_WAKE_CHANNELS];

	/*
	 * Microseconds added to the system clock to give mq's clock (mq_now):
	 * zero unless tests move it with mq.advance_clock().  Only grows.
	 */
	pg_atomic_uint64 clock_offset;

	/*
	 * Bumped by every committed change to consumer groups, subscriptions or
	 * topics: sessions keep the subscriptions they fetch for while it stays
	 * the same (see fetch.c).
	 */
	pg_atomic_uint64 subscriptions_version;
} MqShared;

/*
 * One fixed-capacity shared hash table and what guards it.  The structs
 * are process-local; htab and lock point into shared memory once
 * mq_shmem_startup() has run.
 */
typedef struct MqDirectory
{
	const char *name;			/* plural noun used in messages */
	const char *setting;		/* the GUC that sets the capacity */
	const int  *capacity;		/* that GUC's variable */
	Size		keysize;
	Size		entrysize;
	HTAB	   *htab;
	LWLock	   *lock;			/* guards insertion and removal */
} MqDirectory;

extern MqShared *MqState;
extern MqDirectory MqDatabaseDir;
extern MqDirectory MqTopicDir;
extern MqDirectory MqPartitionDir;

extern void mq_shmem_request(void);
extern void mq_shmem_startup(void);
extern void *mq_shmem_enter(MqDirectory *dir, const void *key, bool *found);
extern ConditionVariable *mq_wake_channel(Oid dboid);

#endif							/* MQ_SHMEM_H */
