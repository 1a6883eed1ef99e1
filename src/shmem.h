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
 *		insertion into and removal from the topic and partition hashes.
 *	MqShared->group_lock ("mq groups" tranche)
 *		insertion into and removal from the group hash.
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
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/hsearch.h"

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
} MqDatabase;

/*
 * Topic directory entry: name to id and partition count.  Filled by the
 * topic subsystem from mq's catalog tables on first use.
 */
typedef struct MqTopicKey
{
	Oid			dboid;
	NameData	name;
} MqTopicKey;

typedef struct MqTopic
{
	MqTopicKey	key;			/* hash key */
	int32		topic_id;
	int32		partitions;
} MqTopic;

/*
 * Partition state, one entry per (database, topic id, partition).  The
 * produce and consume subsystems add the offsets, the in-flight commits and
 * the condition variable that long-polling consumers sleep on.
 */
typedef struct MqPartitionKey
{
	Oid			dboid;
	int32		topic_id;
	int32		partition;
} MqPartitionKey;

typedef struct MqPartition
{
	MqPartitionKey key;			/* hash key */
} MqPartition;

/* Consumer group directory entry. */
typedef struct MqGroupKey
{
	Oid			dboid;
	NameData	name;
} MqGroupKey;

typedef struct MqGroup
{
	MqGroupKey	key;			/* hash key */
	int32		group_id;
} MqGroup;

/* The fixed part of mq's shared memory. */
typedef struct MqShared
{
	LWLock	   *dir_lock;
	LWLock	   *topic_lock;
	LWLock	   *group_lock;

	/* launcher, protected by dir_lock */
	pid_t		launcher_pid;
	Latch	   *launcher_latch;
	TimestampTz launcher_started_at;
	TimestampTz launcher_last_scan; /* end of its last pg_database scan */
	bool		rescan_requested;	/* look at pg_database again */

	/* broadcast whenever a database worker exits */
	ConditionVariable worker_exit_cv;
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
extern MqDirectory MqGroupDir;

extern void mq_shmem_request(void);
extern void mq_shmem_startup(void);
extern void *mq_shmem_enter(MqDirectory *dir, const void *key, bool *found);

#endif							/* MQ_SHMEM_H */
