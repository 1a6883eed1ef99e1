/*-------------------------------------------------------------------------
 *
 * offsets.c
 *	  Partitions in shared memory: commit-time offsets, the in-flight ring,
 *	  the stable offset, the durable high mark, and the consumers that wait
 *	  for a stable offset to move.
 *
 * A producer reserves a contiguous range of offsets at commit
 * (mq_offsets_reserve) and registers it as in flight until its transaction
 * has ended (mq_offsets_xact_end).  The ranges of a partition are
 * registered in increasing order in a ring; the stable offset is the start
 * of the oldest range still in flight, or next_offset when none is.
 * Readers read strictly below it, with a snapshot taken after reading it,
 * so they never miss a message that commits later.  A transaction holds at
 * most one ring slot per partition: its first range is the lowest it will
 * ever reserve there, so that slot alone holds the stable offset below
 * every later range of the transaction.
 *
 * The durable high mark (mq.partition.high_mark) is above every offset
 * ever assigned.  It moves ahead in steps of MQ_HIGH_MARK_STEP with a
 * non-transactional in-place update, flushed to WAL at once, like a
 * sequence's log-ahead; after a restart a partition continues from it
 * (topic.c loads it), so no offset is handed out twice, even one of an
 * aborted transaction.
 *
 * The restart gap.  A partition entered from its durable high mark (after a
 * restart, or a restore) continues from the mark, past the end of its
 * stored log: the offsets in between hold no message and never will.  The
 * entry remembers that gap, [gap_start, gap_end), so that what users see
 * (the end and stable offsets, lag) can leave it out.  The mark is not
 * moved back to the log's end: offsets in the gap may have gone to
 * transactions that aborted, or been seen as an end offset or a group
 * position, and must never be handed out again.  gap_end is the mark the
 * entry starts from; gap_start, the log's end, is found by segment.c when
 * first asked for (mq_offsets_set_gap), and cannot change afterwards, as
 * every offset handed out from then on is at or past gap_end.  Partitions
 * of new topics, and partitions added to a topic, have no gap.
 *
 * Entries are added when topic.c loads or grows a topic and removed when
 * it forgets one, always with the topic directory's lock held exclusively,
 * so a capacity check and the entries it admits cannot be separated.
 *
 * Lock discipline.  Lock order is top to bottom; never take an earlier
 * lock while holding a later one.  The topic directory's lock (topic.c)
 * comes before all of them.
 *
 *	parts_lock ("mq partitions" tranche, an LWLock)
 *		the partition hash: entries are added and removed under it held
 *		exclusively and looked up under it held shared.  An entry found may
 *		be used after releasing it as long as the caller holds a lock on
 *		the topic's segment table, which dropping the topic needs
 *		exclusively, or the entry is pinned by a range this transaction
 *		holds in flight.
 *	MqPartition.lock ("mq partition" tranche, an LWLock)
 *		serialises reservations, including the durable high-mark bump that
 *		may do I/O (so mq.partition is locked before it is taken).
 *	MqPartition.mutex (spinlock)
 *		next_offset, high_mark, notified, gap_start and the ring, for the
 *		few instructions that read or change them.  gap_end is set when the
 *		entry is added and never changes.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/offsets.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "database.h"
#include "offsets.h"
#include "settings.h"
#include "shmem.h"

/* How far the durable high mark moves ahead of the next offset. */
#define MQ_HIGH_MARK_STEP	1000

/* Transactions that can hold offsets of one partition while they commit. */
#define MQ_INFLIGHT_SLOTS	32

/*
 * How long a transaction that already holds ring slots elsewhere waits for
 * a slot in a full ring before failing, in milliseconds.
 */
#define MQ_RING_WAIT_MS		1000

/* Condition variables that waiting consumers share, by database. */
#define MQ_WAKE_CHANNELS	16

/* gap_start of a partition whose log end segment.c has not found yet. */
#define MQ_GAP_UNKNOWN		(-1)

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

/* One partition; see the lock discipline above. */
typedef struct MqPartition
{
	MqPartitionKey key;			/* hash key */
	LWLock		lock;
	slock_t		mutex;
	int64		next_offset;	/* next offset to assign */
	int64		high_mark;		/* durable: next_offset never passes it */
	int64		notified;		/* stable offset of the last NOTIFY */
	int64		gap_start;		/* the restart gap: end of the stored log */
	int64		gap_end;		/* ... to the high mark it started from */
	int			head;			/* oldest ring entry */
	int			count;			/* ring entries in use */
	MqInflight	ring[MQ_INFLIGHT_SLOTS];
	ConditionVariable cv;		/* broadcast when the stable offset moves */
} MqPartition;

/* The fixed part of the partitions' shared memory. */
typedef struct OffsetsShared
{
	LWLock	   *parts_lock;
	int			partition_tranche;	/* tranche of MqPartition.lock */
	uint32		epoch;			/* this server life's; see mq_offsets_epoch */

	/*
	 * Broadcast whenever a partition's stable offset moves, on the channel of
	 * its database (dboid % MQ_WAKE_CHANNELS): what mq.poll sleeps on.
	 */
	ConditionVariable wake_cv[MQ_WAKE_CHANNELS];
} OffsetsShared;

static OffsetsShared *OffState = NULL;

static MqDirectory PartitionDir = {
	"partition", "mq.max_partitions", &mq_max_partitions,
	sizeof(MqPartitionKey), sizeof(MqPartition), NULL, NULL
};

/*
 * The ring slot this transaction holds in a partition.  The partition is
 * named by key, not pointer, since a topic created in an aborted
 * subtransaction leaves shared memory before the transaction ends.
 */
typedef struct MqHeldRange
{
	MqPartitionKey key;
	int64		start;
	TransactionId xid;
	bool		registered;		/* the slot is in the ring */
} MqHeldRange;

/* The slots this transaction holds, in TopTransactionContext. */
static List *held = NIL;

/*
 * partition_key
 *		The hash key of a partition of this database.
 */
static void
partition_key(MqPartitionKey *key, int32 topic_id, int32 partition)
{
	memset(key, 0, sizeof(*key));
	key->dboid = MyDatabaseId;
	key->topic_id = topic_id;
	key->partition = partition;
}

/*
 * find_partition
 *		A partition of this database in shared memory, or NULL.  The caller
 *		holds parts_lock.
 */
static MqPartition *
find_partition(int32 topic_id, int32 partition)
{
	MqPartitionKey key;

	partition_key(&key, topic_id, partition);
	return hash_search(PartitionDir.htab, &key, HASH_FIND, NULL);
}

/*
 * lookup_partition
 *		Like find_partition, taking parts_lock itself.  See the lock
 *		discipline for how long the pointer stays valid.
 */
static MqPartition *
lookup_partition(int32 topic_id, int32 partition)
{
	MqPartition *part;

	LWLockAcquire(OffState->parts_lock, LW_SHARED);
	part = find_partition(topic_id, partition);
	LWLockRelease(OffState->parts_lock);
	return part;
}

/*
 * stable_of
 *		The stable offset of part.  Caller holds part->mutex.
 */
static inline int64
stable_of(const MqPartition *part)
{
	return part->count > 0 ? part->ring[part->head].start : part->next_offset;
}

/*
 * mq_offsets_stable
 *		The stable offset of a partition of a loaded topic: messages
 *		strictly below it are committed or aborted for good; and, if end is
 *		not NULL, its end offset (the next offset to assign).  Returns false
 *		if the partition is not in shared memory (its topic was dropped).
 */
bool
mq_offsets_stable(int32 topic_id, int32 partition, int64 *stable, int64 *end)
{
	MqPartition *part;

	LWLockAcquire(OffState->parts_lock, LW_SHARED);
	part = find_partition(topic_id, partition);
	if (part != NULL)
	{
		SpinLockAcquire(&part->mutex);
		*stable = stable_of(part);
		if (end != NULL)
			*end = part->next_offset;
		SpinLockRelease(&part->mutex);
	}
	LWLockRelease(OffState->parts_lock);
	return part != NULL;
}

/*
 * bump_high_mark
 *		Move the durable high mark of part to new_mark before offsets below
 *		it are handed out.  An in-place update (not rolled back if the
 *		transaction aborts), made with the in-place update protocol so that
 *		a concurrent UPDATE of the row cannot undo it, and flushed to WAL
 *		before returning.  marks is mq.partition, opened and locked by the
 *		caller before it took part->lock: no heavyweight lock is waited for
 *		here, where interrupts are held off.
 */
static void
bump_high_mark(Relation marks, MqPartition *part, int64 new_mark)
{
	ScanKeyData keys[2];
	HeapTuple	oldtup;
	HeapTuple	newtup;
	void	   *state;
	Datum		values[4] = {0};
	bool		nulls[4] = {0};
	bool		replace[4] = {false, false, true, false};

	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT4EQ,
				Int32GetDatum(part->key.topic_id));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT4EQ,
				Int32GetDatum(part->key.partition));
	systable_inplace_update_begin(marks, RelationGetPrimaryKeyIndex(marks),
								  true, SnapshotSelf, 2, keys,
								  &oldtup, &state);
	if (!HeapTupleIsValid(oldtup))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("no row in mq.partition for partition %d of topic %d",
						part->key.partition, part->key.topic_id)));

	values[2] = Int64GetDatum(new_mark);
	newtup = heap_modify_tuple(oldtup, RelationGetDescr(marks), values, nulls,
							   replace);
	systable_inplace_update_finish(state, newtup);

	/* durable now, whatever becomes of this transaction */
	XLogFlush(XactLastRecEnd);
	part->high_mark = new_mark;
}

/*
 * held_range
 *		The slot this transaction holds in partition key, or NULL.
 */
static MqHeldRange *
held_range(const MqPartitionKey *key)
{
	ListCell   *lc;

	foreach(lc, held)
	{
		MqHeldRange *range = lfirst(lc);

		if (range->registered &&
			memcmp(&range->key, key, sizeof(MqPartitionKey)) == 0)
			return range;
	}
	return NULL;
}

/*
 * mq_offsets_reserve
 *		Reserve n offsets of a partition for the current transaction.  The
 *		first reservation of a transaction in a partition also registers it
 *		in the in-flight ring; later ones are covered by that slot.  Returns
 *		the first offset, or -1 if the partition is not in shared memory
 *		(its topic was dropped).  *marks is mq.partition, opened here when
 *		the durable high mark has to move, and closed by the caller.  The
 *		caller holds a lock on the topic's active segment table.
 *
 * If the ring is full (MQ_INFLIGHT_SLOTS transactions hold slots), waits
 * for a slot.  A transaction that already holds slots elsewhere waits at
 * most MQ_RING_WAIT_MS and then fails, so that transactions holding slots
 * cannot wait on each other forever.
 */
int64
mq_offsets_reserve(Relation *marks, int32 topic_id, int32 partition, int n)
{
	TransactionId xid;
	MqPartition *part = lookup_partition(topic_id, partition);
	MqHeldRange *range;
	MemoryContext oldcxt;
	TimestampTz deadline = 0;
	int64		start;

	if (part == NULL)
		return -1;
	xid = GetTopTransactionId();
	range = held_range(&part->key);

	if (range == NULL)
	{
		/*
		 * Record the slot before registering it: nothing may fail between the
		 * two, or it would stay in the ring until the watchdog saw it.
		 */
		oldcxt = MemoryContextSwitchTo(TopTransactionContext);
		range = palloc0(sizeof(MqHeldRange));
		range->key = part->key;
		range->xid = xid;
		held = lappend(held, range);
		MemoryContextSwitchTo(oldcxt);

		if (list_length(held) > 1)
			deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												   MQ_RING_WAIT_MS);
	}

	for (;;)
	{
		bool		full;

		/*
		 * The high mark may have to move: mq.partition must be locked first
		 * (see bump_high_mark).  Rare, so opened only when needed.
		 */
		if (*marks == NULL)
		{
			bool		bump;

			SpinLockAcquire(&part->mutex);
			bump = part->next_offset + n > part->high_mark;
			SpinLockRelease(&part->mutex);
			if (bump)
				*marks = table_open(get_relname_relid("partition",
													  get_namespace_oid("mq", false)),
									RowExclusiveLock);
		}

		LWLockAcquire(&part->lock, LW_EXCLUSIVE);
		if (*marks == NULL && part->next_offset + n > part->high_mark)
		{
			/* moved meanwhile: open it and try again */
			LWLockRelease(&part->lock);
			continue;
		}
		if (range->registered)
			break;
		SpinLockAcquire(&part->mutex);
		full = part->count >= MQ_INFLIGHT_SLOTS;
		SpinLockRelease(&part->mutex);
		if (!full)
			break;
		LWLockRelease(&part->lock);

		if (deadline != 0 && GetCurrentTimestamp() >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("too many transactions are committing to partition %d of topic %d at once",
							part->key.partition, part->key.topic_id),
					 errdetail("At most %d transactions can hold offsets of one partition while they commit.",
							   MQ_INFLIGHT_SLOTS),
					 errhint("Commit big batches in short transactions.")));
		ConditionVariableTimedSleep(&part->cv, 10, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();

	start = part->next_offset;
	if (start + n > part->high_mark)
		bump_high_mark(*marks, part, start + n + MQ_HIGH_MARK_STEP);

	SpinLockAcquire(&part->mutex);
	if (!range->registered)
	{
		MqInflight *slot = &part->ring[(part->head + part->count) % MQ_INFLIGHT_SLOTS];

		slot->start = start;
		slot->xid = xid;
		slot->done = false;
		part->count++;
		range->start = start;
		range->registered = true;
	}
	part->next_offset = start + n;
	SpinLockRelease(&part->mutex);

	LWLockRelease(&part->lock);
	return start;
}

/*
 * complete_range
 *		Mark the slot of transaction xid starting at start done and let the
 *		ring's head move past finished slots.  Returns whether the stable
 *		offset moved.
 */
static bool
complete_range(MqPartition *part, int64 start, TransactionId xid)
{
	bool		moved = false;
	int			i;

	SpinLockAcquire(&part->mutex);
	for (i = 0; i < part->count; i++)
	{
		MqInflight *slot = &part->ring[(part->head + i) % MQ_INFLIGHT_SLOTS];

		if (slot->start == start && slot->xid == xid && !slot->done)
		{
			slot->done = true;
			break;
		}
	}
	while (part->count > 0 && part->ring[part->head].done)
	{
		part->head = (part->head + 1) % MQ_INFLIGHT_SLOTS;
		part->count--;
		moved = true;
	}
	SpinLockRelease(&part->mutex);
	return moved;
}

/*
 * mq_offsets_watchdog
 *		Release in-flight ranges of this database whose transaction is no
 *		longer running.  Normally the transaction's own callback does it;
 *		this keeps a partition from being held forever should that ever be
 *		skipped.  Once a transaction is no longer in progress its outcome
 *		is visible, so releasing its range is always safe.  Returns how
 *		many ranges it released.
 */
int
mq_offsets_watchdog(void)
{
	HASH_SEQ_STATUS status;
	MqPartition *part;
	int			released = 0;

	LWLockAcquire(OffState->parts_lock, LW_SHARED);
	hash_seq_init(&status, PartitionDir.htab);
	while ((part = hash_seq_search(&status)) != NULL)
	{
		MqInflight	ring[MQ_INFLIGHT_SLOTS];
		int			count;
		int			i;
		bool		moved = false;

		if (part->key.dboid != MyDatabaseId)
			continue;

		SpinLockAcquire(&part->mutex);
		count = part->count;
		for (i = 0; i < count; i++)
			ring[i] = part->ring[(part->head + i) % MQ_INFLIGHT_SLOTS];
		SpinLockRelease(&part->mutex);

		for (i = 0; i < count; i++)
		{
			if (ring[i].done || TransactionIdIsInProgress(ring[i].xid))
				continue;
			if (complete_range(part, ring[i].start, ring[i].xid))
				moved = true;
			released++;
		}
		if (moved)
		{
			ConditionVariableBroadcast(&part->cv);
			ConditionVariableBroadcast(mq_offsets_wake_channel(MyDatabaseId));
		}
	}
	LWLockRelease(OffState->parts_lock);
	return released;
}

/*
 * mq_offsets_advanced
 *		For the notification pass of the worker: append to buf, comma-
 *		separated, the partitions of a topic whose stable offset moved past
 *		the one last notified, and set marks[p] to that stable offset (-1
 *		for the others).  Partitions not in shared memory are skipped.
 *		Returns how many moved.
 */
int
mq_offsets_advanced(int32 topic_id, int32 partitions, StringInfo buf,
					int64 *marks)
{
	int32		p;
	int			moved = 0;

	LWLockAcquire(OffState->parts_lock, LW_SHARED);
	for (p = 0; p < partitions; p++)
	{
		MqPartition *part;
		int64		stable;

		marks[p] = -1;
		part = find_partition(topic_id, p);
		if (part == NULL)
			continue;
		SpinLockAcquire(&part->mutex);
		stable = stable_of(part);
		if (stable > part->notified)
			marks[p] = stable;
		SpinLockRelease(&part->mutex);
		if (marks[p] >= 0)
		{
			appendStringInfo(buf, moved > 0 ? ",%d" : "%d", p);
			moved++;
		}
	}
	LWLockRelease(OffState->parts_lock);
	return moved;
}

/*
 * mq_offsets_notified
 *		The notification for marks (from mq_offsets_advanced) committed:
 *		remember what it covered.
 */
void
mq_offsets_notified(int32 topic_id, int32 partitions, const int64 *marks)
{
	int32		p;

	LWLockAcquire(OffState->parts_lock, LW_SHARED);
	for (p = 0; p < partitions; p++)
	{
		MqPartition *part;

		if (marks[p] < 0)
			continue;
		part = find_partition(topic_id, p);
		if (part == NULL)
			continue;
		SpinLockAcquire(&part->mutex);
		if (marks[p] > part->notified)
			part->notified = marks[p];
		SpinLockRelease(&part->mutex);
	}
	LWLockRelease(OffState->parts_lock);
}

/*
 * mq_offsets_xact_pending
 *		Whether this transaction holds offsets in flight (refuses PREPARE).
 */
bool
mq_offsets_xact_pending(void)
{
	return held != NIL;
}

/*
 * mq_offsets_xact_end
 *		The transaction ended and its outcome is visible: release its
 *		ranges and wake whoever waits on those partitions; ring the
 *		worker's doorbell for notifications.  Runs in the COMMIT and ABORT
 *		callbacks, so it must not fail.  Partitions are looked up by key:
 *		one of a topic this transaction created and then rolled back to a
 *		savepoint is gone, and needs nothing.
 */
void
mq_offsets_xact_end(void)
{
	ListCell   *lc;
	bool		moved = false;

	if (held == NIL)
		return;

	LWLockAcquire(OffState->parts_lock, LW_SHARED);
	foreach(lc, held)
	{
		MqHeldRange *range = lfirst(lc);
		MqPartition *part;

		if (!range->registered)
			continue;
		part = hash_search(PartitionDir.htab, &range->key, HASH_FIND, NULL);
		if (part != NULL && complete_range(part, range->start, range->xid))
		{
			ConditionVariableBroadcast(&part->cv);
			moved = true;
		}
	}
	LWLockRelease(OffState->parts_lock);
	if (moved)
	{
		ConditionVariableBroadcast(mq_offsets_wake_channel(MyDatabaseId));
		mq_database_notify();
	}

	/* it lived in TopTransactionContext, which is going away */
	held = NIL;
}

/*
 * mq_offsets_wake_channel
 *		The condition variable that consumers of a database sleep on, and
 *		that is broadcast when a stable offset there moves.  Databases share
 *		channels; a consumer woken for another database finds nothing new
 *		and sleeps again.
 */
ConditionVariable *
mq_offsets_wake_channel(Oid dboid)
{
	return &OffState->wake_cv[dboid % MQ_WAKE_CHANNELS];
}

/*
 * check_room
 *		Raise ERRCODE_CONFIGURATION_LIMIT_EXCEEDED if partitions [from, to)
 *		of topic_name would not fit in the directory.  Caller holds
 *		parts_lock.
 */
static void
check_room(const char *topic_name, int32 from, int32 to)
{
	if (hash_get_num_entries(PartitionDir.htab) + (to - from) <=
		mq_max_partitions)
		return;
	if (from == 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("not enough mq partition slots for the %d partitions of topic \"%s\"",
						to - from, topic_name),
				 errdetail("%ld of %d slots are in use.",
						   hash_get_num_entries(PartitionDir.htab),
						   mq_max_partitions),
				 errhint("Increase mq.max_partitions and restart the server.")));
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("not enough mq partition slots for %d more partitions of topic \"%s\"",
					to - from, topic_name),
			 errhint("Increase mq.max_partitions and restart the server.")));
}

/*
 * mq_offsets_check_room
 *		Raise ERRCODE_CONFIGURATION_LIMIT_EXCEEDED if partitions [from, to)
 *		of topic_name would not fit, without entering them.  Caller holds
 *		the topic directory's lock exclusively, so the answer holds until
 *		it enters them.
 */
void
mq_offsets_check_room(const char *topic_name, int32 from, int32 to)
{
	LWLockAcquire(OffState->parts_lock, LW_SHARED);
	check_room(topic_name, from, to);
	LWLockRelease(OffState->parts_lock);
}

/*
 * mq_offsets_enter
 *		Add partitions [from, to) of topic topic_name (topic_id) to shared
 *		memory, each continuing from its durable high mark (high_marks[p -
 *		from]; NULL for new partitions, which start at 0).  A partition
 *		entered from a mark past 0 has a restart gap whose start is not
 *		known yet (see the header comment).  Partitions already there are
 *		left alone.  Raises ERRCODE_CONFIGURATION_LIMIT_EXCEEDED before
 *		adding anything if there is no room for them all.  Caller holds the
 *		topic directory's lock exclusively.
 */
void
mq_offsets_enter(const char *topic_name, int32 topic_id, int32 from, int32 to,
				 const int64 *high_marks)
{
	int32		p;

	LWLockAcquire(OffState->parts_lock, LW_EXCLUSIVE);
	check_room(topic_name, from, to);
	for (p = from; p < to; p++)
	{
		MqPartitionKey key;
		MqPartition *part;
		bool		found;
		int64		mark = high_marks != NULL ? high_marks[p - from] : 0;

		partition_key(&key, topic_id, p);
		part = mq_shmem_enter(&PartitionDir, &key, &found);
		if (found)
			continue;
		LWLockInitialize(&part->lock, OffState->partition_tranche);
		SpinLockInit(&part->mutex);
		part->next_offset = mark;
		part->high_mark = mark;
		part->notified = mark;
		part->gap_start = mark > 0 ? MQ_GAP_UNKNOWN : mark;
		part->gap_end = mark;
		ConditionVariableInit(&part->cv);
	}
	LWLockRelease(OffState->parts_lock);
}

/*
 * mq_offsets_forget
 *		Remove partitions [from, to) of topic_id in database dboid from
 *		shared memory; to < 0 means every partition from "from" on.  Caller
 *		holds the topic directory's lock exclusively.  Cannot fail: used in
 *		transaction callbacks.
 */
void
mq_offsets_forget(Oid dboid, int32 topic_id, int32 from, int32 to)
{
	int32		p;

	LWLockAcquire(OffState->parts_lock, LW_EXCLUSIVE);
	for (p = from; to < 0 || p < to; p++)
	{
		MqPartitionKey key;

		memset(&key, 0, sizeof(key));
		key.dboid = dboid;
		key.topic_id = topic_id;
		key.partition = p;
		if (hash_search(PartitionDir.htab, &key, HASH_REMOVE, NULL) == NULL &&
			to < 0)
			break;
	}
	LWLockRelease(OffState->parts_lock);
}

/*
 * mq_offsets_read
 *		What mq.partition_offsets() shows of a partition, into *out: its
 *		end and stable offsets, the ranges in flight, and its restart gap,
 *		whose start is -1 if not known yet.  Returns false if the partition
 *		is not in shared memory.
 */
bool
mq_offsets_read(int32 topic_id, int32 partition, MqPartitionOffsets *out)
{
	MqPartition *part;

	LWLockAcquire(OffState->parts_lock, LW_SHARED);
	part = find_partition(topic_id, partition);
	if (part != NULL)
	{
		SpinLockAcquire(&part->mutex);
		out->end = part->next_offset;
		out->stable = stable_of(part);
		out->inflight = part->count;
		out->oldest = part->count > 0 ? part->ring[part->head].start : 0;
		out->gap_start = part->gap_start;
		out->gap_end = part->gap_end;
		SpinLockRelease(&part->mutex);
	}
	LWLockRelease(OffState->parts_lock);
	return part != NULL;
}

/*
 * mq_offsets_set_gap
 *		Record where the restart gap of a partition starts: the end of its
 *		log below gap_end, as segment.c found it.  Every caller finds the
 *		same, so the first to record it wins.  Nothing happens if the
 *		partition is no longer in shared memory, or if its entry is not the
 *		one the end was looked up for (forgotten and loaded again meanwhile,
 *		from another mark).
 */
void
mq_offsets_set_gap(int32 topic_id, int32 partition, int64 gap_end,
				   int64 gap_start)
{
	MqPartition *part;

	LWLockAcquire(OffState->parts_lock, LW_SHARED);
	part = find_partition(topic_id, partition);
	if (part != NULL)
	{
		SpinLockAcquire(&part->mutex);
		if (part->gap_start == MQ_GAP_UNKNOWN && part->gap_end == gap_end)
			part->gap_start = Min(gap_start, part->gap_end);
		SpinLockRelease(&part->mutex);
	}
	LWLockRelease(OffState->parts_lock);
}

/*
 * mq_offsets_epoch
 *		The epoch of the batches this server life writes: a number drawn at
 *		random when shared memory is created, at every start of the server
 *		and every restart after a crash.  Offsets are handed out again only
 *		by a server whose history left the one that handed them out first
 *		(a promoted standby that lacked the last commits, a backup or
 *		snapshot started as a primary): always another start, so with
 *		another epoch but for a chance of one in 2^30.  The timeline would
 *		not do: a backup started without recovery keeps it, and standbys
 *		promoted apart can choose the same one.
 */
uint32
mq_offsets_epoch(void)
{
	return OffState->epoch;
}

/*
 * mq_offsets_shmem_request
 *		Reserve the partitions' shared memory and locks.  Called from mq.c's
 *		shmem_request_hook.
 */
void
mq_offsets_shmem_request(void)
{
	RequestAddinShmemSpace(add_size(CACHELINEALIGN(sizeof(OffsetsShared)),
									mq_shmem_directory_size(&PartitionDir)));
	RequestNamedLWLockTranche("mq partitions", 1);
}

/*
 * mq_offsets_shmem_startup
 *		Create the partitions' shared memory, or attach to it.  Called from
 *		mq.c's shmem_startup_hook with AddinShmemInitLock held.
 */
void
mq_offsets_shmem_startup(void)
{
	bool		found;
	int			i;

	OffState = ShmemInitStruct("mq offsets", sizeof(OffsetsShared), &found);
	if (!found)
	{
		memset(OffState, 0, sizeof(OffsetsShared));
		OffState->parts_lock = &(GetNamedLWLockTranche("mq partitions"))->lock;
		OffState->partition_tranche = LWLockNewTrancheId();
		if (!pg_strong_random(&OffState->epoch, sizeof(OffState->epoch)))
			ereport(FATAL,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not draw mq's epoch")));
		OffState->epoch = (OffState->epoch & MQ_EPOCH_MAX) | 1;
		for (i = 0; i < MQ_WAKE_CHANNELS; i++)
			ConditionVariableInit(&OffState->wake_cv[i]);
	}
	LWLockRegisterTranche(OffState->partition_tranche, "mq partition");
	mq_shmem_directory_init(&PartitionDir, OffState->parts_lock);
}
