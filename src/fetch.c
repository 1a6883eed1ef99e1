/*-------------------------------------------------------------------------
 *
 * fetch.c
 *	  Consuming as a group: fetch, poll, commit, ack, seek and lag.
 *
 * A fetch claims partitions of the group's topics, one at a time, by
 * locking the group's position row in each with SKIP LOCKED, and reads the
 * committed messages after the position, below the partition's stable
 * offset (read after the lock; the messages with a snapshot taken after
 * that: see consume.c).  What happens to the position depends on how the
 * consumer runs:
 *
 * - In a transaction block, the lock is the claim: it lasts until the
 *   transaction ends, so no other consumer of the group gets the same
 *   messages meanwhile.  mq.commit, mq.ack or mq.commit(group) records the
 *   position in the same transaction: exactly-once for effects in this
 *   database.  A rollback releases the claim, and the messages come again.
 * - With auto_commit => true, the fetch leases the partitions it read
 *   (lease columns of the position, for mq.auto_commit_timeout) and the
 *   next auto-commit fetch of the same session and group commits them
 *   first: at-least-once.  A consumer that dies loses its lease when it
 *   times out, and its last batch is delivered again.
 * - Otherwise, outside a transaction block, the fetch commits the position
 *   past what it returns before returning it: at-most-once.
 *
 * Filters (tags, jsonpath over headers) are evaluated in the read query;
 * a message that does not match moves the position like one that does.
 *
 * mq.poll is a fetch that, when nothing is ready, sleeps on its database's
 * wake channel (a condition variable broadcast whenever a stable offset
 * moves there) until one of the partitions it could read moves, or its
 * wait ends.  It holds no lightweight lock while it sleeps and wakes for
 * query cancel and termination.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/fetch.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "fetch.h"
#include "group.h"
#include "offsets.h"
#include "query.h"
#include "segment.h"
#include "settings.h"
#include "topic.h"

PG_FUNCTION_INFO_V1(mq_fetch);
PG_FUNCTION_INFO_V1(mq_poll);
PG_FUNCTION_INFO_V1(mq_commit);
PG_FUNCTION_INFO_V1(mq_commit_fetched);
PG_FUNCTION_INFO_V1(mq_ack);
PG_FUNCTION_INFO_V1(mq_seek);
PG_FUNCTION_INFO_V1(mq_seek_position);
PG_FUNCTION_INFO_V1(mq_seek_time);
PG_FUNCTION_INFO_V1(mq_first_unconsumed_at);

/* Columns of mq.fetch and mq.poll. */
#define FETCH_COLUMNS	10

/*
 * A fetch looks at most this many offsets past the position per partition
 * (or max times FETCH_SCAN_FACTOR, if larger), so that a selective filter
 * over a long backlog does not turn one fetch into a scan of the log.
 */
#define FETCH_SCAN_WINDOW	10000
#define FETCH_SCAN_FACTOR	100

/*
 * A partition this session read from: claimed by a row lock in the current
 * transaction (xact_claims), or leased by an auto-commit fetch (the
 * session batch).
 */
typedef struct Claim
{
	char		group_name[MQ_NAME_MAX + 1];
	int32		group_id;
	int32		topic_id;
	int32		partition;
	char		member_id[MQ_NAME_MAX + 1]; /* '' in clustering mode */
	int64		next;			/* just past what was handed out */
	SubTransactionId subid;		/* subtransaction that made the claim */
	List	   *undo;			/* UndoPoints, innermost last */
	int64		rewound;		/* where mq.nack sent next back, or -1 */
} Claim;

/*
 * Where next was when a subtransaction below the claim's first moved it:
 * if that subtransaction rolls back, next goes back there.  A claim's undo
 * points have increasing subtransaction ids, one per level at most.
 */
typedef struct UndoPoint
{
	SubTransactionId subid;
	int64		next;
	int64		rewound;
} UndoPoint;

typedef enum FetchMode
{
	FETCH_TRANSACTIONAL,		/* claim until the transaction ends */
	FETCH_AUTO_COMMIT,			/* lease; commit at the next fetch */
	FETCH_AT_MOST_ONCE			/* commit before returning */
} FetchMode;

/* A partition that poll may wait for: ready when its stable offset passes from. */
typedef struct WaitTarget
{
	int32		topic_id;
	int32		partition;
	int64		from;
} WaitTarget;

typedef struct FetchArgs
{
	MqGroupInfo group;
	bool		one_topic;
	MqTopicInfo topic;
	int32		partition;		/* -1: every partition */
	int32		max;
	FetchMode	mode;
	const char *member_id;		/* '' if none */
	ReturnSetInfo *rsinfo;
	List	   *wait;			/* WaitTargets of the last pass */
} FetchArgs;

/* Claims of the current transaction, in TopTransactionContext. */
static List *xact_claims = NIL;

/* Leases of this session's last auto-commit fetches, in TopMemoryContext. */
static List *session_batch = NIL;

/* What session_batch becomes if the current transaction commits. */
static List *next_session_batch = NIL;
static bool session_batch_pending = false;

/* Spreads consumers of one group over its partitions. */
static uint32 fetch_count = 0;

static uint64
query(const char *sql, int nargs, Oid *types, Datum *values, bool read_only)
{
	return mq_query(sql, nargs, types, values, NULL, read_only);
}

static Datum
column(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col,
						 isnull);
}

/*
 * session_token
 *		Identifies this session as a lease owner: its process id and start
 *		time, so that a later session with the same pid differs.
 */
static int64
session_token(void)
{
	return ((int64) MyProcPid << 32) | (uint32) MyStartTimestamp;
}

static Claim *
find_claim(List *claims, int32 group_id, int32 topic_id, int32 partition,
		   const char *member_id)
{
	ListCell   *lc;

	foreach(lc, claims)
	{
		Claim	   *c = lfirst(lc);

		if (c->group_id == group_id && c->topic_id == topic_id &&
			c->partition == partition && strcmp(c->member_id, member_id) == 0)
			return c;
	}
	return NULL;
}

/*
 * position_key_args
 *		The first four arguments of the position queries below: group,
 *		topic, partition, member.
 */
static void
position_key_args(Datum *args, int32 group_id, int32 topic_id,
				  int32 partition, const char *member_id)
{
	args[0] = Int32GetDatum(group_id);
	args[1] = Int32GetDatum(topic_id);
	args[2] = Int32GetDatum(partition);
	args[3] = CStringGetTextDatum(member_id);
}

#define POSITION_KEY \
	" WHERE group_id = $1 AND topic_id = $2 AND partition = $3" \
	" AND member_id = $4"

/*
 * set_position
 *		Commit a position (in the current transaction) and drop any lease on
 *		it.  Returns false if the position does not exist.
 */
static bool
set_position(int32 group_id, int32 topic_id, int32 partition,
			 const char *member_id, int64 next)
{
	Oid			types[5] = {INT4OID, INT4OID, INT4OID, TEXTOID, INT8OID};
	Datum		args[5];

	position_key_args(args, group_id, topic_id, partition, member_id);
	args[4] = Int64GetDatum(next);
	return query("UPDATE mq.position SET next_offset = $5, committed_at = now(),"
				 " lease_owner = NULL, lease_to = NULL, lease_until = NULL,"
				 " attempts = CASE WHEN next_offset = $5 THEN attempts ELSE 0 END"
				 POSITION_KEY, 5, types, args, false) > 0;
}

/*
 * commit_leases
 *		Commit the positions this session leased for a group in its last
 *		auto-commit fetch, unless the lease was lost meanwhile (it timed out
 *		and another consumer took the partition, or a seek or commit
 *		replaced it): those messages are then delivered again.  Removes
 *		them from the session batch if the transaction commits.  Returns
 *		how many were committed.
 */
static int
commit_leases(int32 group_id)
{
	ListCell   *lc;
	MemoryContext old;
	int			committed = 0;
	List	   *keep = NIL;

	old = MemoryContextSwitchTo(TopTransactionContext);
	foreach(lc, session_batch_pending ? next_session_batch : session_batch)
	{
		Claim	   *c = lfirst(lc);

		if (c->group_id != group_id)
		{
			Claim	   *copy = palloc(sizeof(Claim));

			memcpy(copy, c, sizeof(Claim));
			keep = lappend(keep, copy);
			continue;
		}
		{
			Oid			types[6] = {INT4OID, INT4OID, INT4OID, TEXTOID, INT8OID, INT8OID};
			Datum		args[6];

			position_key_args(args, c->group_id, c->topic_id, c->partition,
							  c->member_id);
			args[4] = Int64GetDatum(c->next);
			args[5] = Int64GetDatum(session_token());
			MemoryContextSwitchTo(old);

			/*
			 * A position locked by another transaction is not ours any more
			 * (our lease expired and it was taken): skip it, do not wait.
			 */
			committed += query("UPDATE mq.position SET next_offset = $5,"
							   " committed_at = now(), lease_owner = NULL,"
							   " lease_to = NULL, lease_until = NULL,"
							   " attempts = CASE WHEN next_offset = $5"
							   "  THEN attempts ELSE 0 END"
							   " WHERE ctid = (SELECT ctid FROM mq.position"
							   POSITION_KEY
							   " AND lease_owner = $6 AND lease_to = $5"
							   " FOR UPDATE SKIP LOCKED)",
							   6, types, args, false);
			MemoryContextSwitchTo(TopTransactionContext);
		}
	}
	next_session_batch = keep;
	session_batch_pending = true;
	MemoryContextSwitchTo(old);
	return committed;
}

/*
 * A subscription's filters, ready to test messages against.
 */
typedef struct MessageFilter
{
	bool		any_tag;		/* no tag filter */
	Datum	   *tags;
	int			ntags;
	bool		any_headers;	/* no jsonpath filter */
	FmgrInfo	match;			/* jsonb @@ jsonpath */
	FmgrInfo	exists;			/* jsonb @? jsonpath */
	Datum		path;
	Datum		no_headers;		/* '{}', what a message without headers is */
} MessageFilter;

/*
 * init_filter
 *		Prepare the tags (text[]) and jsonpath filter of a subscription,
 *		either of which may be null.
 */
static void
init_filter(MessageFilter *f, Datum tags, bool tags_null, Datum filter,
			bool filter_null)
{
	memset(f, 0, sizeof(*f));
	f->any_tag = tags_null;
	if (!tags_null)
		deconstruct_array(DatumGetArrayTypeP(tags), TEXTOID, -1, false,
						  TYPALIGN_INT, &f->tags, NULL, &f->ntags);
	f->any_headers = filter_null;
	if (!filter_null)
	{
		fmgr_info(F_JSONB_PATH_MATCH_OPR, &f->match);
		fmgr_info(F_JSONB_PATH_EXISTS_OPR, &f->exists);
		f->path = filter;
		f->no_headers = DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
	}
}

/*
 * path_test
 *		jsonb_path_match_opr or jsonb_path_exists_opr on headers; sets
 *		*isnull when the result is null (the path's result is not a boolean,
 *		or it failed in a way the operators stay silent about).
 */
static bool
path_test(FmgrInfo *fn, Datum headers, Datum path, bool *isnull)
{
	LOCAL_FCINFO(fcinfo, 2);
	Datum		result;

	InitFunctionCallInfoData(*fcinfo, fn, 2, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = headers;
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = path;
	fcinfo->args[1].isnull = false;
	result = FunctionCallInvoke(fcinfo);
	*isnull = fcinfo->isnull;
	return !fcinfo->isnull && DatumGetBool(result);
}

/*
 * filter_passes
 *		Whether a message with this tag and these headers passes f: its tag
 *		is one of the tags (a message without a tag is not), and the
 *		headers (or '{}') match the jsonpath as a predicate (@@) or, if it
 *		is not one, as a path that finds something (@?).
 */
static bool
filter_passes(MessageFilter *f, Datum tag, bool tag_null, Datum headers,
			  bool headers_null)
{
	if (!f->any_tag)
	{
		text	   *t;
		bool		found = false;
		int			i;

		if (tag_null)
			return false;
		t = DatumGetTextPP(tag);
		for (i = 0; i < f->ntags && !found; i++)
		{
			text	   *want = DatumGetTextPP(f->tags[i]);

			found = VARSIZE_ANY_EXHDR(t) == VARSIZE_ANY_EXHDR(want) &&
				memcmp(VARDATA_ANY(t), VARDATA_ANY(want),
					   VARSIZE_ANY_EXHDR(t)) == 0;
		}
		if (!found)
			return false;
	}
	if (!f->any_headers)
	{
		Datum		h = headers_null ? f->no_headers : headers;
		bool		isnull;
		bool		passes = path_test(&f->match, h, f->path, &isnull);

		if (isnull)
			passes = path_test(&f->exists, h, f->path, &isnull);
		if (!passes)
			return false;
	}
	return true;
}

/*
 * scan_segment
 *		Put into the result the messages of a partition in segment relid
 *		(locked by the caller) from offset *from up to bound, that pass f:
 *		at most max, in offset order.  A plain index scan on the segment's
 *		primary key, under a snapshot taken now (after the caller read the
 *		stable offset): no plan, and each message goes straight from the
 *		buffer into the result.  Reads with the caller's rights, as a query
 *		would.  Returns how many, and moves *from past the last one.
 */
static int32
scan_segment(FetchArgs *a, Oid relid, Datum topic_name, int32 partition,
			 int64 *from, int64 bound, MessageFilter *f, int32 max)
{
	Relation	rel = table_open(relid, NoLock);
	Relation	index;
	AclResult	aclresult;
	Snapshot	snapshot;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	ScanKeyData keys[3];
	int32		returned = 0;
	Datum		type_text = CStringGetTextDatum("text");
	Datum		type_jsonb = CStringGetTextDatum("jsonb");
	Datum		type_bytea = CStringGetTextDatum("bytea");

	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, RelationGetRelationName(rel));
	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("row-level security on segment table \"%s\" is not supported",
						RelationGetRelationName(rel))));

	index = index_open(RelationGetPrimaryKeyIndex(rel), AccessShareLock);
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT4EQ,
				Int32GetDatum(partition));
	ScanKeyInit(&keys[1], 2, BTGreaterEqualStrategyNumber, F_INT8GE,
				Int64GetDatum(*from));
	ScanKeyInit(&keys[2], 2, BTLessStrategyNumber, F_INT8LT,
				Int64GetDatum(bound));
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	scan = index_beginscan(rel, index, snapshot, 3, 0);
	index_rescan(scan, keys, 3, NULL, 0);
	slot = table_slot_create(rel, NULL);

	while (returned < max &&
		   index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		Datum	   *v;
		bool	   *n;
		Datum		values[FETCH_COLUMNS];
		bool		isnull[FETCH_COLUMNS];
		char		type;

		CHECK_FOR_INTERRUPTS();
		slot_getallattrs(slot);
		v = slot->tts_values;
		n = slot->tts_isnull;
		if (!filter_passes(f, v[SEG_TAG], n[SEG_TAG], v[SEG_HEADERS],
						   n[SEG_HEADERS]))
			continue;

		type = DatumGetChar(v[SEG_PAYLOAD_TYPE]);
		memset(isnull, 0, sizeof(isnull));
		values[0] = topic_name;
		values[1] = Int32GetDatum(partition);
		values[2] = v[SEG_OFFSET];
		values[3] = v[SEG_ID];
		values[4] = v[SEG_KEY];
		isnull[4] = n[SEG_KEY];
		values[5] = v[SEG_TAG];
		isnull[5] = n[SEG_TAG];
		values[6] = v[SEG_HEADERS];
		isnull[6] = n[SEG_HEADERS];
		values[7] = v[SEG_PAYLOAD];
		values[8] = type == 't' ? type_text :
			type == 'j' ? type_jsonb : type_bytea;
		values[9] = v[SEG_PRODUCED_AT];
		tuplestore_putvalues(a->rsinfo->setResult, a->rsinfo->setDesc,
							 values, isnull);
		*from = DatumGetInt64(v[SEG_OFFSET]) + 1;
		returned++;
	}

	ExecDropSingleTupleTableSlot(slot);
	index_endscan(scan);
	UnregisterSnapshot(snapshot);
	index_close(index, AccessShareLock);
	table_close(rel, NoLock);
	return returned;
}

/*
 * read_partition
 *		Put into the result the committed messages of a partition from
 *		offset from on, below stable, that pass the subscription's filters:
 *		at most max.  Returns how many, and sets *scanned_to to the offset
 *		just past what was looked at.
 */
static int32
read_partition(FetchArgs *a, const MqTopicInfo *topic, int32 partition,
			   int64 from, int64 stable, Datum tags, bool tags_null,
			   Datum filter, bool filter_null, int32 max, int64 *scanned_to)
{
	Oid			segtype = INT4OID;
	Datum		segarg = Int32GetDatum(topic->topic_id);
	SPITupleTable *segments;
	uint64		nsegments;
	uint64		s;
	int64		bound;
	int32		returned = 0;
	int64		window = Max((int64) FETCH_SCAN_WINDOW,
							 (int64) max * FETCH_SCAN_FACTOR);
	Datum		topic_name = CStringGetTextDatum(topic->name);
	MessageFilter f;

	bound = (stable - from > window) ? from + window : stable;
	*scanned_to = bound;
	init_filter(&f, tags, tags_null, filter, filter_null);

	query("SELECT relid::text FROM mq.segment WHERE topic_id = $1"
		  " ORDER BY segment_no", 1, &segtype, &segarg, false);
	segments = SPI_tuptable;
	nsegments = SPI_processed;
	for (s = 0; s < nsegments && returned < max; s++)
	{
		Oid			relid;

		relid = mq_segment_lock(SPI_getvalue(segments->vals[s],
											 segments->tupdesc, 1));
		if (!OidIsValid(relid))
			continue;
		returned += scan_segment(a, relid, topic_name, partition, &from,
								 bound, &f, max - returned);
	}
	SPI_freetuptable(segments);
	if (returned == max)
		*scanned_to = from;
	return returned;
}

/*
 * claim_position
 *		Lock the group's position in a partition, unless another transaction
 *		holds it or another session leases it.  Returns false if it could
 *		not; else sets *next to the position.
 */
static bool
claim_position(FetchArgs *a, int32 topic_id, int32 partition,
			   const char *pos_member, int64 *next)
{
	Oid			types[5] = {INT4OID, INT4OID, INT4OID, TEXTOID, INT8OID};
	Datum		args[5];
	bool		isnull;

	position_key_args(args, a->group.group_id, topic_id, partition,
					  pos_member);
	args[4] = Int64GetDatum(session_token());
	if (query("SELECT next_offset FROM mq.position" POSITION_KEY
			  " AND (lease_until IS NULL OR lease_until <= clock_timestamp()"
			  "      OR lease_owner = $5)"
			  " FOR UPDATE SKIP LOCKED", 5, types, args, false) == 0)
	{
		SPI_freetuptable(SPI_tuptable);
		return false;
	}
	*next = DatumGetInt64(column(0, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return true;
}

/*
 * new_claim
 *		A claim of this fetch's group on a partition, in TopTransactionContext.
 */
static Claim *
new_claim(FetchArgs *a, int32 topic_id, int32 partition,
		  const char *pos_member)
{
	Claim	   *c = MemoryContextAllocZero(TopTransactionContext, sizeof(Claim));

	strlcpy(c->group_name, a->group.name, sizeof(c->group_name));
	c->group_id = a->group.group_id;
	c->topic_id = topic_id;
	c->partition = partition;
	strlcpy(c->member_id, pos_member, sizeof(c->member_id));
	c->rewound = -1;
	return c;
}

/*
 * move_claim
 *		The claim's next offset is about to change in subtransaction subid:
 *		if that is below the claim's own, keep an undo point so that its
 *		rollback puts next back.
 */
static void
move_claim(Claim *c, SubTransactionId subid)
{
	if (subid != c->subid &&
		(c->undo == NIL || ((UndoPoint *) llast(c->undo))->subid != subid))
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
		UndoPoint  *u = palloc(sizeof(UndoPoint));

		u->subid = subid;
		u->next = c->next;
		u->rewound = c->rewound;
		c->undo = lappend(c->undo, u);
		MemoryContextSwitchTo(old);
	}
}

/*
 * record_read
 *		After reading [from, scanned_to) of a partition (returned messages
 *		of it), do what the fetch mode says with the position (of member
 *		pos_member, '' in clustering mode).
 */
static void
record_read(FetchArgs *a, int32 topic_id, int32 partition,
			const char *pos_member, int64 from, int64 scanned_to,
			int32 returned)
{
	SubTransactionId subid = GetCurrentSubTransactionId();
	MemoryContext old;
	Claim	   *c;

	switch (a->mode)
	{
		case FETCH_TRANSACTIONAL:
			c = find_claim(xact_claims, a->group.group_id, topic_id, partition,
						   pos_member);
			if (c == NULL)
			{
				c = new_claim(a, topic_id, partition, pos_member);
				c->subid = subid;
				old = MemoryContextSwitchTo(TopTransactionContext);
				xact_claims = lappend(xact_claims, c);
				MemoryContextSwitchTo(old);
			}
			else
				move_claim(c, subid);
			c->next = scanned_to;
			c->rewound = -1;
			break;

		case FETCH_AUTO_COMMIT:
			if (returned == 0)
			{
				/* only filtered-out messages: nothing to deliver again */
				set_position(a->group.group_id, topic_id, partition,
							 pos_member, scanned_to);
			}
			else
			{
				Oid			types[6] = {INT4OID, INT4OID, INT4OID, TEXTOID, INT8OID, INT8OID};
				Datum		args[6];

				position_key_args(args, a->group.group_id, topic_id, partition,
								  pos_member);
				args[4] = Int64GetDatum(scanned_to);
				args[5] = Int64GetDatum(session_token());
				query(psprintf("UPDATE mq.position SET lease_owner = $6,"
							   " lease_to = $5,"
							   " lease_until = clock_timestamp() + interval '%d ms'"
							   POSITION_KEY, mq_auto_commit_timeout),
					  6, types, args, false);
				c = new_claim(a, topic_id, partition, pos_member);
				c->next = scanned_to;
				old = MemoryContextSwitchTo(TopTransactionContext);
				next_session_batch = lappend(next_session_batch, c);
				session_batch_pending = true;
				MemoryContextSwitchTo(old);
			}
			break;

		case FETCH_AT_MOST_ONCE:
			set_position(a->group.group_id, topic_id, partition, pos_member,
						 scanned_to);
			break;
	}
}

/*
 * add_wait
 *		Let poll wait for the partition's stable offset to pass from.
 */
static void
add_wait(FetchArgs *a, int32 topic_id, int32 partition, int64 from)
{
	WaitTarget *w = palloc(sizeof(WaitTarget));

	w->topic_id = topic_id;
	w->partition = partition;
	w->from = from;
	a->wait = lappend(a->wait, w);
}

/* A partition a fetch pass may read: a position of the group. */
typedef struct Candidate
{
	CachedSubscription *sub;
	int32		partition;
	int64		next;
	bool		leased;			/* by another session, and not expired */
	const char *member_id;		/* of the position: '' in clustering mode */
} Candidate;

/*
 * list_candidates
 *		The positions a fetch pass may read, in topic name and partition
 *		order: those of the subscription's topic (or every subscription's),
 *		of the member in broadcasting mode, restricted to its assignment
 *		when a member fetches in clustering mode, and to a->partition if
 *		set.  Returns an array; sets *n.
 */
static Candidate *
list_candidates(FetchArgs *a, CachedGroup *g, int *n)
{
	Oid			types[7] = {INT4OID, INT4OID, TEXTOID, INT4OID, INT8OID,
	BOOLOID, TEXTOID};
	Datum		args[7];
	char		nulls[8] = "       ";
	Candidate  *cands = NULL;
	int			size = 0;
	int			s;

	*n = 0;
	for (s = 0; s < g->nsubs; s++)
	{
		CachedSubscription *sub = &g->subs[s];
		uint64		rows;
		uint64		i;

		if (a->one_topic && sub->topic_id != a->topic.topic_id)
			continue;
		if (sub->broadcasting && a->member_id[0] == '\0')
			continue;
		args[0] = Int32GetDatum(g->group_id);
		args[1] = Int32GetDatum(sub->topic_id);
		args[2] = CStringGetTextDatum(sub->broadcasting ? a->member_id : "");
		args[3] = Int32GetDatum(a->partition);
		nulls[3] = a->partition >= 0 ? ' ' : 'n';
		args[4] = Int64GetDatum(session_token());
		args[5] = BoolGetDatum(sub->broadcasting || a->member_id[0] == '\0');
		args[6] = CStringGetTextDatum(a->member_id);
		rows = mq_query("SELECT p.partition, p.next_offset,"
						" coalesce(p.lease_until > clock_timestamp()"
						"          AND p.lease_owner <> $5, false)"
						" FROM mq.position p"
						" WHERE p.group_id = $1 AND p.topic_id = $2"
						" AND p.member_id = $3"
						" AND ($4::integer IS NULL OR p.partition = $4)"
						" AND ($6 OR EXISTS (SELECT 1 FROM mq.assignment x"
						"                     WHERE x.group_id = $1"
						"                       AND x.topic_id = $2"
						"                       AND x.partition = p.partition"
						"                       AND x.member_id = $7))"
						" ORDER BY p.partition",
						7, types, args, nulls, false);
		if (*n + (int) rows > size)
		{
			size = *n + (int) rows;
			cands = cands ? repalloc(cands, sizeof(Candidate) * size) :
				palloc(sizeof(Candidate) * size);
		}
		for (i = 0; i < rows; i++)
		{
			Candidate  *c = &cands[(*n)++];
			bool		isnull;

			c->sub = sub;
			c->partition = DatumGetInt32(column(i, 1, &isnull));
			c->next = DatumGetInt64(column(i, 2, &isnull));
			c->leased = DatumGetBool(column(i, 3, &isnull));
			c->member_id = sub->broadcasting ? a->member_id : "";
		}
		SPI_freetuptable(SPI_tuptable);
	}
	return cands;
}

/*
 * fetch_pass
 *		One pass over the candidate partitions: claim and read until max
 *		messages are in the result.  Returns how many were; a->wait gets the
 *		partitions that had nothing ready.
 */
static int32
fetch_pass(FetchArgs *a)
{
	CachedGroup *g;
	Candidate  *cands = NULL;
	int			ncands = 0;
	int			k;
	int			start;
	int32		returned = 0;
	MqTopicInfo topic;

	topic.topic_id = 0;
	a->wait = NIL;

	g = mq_group_subscriptions(a->group.name);
	if (g != NULL)
		cands = list_candidates(a, g, &ncands);
	if (ncands == 0)
	{
		/* say why, if it is an error: no such group, not subscribed... */
		if (a->group.group_id == 0)
			mq_group_get(a->group.name, &a->group);
		if (a->one_topic &&
			mq_subscription_mode(&a->group, &a->topic) == 'b' &&
			a->member_id[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("consumer group \"%s\" reads topic \"%s\" in broadcasting mode: consuming needs a member_id",
							a->group.name, a->topic.name),
					 errhint("Join the group with mq.join and pass the member_id.")));
		return 0;
	}
	if (a->group.group_id == 0)
		a->group.group_id = g->group_id;

	/* consumers of a group start at different partitions */
	start = (int) ((fetch_count++ + (uint32) MyProcPid) % (uint32) ncands);
	for (k = 0; k < ncands && returned < a->max; k++)
	{
		Candidate  *c = &cands[(start + k) % ncands];
		int32		topic_id = c->sub->topic_id;
		int32		partition = c->partition;
		int64		from = c->next;
		Claim	   *claim;
		int64		stable;
		int64		scanned_to;
		int32		n;

		if (c->leased)
			continue;
		if (topic.topic_id != topic_id)
		{
			mq_topic_get(c->sub->topic, &topic);
			mq_check_access(&topic, MQ_ACCESS_READ);
		}
		claim = find_claim(xact_claims, a->group.group_id, topic_id,
						   partition, c->member_id);
		if (claim != NULL)
			from = claim->next;
		if (!mq_offsets_stable(topic_id, partition, &stable, NULL))
			continue;
		if (from >= stable)
		{
			add_wait(a, topic_id, partition, from);
			continue;
		}

		if (!claim_position(a, topic_id, partition, c->member_id, &from))
			continue;
		if (claim != NULL)
			from = claim->next;

		/*
		 * The stable offset again, now that the position is ours.  If another
		 * consumer moved the position there meanwhile, the claim stays: wait
		 * for this partition too.
		 */
		(void) mq_offsets_stable(topic_id, partition, &stable, NULL);
		if (from >= stable)
		{
			add_wait(a, topic_id, partition, from);
			continue;
		}
		n = read_partition(a, &topic, partition, from, stable,
						   c->sub->tags, c->sub->tags_null,
						   c->sub->filter, c->sub->filter_null,
						   a->max - returned, &scanned_to);
		record_read(a, topic_id, partition, c->member_id, from, scanned_to,
					n);
		returned += n;
		if (n == 0)
		{
			/*
			 * Only filtered-out messages or holes: wait for this partition
			 * too, from where the read stopped (at once if that is still
			 * below the stable offset).  The claim stays, so while poll
			 * waits, this partition is its own.
			 */
			add_wait(a, topic_id, partition, scanned_to);
		}
	}
	return returned;
}

/*
 * wait_for_messages
 *		Sleep until one of a->wait's partitions has a stable offset past its
 *		position, or until deadline; with no such partition, until anything
 *		in the database moves.  Returns false at the deadline.
 */
static bool
wait_for_messages(FetchArgs *a, TimestampTz deadline)
{
	ConditionVariable *cv = mq_offsets_wake_channel(MyDatabaseId);

	ConditionVariablePrepareToSleep(cv);
	for (;;)
	{
		ListCell   *lc;
		TimestampTz now = GetCurrentTimestamp();
		long		ms;

		foreach(lc, a->wait)
		{
			WaitTarget *w = lfirst(lc);
			int64		stable;

			if (!mq_offsets_stable(w->topic_id, w->partition, &stable, NULL) ||
				stable > w->from)
			{
				ConditionVariableCancelSleep();
				return true;
			}
		}
		if (now >= deadline)
			break;
		ms = (long) ((deadline - now + 999) / 1000);
		if (!ConditionVariableTimedSleep(cv, ms, PG_WAIT_EXTENSION) &&
			a->wait == NIL)
		{
			ConditionVariableCancelSleep();
			return true;
		}
	}
	ConditionVariableCancelSleep();
	return false;
}

/*
 * fetch
 *		The work of mq.fetch (wait = 0) and mq.poll.  Arguments: group,
 *		topic, max, partition, auto_commit, member_id, generation starting
 *		at argument first_common (wait takes a place in mq.poll).
 */
static Datum
fetch(FunctionCallInfo fcinfo, bool is_poll)
{
	FetchArgs	a;
	char	   *group_name = mq_group_name_arg(fcinfo, 0);
	int			arg_partition = is_poll ? 4 : 3;
	int			arg_auto = arg_partition + 1;
	int			arg_member = arg_auto + 1;
	int			arg_generation = arg_member + 1;
	char	   *member_id = mq_member_arg(fcinfo, arg_member);
	bool		auto_commit;
	int64		wait_usecs = 0;
	TimestampTz deadline;
	MemoryContext pass_cxt;

	memset(&a, 0, sizeof(a));
	a.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	if (PG_ARGISNULL(2) || PG_ARGISNULL(arg_auto))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("max and auto_commit must not be null")));
	a.max = PG_GETARG_INT32(2);
	if (a.max < 1 || a.max > 100000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max must be between 1 and 100000")));
	auto_commit = PG_GETARG_BOOL(arg_auto);
	if (is_poll)
	{
		Interval   *wait;

		if (PG_ARGISNULL(3))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("wait must not be null")));
		wait = PG_GETARG_INTERVAL_P(3);
		wait_usecs = wait->time + (int64) wait->day * USECS_PER_DAY;
		if (wait->month != 0 || wait_usecs < 0 || wait_usecs > USECS_PER_HOUR)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("wait must be between 0 and 1 hour")));
	}
	if (!PG_ARGISNULL(arg_generation) && member_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("generation needs a member_id")));
	a.member_id = member_id ? member_id : "";
	a.partition = -1;

	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("mq.%s cannot run in a REPEATABLE READ or SERIALIZABLE transaction",
						is_poll ? "poll" : "fetch"),
				 errdetail("Its snapshot may predate the partitions' stable offsets, so messages could be skipped."),
				 errhint("Consume in a READ COMMITTED transaction.")));
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot consume during recovery"),
				 errhint("Consume on the primary.")));

	if (!PG_ARGISNULL(1))
	{
		a.one_topic = true;
		mq_topic_get(mq_topic_name_arg(fcinfo, 1), &a.topic);
		mq_check_access(&a.topic, MQ_ACCESS_READ);
	}
	if (!PG_ARGISNULL(arg_partition))
	{
		if (!a.one_topic)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a partition needs a topic")));
		a.partition = PG_GETARG_INT32(arg_partition);
		mq_check_partition(&a.topic, a.partition);
	}

	if (auto_commit)
		a.mode = FETCH_AUTO_COMMIT;
	else if (IsTransactionBlock())
		a.mode = FETCH_TRANSACTIONAL;
	else
		a.mode = FETCH_AT_MOST_ONCE;

	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();

	/*
	 * The group is looked up here only to fence a member or to commit the
	 * previous auto-commit batch; otherwise the candidate query finds it (and
	 * an empty result is explained there).
	 */
	strlcpy(a.group.name, group_name, sizeof(a.group.name));
	if (member_id != NULL || a.mode == FETCH_AUTO_COMMIT)
	{
		mq_group_get(group_name, &a.group);
		mq_group_check_member(&a.group, member_id,
							  PG_ARGISNULL(arg_generation) ? a.group.generation :
							  PG_GETARG_INT64(arg_generation));
	}

	if (a.mode == FETCH_AUTO_COMMIT)
		commit_leases(a.group.group_id);

	/*
	 * Each pass allocates in its own context, reset before the next: a poll
	 * may run many passes.
	 */
	pass_cxt = AllocSetContextCreate(CurrentMemoryContext, "mq fetch pass",
									 ALLOCSET_DEFAULT_SIZES);
	deadline = GetCurrentTimestamp() + wait_usecs;
	for (;;)
	{
		MemoryContext old;
		int32		n;

		MemoryContextReset(pass_cxt);
		old = MemoryContextSwitchTo(pass_cxt);
		n = fetch_pass(&a);
		MemoryContextSwitchTo(old);
		if (n > 0 || !is_poll || !wait_for_messages(&a, deadline))
			break;
	}
	SPI_finish();
	return (Datum) 0;
}

/*
 * mq_fetch
 *		SQL: mq.fetch(group, topic, max, partition, auto_commit, member_id,
 *		generation).
 */
Datum
mq_fetch(PG_FUNCTION_ARGS)
{
	return fetch(fcinfo, false);
}

/*
 * mq_poll
 *		SQL: mq.poll(group, topic, max, wait, partition, auto_commit,
 *		member_id, generation).
 */
Datum
mq_poll(PG_FUNCTION_ARGS)
{
	return fetch(fcinfo, true);
}

/*
 * position_target
 *		Common checks of commit, ack and seek: the group (fenced if a member
 *		and generation are given), the topic, the subscription, the member
 *		for broadcasting.  Returns the member id of the positions ('' in
 *		clustering mode).  The caller is connected to SPI.
 */
static const char *
position_target(FunctionCallInfo fcinfo, MqGroupInfo *group,
				MqTopicInfo *topic, int arg_member, int arg_generation)
{
	char	   *group_name = mq_group_name_arg(fcinfo, 0);
	char	   *member_id = mq_member_arg(fcinfo, arg_member);
	bool		has_generation = arg_generation >= 0 &&
	!PG_ARGISNULL(arg_generation);

	if (has_generation && member_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("generation needs a member_id")));
	mq_topic_get(mq_topic_name_arg(fcinfo, 1), topic);
	mq_check_access(topic, MQ_ACCESS_READ);
	mq_group_get(group_name, group);
	mq_group_check_member(group, member_id,
						  has_generation ? PG_GETARG_INT64(arg_generation) :
						  group->generation);
	if (mq_subscription_mode(group, topic) == 'b')
	{
		if (member_id == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("consumer group \"%s\" reads topic \"%s\" in broadcasting mode: positions belong to members",
							group->name, topic->name),
					 errhint("Pass the member_id.")));
		return member_id;
	}
	return "";
}

/*
 * mq_position_target
 *		position_target() for other subsystems (mq.nack).
 */
const char *
mq_position_target(FunctionCallInfo fcinfo, MqGroupInfo *group,
				   MqTopicInfo *topic, int arg_member, int arg_generation)
{
	return position_target(fcinfo, group, topic, arg_member, arg_generation);
}

/*
 * mq_fetch_rewind
 *		A consumer of an ordered subscription handed back the message at
 *		offset (mq.nack): the claim this transaction holds on the
 *		partition, if any, goes back to it, so that mq.commit(group) does
 *		not commit past it.  Returns -1 if this transaction holds no claim
 *		on the partition, 0 if an earlier nack in it already sent the claim
 *		back to offset or before (the message comes again anyway, and the
 *		caller must not move the position forward to it), 1 if the claim
 *		went back now (or, if !apply, would go back: nothing is changed).
 *		The caller moves the position itself.
 */
int
mq_fetch_rewind(int32 group_id, int32 topic_id, int32 partition,
				const char *member_id, int64 offset, bool apply)
{
	Claim	   *c = find_claim(xact_claims, group_id, topic_id, partition,
							   member_id);

	if (c == NULL)
		return -1;
	if (c->rewound >= 0 && c->rewound <= offset)
		return 0;
	if (!apply)
		return 1;
	move_claim(c, GetCurrentSubTransactionId());
	if (c->next > offset)
		c->next = offset;
	c->rewound = offset;
	return 1;
}

static void
forget_claim(int32 group_id, int32 topic_id, int32 partition,
			 const char *member_id)
{
	Claim	   *c = find_claim(xact_claims, group_id, topic_id, partition,
							   member_id);

	if (c != NULL)
		xact_claims = list_delete_ptr(xact_claims, c);
}

/*
 * commit_offset
 *		mq.commit and mq.ack: set the position of a partition to next.
 */
static void
commit_offset(FunctionCallInfo fcinfo, int64 next)
{
	MqGroupInfo group;
	MqTopicInfo topic;
	const char *member_id;
	int32		partition;
	int64		stable;

	SPI_connect();
	member_id = position_target(fcinfo, &group, &topic, 4, 5);
	partition = PG_GETARG_INT32(2);
	mq_check_partition(&topic, partition);
	stable = mq_topic_stable_offset(&topic, partition);
	if (next < 0 || next > stable)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("offset %lld is out of range for partition %d of topic \"%s\"",
						(long long) next, partition, topic.name),
				 errdetail("A position is between 0 and the stable offset, %lld: messages above it may still commit.",
						   (long long) stable)));
	if (!set_position(group.group_id, topic.topic_id, partition, member_id,
					  next))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("member \"%s\" of consumer group \"%s\" has no position in topic \"%s\"",
						member_id, group.name, topic.name),
				 errhint("Call mq.join again.")));
	SPI_finish();
}

static void
check_commit_args(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("partition and offset must not be null")));
}

/*
 * mq_commit
 *		SQL: mq.commit(group, topic, partition, next_offset, member_id,
 *		generation): the next offset the group will consume there, recorded
 *		in the current transaction.
 */
Datum
mq_commit(PG_FUNCTION_ARGS)
{
	check_commit_args(fcinfo);
	commit_offset(fcinfo, PG_GETARG_INT64(3));
	PG_RETURN_VOID();
}

/*
 * mq_ack
 *		SQL: mq.ack(group, topic, partition, offset, ...): commit the
 *		position just past a message.
 */
Datum
mq_ack(PG_FUNCTION_ARGS)
{
	check_commit_args(fcinfo);
	if (PG_GETARG_INT64(3) < 0 || PG_GETARG_INT64(3) == PG_INT64_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("offset %lld is out of range", (long long) PG_GETARG_INT64(3))));
	commit_offset(fcinfo, PG_GETARG_INT64(3) + 1);
	PG_RETURN_VOID();
}

/*
 * mq_commit_fetched
 *		SQL: mq.commit(group) commits, for every partition this session
 *		fetched from for the group in the current transaction (or leased in
 *		its last auto-commit fetch), the position just past what was
 *		fetched.  Returns how many positions it committed.
 */
Datum
mq_commit_fetched(PG_FUNCTION_ARGS)
{
	char	   *group_name = mq_group_name_arg(fcinfo, 0);
	MqGroupInfo group;
	ListCell   *lc;
	int			committed = 0;

	SPI_connect();

	/*
	 * The claims and leases know their group: look it up only when there are
	 * none, to report a group that does not exist.
	 */
	group.group_id = 0;
	foreach(lc, xact_claims)
	{
		Claim	   *c = lfirst(lc);

		if (strcmp(c->group_name, group_name) != 0)
			continue;
		group.group_id = c->group_id;
		if (set_position(c->group_id, c->topic_id, c->partition, c->member_id,
						 c->next))
			committed++;
	}
	foreach(lc, session_batch_pending ? next_session_batch : session_batch)
	{
		Claim	   *c = lfirst(lc);

		if (strcmp(c->group_name, group_name) == 0)
			group.group_id = c->group_id;
	}
	if (group.group_id == 0)
		mq_group_get(group_name, &group);
	else
		committed += commit_leases(group.group_id);
	SPI_finish();
	PG_RETURN_INT32(committed);
}

/*
 * seek_partition
 *		Set a position to offset, clamped to the log start with a notice;
 *		an offset past the end offset is an error.  Returns the position
 *		set.
 */
static int64
seek_partition(const MqGroupInfo *group, const MqTopicInfo *topic,
			   int32 partition, const char *member_id, int64 offset)
{
	int64		log_start = mq_segment_log_start(topic, partition);
	int64		stable = mq_topic_stable_offset(topic, partition);

	if (offset > stable || offset < 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("offset %lld is out of range for partition %d of topic \"%s\"",
						(long long) offset, partition, topic->name),
				 errdetail("A position is between 0 and the stable offset, %lld: messages above it may still commit.",
						   (long long) stable)));
	if (offset < log_start)
	{
		ereport(NOTICE,
				(errmsg("offset %lld of partition %d of topic \"%s\" was removed by retention; seeking to the log start, %lld",
						(long long) offset, partition, topic->name,
						(long long) log_start)));
		offset = log_start;
	}
	if (!set_position(group->group_id, topic->topic_id, partition, member_id,
					  offset))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("member \"%s\" of consumer group \"%s\" has no position in topic \"%s\"",
						member_id, group->name, topic->name),
				 errhint("Call mq.join again.")));
	forget_claim(group->group_id, topic->topic_id, partition, member_id);
	return offset;
}

/*
 * mq_seek
 *		SQL: mq.seek(group, topic, partition, offset, member_id).
 */
Datum
mq_seek(PG_FUNCTION_ARGS)
{
	MqGroupInfo group;
	MqTopicInfo topic;
	const char *member_id;
	int32		partition;
	int64		offset;

	if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("partition and offset must not be null")));
	SPI_connect();
	member_id = position_target(fcinfo, &group, &topic, 4, -1);
	partition = PG_GETARG_INT32(2);
	mq_check_partition(&topic, partition);
	offset = seek_partition(&group, &topic, partition, member_id,
							PG_GETARG_INT64(3));
	SPI_finish();
	PG_RETURN_INT64(offset);
}

/*
 * seek_all
 *		mq.seek over every partition: to the log start (earliest), to the
 *		stable offset (latest), or to a time.
 */
static Datum
seek_all(FunctionCallInfo fcinfo, char how, TimestampTz at)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MqGroupInfo group;
	MqTopicInfo topic;
	const char *member_id;
	int32		p;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	member_id = position_target(fcinfo, &group, &topic, 3, -1);
	for (p = 0; p < topic.partitions; p++)
	{
		int64		offset;
		Datum		values[2];
		bool		nulls[2] = {false, false};

		if (how == 'e')
			offset = mq_segment_log_start(&topic, p);
		else if (how == 'l')
			offset = mq_topic_stable_offset(&topic, p);
		else
			offset = mq_segment_offset_at_time(&topic, p, at);
		offset = seek_partition(&group, &topic, p, member_id, offset);
		values[0] = Int32GetDatum(p);
		values[1] = Int64GetDatum(offset);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}

/*
 * mq_seek_position
 *		SQL: mq.seek(group, topic, 'earliest' | 'latest', member_id).
 */
Datum
mq_seek_position(PG_FUNCTION_ARGS)
{
	char	   *position;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("position must not be null")));
	position = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (strcmp(position, "earliest") != 0 && strcmp(position, "latest") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid position \"%s\"", position),
				 errhint("Use 'earliest', 'latest', an offset or a timestamptz.")));
	return seek_all(fcinfo, position[0], 0);
}

/*
 * mq_seek_time
 *		SQL: mq.seek(group, topic, at timestamptz, member_id): every
 *		partition to its first message produced at or after at, through
 *		the BRIN index on produced_at.
 */
Datum
mq_seek_time(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("at must not be null")));
	return seek_all(fcinfo, 't', PG_GETARG_TIMESTAMPTZ(2));
}

/*
 * mq_first_unconsumed_at
 *		SQL: mq.first_unconsumed_at(topic, partition, from_offset): when the
 *		first committed message at or after from_offset, below the stable
 *		offset, was produced; NULL if there is none.  One primary-key probe
 *		per segment, newest segments last.
 */
Datum
mq_first_unconsumed_at(PG_FUNCTION_ARGS)
{
	MqTopicInfo topic;
	int32		partition = PG_GETARG_INT32(1);
	int64		from = PG_GETARG_INT64(2);
	int64		stable;
	Oid			segtype = INT4OID;
	Datum		segarg;
	SPITupleTable *segments;
	uint64		nsegments;
	uint64		s;
	Datum		result = (Datum) 0;
	bool		found = false;

	mq_topic_get(mq_topic_name_arg(fcinfo, 0), &topic);
	mq_check_access(&topic, MQ_ACCESS_READ);
	mq_check_partition(&topic, partition);
	if (!mq_offsets_stable(topic.topic_id, partition, &stable, NULL) ||
		from >= stable)
		PG_RETURN_NULL();

	SPI_connect();
	segarg = Int32GetDatum(topic.topic_id);
	query("SELECT relid::text FROM mq.segment WHERE topic_id = $1"
		  " ORDER BY segment_no", 1, &segtype, &segarg, false);
	segments = SPI_tuptable;
	nsegments = SPI_processed;
	for (s = 0; s < nsegments && !found; s++)
	{
		Oid			types[3] = {INT4OID, INT8OID, INT8OID};
		Datum		args[3];
		bool		isnull;

		if (!OidIsValid(mq_segment_lock(SPI_getvalue(segments->vals[s],
													 segments->tupdesc, 1))))
			continue;
		args[0] = Int32GetDatum(partition);
		args[1] = Int64GetDatum(from);
		args[2] = Int64GetDatum(stable);
		if (query(psprintf("SELECT produced_at FROM %s WHERE partition = $1"
						   " AND \"offset\" >= $2 AND \"offset\" < $3"
						   " ORDER BY \"offset\" LIMIT 1",
						   SPI_getvalue(segments->vals[s], segments->tupdesc, 1)),
				  3, types, args, false) > 0)
		{
			result = column(0, 1, &isnull);
			found = true;
		}
	}
	SPI_finish();
	if (!found)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(DatumGetTimestampTz(result));
}

/*
 * mq_fetch_subxact_end
 *		A subtransaction ended.  If it committed, its claims and undo points
 *		pass to its parent (an undo point the parent already has wins, being
 *		older).  If it rolled back, so did its row locks: forget the claims
 *		it made, and put the others back where they were when it (or a
 *		subtransaction of it) first moved them.
 */
void
mq_fetch_subxact_end(bool commit, SubTransactionId mysubid,
					 SubTransactionId parentsubid)
{
	ListCell   *lc;

	foreach(lc, xact_claims)
	{
		Claim	   *c = lfirst(lc);

		if (commit)
		{
			UndoPoint  *top = c->undo ? llast(c->undo) : NULL;

			if (c->subid == mysubid)
				c->subid = parentsubid;
			if (top != NULL && top->subid == mysubid)
			{
				UndoPoint  *below = list_length(c->undo) > 1 ?
				list_nth(c->undo, list_length(c->undo) - 2) : NULL;

				if (c->subid == parentsubid ||
					(below != NULL && below->subid == parentsubid))
					c->undo = list_delete_last(c->undo);
				else
					top->subid = parentsubid;
			}
		}
		else if (c->subid >= mysubid)
			xact_claims = foreach_delete_current(xact_claims, lc);
		else
		{
			int			i;

			for (i = 0; i < list_length(c->undo); i++)
			{
				UndoPoint  *u = list_nth(c->undo, i);

				if (u->subid >= mysubid)
				{
					c->next = u->next;
					c->rewound = u->rewound;
					c->undo = list_truncate(c->undo, i);
					break;
				}
			}
		}
	}
}

/*
 * mq_fetch_xact_pending
 *		Whether the transaction holds fetch state that PREPARE TRANSACTION
 *		would orphan: claims made by a fetch, or a change to the session's
 *		auto-commit batch.
 */
bool
mq_fetch_xact_pending(void)
{
	return xact_claims != NIL || session_batch_pending;
}

/*
 * mq_fetch_xact_end
 *		The transaction ended: its claims went with it; if it committed, the
 *		session batch is what its auto-commit fetches made it.
 */
void
mq_fetch_xact_end(bool commit)
{
	if (commit && session_batch_pending)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		List	   *batch = NIL;
		ListCell   *lc;

		foreach(lc, next_session_batch)
		{
			Claim	   *c = palloc(sizeof(Claim));

			memcpy(c, lfirst(lc), sizeof(Claim));
			batch = lappend(batch, c);
		}
		list_free_deep(session_batch);
		session_batch = batch;
		MemoryContextSwitchTo(old);
	}
	xact_claims = NIL;
	next_session_batch = NIL;
	session_batch_pending = false;
}
