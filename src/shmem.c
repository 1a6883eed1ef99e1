/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  Sizing, creation and bounded allocation of mq's shared memory.
 *
 * mq_shmem_request() runs in the postmaster's shmem_request_hook and
 * reserves space for the fixed state, the four directories (hash tables)
 * and the named LWLock tranches.  mq_shmem_startup() runs in every process
 * that attaches (and again after a crash re-initialises shared memory) and
 * creates or finds the structures.  The lock discipline is in shmem.h.
 *
 * Every directory has a fixed capacity set by an mq.max_* setting.
 * mq_shmem_enter() is the only way to add an entry: it checks the capacity
 * itself rather than waiting for dynahash to run out of memory, so the
 * limit is exact and the error names the setting to raise.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/shmem.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"

#include "mq.h"
#include "shmem.h"

MqShared   *MqState = NULL;

MqDirectory MqDatabaseDir = {
	"database", "mq.max_databases", &mq_max_databases,
	sizeof(Oid), sizeof(MqDatabase), NULL, NULL
};
MqDirectory MqTopicDir = {
	"topic", "mq.max_topics", &mq_max_topics,
	sizeof(MqTopicKey), sizeof(MqTopic), NULL, NULL
};
MqDirectory MqPartitionDir = {
	"partition", "mq.max_partitions", &mq_max_partitions,
	sizeof(MqPartitionKey), sizeof(MqPartition), NULL, NULL
};

static MqDirectory *const directories[] = {
	&MqDatabaseDir, &MqTopicDir, &MqPartitionDir
};

PG_FUNCTION_INFO_V1(mq_shmem_usage);

/*
 * mq_shmem_size
 *		Bytes of shared memory mq needs with the current settings.
 */
static Size
mq_shmem_size(void)
{
	Size		size = MAXALIGN(sizeof(MqShared));
	size_t		i;

	for (i = 0; i < lengthof(directories); i++)
		size = add_size(size, hash_estimate_size(*directories[i]->capacity,
												 directories[i]->entrysize));
	return size;
}

/*
 * mq_shmem_request
 *		Reserve shared memory and LWLocks.  Called from shmem_request_hook
 *		in the postmaster; PostgreSQL 15 refuses these calls anywhere else.
 */
void
mq_shmem_request(void)
{
	RequestAddinShmemSpace(mq_shmem_size());
	RequestNamedLWLockTranche("mq directory", 1);
	RequestNamedLWLockTranche("mq topics", 1);
}

/*
 * mq_shmem_startup
 *		Create mq's shared structures, or attach to them if another process
 *		already did.  Called from shmem_startup_hook.
 *
 * The process-local pointers are all set again: after a crash the
 * postmaster runs this with fresh shared memory, and no stale pointer may
 * survive into the new children.
 */
void
mq_shmem_startup(void)
{
	bool		found;
	size_t		i;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);

	MqState = ShmemInitStruct("mq state", sizeof(MqShared), &found);
	if (!found)
	{
		memset(MqState, 0, sizeof(MqShared));
		MqState->dir_lock = &(GetNamedLWLockTranche("mq directory"))->lock;
		MqState->topic_lock = &(GetNamedLWLockTranche("mq topics"))->lock;
		ConditionVariableInit(&MqState->worker_exit_cv);
		for (i = 0; i < MQ_WAKE_CHANNELS; i++)
			ConditionVariableInit(&MqState->wake_cv[i]);
		MqState->partition_tranche = LWLockNewTrancheId();
		pg_atomic_init_u64(&MqState->clock_offset, 0);
		pg_atomic_init_u64(&MqState->subscriptions_version, 1);
	}
	LWLockRegisterTranche(MqState->partition_tranche, "mq partition");

	MqDatabaseDir.lock = MqState->dir_lock;
	MqTopicDir.lock = MqState->topic_lock;
	MqPartitionDir.lock = MqState->topic_lock;

	for (i = 0; i < lengthof(directories); i++)
	{
		MqDirectory *dir = directories[i];
		HASHCTL		info;
		char		name[NAMEDATALEN];

		info.keysize = dir->keysize;
		info.entrysize = dir->entrysize;
		snprintf(name, sizeof(name), "mq %ss", dir->name);
		dir->htab = ShmemInitHash(name, *dir->capacity, *dir->capacity,
								  &info,
								  HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
	}

	LWLockRelease(AddinShmemInitLock);
}

/*
 * mq_shmem_enter
 *		Find the entry for key in dir, or add it if there is room.
 *
 * The caller holds dir->lock exclusively.  A new entry has its key set and
 * every other byte zeroed; *found tells which case happened.  When the
 * directory is full this raises ERRCODE_CONFIGURATION_LIMIT_EXCEEDED naming
 * the setting, before changing anything (error cleanup releases the lock).
 */
void *
mq_shmem_enter(MqDirectory *dir, const void *key, bool *found)
{
	void	   *entry;

	Assert(LWLockHeldByMeInMode(dir->lock, LW_EXCLUSIVE));

	entry = hash_search(dir->htab, key, HASH_FIND, NULL);
	if (entry != NULL)
	{
		*found = true;
		return entry;
	}

	if (hash_get_num_entries(dir->htab) >= *dir->capacity)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("all %d mq %s slots are in use",
						*dir->capacity, dir->name),
				 errhint("Increase %s and restart the server.",
						 dir->setting)));

	entry = hash_search(dir->htab, key, HASH_ENTER_NULL, found);
	if (entry == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of shared memory for mq %s slots", dir->name),
				 errhint("Increase %s and restart the server.",
						 dir->setting)));

	memset((char *) entry + dir->keysize, 0, dir->entrysize - dir->keysize);
	return entry;
}

/*
 * mq_shmem_usage
 *		SQL: mq.shmem_usage() returns one row per directory: its name, the
 *		slots in use, the capacity and the setting that sizes it.
 */
Datum
mq_shmem_usage(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	size_t		i;

	InitMaterializedSRF(fcinfo, 0);

	for (i = 0; i < lengthof(directories); i++)
	{
		MqDirectory *dir = directories[i];
		Datum		values[4];
		bool		nulls[4] = {0};
		long		used;
		char		name[NAMEDATALEN];

		LWLockAcquire(dir->lock, LW_SHARED);
		used = hash_get_num_entries(dir->htab);
		LWLockRelease(dir->lock);

		snprintf(name, sizeof(name), "%ss", dir->name);
		values[0] = CStringGetTextDatum(name);
		values[1] = Int64GetDatum((int64) used);
		values[2] = Int64GetDatum((int64) *dir->capacity);
		values[3] = CStringGetTextDatum(dir->setting);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
							 values, nulls);
	}

	return (Datum) 0;
}

/*
 * mq_wake_channel
 *		The condition variable that consumers of a database sleep on, and
 *		that is broadcast when a stable offset there moves.  Databases share
 *		channels; a consumer woken for another database finds nothing new
 *		and sleeps again.
 */
ConditionVariable *
mq_wake_channel(Oid dboid)
{
	return &MqState->wake_cv[dboid % MQ_WAKE_CHANNELS];
}
