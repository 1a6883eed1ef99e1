/*-------------------------------------------------------------------------
 *
 * share.c
 *	  Shared and key_shared subscriptions: the work-queue model on the log.
 *
 * A group subscribed in mode 'shared' or 'key_shared' does not claim
 * partitions: any number of consumers receive from one partition at once
 * (mq.receive), each message leased to one consumer at a time for a
 * visibility timeout, and acknowledged one by one by the receipt that names
 * that delivery (mq.ack, mq.nack, mq.extend).  In key_shared mode the
 * messages of one key go to one consumer at a time, in offset order.
 *
 * Durable state, per group and partition, is its row of mq.position:
 * next_offset is the ack floor (every offset below it is settled) and acked
 * the acknowledged offsets above it (an int8multirange).  An ack inserts
 * the offsets it settles into mq.share_ack in the consumer's transaction,
 * so it commits or rolls back with the consumer's own work, and never
 * waits for another consumer's ack; the database worker folds committed
 * acks into the position rows (mq_share_compact).  Messages are never
 * updated or deleted.
 *
 * Transient state, per group and partition, is a window of
 * mq.share_window slots in shared memory, from the floor on: whether each
 * offset was read, is leased (until when, which delivery), being settled by
 * a transaction, settled, or skipped (a hole, or a message the
 * subscription's filters drop).  Leases are not logged: a restart makes
 * every unsettled message available again (at-least-once), and delivery
 * counts start again from zero.  A partition whose window is full hands out
 * nothing new until its floor moves.
 *
 * Lock discipline.  This file owns the share partitions' directory
 * (dir_lock, taken alone) and one LWLock per entry, never held while
 * running SQL, reading a segment or taking another mq lock.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/share.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/multirangetypes.h"
#include "utils/rangetypes.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "acl.h"
#include "clock.h"
#include "fetch.h"
#include "group.h"
#include "metrics.h"
#include "offsets.h"
#include "produce.h"
#include "query.h"
#include "retry.h"
#include "segment.h"
#include "settings.h"
#include "share.h"
#include "shmem.h"
#include "subscription.h"
#include "topic.h"

PG_FUNCTION_INFO_V1(mq_receive);
PG_FUNCTION_INFO_V1(mq_ack_receipt);
PG_FUNCTION_INFO_V1(mq_ack_receipts);
PG_FUNCTION_INFO_V1(mq_nack_receipt);
PG_FUNCTION_INFO_V1(mq_extend_receipt);
PG_FUNCTION_INFO_V1(mq_share_windows);

/* Columns of mq.receive. */
#define RECEIVE_COLUMNS		(11 + MQ_PAYLOAD_COLUMNS)

/* Offsets read from a segment at a time to fill the window. */
#define READ_CHUNK			1000

/* How long a waiting mq.receive sleeps at most before looking again. */
#define RECEIVE_NAP_MS		100

typedef struct ShareKey
{
	Oid			dboid;
	int32		group_id;
	int32		topic_id;
	int32		partition;
} ShareKey;

/* What an offset of the window is. */
typedef enum SlotState
{
	SLOT_UNREAD = 0,			/* at or past next: not read yet */
	SLOT_AVAILABLE,				/* read; may be delivered after until */
	SLOT_LEASED,				/* delivered; leased until until */
	SLOT_SETTLING,				/* an ack or nack awaits its transaction */
	SLOT_ACKED,					/* settled */
	SLOT_SKIPPED				/* a hole, or dropped by the filters */
} SlotState;

typedef struct ShareSlot
{
	uint8		state;			/* SlotState */
	uint8		unused;
	uint16		deliveries;		/* deliveries so far, this server life */
	uint32		keyhash;		/* hash of its key, 0 if none */
	TimestampTz until;			/* lease or back-off end (mq's clock) */
} ShareSlot;

/* A partition of a shared group: its window.  In shared memory. */
typedef struct ShareEntry
{
	ShareKey	key;
	LWLock		lock;
	bool		loaded;			/* base read from the tables */
	TimestampTz incarnation;	/* of the subscription it serves: its
								 * share_reset_at */
	uint32		ident;			/* in receipts: server life, database,
								 * subscription */
	int64		base;			/* offset of the first slot: the floor */
	int32		head;			/* the first slot's index in slots */
	int64		next;			/* first offset not read yet */
	int64		acked_high;		/* past every offset acknowledged when it was
								 * loaded: above it, acks come only from this
								 * window's own deliveries */
	int64		saved_floor;	/* the floor mq.position last got */
	ShareSlot	slots[FLEXIBLE_ARRAY_MEMBER];
} ShareEntry;

typedef struct ShareShared
{
	LWLock	   *dir_lock;
	int			tranche;
	uint32		epoch;			/* this server life's, in receipts */
} ShareShared;

static ShareShared *ShareState = NULL;

static MqDirectory ShareDir = {
	"share partition", "mq.max_share_partitions", &mq_max_share_partitions,
	sizeof(ShareKey), 0, NULL, NULL
};

/* A change of the window made by this transaction, undone if it aborts. */
typedef enum PendingKind
{
	PENDING_LEASE,				/* a delivery: available again on abort */
	PENDING_ACK,				/* settled on commit */
	PENDING_NACK				/* available after its back-off on commit */
} PendingKind;

typedef struct Pending
{
	ShareKey	key;
	int64		offset;
	PendingKind kind;
	uint16		deliveries;
	TimestampTz until;			/* NACK: when it is due again */
	TimestampTz prev_until;		/* ACK, NACK: the lease's end, for an abort */
	uint32		ident;			/* the entry's when it was made */
	SubTransactionId subid;
} Pending;

static List *pending = NIL;		/* in TopTransactionContext */

/* Spreads consumers over partitions. */
static uint32 receive_count = 0;

/* A receipt, parsed. */
typedef struct Receipt
{
	int32		group_id;
	int32		topic_id;
	int32		partition;
	int64		offset;
	uint16		deliveries;
	uint32		epoch;
} Receipt;

static inline int
window(void)
{
	return mq_share_window;
}

static inline ShareSlot *
slot_of(ShareEntry *e, int64 offset)
{
	return &e->slots[(e->head + (offset - e->base)) % window()];
}

/*
 * advance
 *		Move the floor past settled and skipped offsets.  Caller holds the
 *		entry's lock.
 */
static void
advance(ShareEntry *e)
{
	while (e->base < e->next)
	{
		ShareSlot  *s = slot_of(e, e->base);

		if (s->state != SLOT_ACKED && s->state != SLOT_SKIPPED)
			break;
		memset(s, 0, sizeof(ShareSlot));
		e->base++;
		e->head = (e->head + 1) % window();
	}
}

static Size
entry_size(void)
{
	return offsetof(ShareEntry, slots) + sizeof(ShareSlot) * window();
}

/*
 * find_entry
 *		The window of a group's partition, or NULL.  Never fails.
 */
static ShareEntry *
find_entry(const ShareKey *key)
{
	ShareEntry *e;

	LWLockAcquire(ShareState->dir_lock, LW_SHARED);
	e = hash_search(ShareDir.htab, key, HASH_FIND, NULL);
	LWLockRelease(ShareState->dir_lock);
	return e;
}

/*
 * load
 *		Start a window from the tables: at the group's floor, its position's
 *		next_offset.  The offsets above it that were acknowledged are found
 *		as the window reads them (fill), up to acked_high: an incarnation's
 *		window is loaded once per server life (get_entry), so the acks that
 *		commit later are of its own deliveries.  The caller is connected to
 *		SPI.
 */
static void
load(ShareEntry *e, TimestampTz incarnation)
{
	Oid			types[4] = {INT4OID, INT4OID, INT4OID, TIMESTAMPTZOID};
	Datum		args[4];
	int64		floor;
	int64		acked_high;
	bool		isnull;

	args[0] = Int32GetDatum(e->key.group_id);
	args[1] = Int32GetDatum(e->key.topic_id);
	args[2] = Int32GetDatum(e->key.partition);
	args[3] = TimestampTzGetDatum(incarnation);
	if (mq_query("SELECT p.next_offset, GREATEST(pg_catalog.upper(p.acked),"
				 "  (SELECT pg_catalog.max(pg_catalog.upper(a.offsets))"
				 "   FROM mq.share_ack a"
				 "   WHERE a.group_id OPERATOR(pg_catalog.=) $1"
				 "   AND a.topic_id OPERATOR(pg_catalog.=) $2"
				 "   AND a.partition OPERATOR(pg_catalog.=) $3"
				 "   AND a.incarnation OPERATOR(pg_catalog.=) $4))"
				 " FROM mq.position p"
				 " WHERE p.group_id OPERATOR(pg_catalog.=) $1"
				 " AND p.topic_id OPERATOR(pg_catalog.=) $2"
				 " AND p.partition OPERATOR(pg_catalog.=) $3"
				 " AND p.member_id OPERATOR(pg_catalog.=) ''",
				 4, types, args, NULL, false) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("consumer group has no position in partition %d",
						e->key.partition)));
	floor = DatumGetInt64(mq_query_value(0, 1, &isnull));
	acked_high = DatumGetInt64(mq_query_value(0, 2, &isnull));
	if (isnull)
		acked_high = floor;

	LWLockAcquire(&e->lock, LW_EXCLUSIVE);
	if (!e->loaded && e->incarnation == incarnation)
	{
		memset(e->slots, 0, sizeof(ShareSlot) * window());
		e->base = floor;
		e->head = 0;
		e->next = floor;
		e->acked_high = acked_high;
		e->saved_floor = floor;
		e->incarnation = incarnation;
		e->ident = ShareState->epoch ^
			hash_bytes_uint32((uint32) e->key.dboid) ^
			hash_bytes_uint32((uint32) (incarnation ^ (incarnation >> 32)));
		e->loaded = true;
	}
	LWLockRelease(&e->lock);
}

/*
 * current_incarnation
 *		Whether incarnation is the subscription's latest committed one.
 */
static bool
current_incarnation(const ShareKey *key, TimestampTz incarnation)
{
	Oid			types[3] = {INT4OID, INT4OID, TIMESTAMPTZOID};
	Datum		args[3];

	args[0] = Int32GetDatum(key->group_id);
	args[1] = Int32GetDatum(key->topic_id);
	args[2] = TimestampTzGetDatum(incarnation);
	return mq_query_latest("SELECT 1 FROM mq.subscription"
						   " WHERE group_id OPERATOR(pg_catalog.=) $1"
						   " AND topic_id OPERATOR(pg_catalog.=) $2"
						   " AND share_reset_at OPERATOR(pg_catalog.=) $3",
						   3, types, args, NULL) > 0;
}

/*
 * get_entry
 *		The window of a group's partition for the subscription made at
 *		incarnation, made and loaded if need be; NULL if the window cannot
 *		serve that incarnation.  A window of another incarnation (an
 *		earlier subscription of the same ids, or one before a seek) is
 *		taken over only for the latest committed incarnation, by a
 *		transaction that has not changed subscriptions itself, and only if
 *		no one took it over meanwhile.  Since incarnations only grow, a
 *		window never goes back to one it left: each is loaded once per
 *		server life (again only after a load that failed).  The caller is
 *		connected to SPI.
 */
static ShareEntry *
get_entry(int32 group_id, int32 topic_id, int32 partition,
		  TimestampTz incarnation)
{
	ShareKey	key;
	ShareEntry *e;
	bool		found;
	TimestampTz seen;
	bool		ready;

	memset(&key, 0, sizeof(key));
	key.dboid = MyDatabaseId;
	key.group_id = group_id;
	key.topic_id = topic_id;
	key.partition = partition;
	e = find_entry(&key);
	if (e == NULL)
	{
		LWLockAcquire(ShareState->dir_lock, LW_EXCLUSIVE);
		e = mq_shmem_enter(&ShareDir, &key, &found);
		if (!found)
			LWLockInitialize(&e->lock, ShareState->tranche);
		LWLockRelease(ShareState->dir_lock);
	}

	LWLockAcquire(&e->lock, LW_EXCLUSIVE);
	seen = e->incarnation;
	if (seen == 0)
		e->incarnation = seen = incarnation;	/* a new window */
	LWLockRelease(&e->lock);
	if (seen != incarnation)
	{
		bool		taken = false;

		if (mq_subscription_pending() || !current_incarnation(&key, incarnation))
			return NULL;
		LWLockAcquire(&e->lock, LW_EXCLUSIVE);
		if (e->incarnation == seen)
		{
			e->incarnation = incarnation;
			e->loaded = false;
			taken = true;
		}
		LWLockRelease(&e->lock);
		if (!taken)
			return NULL;
	}

	LWLockAcquire(&e->lock, LW_SHARED);
	ready = e->loaded;
	LWLockRelease(&e->lock);
	if (!ready)
		load(e, incarnation);
	LWLockAcquire(&e->lock, LW_SHARED);
	ready = e->loaded && e->incarnation == incarnation;
	LWLockRelease(&e->lock);
	return ready ? e : NULL;
}

/*
 * remember
 *		Note a change of the window that the transaction's end settles.
 */
static void
remember(const ShareKey *key, uint32 ident, int64 offset, PendingKind kind,
		 uint16 deliveries, TimestampTz until, TimestampTz prev_until)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
	Pending    *p = palloc(sizeof(Pending));

	p->key = *key;
	p->offset = offset;
	p->kind = kind;
	p->deliveries = deliveries;
	p->until = until;
	p->prev_until = prev_until;
	p->ident = ident;
	p->subid = GetCurrentSubTransactionId();
	pending = lappend(pending, p);
	MemoryContextSwitchTo(old);
}

/*
 * settle
 *		Apply a pending change at the end of its transaction (top) or
 *		subtransaction.  A delivery or an ack that rolls back with its
 *		transaction makes the message available at once; one that rolls back
 *		with a subtransaction only gives the lease back to the consumer.
 *		Never fails.
 */
static void
settle(Pending *p, bool commit, bool top)
{
	ShareEntry *e = find_entry(&p->key);
	ShareSlot  *s;

	if (e == NULL)
		return;
	LWLockAcquire(&e->lock, LW_EXCLUSIVE);
	if (e->loaded && e->ident == p->ident &&
		p->offset >= e->base && p->offset < e->next)
	{
		s = slot_of(e, p->offset);
		if (s->deliveries == p->deliveries)
		{
			switch (p->kind)
			{
				case PENDING_LEASE:
					if (!commit && s->state == SLOT_LEASED)
					{
						s->state = SLOT_AVAILABLE;
						s->until = 0;
					}
					break;
				case PENDING_ACK:
					if (s->state == SLOT_SETTLING)
					{
						if (commit)
							s->state = SLOT_ACKED;
						else if (top)
						{
							s->state = SLOT_AVAILABLE;
							s->until = 0;
						}
						else
						{
							s->state = SLOT_LEASED;
							s->until = p->prev_until;
						}
					}
					break;
				case PENDING_NACK:
					if (s->state == SLOT_SETTLING)
					{
						s->state = commit ? SLOT_AVAILABLE : SLOT_LEASED;
						s->until = commit ? p->until : p->prev_until;
					}
					break;
			}
			advance(e);
		}
	}
	LWLockRelease(&e->lock);
}

/*
 * mq_share_xact_pending
 *		Whether this transaction leased or settled shared messages (refuses
 *		PREPARE: the window must follow its outcome in this session).
 */
bool
mq_share_xact_pending(void)
{
	return pending != NIL;
}

/*
 * mq_share_subxact_end
 *		A subtransaction ended: a committed one's changes become its
 *		parent's; an aborted one's are undone.
 */
void
mq_share_subxact_end(bool commit, SubTransactionId mysubid,
					 SubTransactionId parentsubid)
{
	ListCell   *lc;

	foreach(lc, pending)
	{
		Pending    *p = lfirst(lc);

		if (p->subid != mysubid)
			continue;
		if (commit)
			p->subid = parentsubid;
		else
		{
			settle(p, false, false);
			pending = foreach_delete_current(pending, lc);
		}
	}
}

/*
 * mq_share_xact_end
 *		The transaction ended and its outcome is visible: settle its acks
 *		and nacks, or undo them and its deliveries.  Runs in the COMMIT and
 *		ABORT callbacks: must not fail.
 */
void
mq_share_xact_end(bool commit)
{
	ListCell   *lc;
	bool		woke = false;

	foreach(lc, pending)
	{
		Pending    *p = lfirst(lc);

		settle(p, commit, true);
		woke |= (p->kind != PENDING_LEASE || !commit);
	}
	/* what became available may let a waiting receive go on */
	if (woke && pending != NIL)
		ConditionVariableBroadcast(mq_offsets_wake_channel(MyDatabaseId));
	pending = NIL;
}

/*
 * format_receipt
 *		The receipt of a delivery: it names the group, the message and the
 *		delivery, and this server life.
 */
static text *
format_receipt(const ShareKey *k, uint32 ident, int64 offset,
			   uint16 deliveries)
{
	return cstring_to_text(psprintf("%d.%d.%d." INT64_FORMAT ".%u.%08x",
									k->group_id, k->topic_id, k->partition,
									offset, (unsigned) deliveries, ident));
}

/*
 * parse_receipt
 *		A receipt, or an error (22023) if it is not one.
 */
static void
parse_receipt(const char *s, Receipt *r)
{
	unsigned	deliveries;
	int			n = 0;

	if (sscanf(s, "%d.%d.%d." INT64_FORMAT ".%u.%8x%n", &r->group_id,
			   &r->topic_id, &r->partition, &r->offset, &deliveries,
			   &r->epoch, &n) != 6 || s[n] != '\0' || deliveries > PG_UINT16_MAX ||
		deliveries == 0 || r->offset < 0 || r->partition < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid receipt \"%s\"", s),
				 errhint("A receipt is the receipt column of a row mq.receive returned.")));
	r->deliveries = (uint16) deliveries;
}

/* A delivery chosen by a receive pass. */
typedef struct Chosen
{
	int64		offset;
	uint16		deliveries;
	bool		dead;			/* to the dead-letter topic, not delivered */
} Chosen;

/* A set of key hashes held in a key_shared pass: open addressing. */
typedef struct KeySet
{
	uint32	   *slots;
	int			size;
} KeySet;

static bool
keyset_test_add(KeySet *ks, uint32 h, bool add)
{
	int			i = h % ks->size;

	while (ks->slots[i] != 0)
	{
		if (ks->slots[i] == h)
			return true;
		i = (i + 1) % ks->size;
	}
	if (add)
		ks->slots[i] = h;
	return false;
}

/*
 * pick
 *		Lease up to want offsets of the window, oldest first: read ones
 *		never delivered or whose lease or back-off ended.  In key_shared
 *		mode an offset whose key an older unsettled offset holds waits.  A
 *		message delivered max_deliveries times already goes to the dead
 *		letters instead.  Caller holds the entry's lock.  Returns how many.
 */
static int
pick(ShareEntry *e, int want, bool key_shared, int max_deliveries,
	 TimestampTz now, TimestampTz lease_until, Chosen *chosen, KeySet *held)
{
	int			n = 0;
	int64		o;

	if (key_shared)
		memset(held->slots, 0, sizeof(uint32) * held->size);
	for (o = e->base; o < e->next && n < want; o++)
	{
		ShareSlot  *s = slot_of(e, o);
		bool		blocked;

		if (s->state == SLOT_ACKED || s->state == SLOT_SKIPPED ||
			s->state == SLOT_UNREAD)
			continue;
		blocked = key_shared && s->keyhash != 0 &&
			keyset_test_add(held, s->keyhash, true);
		if (s->state == SLOT_SETTLING ||
			((s->state == SLOT_LEASED || s->state == SLOT_AVAILABLE) &&
			 s->until > now) || blocked)
			continue;
		chosen[n].offset = o;
		chosen[n].dead = (s->deliveries >= max_deliveries);
		s->state = chosen[n].dead ? SLOT_SETTLING : SLOT_LEASED;
		/* a dead letter counts too: its last receipt goes stale */
		s->deliveries++;
		s->until = chosen[n].dead ? 0 : lease_until;
		chosen[n].deliveries = s->deliveries;
		n++;
	}
	return n;
}

/* What a segment read collects: the records of offsets in [from, to). */
typedef struct ReadInto
{
	int64		from;
	int64		to;
	bool		payloads;		/* copy payloads too */
	MqRecord  **records;		/* by offset - from, NULL for a hole */
	MemoryContext cxt;
} ReadInto;

static bool
read_visit(const MqRecord *rec, void *arg)
{
	ReadInto   *r = arg;
	MemoryContext old;
	MqRecord   *copy;

	if (rec->offset < r->from)
		return true;
	if (rec->offset >= r->to)
		return false;
	old = MemoryContextSwitchTo(r->cxt);
	copy = palloc(sizeof(MqRecord));
	*copy = *rec;
	copy->msg.key = rec->msg.key ? (text *)
		DatumGetPointer(datumCopy(PointerGetDatum(rec->msg.key), false, -1)) : NULL;
	copy->msg.tag = rec->msg.tag ? (text *)
		DatumGetPointer(datumCopy(PointerGetDatum(rec->msg.tag), false, -1)) : NULL;
	copy->msg.headers = rec->msg.headers ? (Jsonb *)
		DatumGetPointer(datumCopy(PointerGetDatum(rec->msg.headers), false, -1)) : NULL;
	copy->msg.payload = r->payloads ? (bytea *)
		DatumGetPointer(datumCopy(PointerGetDatum(rec->msg.payload), false, -1)) :
		NULL;
	r->records[rec->offset - r->from] = copy;
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * read_range
 *		The records of a partition's offsets [from, to), below the stable
 *		offset.  The caller is connected to SPI.
 */
static void
read_range(const MqTopicInfo *topic, int32 partition, ReadInto *r)
{
	MqSegmentScan scan;
	Oid			relid;
	const char *segment;

	r->records = palloc0(sizeof(MqRecord *) * (r->to - r->from));
	r->cxt = CurrentMemoryContext;
	mq_segment_scan_begin(&scan, topic->topic_id, false);
	while (mq_segment_scan_next(&scan, &relid, &segment))
		mq_segment_read(relid, partition, r->from, r->to, read_visit, r);
	mq_segment_scan_end(&scan);
}

static uint32
key_hash(const MqMessage *m)
{
	uint32		h;

	if (m->key == NULL)
		return 0;
	h = hash_bytes((const unsigned char *) VARDATA_ANY(m->key),
				   VARSIZE_ANY_EXHDR(m->key));
	return h == 0 ? 1 : h;
}

/* One receive call's arguments and result. */
typedef struct ReceiveArgs
{
	MqGroupInfo group;
	int32		max;
	int32		returned;
	Interval   *visibility;
	ReturnSetInfo *rsinfo;
	MqPayloadNames payload_names;
	KeySet		held;
	Chosen	   *chosen;			/* max of them */
} ReceiveArgs;

/*
 * emit
 *		A row of mq.receive.
 */
static void
emit(ReceiveArgs *a, const ShareKey *k, uint32 ident, const MqTopicInfo *topic,
	 const MqRecord *rec, uint16 deliveries)
{
	Datum		values[RECEIVE_COLUMNS];
	bool		isnull[RECEIVE_COLUMNS];
	const MqMessage *m = &rec->msg;

	memset(isnull, 0, sizeof(isnull));
	values[0] = PointerGetDatum(format_receipt(k, ident, rec->offset,
											   deliveries));
	values[1] = CStringGetTextDatum(topic->name);
	values[2] = Int32GetDatum(k->partition);
	values[3] = Int64GetDatum(rec->offset);
	values[4] = Int32GetDatum((int32) rec->epoch);
	values[5] = UUIDPGetDatum(&m->id);
	values[6] = PointerGetDatum(m->key);
	isnull[6] = (m->key == NULL);
	values[7] = PointerGetDatum(m->tag);
	isnull[7] = (m->tag == NULL);
	values[8] = PointerGetDatum(m->headers);
	isnull[8] = (m->headers == NULL);
	mq_payload_columns(m, &a->payload_names, values + 9, isnull + 9);
	values[9 + MQ_PAYLOAD_COLUMNS] = TimestampTzGetDatum(rec->produced_at);
	values[10 + MQ_PAYLOAD_COLUMNS] = Int32GetDatum(deliveries);
	tuplestore_putvalues(a->rsinfo->setResult, a->rsinfo->setDesc, values,
						 isnull);
	a->returned++;
	mq_metrics_count(k->topic_id, k->group_id, MQ_METRIC_DELIVERED, 1,
					 VARSIZE_ANY_EXHDR(m->payload));
}

/*
 * insert_acks
 *		Record offsets of a group's partition as settled, in the current
 *		transaction, for the subscription's incarnation.  The offsets are
 *		sent as one int8multirange built here (sorted and merged by
 *		make_multirange).  The caller is connected to SPI.
 */
static void
insert_acks(const ShareKey *k, TimestampTz incarnation, const int64 *offsets,
			int n)
{
	Oid			types[5] = {INT4OID, INT4OID, INT4OID, TIMESTAMPTZOID,
	INT8MULTIRANGEOID};
	Datum		args[5];
	TypeCacheEntry *typcache = lookup_type_cache(INT8RANGEOID,
												 TYPECACHE_RANGE_INFO);
	RangeType **ranges = palloc(sizeof(RangeType *) * n);
	int			i;

	for (i = 0; i < n; i++)
	{
		RangeBound	lower = {.val = Int64GetDatum(offsets[i]),
		.inclusive = true,.lower = true};
		RangeBound	upper = {.val = Int64GetDatum(offsets[i] + 1),
		.inclusive = false,.lower = false};

		ranges[i] = make_range(typcache, &lower, &upper, false);
	}
	args[0] = Int32GetDatum(k->group_id);
	args[1] = Int32GetDatum(k->topic_id);
	args[2] = Int32GetDatum(k->partition);
	args[3] = TimestampTzGetDatum(incarnation);
	args[4] = MultirangeTypePGetDatum(make_multirange(INT8MULTIRANGEOID,
													  typcache, n, ranges));
	mq_query("INSERT INTO mq.share_ack"
			 " (group_id, topic_id, partition, incarnation, offsets)"
			 " VALUES ($1, $2, $3, $4, $5)",
			 5, types, args, NULL, false);
}

/*
 * durable_acks
 *		Mark in states[] (by offset - from) the offsets of [from, to) that
 *		the tables say are acknowledged: above the floor in the position, or
 *		in mq.share_ack for the subscription's incarnation.  The caller is
 *		connected to SPI.
 */
static void
durable_acks(const ShareKey *k, TimestampTz incarnation, int64 from, int64 to,
			 uint8 *states)
{
	Oid			types[6] = {INT4OID, INT4OID, INT4OID, INT8OID, INT8OID,
	TIMESTAMPTZOID};
	Datum		args[6];
	uint64		n;
	uint64		i;
	bool		isnull;

	args[0] = Int32GetDatum(k->group_id);
	args[1] = Int32GetDatum(k->topic_id);
	args[2] = Int32GetDatum(k->partition);
	args[3] = Int64GetDatum(from);
	args[4] = Int64GetDatum(to);
	args[5] = TimestampTzGetDatum(incarnation);
	n = mq_query("SELECT pg_catalog.lower(r), pg_catalog.upper(r) FROM ("
				 " SELECT pg_catalog.unnest(acked) r FROM mq.position"
				 "  WHERE group_id OPERATOR(pg_catalog.=) $1"
				 "  AND topic_id OPERATOR(pg_catalog.=) $2"
				 "  AND partition OPERATOR(pg_catalog.=) $3"
				 "  AND member_id OPERATOR(pg_catalog.=) ''"
				 " UNION ALL"
				 " SELECT pg_catalog.unnest(offsets) FROM mq.share_ack"
				 "  WHERE group_id OPERATOR(pg_catalog.=) $1"
				 "  AND topic_id OPERATOR(pg_catalog.=) $2"
				 "  AND partition OPERATOR(pg_catalog.=) $3"
				 "  AND incarnation OPERATOR(pg_catalog.=) $6) a"
				 " WHERE r OPERATOR(pg_catalog.&&) pg_catalog.int8range($4, $5)",
				 6, types, args, NULL, false);
	for (i = 0; i < n; i++)
	{
		int64		lo = DatumGetInt64(mq_query_value(i, 1, &isnull));
		int64		hi = DatumGetInt64(mq_query_value(i, 2, &isnull));
		int64		o;

		for (o = Max(lo, from); o < Min(hi, to); o++)
			states[o - from] = SLOT_ACKED;
	}
}

/*
 * group_info
 *		The MqGroupInfo of a kept group: a shared subscription has no use
 *		for the generation.
 */
static void
group_info(const CachedGroup *g, MqGroupInfo *group)
{
	strlcpy(group->name, g->name, sizeof(group->name));
	group->group_id = g->group_id;
	group->generation = 0;
}

/*
 * receive_partition
 *		Lease and return up to a->max - a->returned messages of one
 *		partition of a shared subscription.  Whatever it changes in the
 *		window is remembered (for the transaction's end) as soon as the
 *		entry's lock is released, before anything that can fail.
 */
static void
receive_partition(ReceiveArgs *a, CachedSubscription *sub,
				  const MqTopicInfo *topic, int32 partition,
				  int max_deliveries)
{
	ShareEntry *e = get_entry(a->group.group_id, topic->topic_id, partition,
							  sub->incarnation);
	ShareKey	k;
	uint32		ident;
	int64		stable;
	TimestampTz now = mq_clock_now();
	TimestampTz lease_until = DatumGetTimestampTz(
												  DirectFunctionCall2(timestamptz_pl_interval,
																	  TimestampTzGetDatum(now),
																	  IntervalPGetDatum(a->visibility)));
	int			want = a->max - a->returned;
	Chosen	   *chosen = a->chosen;
	int			nchosen = 0;
	bool		key_shared = (sub->mode == 'k');
	MessageFilter filter;
	int			round;
	int			i;

	if (e == NULL)
		return;					/* the next call sees the new incarnation */
	k = e->key;
	if (!mq_offsets_stable(topic->topic_id, partition, &stable, NULL))
		return;
	mq_fetch_filter_init(&filter, sub->tags, sub->tags_null, sub->filter,
						 sub->filter_null);

	for (round = 0; round < 64 && nchosen < want; round++)
	{
		ReadInto	r;
		int64		o;
		int			picked;
		bool		need_read;
		int64		acked_high;
		uint8	   *states;
		uint32	   *hashes;

		LWLockAcquire(&e->lock, LW_EXCLUSIVE);
		ident = e->ident;
		picked = pick(e, want - nchosen, key_shared, max_deliveries, now,
					  lease_until, chosen + nchosen, &a->held);
		r.from = e->next;
		r.to = Min(Min(stable, e->base + window()), e->next + READ_CHUNK);
		acked_high = e->acked_high;
		LWLockRelease(&e->lock);
		for (i = nchosen; i < nchosen + picked; i++)
			remember(&k, ident, chosen[i].offset,
					 chosen[i].dead ? PENDING_ACK : PENDING_LEASE,
					 chosen[i].deliveries, 0, 0);
		nchosen += picked;
		need_read = (nchosen < want && r.from < r.to);
		if (!need_read)
			break;

		/*
		 * Read what the window may take next, and judge it (filters, keys,
		 * acks from before a restart) outside the lock.
		 */
		r.payloads = false;
		read_range(topic, partition, &r);
		states = palloc(r.to - r.from);
		hashes = palloc(sizeof(uint32) * (r.to - r.from));
		for (o = r.from; o < r.to; o++)
		{
			MqRecord   *rec = r.records[o - r.from];

			hashes[o - r.from] = 0;
			if (rec == NULL ||
				!mq_fetch_filter_passes(&filter,
										PointerGetDatum(rec->msg.tag),
										rec->msg.tag == NULL,
										PointerGetDatum(rec->msg.headers),
										rec->msg.headers == NULL))
				states[o - r.from] = SLOT_SKIPPED;
			else
			{
				states[o - r.from] = SLOT_AVAILABLE;
				hashes[o - r.from] = key_shared ? key_hash(&rec->msg) : 0;
			}
		}
		if (r.from < acked_high)
			durable_acks(&k, sub->incarnation, r.from, r.to, states);

		LWLockAcquire(&e->lock, LW_EXCLUSIVE);
		if (e->ident == ident)
		{
			for (o = Max(r.from, e->next); o < r.to; o++)
			{
				ShareSlot  *s = slot_of(e, o);

				s->state = states[o - r.from];
				s->keyhash = hashes[o - r.from];
				s->deliveries = 0;
				s->until = 0;
			}
			if (r.to > e->next)
				e->next = r.to;
			advance(e);
		}
		LWLockRelease(&e->lock);
	}

	if (nchosen > 0)
	{
		int64		lo = PG_INT64_MAX;
		int64		hi = -1;
		ReadInto	r;
		int64	   *dead = palloc(sizeof(int64) * nchosen);
		int			ndead = 0;

		for (i = 0; i < nchosen; i++)
		{
			lo = Min(lo, chosen[i].offset);
			hi = Max(hi, chosen[i].offset);
		}
		r.from = lo;
		r.to = hi + 1;
		r.payloads = true;
		read_range(topic, partition, &r);
		for (i = 0; i < nchosen; i++)
		{
			MqRecord   *rec = r.records[chosen[i].offset - lo];

			if (rec == NULL)
			{
				/* removed by retention meanwhile: nothing to deliver */
				LWLockAcquire(&e->lock, LW_EXCLUSIVE);
				if (e->ident == ident && chosen[i].offset >= e->base &&
					chosen[i].offset < e->next)
				{
					ShareSlot  *s = slot_of(e, chosen[i].offset);

					if (s->deliveries == chosen[i].deliveries)
					{
						s->state = SLOT_SKIPPED;
						advance(e);
					}
				}
				LWLockRelease(&e->lock);
				continue;
			}
			if (chosen[i].dead)
			{
				mq_retry_dead_letter(&a->group, &rec->msg, chosen[i].deliveries - 1,
									 topic, partition, chosen[i].offset);
				dead[ndead++] = chosen[i].offset;
			}
			else
				emit(a, &k, ident, topic, rec, chosen[i].deliveries);
		}
		if (ndead > 0)
			insert_acks(&k, sub->incarnation, dead, ndead);
	}
}

/*
 * receive_pass
 *		One look at every partition of the group's shared subscriptions,
 *		starting at a different one each call.
 */
static void
receive_pass(ReceiveArgs *a, CachedGroup *g)
{
	int			i;
	int			start = (int) (receive_count++ % (uint32) Max(g->nsubs, 1));

	for (i = 0; i < g->nsubs && a->returned < a->max; i++)
	{
		CachedSubscription *sub = &g->subs[(start + i) % g->nsubs];
		MqTopicInfo topic;
		int32		p;
		int32		first;
		int			max_deliveries;

		if (sub->mode != 's' && sub->mode != 'k')
			continue;
		/* loads it into shared memory after a restart */
		mq_topic_get(sub->topic, &topic);
		mq_topic_check_access(&topic, MQ_ACCESS_READ);
		max_deliveries = sub->max_retries + 1;
		first = (int32) (receive_count % (uint32) topic.partitions);
		for (p = 0; p < topic.partitions && a->returned < a->max; p++)
			receive_partition(a, sub, &topic, (first + p) % topic.partitions,
							  max_deliveries);
	}
}

/*
 * mq_receive
 *		SQL: mq.receive(group, max, visibility_timeout, wait) leases up to
 *		max messages of the group's shared subscriptions for the visibility
 *		timeout and returns them with their receipts.  With wait, waits up
 *		to that long for a message to become available.
 */
Datum
mq_receive(PG_FUNCTION_ARGS)
{
	ReceiveArgs a;
	char	   *group_name = mq_group_access_arg(fcinfo, 0, MQ_PRIV_CONSUME);
	CachedGroup *g;
	TimestampTz deadline;
	bool		any = false;
	int			i;
	MemoryContext pass_cxt;
	MemoryContext old;

	memset(&a, 0, sizeof(a));
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("max and visibility_timeout must not be null")));
	a.max = PG_GETARG_INT32(1);
	if (a.max < 1 || a.max > MQ_MAX_BATCH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max must be between 1 and %d", MQ_MAX_BATCH)));
	a.visibility = PG_GETARG_INTERVAL_P(2);
	(void) mq_due_after(0, a.visibility, "visibility_timeout");
	if (a.visibility->time == 0 && a.visibility->day == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("visibility_timeout must be a positive interval without months")));
	deadline = GetCurrentTimestamp();
	if (!PG_ARGISNULL(3))
		deadline = mq_due_after(deadline, PG_GETARG_INTERVAL_P(3), "wait");
	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot receive messages in a read-only transaction")));
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("mq.receive is not supported in REPEATABLE READ or SERIALIZABLE transactions")));

	InitMaterializedSRF(fcinfo, 0);
	a.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	mq_payload_names_init(&a.payload_names);
	a.held.size = window() * 2 + 1;
	a.held.slots = palloc(sizeof(uint32) * a.held.size);
	a.chosen = palloc(sizeof(Chosen) * a.max);
	pass_cxt = AllocSetContextCreate(CurrentMemoryContext, "mq receive pass",
									 ALLOCSET_DEFAULT_SIZES);

	SPI_connect();
	g = mq_subscription_get(group_name);
	if (g == NULL)
		mq_group_get(group_name, &a.group); /* no such group: its error */
	else
		group_info(g, &a.group);
	for (i = 0; g != NULL && i < g->nsubs; i++)
		any |= (g->subs[i].mode == 's' || g->subs[i].mode == 'k');
	if (!any)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("consumer group \"%s\" has no shared or key_shared subscription",
						group_name),
				 errhint("mq.receive serves groups subscribed with mode => 'shared' or 'key_shared'; mq.fetch serves the others.")));

	for (;;)
	{
		ConditionVariable *cv = mq_offsets_wake_channel(MyDatabaseId);
		TimestampTz now;
		long		ms;

		ConditionVariablePrepareToSleep(cv);
		old = MemoryContextSwitchTo(pass_cxt);
		/* a seek or subscription change during a long poll counts at once */
		g = mq_subscription_get(group_name);
		if (g != NULL)
		{
			group_info(g, &a.group);
			receive_pass(&a, g);
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(pass_cxt);
		now = GetCurrentTimestamp();
		if (a.returned > 0 || now >= deadline)
		{
			ConditionVariableCancelSleep();
			break;
		}
		ms = Min((long) ((deadline - now + 999) / 1000), RECEIVE_NAP_MS);
		(void) ConditionVariableTimedSleep(cv, ms, PG_WAIT_EXTENSION);
		ConditionVariableCancelSleep();
		CHECK_FOR_INTERRUPTS();
	}
	SPI_finish();
	return (Datum) 0;
}

/*
 * refuse_receipt
 *		Refuse receipt r (55000), saying why.
 */
static void
refuse_receipt(const Receipt *r, const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("receipt of offset " INT64_FORMAT " of partition %d %s",
					r->offset, r->partition, why),
			 errdetail("The receipt is of delivery %u.", (unsigned) r->deliveries)));
}

/*
 * own_pending
 *		Whether this transaction already settles that delivery.
 */
static bool
own_pending(const ShareKey *key, uint32 ident, int64 offset,
			uint16 deliveries)
{
	ListCell   *lc;

	foreach(lc, pending)
	{
		Pending    *p = lfirst(lc);

		if (p->kind != PENDING_LEASE && p->ident == ident &&
			p->offset == offset && p->deliveries == deliveries &&
			memcmp(&p->key, key, sizeof(ShareKey)) == 0)
			return true;
	}
	return false;
}

/*
 * settle_receipt
 *		Check a receipt against the current delivery of its message and
 *		mark it settling (ack or nack) in this transaction.  Returns false
 *		if this transaction, or a committed one, settled that very delivery
 *		already.  Refuses (55000) a receipt whose message was delivered
 *		again, is being settled by another transaction, left the window
 *		settled (its delivery cannot be told any more), or is from an
 *		earlier server life or subscription.  incarnation is the
 *		subscription's.
 */
static bool
settle_receipt(Receipt *r, PendingKind kind, TimestampTz nack_until,
			   TimestampTz incarnation)
{
	ShareKey	key;
	ShareEntry *e;
	ShareSlot  *s;
	bool		settled = false;
	TimestampTz prev_until = 0;
	const char *why = NULL;

	memset(&key, 0, sizeof(key));
	key.dboid = MyDatabaseId;
	key.group_id = r->group_id;
	key.topic_id = r->topic_id;
	key.partition = r->partition;
	e = find_entry(&key);
	if (e != NULL)
		LWLockAcquire(&e->lock, LW_EXCLUSIVE);
	if (e == NULL || !e->loaded || e->ident != r->epoch ||
		e->incarnation != incarnation)
		why = "is from an earlier server start, subscription or seek: the message is delivered again";
	else if (r->offset < e->base)
		why = "is settled already";
	else if (r->offset >= e->next)
		why = "names no delivery";
	else
	{
		s = slot_of(e, r->offset);
		if (s->deliveries != r->deliveries)
			why = "is stale: the message was delivered again";
		else if (s->state == SLOT_ACKED)
			settled = true;
		else if (s->state == SLOT_SETTLING)
		{
			if (own_pending(&key, e->ident, r->offset, r->deliveries))
				settled = true;
			else
				why = "is being settled by another transaction";
		}
		else if (s->state != SLOT_LEASED && s->state != SLOT_AVAILABLE)
			why = "names no delivery";
		else
		{
			prev_until = s->until;
			s->state = SLOT_SETTLING;
		}
	}
	if (e != NULL)
		LWLockRelease(&e->lock);
	if (why != NULL)
		refuse_receipt(r, why);
	if (!settled)
		remember(&key, r->epoch, r->offset, kind, r->deliveries, nack_until,
				 prev_until);
	return !settled;
}

/*
 * group_of_receipt
 *		The group a receipt names, with the caller's consume privilege on
 *		it and on its topic checked, and the topic and the creation time of
 *		the subscription.  The caller is connected to SPI.
 */
static TimestampTz
group_of_receipt(const Receipt *r, MqGroupInfo *group, MqTopicInfo *topic,
				 int32 *max_retries)
{
	CachedGroup *g;
	CachedSubscription *sub = mq_subscription_of(r->group_id, r->topic_id, &g);

	if (sub == NULL || (sub->mode != 's' && sub->mode != 'k'))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the shared subscription of the receipt no longer exists")));
	group_info(g, group);
	*max_retries = sub->max_retries;
	mq_topic_get(sub->topic, topic);
	mq_acl_check(MQ_OBJECT_GROUP, group->name, MQ_PRIV_CONSUME);
	mq_topic_check_access(topic, MQ_ACCESS_READ);
	return sub->incarnation;
}

static void
check_writable(const char *what)
{
	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot %s a message in a read-only transaction", what)));
}

/*
 * ack
 *		The work of mq.ack(receipt) and mq.ack(receipts[]): settle the
 *		messages in the current transaction; they are never delivered again
 *		once it commits, and are available again at once if it rolls back.
 *		Returns how many this call settled.
 */
static int
ack(Datum *elems, bool *nulls, int n)
{
	int			i;
	int			acked = 0;
	Receipt		last = {.group_id = -1};
	TimestampTz incarnation = 0;
	Receipt    *settled = palloc(sizeof(Receipt) * Max(n, 1));
	TimestampTz *incarnations = palloc(sizeof(TimestampTz) * Max(n, 1));
	int64	   *offsets = palloc(sizeof(int64) * Max(n, 1));

	check_writable("acknowledge");
	SPI_connect();
	for (i = 0; i < n; i++)
	{
		Receipt		r;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("receipt must not be null")));
		parse_receipt(TextDatumGetCString(elems[i]), &r);
		if (r.group_id != last.group_id || r.topic_id != last.topic_id)
		{
			MqGroupInfo group;
			MqTopicInfo topic;
			int32		max_retries;

			incarnation = group_of_receipt(&r, &group, &topic, &max_retries);
			last = r;
		}
		if (settle_receipt(&r, PENDING_ACK, 0, incarnation))
		{
			incarnations[acked] = incarnation;
			settled[acked++] = r;
			mq_metrics_count(r.topic_id, r.group_id, MQ_METRIC_ACKNOWLEDGED,
							 1, 0);
		}
	}

	/* one row of mq.share_ack per partition the call settled in */
	for (i = 0; i < acked; i++)
	{
		ShareKey	k;
		int			j;
		int			m = 0;

		if (settled[i].partition < 0)
			continue;			/* recorded with an earlier one */
		memset(&k, 0, sizeof(k));
		k.group_id = settled[i].group_id;
		k.topic_id = settled[i].topic_id;
		k.partition = settled[i].partition;
		for (j = i; j < acked; j++)
		{
			if (settled[j].group_id == k.group_id &&
				settled[j].topic_id == k.topic_id &&
				settled[j].partition == k.partition &&
				incarnations[j] == incarnations[i])
			{
				offsets[m++] = settled[j].offset;
				if (j > i)
					settled[j].partition = -1;
			}
		}
		insert_acks(&k, incarnations[i], offsets, m);
	}
	SPI_finish();
	return acked;
}

/*
 * mq_ack_receipt
 *		SQL: mq.ack(receipt).
 */
Datum
mq_ack_receipt(PG_FUNCTION_ARGS)
{
	Datum		elem = PG_GETARG_DATUM(0);
	bool		null = PG_ARGISNULL(0);

	PG_RETURN_INT32(ack(&elem, &null, 1));
}

/*
 * mq_ack_receipts
 *		SQL: mq.ack(receipts[]).
 */
Datum
mq_ack_receipts(PG_FUNCTION_ARGS)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("receipts must not be null")));
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(0), TEXTOID, -1, false,
					  TYPALIGN_INT, &elems, &nulls, &n);
	PG_RETURN_INT32(ack(elems, nulls, n));
}

/*
 * mq_nack_receipt
 *		SQL: mq.nack(receipt, delay) gives a message back: delivered again
 *		after delay (at once if null) once the transaction commits.  A
 *		message delivered max_retries + 1 times goes to the group's
 *		dead-letter topic instead.  Returns 'retry' or 'dlq', or NULL if
 *		this transaction settled that delivery already.
 */
Datum
mq_nack_receipt(PG_FUNCTION_ARGS)
{
	Receipt		r;
	MqGroupInfo group;
	MqTopicInfo topic;
	TimestampTz due = mq_clock_now();
	TimestampTz incarnation;
	int32		max_retries;
	const char *result;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("receipt must not be null")));
	check_writable("nack");
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("mq.nack of a receipt is not supported in REPEATABLE READ or SERIALIZABLE transactions")));
	if (!PG_ARGISNULL(1))
		due = mq_due_after(due, PG_GETARG_INTERVAL_P(1), "delay");
	parse_receipt(text_to_cstring(PG_GETARG_TEXT_PP(0)), &r);

	SPI_connect();
	incarnation = group_of_receipt(&r, &group, &topic, &max_retries);
	if (r.deliveries > max_retries)
	{
		ReadInto	rd;
		ShareKey	k;

		if (!settle_receipt(&r, PENDING_ACK, 0, incarnation))
		{
			SPI_finish();
			PG_RETURN_NULL();
		}
		memset(&k, 0, sizeof(k));
		k.group_id = r.group_id;
		k.topic_id = r.topic_id;
		k.partition = r.partition;
		rd.from = r.offset;
		rd.to = r.offset + 1;
		rd.payloads = true;
		read_range(&topic, r.partition, &rd);
		if (rd.records[0] != NULL)
			mq_retry_dead_letter(&group, &rd.records[0]->msg, r.deliveries,
								 &topic, r.partition, r.offset);
		insert_acks(&k, incarnation, &r.offset, 1);
		result = "dlq";
	}
	else
	{
		if (!settle_receipt(&r, PENDING_NACK, due, incarnation))
		{
			SPI_finish();
			PG_RETURN_NULL();
		}
		result = "retry";
	}
	mq_metrics_count(r.topic_id, r.group_id, MQ_METRIC_NACKED, 1, 0);
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(result));
}

/*
 * mq_extend_receipt
 *		SQL: mq.extend(receipt, visibility_timeout) moves the end of a
 *		lease to now plus visibility_timeout, at once (not with the
 *		transaction).  Returns the new end.
 */
Datum
mq_extend_receipt(PG_FUNCTION_ARGS)
{
	Receipt		r;
	MqGroupInfo group;
	MqTopicInfo topic;
	ShareKey	key;
	ShareEntry *e;
	TimestampTz until;
	TimestampTz incarnation;
	int32		max_retries;
	const char *why = NULL;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("receipt and visibility_timeout must not be null")));
	until = mq_due_after(mq_clock_now(), PG_GETARG_INTERVAL_P(1),
						 "visibility_timeout");
	parse_receipt(text_to_cstring(PG_GETARG_TEXT_PP(0)), &r);
	SPI_connect();
	incarnation = group_of_receipt(&r, &group, &topic, &max_retries);
	SPI_finish();

	memset(&key, 0, sizeof(key));
	key.dboid = MyDatabaseId;
	key.group_id = r.group_id;
	key.topic_id = r.topic_id;
	key.partition = r.partition;
	e = find_entry(&key);
	if (e != NULL)
		LWLockAcquire(&e->lock, LW_EXCLUSIVE);
	if (e == NULL || !e->loaded || e->ident != r.epoch ||
		e->incarnation != incarnation)
		why = "is from an earlier server start, subscription or seek: the message is delivered again";
	else if (r.offset < e->base || r.offset >= e->next)
		why = "names no current lease";
	else
	{
		ShareSlot  *s = slot_of(e, r.offset);

		if (s->deliveries != r.deliveries)
			why = "is stale: the message was delivered again";
		else if (s->state != SLOT_LEASED)
			why = "names no current lease";
		else
			s->until = until;
	}
	if (e != NULL)
		LWLockRelease(&e->lock);
	if (why != NULL)
		refuse_receipt(&r, why);
	PG_RETURN_TIMESTAMPTZ(until);
}

/*
 * mq_share_windows
 *		SQL: mq.share_windows() describes the windows of this database's
 *		shared subscriptions in shared memory: per group and partition, the
 *		floor, the first offset not read yet, and how many offsets are
 *		leased, being settled, and acknowledged above the floor.  Only
 *		windows used since the server started are there; mq.shared_lag
 *		completes them from the positions.
 */
Datum
mq_share_windows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS status;
	ShareEntry *e;
	TimestampTz now = mq_clock_now();

	InitMaterializedSRF(fcinfo, 0);
	LWLockAcquire(ShareState->dir_lock, LW_SHARED);
	hash_seq_init(&status, ShareDir.htab);
	while ((e = hash_seq_search(&status)) != NULL)
	{
		Datum		values[8];
		bool		nulls[8] = {0};
		int32		leased = 0;
		int32		settling = 0;
		int32		acked = 0;
		int64		o;

		if (e->key.dboid != MyDatabaseId)
			continue;
		LWLockAcquire(&e->lock, LW_SHARED);
		if (!e->loaded)
		{
			LWLockRelease(&e->lock);
			continue;
		}
		for (o = e->base; o < e->next; o++)
		{
			ShareSlot  *s = slot_of(e, o);

			if (s->state == SLOT_LEASED && s->until > now)
				leased++;
			else if (s->state == SLOT_SETTLING)
				settling++;
			else if (s->state == SLOT_ACKED)
				acked++;
		}
		values[0] = Int32GetDatum(e->key.group_id);
		values[1] = Int32GetDatum(e->key.topic_id);
		values[2] = Int32GetDatum(e->key.partition);
		values[3] = Int64GetDatum(e->base);
		values[4] = Int64GetDatum(e->next);
		values[5] = Int32GetDatum(leased);
		values[6] = Int32GetDatum(settling);
		values[7] = Int32GetDatum(acked);
		LWLockRelease(&e->lock);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values,
							 nulls);
	}
	LWLockRelease(ShareState->dir_lock);
	return (Datum) 0;
}

/*
 * mq_share_compact
 *		Fold committed acks into the positions: for every window of this
 *		database, move the position's floor to the window's, add the acks of
 *		mq.share_ack to its acked offsets (less those below the floor), and
 *		delete those acks.  The position row is locked first, and skipped if
 *		someone holds it (an unsubscribe in progress), so that this takes its
 *		locks in the order a cascade from mq.subscription does; ack rows
 *		that someone holds (a seek restamping or deleting them) are left for
 *		the next pass, so this never waits on a lock.  Then delete
 *		the acks of incarnations no subscription has any more (an ack that
 *		committed after the unsubscribe, drop or seek that ended its
 *		incarnation; those they saw, they deleted themselves).  Called by
 *		the database worker in a transaction with a snapshot.  Returns how
 *		many positions it updated.
 */
int
mq_share_compact(void)
{
	HASH_SEQ_STATUS status;
	ShareEntry *e;
	List	   *work = NIL;
	ListCell   *lc;
	int			updated = 0;
	Oid			nsp = get_namespace_oid(MQ_EXTENSION_NAME, true);
	Oid			acks = OidIsValid(nsp) ? get_relname_relid("share_ack", nsp) :
	InvalidOid;

	/* not there before ALTER EXTENSION mq UPDATE; locked by DDL: later */
	if (!OidIsValid(acks) ||
		!ConditionalLockRelationOid(acks, RowExclusiveLock))
		return 0;

	LWLockAcquire(ShareState->dir_lock, LW_SHARED);
	hash_seq_init(&status, ShareDir.htab);
	while ((e = hash_seq_search(&status)) != NULL)
	{
		if (e->key.dboid == MyDatabaseId && e->loaded)
		{
			ShareKey   *k = palloc(sizeof(ShareKey));

			*k = e->key;
			work = lappend(work, k);
		}
	}
	LWLockRelease(ShareState->dir_lock);

	SPI_connect();
	foreach(lc, work)
	{
		ShareKey   *k = lfirst(lc);
		Oid			types[5] = {INT4OID, INT4OID, INT4OID, INT8OID, TIMESTAMPTZOID};
		Datum		args[5];
		int64		floor;
		TimestampTz incarnation;
		bool		loaded;

		e = find_entry(k);
		if (e == NULL)
			continue;
		LWLockAcquire(&e->lock, LW_SHARED);
		floor = e->base;
		incarnation = e->incarnation;
		loaded = e->loaded;
		LWLockRelease(&e->lock);
		if (!loaded)
			continue;

		args[0] = Int32GetDatum(k->group_id);
		args[1] = Int32GetDatum(k->topic_id);
		args[2] = Int32GetDatum(k->partition);
		args[3] = Int64GetDatum(floor);
		args[4] = TimestampTzGetDatum(incarnation);

		/* the window's subscription, and its position row, first */
		if (mq_query("SELECT 1 FROM mq.position p JOIN mq.subscription s"
					 "  USING (group_id, topic_id)"
					 " WHERE p.group_id OPERATOR(pg_catalog.=) $1"
					 " AND p.topic_id OPERATOR(pg_catalog.=) $2"
					 " AND p.partition OPERATOR(pg_catalog.=) $3"
					 " AND p.member_id OPERATOR(pg_catalog.=) ''"
					 " AND s.share_reset_at OPERATOR(pg_catalog.=) $5"
					 " AND $4 IS NOT NULL"
					 " FOR NO KEY UPDATE OF p SKIP LOCKED",
					 5, types, args, NULL, false) == 0)
			continue;
		if (mq_query("WITH d AS (DELETE FROM mq.share_ack a"
					 "  WHERE a.ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
					 "   SELECT ctid FROM mq.share_ack"
					 "    WHERE group_id OPERATOR(pg_catalog.=) $1"
					 "    AND topic_id OPERATOR(pg_catalog.=) $2"
					 "    AND partition OPERATOR(pg_catalog.=) $3"
					 "    AND incarnation OPERATOR(pg_catalog.=) $5"
					 "    FOR UPDATE SKIP LOCKED))"
					 "  RETURNING a.offsets)"
					 " UPDATE mq.position p"
					 " SET next_offset = GREATEST(p.next_offset, $4),"
					 "  acked = (p.acked OPERATOR(pg_catalog.+)"
					 "   coalesce((SELECT pg_catalog.range_agg(d.offsets) FROM d),"
					 "            '{}'::pg_catalog.int8multirange))"
					 "   OPERATOR(pg_catalog.-) pg_catalog.int8multirange("
					 "    pg_catalog.int8range(NULL, GREATEST(p.next_offset, $4))),"
					 "  committed_at = CASE WHEN $4 OPERATOR(pg_catalog.>) p.next_offset"
					 "   THEN pg_catalog.now() ELSE p.committed_at END"
					 " WHERE p.group_id OPERATOR(pg_catalog.=) $1"
					 " AND p.topic_id OPERATOR(pg_catalog.=) $2"
					 " AND p.partition OPERATOR(pg_catalog.=) $3"
					 " AND p.member_id OPERATOR(pg_catalog.=) ''"
					 " AND (p.next_offset OPERATOR(pg_catalog.<) $4"
					 "      OR EXISTS (SELECT 1 FROM d))",
					 5, types, args, NULL, false) > 0)
			updated++;
	}

	/* acks of a subscription since dropped, subscribed again or seeked */
	mq_query("DELETE FROM mq.share_ack WHERE ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
			 " SELECT a.ctid FROM mq.share_ack a WHERE NOT EXISTS ("
			 "  SELECT 1 FROM mq.subscription s"
			 "   WHERE s.group_id OPERATOR(pg_catalog.=) a.group_id"
			 "   AND s.topic_id OPERATOR(pg_catalog.=) a.topic_id"
			 "   AND s.share_reset_at OPERATOR(pg_catalog.=) a.incarnation)"
			 " FOR UPDATE OF a SKIP LOCKED))",
			 0, NULL, NULL, NULL, false);
	SPI_finish();
	return updated;
}

/*
 * mq_share_shmem_request
 *		Reserve the windows' shared memory and lock.  Called from mq.c's
 *		shmem_request_hook.
 */
void
mq_share_shmem_request(void)
{
	ShareDir.entrysize = entry_size();
	RequestAddinShmemSpace(add_size(CACHELINEALIGN(sizeof(ShareShared)),
									mq_shmem_directory_size(&ShareDir)));
	RequestNamedLWLockTranche("mq share partitions", 1);
}

/*
 * mq_share_shmem_startup
 *		Create the windows' shared memory, or attach to it.  Called from
 *		mq.c's shmem_startup_hook with AddinShmemInitLock held.
 */
void
mq_share_shmem_startup(void)
{
	bool		found;

	ShareDir.entrysize = entry_size();
	ShareState = ShmemInitStruct("mq share", sizeof(ShareShared), &found);
	if (!found)
	{
		ShareState->dir_lock = &(GetNamedLWLockTranche("mq share partitions"))->lock;
		ShareState->tranche = LWLockNewTrancheId();
		if (!pg_strong_random(&ShareState->epoch, sizeof(ShareState->epoch)))
			ShareState->epoch = (uint32) GetCurrentTimestamp();
	}
	LWLockRegisterTranche(ShareState->tranche, "mq share partition");
	mq_shmem_directory_init(&ShareDir, ShareState->dir_lock);
}
