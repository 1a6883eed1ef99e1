/*-------------------------------------------------------------------------
 *
 * fetch.c
 *	  Consuming as a group: mq.fetch and mq.poll, the read path.
 *
 * A fetch takes the group's subscriptions (kept by group.c), lists the
 * positions it may read, claims them one at a time (position.c, which also
 * says what each fetch mode does with a position), and reads the committed
 * messages after the position, below the partition's stable offset
 * (offsets.c; read after the claim, the messages with a snapshot taken
 * after that: see lookup.c), by a direct scan of each segment's primary
 * key (segment.c lists and locks the segments).
 *
 * Filters (tags, jsonpath over headers) are evaluated per record as the
 * batches are decoded; a message that does not match moves the position
 * like one that does.
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
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "fetch.h"
#include "group.h"
#include "metrics.h"
#include "offsets.h"
#include "position.h"
#include "query.h"
#include "segment.h"
#include "settings.h"
#include "subscription.h"
#include "topic.h"

PG_FUNCTION_INFO_V1(mq_fetch);
PG_FUNCTION_INFO_V1(mq_poll);

/* Columns of mq.fetch and mq.poll. */
#define FETCH_COLUMNS	(10 + MQ_PAYLOAD_COLUMNS)

/*
 * A fetch looks at most this many offsets past the position per partition
 * (or max times FETCH_SCAN_FACTOR, if larger), so that a selective filter
 * over a long backlog does not turn one fetch into a scan of the log.
 */
#define FETCH_SCAN_WINDOW	10000
#define FETCH_SCAN_FACTOR	100

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
	MqFetchMode mode;
	const char *member_id;		/* '' if none */
	int64		lease_owner;	/* of auto-commit leases (position.c) */
	ReturnSetInfo *rsinfo;
	List	   *wait;			/* WaitTargets of the last pass */
} FetchArgs;

/* Spreads consumers of one group over its partitions. */
static uint32 fetch_count = 0;

/*
 * mq_fetch_filter_init
 *		Prepare the tags (text[]) and jsonpath filter of a subscription,
 *		either of which may be null.
 */
void
mq_fetch_filter_init(MessageFilter *f, Datum tags, bool tags_null, Datum filter,
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
 * mq_fetch_filter_passes
 *		Whether a message with this tag and these headers passes f: its tag
 *		is one of the tags (a message without a tag is not), and the
 *		headers (or '{}') match the jsonpath as a predicate (@@) or, if it
 *		is not one, as a path that finds something (@?).
 */
bool
mq_fetch_filter_passes(MessageFilter *f, Datum tag, bool tag_null, Datum headers,
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

/* What scan_visit needs from read_partition. */
typedef struct ReadState
{
	FetchArgs  *a;
	Datum		topic_name;
	MessageFilter *filter;
	int32		max;			/* messages still wanted */
	int32		returned;
	int64		bytes;			/* payload bytes returned */
	int64		from;			/* just past the last one returned */
	MqPayloadNames payload_names;
} ReadState;

/*
 * scan_visit
 *		A record of the partition read: into the result if it passes the
 *		subscription's filters.  Stops when max are there.
 */
static bool
scan_visit(const MqRecord *rec, void *arg)
{
	ReadState  *s = arg;
	const MqMessage *m = &rec->msg;
	Datum		values[FETCH_COLUMNS];
	bool		isnull[FETCH_COLUMNS];

	if (!mq_fetch_filter_passes(s->filter, PointerGetDatum(m->tag), m->tag == NULL,
								PointerGetDatum(m->headers), m->headers == NULL))
		return true;

	memset(isnull, 0, sizeof(isnull));
	values[0] = s->topic_name;
	values[1] = Int32GetDatum(m->partition);
	values[2] = Int64GetDatum(rec->offset);
	values[3] = Int32GetDatum((int32) rec->epoch);
	values[4] = UUIDPGetDatum(&m->id);
	values[5] = PointerGetDatum(m->key);
	isnull[5] = (m->key == NULL);
	values[6] = PointerGetDatum(m->tag);
	isnull[6] = (m->tag == NULL);
	values[7] = PointerGetDatum(m->headers);
	isnull[7] = (m->headers == NULL);
	mq_payload_columns(m, &s->payload_names, values + 8, isnull + 8);
	values[8 + MQ_PAYLOAD_COLUMNS] = TimestampTzGetDatum(rec->produced_at);
	tuplestore_putvalues(s->a->rsinfo->setResult, s->a->rsinfo->setDesc,
						 values, isnull);
	s->from = rec->offset + 1;
	s->returned++;
	s->bytes += VARSIZE_ANY_EXHDR(m->payload);
	return s->returned < s->max;
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
	MqSegmentScan scan;
	Oid			relid;
	const char *segment;
	int64		bound;
	int32		returned = 0;
	int64		window = Max((int64) FETCH_SCAN_WINDOW,
							 (int64) max * FETCH_SCAN_FACTOR);
	MessageFilter f;
	ReadState	s;

	bound = (stable - from > window) ? from + window : stable;
	*scanned_to = bound;
	mq_fetch_filter_init(&f, tags, tags_null, filter, filter_null);

	s.a = a;
	s.topic_name = CStringGetTextDatum(topic->name);
	s.filter = &f;
	s.max = max;
	s.returned = 0;
	s.bytes = 0;
	s.from = from;
	mq_payload_names_init(&s.payload_names);
	mq_segment_scan_begin(&scan, topic->topic_id, false);
	while (s.returned < max && mq_segment_scan_next(&scan, &relid, &segment))
		mq_segment_read(relid, partition, s.from, bound, scan_visit, &s);
	mq_segment_scan_end(&scan);
	returned = s.returned;
	from = s.from;
	if (returned == max)
		*scanned_to = from;
	mq_metrics_count(topic->topic_id, a->group.group_id, MQ_METRIC_DELIVERED,
					 returned, s.bytes);
	return returned;
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
		if (sub->mode == 's' || sub->mode == 'k')
		{
			if (a->one_topic)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("consumer group \"%s\" reads topic \"%s\" in %s mode: it receives with mq.receive",
								g->name, sub->topic,
								sub->mode == 's' ? "shared" : "key_shared")));
			continue;			/* mq.receive's */
		}
		if (sub->broadcasting && a->member_id[0] == '\0')
			continue;
		args[0] = Int32GetDatum(g->group_id);
		args[1] = Int32GetDatum(sub->topic_id);
		args[2] = CStringGetTextDatum(sub->broadcasting ? a->member_id : "");
		args[3] = Int32GetDatum(a->partition);
		nulls[3] = a->partition >= 0 ? ' ' : 'n';
		args[4] = Int64GetDatum(a->lease_owner);
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
			c->partition = DatumGetInt32(mq_query_value(i, 1, &isnull));
			c->next = DatumGetInt64(mq_query_value(i, 2, &isnull));
			c->leased = DatumGetBool(mq_query_value(i, 3, &isnull));
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

	g = mq_subscription_get(a->group.name);
	if (g != NULL)
		cands = list_candidates(a, g, &ncands);
	if (ncands == 0)
	{
		/* say why, if it is an error: no such group, not subscribed... */
		if (a->group.group_id == 0)
			mq_group_get(a->group.name, &a->group);
		if (a->one_topic &&
			mq_group_subscription_mode(&a->group, &a->topic) == MQ_MODE_BROADCASTING &&
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
		int64		claimed;
		int64		stable;
		int64		scanned_to;
		int32		n;

		if (c->leased)
			continue;
		if (topic.topic_id != topic_id)
		{
			mq_topic_get(c->sub->topic, &topic);
			mq_topic_check_access(&topic, MQ_ACCESS_READ);
		}
		claimed = mq_position_claimed(a->group.group_id, topic_id, partition,
									  c->member_id);
		if (claimed >= 0)
			from = claimed;
		if (!mq_offsets_stable(topic_id, partition, &stable, NULL))
			continue;
		if (from >= stable)
		{
			add_wait(a, topic_id, partition, from);
			continue;
		}

		if (!mq_position_claim(&a->group, topic_id, partition, c->member_id,
							   a->lease_owner,
							   &from))
			continue;
		if (claimed >= 0)
			from = claimed;

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
		mq_position_record_read(&a->group, a->mode, topic_id, partition,
								c->member_id, a->lease_owner, scanned_to, n);
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
 *		topic, max, then (after mq.poll's wait) partition, auto_commit,
 *		member_id, generation, consumer_id.
 */
static Datum
fetch(FunctionCallInfo fcinfo, bool is_poll)
{
	FetchArgs	a;
	char	   *group_name = mq_group_access_arg(fcinfo, 0, MQ_PRIV_CONSUME);
	int			arg_partition = is_poll ? 4 : 3;
	int			arg_auto = arg_partition + 1;
	int			arg_member = arg_auto + 1;
	int			arg_generation = arg_member + 1;
	char	   *member_id = mq_group_member_arg(fcinfo, arg_member);
	const char *consumer_id = mq_position_consumer_arg(fcinfo,
													   arg_generation + 1);
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
	if (a.max < 1 || a.max > MQ_MAX_BATCH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max must be between 1 and %d", MQ_MAX_BATCH)));
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
	if (consumer_id != NULL && !auto_commit)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("consumer_id needs auto_commit"),
				 errdetail("A consumer id names who holds auto-commit leases; other fetches hold nothing past their transaction.")));
	a.member_id = member_id ? member_id : "";
	a.lease_owner = mq_position_lease_owner(consumer_id);
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
		mq_topic_check_access(&a.topic, MQ_ACCESS_READ);
	}
	if (!PG_ARGISNULL(arg_partition))
	{
		if (!a.one_topic)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a partition needs a topic")));
		a.partition = PG_GETARG_INT32(arg_partition);
		mq_topic_check_partition(&a.topic, a.partition);
	}

	if (auto_commit)
		a.mode = MQ_FETCH_AUTO_COMMIT;
	else if (IsTransactionBlock())
		a.mode = MQ_FETCH_TRANSACTIONAL;
	else
		a.mode = MQ_FETCH_AT_MOST_ONCE;

	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();

	/*
	 * The group is looked up here only to fence a member or to commit the
	 * previous auto-commit batch; otherwise the candidate query finds it (and
	 * an empty result is explained there).
	 */
	strlcpy(a.group.name, group_name, sizeof(a.group.name));
	if (member_id != NULL || a.mode == MQ_FETCH_AUTO_COMMIT)
	{
		mq_group_get(group_name, &a.group);
		mq_group_check_member(&a.group, member_id,
							  PG_ARGISNULL(arg_generation) ? a.group.generation :
							  PG_GETARG_INT64(arg_generation));
	}

	if (a.mode == MQ_FETCH_AUTO_COMMIT)
		mq_position_commit_leases(a.group.group_id, a.lease_owner);

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
 *		generation, consumer_id).
 */
Datum
mq_fetch(PG_FUNCTION_ARGS)
{
	return fetch(fcinfo, false);
}

/*
 * mq_poll
 *		SQL: mq.poll(group, topic, max, wait, partition, auto_commit,
 *		member_id, generation, consumer_id).
 */
Datum
mq_poll(PG_FUNCTION_ARGS)
{
	return fetch(fcinfo, true);
}
