/*-------------------------------------------------------------------------
 *
 * shmem.h
 *	  Fixed-capacity shared hash tables ("directories") for the files that
 *	  own mq's shared state.
 *
 * Shared memory is a cache.  The extension's tables are the source of
 * truth; after a restart (or a crash, which re-initialises shared memory)
 * every entry is rebuilt lazily from them.  Each shared struct has one
 * owner file that keeps it private, reserves and creates its memory, and
 * documents its locks in its header comment: database.c (the databases and
 * their workers), topic.c (the topic directory), offsets.c (partitions),
 * share.c (shared subscriptions' windows), metrics.c (counters), clock.c
 * (mq's clock) and subscription.c (the subscriptions version).
 * The lock order across them is in docs/design.md.
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

#include "storage/lwlock.h"
#include "utils/hsearch.h"

/*
 * One fixed-capacity shared hash table and the lock that guards adding and
 * removing its entries.  The struct is process-local and static in its
 * owner's file; htab and lock point into shared memory once
 * mq_shmem_directory_init() has run.  Running out of slots is an error
 * (SQLSTATE 53400) that names the setting, never a crash; only
 * mq_shmem_try_enter(), for metrics.c's commit path, reports it by
 * returning NULL instead.
 */
typedef struct MqDirectory
{
	const char *name;			/* singular noun used in messages */
	const char *setting;		/* the GUC that sets the capacity */
	const int  *capacity;		/* that GUC's variable */
	Size		keysize;
	Size		entrysize;
	HTAB	   *htab;
	LWLock	   *lock;			/* guards insertion and removal */
} MqDirectory;

extern Size mq_shmem_directory_size(const MqDirectory *dir);
extern void mq_shmem_directory_init(MqDirectory *dir, LWLock *lock);
extern void mq_shmem_check_room(MqDirectory *dir);
extern void *mq_shmem_enter(MqDirectory *dir, const void *key, bool *found);
extern void *mq_shmem_try_enter(MqDirectory *dir, const void *key,
								bool *found);

#endif							/* MQ_SHMEM_H */
