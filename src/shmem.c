/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  Sizing, creation and bounded allocation of mq's shared hash tables.
 *
 * The owner of a directory (see shmem.h) requests its size in the
 * shmem_request_hook and creates it in the shmem_startup_hook; both hooks
 * are in mq.c, which calls the owners in a fixed order.
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

#include "shmem.h"

/* Directories created so far, in order, for mq.shmem_usage(). */
#define MQ_MAX_DIRECTORIES	5

static MqDirectory *directories[MQ_MAX_DIRECTORIES];
static int	ndirectories = 0;

PG_FUNCTION_INFO_V1(mq_shmem_usage);

/*
 * mq_shmem_directory_size
 *		Bytes of shared memory dir needs with the current settings; its
 *		owner requests them in the shmem_request_hook.
 */
Size
mq_shmem_directory_size(const MqDirectory *dir)
{
	return hash_estimate_size(*dir->capacity, dir->entrysize);
}

/*
 * mq_shmem_directory_init
 *		Create dir's hash table, or attach to it if another process already
 *		did, and record lock as the one guarding its entries.  Called by the
 *		owner from the shmem_startup_hook with AddinShmemInitLock held.
 *
 * The process-local pointers are all set again: after a crash the
 * postmaster runs this with fresh shared memory, and no stale pointer may
 * survive into the new children.
 */
void
mq_shmem_directory_init(MqDirectory *dir, LWLock *lock)
{
	HASHCTL		info;
	char		name[NAMEDATALEN];
	int			i;

	info.keysize = dir->keysize;
	info.entrysize = dir->entrysize;
	snprintf(name, sizeof(name), "mq %ss", dir->name);
	dir->htab = ShmemInitHash(name, *dir->capacity, *dir->capacity, &info,
							  HASH_ELEM | HASH_BLOBS | HASH_FIXED_SIZE);
	dir->lock = lock;

	for (i = 0; i < ndirectories; i++)
		if (directories[i] == dir)
			return;
	if (ndirectories >= MQ_MAX_DIRECTORIES)
		elog(ERROR, "too many mq directories");
	directories[ndirectories++] = dir;
}

/*
 * mq_shmem_check_room
 *		Raise ERRCODE_CONFIGURATION_LIMIT_EXCEEDED, naming the setting, if
 *		dir has no free slot.  The caller holds dir->lock, so that the
 *		answer still holds when it adds the entry.
 */
void
mq_shmem_check_room(MqDirectory *dir)
{
	Assert(LWLockHeldByMe(dir->lock));

	if (hash_get_num_entries(dir->htab) >= *dir->capacity)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("all %d mq %s slots are in use",
						*dir->capacity, dir->name),
				 errhint("Increase %s and restart the server.",
						 dir->setting)));
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

	mq_shmem_check_room(dir);

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
 * mq_shmem_try_enter
 *		mq_shmem_enter() for paths that must not fail (a commit): returns
 *		NULL, changing nothing, when the key is not there and dir is full.
 */
void *
mq_shmem_try_enter(MqDirectory *dir, const void *key, bool *found)
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
		return NULL;
	entry = hash_search(dir->htab, key, HASH_ENTER_NULL, found);
	if (entry != NULL)
		memset((char *) entry + dir->keysize, 0,
			   dir->entrysize - dir->keysize);
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
	int			i;

	InitMaterializedSRF(fcinfo, 0);

	for (i = 0; i < ndirectories; i++)
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
