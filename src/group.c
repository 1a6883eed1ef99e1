/*-------------------------------------------------------------------------
 *
 * group.c
 *	  Consumer groups: subscriptions, members, generations and assignment.
 *
 * A group is created by its first subscription.  Each subscription has one
 * position per partition (mq.position, member_id '') in clustering mode, or
 * one per partition and member in broadcasting mode.  The positions are
 * what consumption commits; fetch.c reads them and position.c moves them.
 *
 * Members are optional.  Consumers that fetch in transactions need none:
 * the row lock on a position is their claim.  Consumers that keep state
 * between transactions join the group; every change of membership (a
 * join, a leave, a member that missed its session timeout, new partitions,
 * a new subscription) is a rebalance: the group's generation goes up by
 * one and the server computes every member's partitions with the group's
 * strategy.  A fetch or commit that names a member and a generation other
 * than the current one is refused, so a member that was expired while it
 * paused cannot commit over its successor.  Rebalances of one group are
 * serialized by a row lock on the group.
 *
 * The file is longer than most: it is the whole SQL surface of groups
 * (subscribe, unsubscribe, drop, join, heartbeat, leave, expiry) with the
 * assignment strategies they share; the subscriptions a session keeps are
 * subscription.c's, positions are position.c's.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/group.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "group.h"
#include "offsets.h"
#include "query.h"
#include "segment.h"
#include "settings.h"
#include "subscription.h"
#include "topic.h"

PG_FUNCTION_INFO_V1(mq_subscribe);
PG_FUNCTION_INFO_V1(mq_subscribe_at);
PG_FUNCTION_INFO_V1(mq_unsubscribe);
PG_FUNCTION_INFO_V1(mq_drop_group);
PG_FUNCTION_INFO_V1(mq_join);
PG_FUNCTION_INFO_V1(mq_heartbeat);
PG_FUNCTION_INFO_V1(mq_leave);
PG_FUNCTION_INFO_V1(mq_expire_members);

/* How a subscription's positions start. */
typedef enum StartKind
{
	START_EARLIEST,
	START_LATEST,
	START_TIME
} StartKind;

/* Virtual nodes per member on the consistent-hash ring. */
#define RING_POINTS		32

static const char *const strategies[] = {
	"range", "round_robin", "sticky", "consistent_hash"
};

/*
 * mq_group_name_arg
 *		Argument argno as a consumer group name.
 */
char *
mq_group_name_arg(FunctionCallInfo fcinfo, int argno)
{
	return mq_topic_object_name_arg(fcinfo, argno, "consumer group");
}

/*
 * mq_group_access_arg
 *		Argument argno as the name of a consumer group on which the caller
 *		must hold one of privileges (MQ_PRIV_*; see acl.c): the access check
 *		of every entry point that acts as or on a group.
 */
char *
mq_group_access_arg(FunctionCallInfo fcinfo, int argno, int privileges)
{
	char	   *name = mq_group_name_arg(fcinfo, argno);

	mq_acl_check(MQ_OBJECT_GROUP, name, privileges);
	return name;
}

/*
 * mq_group_member_arg
 *		Argument argno as a member id, or NULL if the argument is null.
 */
char *
mq_group_member_arg(FunctionCallInfo fcinfo, int argno)
{
	char	   *member;
	size_t		len;

	if (PG_ARGISNULL(argno))
		return NULL;
	member = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	len = strlen(member);
	if (len == 0 || len > MQ_NAME_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid member id \"%s\"", member),
				 errdetail("A member id has 1 to %d bytes.", MQ_NAME_MAX)));
	return member;
}

static void
undefined_group(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("consumer group \"%s\" does not exist", name),
			 errhint("The groups are listed in mq.groups; mq.subscribe creates one.")));
}

/*
 * group_lookup
 *		Find a group by name, and lock its row FOR UPDATE if lock.  Returns
 *		false if there is none.
 */
static bool
group_lookup(const char *name, bool lock, MqGroupInfo *info)
{
	Oid			type = TEXTOID;
	Datum		arg = CStringGetTextDatum(name);
	bool		isnull;

	if (mq_query(lock ?
				 "SELECT group_id, generation FROM mq.consumer_group"
				 " WHERE name = $1 FOR UPDATE" :
				 "SELECT group_id, generation FROM mq.consumer_group"
				 " WHERE name = $1",
				 1, &type, &arg, NULL, false) == 0)
		return false;
	strlcpy(info->name, name, sizeof(info->name));
	info->group_id = DatumGetInt32(mq_query_value(0, 1, &isnull));
	info->generation = DatumGetInt64(mq_query_value(0, 2, &isnull));
	return true;
}

/*
 * mq_group_get
 *		The group with that name; an error if there is none.
 */
void
mq_group_get(const char *name, MqGroupInfo *info)
{
	if (!group_lookup(name, false, info))
		undefined_group(name);
}

/*
 * mq_group_check_member
 *		Fencing: refuse a member that is not in the group, or a generation
 *		other than the group's current one.  A NULL member_id checks
 *		nothing.
 */
void
mq_group_check_member(const MqGroupInfo *group, const char *member_id,
					  int64 generation)
{
	Oid			types[2] = {INT4OID, TEXTOID};
	Datum		args[2];

	if (member_id == NULL)
		return;
	args[0] = Int32GetDatum(group->group_id);
	args[1] = CStringGetTextDatum(member_id);
	if (mq_query("SELECT 1 FROM mq.member WHERE group_id = $1 AND member_id = $2",
				 2, types, args, NULL, false) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("member \"%s\" is not in consumer group \"%s\"",
						member_id, group->name),
				 errdetail("It never joined, it left, or it missed its session timeout."),
				 errhint("Call mq.join again.")));
	if (generation != group->generation)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("generation %lld of consumer group \"%s\" is stale",
						(long long) generation, group->name),
				 errdetail("The group was rebalanced; its generation is now %lld.",
						   (long long) group->generation),
				 errhint("Call mq.heartbeat or mq.join for the new generation and assignment.")));
}

/*
 * mq_group_subscription_mode
 *		The mode of the group's subscription to the topic (shared and
 *		key_shared are both MQ_MODE_SHARED); an error if it has none.
 */
MqSubscriptionMode
mq_group_subscription_mode(const MqGroupInfo *group, const MqTopicInfo *topic)
{
	Oid			types[2] = {INT4OID, INT4OID};
	Datum		args[2];
	bool		isnull;
	char	   *mode;

	args[0] = Int32GetDatum(group->group_id);
	args[1] = Int32GetDatum(topic->topic_id);
	if (mq_query("SELECT mode FROM mq.subscription"
				 " WHERE group_id = $1 AND topic_id = $2",
				 2, types, args, NULL, false) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("consumer group \"%s\" is not subscribed to topic \"%s\"",
						group->name, topic->name),
				 errhint("Subscribe it with mq.subscribe.")));
	mode = TextDatumGetCString(mq_query_value(0, 1, &isnull));
	return mode[0] == 'b' ? MQ_MODE_BROADCASTING :
		mode[0] == 'c' ? MQ_MODE_CLUSTERING : MQ_MODE_SHARED;
}

/*
 * start_offset
 *		Where a new position in the partition starts.
 */
static int64
start_offset(const MqTopicInfo *topic, int32 partition, StartKind start,
			 TimestampTz at)
{
	int64		log_start = mq_segment_log_start(topic, partition);
	int64		offset;

	switch (start)
	{
		case START_EARLIEST:
			return log_start;
		case START_LATEST:
			offset = mq_topic_stable_offset(topic, partition);
			break;
		default:
			offset = mq_segment_offset_at_time(topic, partition, at);
			break;
	}
	return Max(offset, log_start);
}

/*
 * insert_positions
 *		Give a member ('' in clustering mode) a position in every partition
 *		of the topic that it has none in.  The partition count is read from
 *		the topic's row, locked FOR SHARE: an ALTER that adds partitions
 *		either committed before (and the count includes them) or waits for
 *		this transaction (and then gives these positions the new ones).
 */
static void
insert_positions(int32 group_id, const MqTopicInfo *topic,
				 const char *member_id, StartKind start, TimestampTz at)
{
	Datum	   *offsets;
	Oid			types[4] = {INT4OID, INT4OID, TEXTOID, INT8ARRAYOID};
	Datum		args[4];
	int32		partitions;
	int32		p;
	bool		isnull;

	args[0] = Int32GetDatum(topic->topic_id);
	if (mq_query("SELECT partitions FROM mq.topic WHERE topic_id = $1 FOR SHARE",
				 1, &types[1], args, NULL, false) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("topic \"%s\" was dropped", topic->name)));
	partitions = DatumGetInt32(mq_query_value(0, 1, &isnull));
	offsets = palloc(sizeof(Datum) * partitions);
	for (p = 0; p < partitions; p++)
		offsets[p] = Int64GetDatum(start_offset(topic, p, start, at));
	args[0] = Int32GetDatum(group_id);
	args[1] = Int32GetDatum(topic->topic_id);
	args[2] = CStringGetTextDatum(member_id);
	args[3] = PointerGetDatum(construct_array(offsets, partitions,
											  INT8OID, 8, true,
											  TYPALIGN_DOUBLE));
	mq_query("INSERT INTO mq.position"
			 " (group_id, topic_id, partition, member_id, next_offset)"
			 " SELECT $1, $2, o.n - 1, $3, o.off"
			 " FROM unnest($4) WITH ORDINALITY AS o(off, n)"
			 " ON CONFLICT DO NOTHING",
			 4, types, args, NULL, false);
}

/*
 * parse_tags
 *		A tag expression, 'TagA || TagB' or '*', as a text[] Datum; *isnull
 *		is set for '*' (every message, with a tag or without).
 */
static Datum
parse_tags(const char *expr, bool *isnull)
{
	List	   *tags = NIL;
	const char *p = expr;
	Datum	   *elems;
	ListCell   *lc;
	int			n = 0;

	for (;;)
	{
		const char *end = strstr(p, "||");
		const char *stop = end ? end : p + strlen(p);
		const char *a = p;
		const char *b = stop;

		while (a < b && isspace((unsigned char) *a))
			a++;
		while (b > a && isspace((unsigned char) b[-1]))
			b--;
		if (a == b || memchr(a, '|', b - a) != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid tag expression \"%s\"", expr),
					 errdetail("A tag expression is \"*\" or tags separated by \"||\", such as 'TagA || TagB'.")));
		tags = lappend(tags, pnstrdup(a, b - a));
		if (end == NULL)
			break;
		p = end + 2;
	}

	if (list_length(tags) == 1 && strcmp(linitial(tags), "*") == 0)
	{
		*isnull = true;
		return (Datum) 0;
	}
	elems = palloc(sizeof(Datum) * list_length(tags));
	foreach(lc, tags)
	{
		if (strcmp(lfirst(lc), "*") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid tag expression \"%s\"", expr),
					 errdetail("\"*\" matches every message and cannot be combined with tags.")));
		elems[n++] = CStringGetTextDatum(lfirst(lc));
	}
	*isnull = false;
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false,
										   TYPALIGN_INT));
}

typedef struct FilterContext
{
	const char *group;
	const char *topic;
} FilterContext;

static void
filter_error_context(void *arg)
{
	FilterContext *ctx = arg;

	errcontext("filter of the subscription of consumer group \"%s\" to topic \"%s\"",
			   ctx->group, ctx->topic);
}

/*
 * parse_filter
 *		A jsonpath over headers, checked now so that a malformed one fails
 *		the subscription rather than every fetch.
 */
static Datum
parse_filter(const char *filter, const char *group, const char *topic)
{
	ErrorContextCallback callback;
	FilterContext ctx = {group, topic};
	Datum		path;

	callback.callback = filter_error_context;
	callback.arg = &ctx;
	callback.previous = error_context_stack;
	error_context_stack = &callback;
	path = DirectFunctionCall1(jsonpath_in, CStringGetDatum(filter));
	error_context_stack = callback.previous;
	return path;
}

/* ---------------------------------------------------------------------
 * Assignment
 * ---------------------------------------------------------------------
 */

typedef struct RingPoint
{
	uint32		hash;
	int			member;
} RingPoint;

static int
ring_cmp(const void *a, const void *b)
{
	const RingPoint *x = a;
	const RingPoint *y = b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->member - y->member;
}

/*
 * assign
 *		Compute owner[i] (an index into members) of each of the n
 *		partitions (topic_ids[i], parts[i]), ordered by topic and partition;
 *		prev[i] is the previous owner or -1.
 *
 *		range: each topic's partitions cut into contiguous ranges, the
 *		first members getting one more when they do not divide evenly
 *		(RocketMQ's AllocateMessageQueueAveragely, Kafka's range).
 *		round_robin: partition p of each topic to member p mod m
 *		(AllocateMessageQueueAveragelyByCircle).  sticky: balanced over all
 *		topics, keeping as many previous owners as balance allows.
 *		consistent_hash: each partition to the next of RING_POINTS points
 *		per member on a hash ring, so a change of membership moves only the
 *		partitions of the member that came or went.
 */
static void
assign(const char *strategy, int m, char **members, int n,
	   const int32 *topic_ids, const int32 *parts, const int *prev, int *owner)
{
	int			i;

	if (m == 0)
	{
		for (i = 0; i < n; i++)
			owner[i] = -1;
		return;
	}

	if (strcmp(strategy, "range") == 0 || strcmp(strategy, "round_robin") == 0)
	{
		bool		range = strategy[0] == 'r' && strategy[1] == 'a';
		int			first = 0;

		while (first < n)
		{
			int			count = 1;
			int			j;

			while (first + count < n && topic_ids[first + count] == topic_ids[first])
				count++;
			for (j = 0; j < count; j++)
			{
				int			p = parts[first + j];

				if (!range)
					owner[first + j] = p % m;
				else
				{
					/* member k gets [k*base + min(k, extra), ...) */
					int			base = count / m;
					int			extra = count % m;
					int			k;

					for (k = 0; k < m; k++)
					{
						int			start = k * base + Min(k, extra);
						int			size = base + (k < extra ? 1 : 0);

						if (j >= start && j < start + size)
							break;
					}
					owner[first + j] = k;
				}
			}
			first += count;
		}
	}
	else if (strcmp(strategy, "sticky") == 0)
	{
		int		   *load = palloc0(sizeof(int) * m);
		int		   *had = palloc0(sizeof(int) * m);
		int		   *cap = palloc(sizeof(int) * m);
		int		   *order = palloc(sizeof(int) * m);
		int			base = n / m;
		int			extra = n % m;
		int			k;

		/* the members that had most get the extra slots */
		for (i = 0; i < n; i++)
			if (prev[i] >= 0)
				had[prev[i]]++;
		for (k = 0; k < m; k++)
			order[k] = k;
		for (k = 1; k < m; k++)
		{
			int			v = order[k];
			int			j = k;

			while (j > 0 && had[order[j - 1]] < had[v])
			{
				order[j] = order[j - 1];
				j--;
			}
			order[j] = v;
		}
		for (k = 0; k < m; k++)
			cap[order[k]] = base + (k < extra ? 1 : 0);

		for (i = 0; i < n; i++)
		{
			owner[i] = -1;
			if (prev[i] >= 0 && load[prev[i]] < cap[prev[i]])
			{
				owner[i] = prev[i];
				load[prev[i]]++;
			}
		}
		for (i = 0; i < n; i++)
		{
			int			best = -1;

			if (owner[i] >= 0)
				continue;
			for (k = 0; k < m; k++)
				if (load[k] < cap[k] && (best < 0 || load[k] < load[best]))
					best = k;
			owner[i] = best;
			load[best]++;
		}
	}
	else
	{
		RingPoint  *ring = palloc(sizeof(RingPoint) * m * RING_POINTS);
		int			k;

		for (k = 0; k < m; k++)
		{
			int			v;

			for (v = 0; v < RING_POINTS; v++)
			{
				char	   *point = psprintf("%s#%d", members[k], v);

				ring[k * RING_POINTS + v].hash =
					hash_bytes((unsigned char *) point, strlen(point));
				ring[k * RING_POINTS + v].member = k;
			}
		}
		qsort(ring, m * RING_POINTS, sizeof(RingPoint), ring_cmp);
		for (i = 0; i < n; i++)
		{
			char	   *key = psprintf("%d/%d", topic_ids[i], parts[i]);
			uint32		h = hash_bytes((unsigned char *) key, strlen(key));
			int			lo = 0;
			int			hi = m * RING_POINTS;

			/* the first point at or after h, wrapping around */
			while (lo < hi)
			{
				int			mid = (lo + hi) / 2;

				if (ring[mid].hash < h)
					lo = mid + 1;
				else
					hi = mid;
			}
			owner[i] = ring[lo % (m * RING_POINTS)].member;
		}
	}
}

/*
 * Set while mq_group_subscribe_quietly() subscribes: the new topic's
 * partitions go to the members as they are, without a rebalance.
 */
static bool quiet_subscribe = false;

/*
 * assign_quietly
 *		Assign the partitions of a topic just subscribed to the group's
 *		members, round robin, without starting a new generation: no member
 *		loses a partition, so none needs fencing, and fetches by member find
 *		the new partitions in mq.assignment at once.
 */
static void
assign_quietly(int32 group_id, int32 topic_id)
{
	Oid			types[2] = {INT4OID, INT4OID};
	Datum		args[2];

	args[0] = Int32GetDatum(group_id);
	args[1] = Int32GetDatum(topic_id);
	mq_query("INSERT INTO mq.assignment (group_id, topic_id, partition, member_id)"
			 " SELECT $1, $2, p.partition, m.member_id"
			 " FROM (SELECT partition, row_number() OVER (ORDER BY partition) - 1 AS i"
			 "       FROM mq.position WHERE group_id = $1 AND topic_id = $2"
			 "       AND member_id = '') p"
			 " JOIN (SELECT member_id,"
			 "              row_number() OVER (ORDER BY member_id COLLATE \"C\") - 1 AS j,"
			 "              count(*) OVER () AS n"
			 "       FROM mq.member WHERE group_id = $1) m ON p.i % m.n = m.j"
			 " ON CONFLICT DO NOTHING",
			 2, types, args, NULL, false);
}

/*
 * mq_group_subscribe_quietly
 *		Subscribe group to topic from its earliest offset, in clustering
 *		mode, without a rebalance (see assign_quietly): for the group's own
 *		retry topic, which a member's nack creates in the middle of its
 *		transaction, where a new generation would fence that very member.
 *		The caller is connected to SPI.
 */
void
mq_group_subscribe_quietly(const char *group, const char *topic)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		args[2];

	args[0] = CStringGetTextDatum(group);
	args[1] = CStringGetTextDatum(topic);
	quiet_subscribe = true;
	PG_TRY();
	{
		mq_query("SELECT mq.subscribe($1, $2, start => 'earliest')",
				 2, types, args, NULL, false);
	}
	PG_FINALLY();
	{
		quiet_subscribe = false;
	}
	PG_END_TRY();
}

/*
 * rebalance
 *		Recompute the assignment of a group whose row the caller has locked,
 *		and start a new generation.  Returns the new generation.
 */
static int64
rebalance(int32 group_id)
{
	Oid			gtype = INT4OID;
	Datum		garg = Int32GetDatum(group_id);
	bool		isnull;
	char	   *strategy;
	char	  **members;
	int			m;
	int			n = 0;
	int32	   *topic_ids;
	int32	   *parts;
	int		   *prev;
	int		   *owner;
	SPITupleTable *subs;
	uint64		nsubs;
	uint64		i;
	int			j;
	Datum	   *d_topics;
	Datum	   *d_parts;
	Datum	   *d_members;
	int			assigned = 0;

	mq_query("SELECT strategy FROM mq.consumer_group WHERE group_id = $1",
			 1, &gtype, &garg, NULL, false);
	strategy = TextDatumGetCString(mq_query_value(0, 1, &isnull));

	mq_query("SELECT member_id FROM mq.member WHERE group_id = $1"
			 " ORDER BY member_id COLLATE \"C\"",
			 1, &gtype, &garg, NULL, false);
	m = (int) SPI_processed;
	members = palloc(sizeof(char *) * Max(m, 1));
	for (j = 0; j < m; j++)
		members[j] = TextDatumGetCString(mq_query_value(j, 1, &isnull));

	mq_query("SELECT s.topic_id, t.partitions FROM mq.subscription s"
			 " JOIN mq.topic t USING (topic_id)"
			 " WHERE s.group_id = $1 AND s.mode = 'clustering'"
			 " ORDER BY s.topic_id",
			 1, &gtype, &garg, NULL, false);
	subs = SPI_tuptable;
	nsubs = SPI_processed;
	for (i = 0; i < nsubs; i++)
		n += DatumGetInt32(SPI_getbinval(subs->vals[i], subs->tupdesc, 2, &isnull));
	topic_ids = palloc(sizeof(int32) * Max(n, 1));
	parts = palloc(sizeof(int32) * Max(n, 1));
	prev = palloc(sizeof(int) * Max(n, 1));
	owner = palloc(sizeof(int) * Max(n, 1));
	n = 0;
	for (i = 0; i < nsubs; i++)
	{
		int32		topic_id = DatumGetInt32(SPI_getbinval(subs->vals[i], subs->tupdesc, 1, &isnull));
		int32		count = DatumGetInt32(SPI_getbinval(subs->vals[i], subs->tupdesc, 2, &isnull));
		int32		p;

		for (p = 0; p < count; p++)
		{
			topic_ids[n] = topic_id;
			parts[n] = p;
			prev[n] = -1;
			n++;
		}
	}

	/* the previous owners, for sticky */
	mq_query("SELECT topic_id, partition, member_id FROM mq.assignment"
			 " WHERE group_id = $1 ORDER BY topic_id, partition",
			 1, &gtype, &garg, NULL, false);
	j = 0;
	for (i = 0; i < SPI_processed; i++)
	{
		int32		topic_id = DatumGetInt32(mq_query_value(i, 1, &isnull));
		int32		p = DatumGetInt32(mq_query_value(i, 2, &isnull));
		char	   *member = TextDatumGetCString(mq_query_value(i, 3, &isnull));
		int			k;

		while (j < n && (topic_ids[j] < topic_id ||
						 (topic_ids[j] == topic_id && parts[j] < p)))
			j++;
		if (j >= n || topic_ids[j] != topic_id || parts[j] != p)
			continue;
		for (k = 0; k < m; k++)
			if (strcmp(members[k], member) == 0)
				prev[j] = k;
	}

	assign(strategy, m, members, n, topic_ids, parts, prev, owner);

	mq_query("DELETE FROM mq.assignment WHERE group_id = $1",
			 1, &gtype, &garg, NULL, false);
	d_topics = palloc(sizeof(Datum) * Max(n, 1));
	d_parts = palloc(sizeof(Datum) * Max(n, 1));
	d_members = palloc(sizeof(Datum) * Max(n, 1));
	for (j = 0; j < n; j++)
	{
		if (owner[j] < 0)
			continue;
		d_topics[assigned] = Int32GetDatum(topic_ids[j]);
		d_parts[assigned] = Int32GetDatum(parts[j]);
		d_members[assigned] = CStringGetTextDatum(members[owner[j]]);
		assigned++;
	}
	if (assigned > 0)
	{
		Oid			types[4] = {INT4OID, INT4ARRAYOID, INT4ARRAYOID, TEXTARRAYOID};
		Datum		args[4];

		args[0] = garg;
		args[1] = PointerGetDatum(construct_array(d_topics, assigned, INT4OID,
												  4, true, TYPALIGN_INT));
		args[2] = PointerGetDatum(construct_array(d_parts, assigned, INT4OID,
												  4, true, TYPALIGN_INT));
		args[3] = PointerGetDatum(construct_array(d_members, assigned, TEXTOID,
												  -1, false, TYPALIGN_INT));
		mq_query("INSERT INTO mq.assignment (group_id, topic_id, partition, member_id)"
				 " SELECT $1, a.t, a.p, a.m FROM unnest($2, $3, $4) AS a(t, p, m)",
				 4, types, args, NULL, false);
	}

	mq_query("UPDATE mq.consumer_group SET generation = generation + 1"
			 " WHERE group_id = $1 RETURNING generation",
			 1, &gtype, &garg, NULL, false);
	return DatumGetInt64(mq_query_value(0, 1, &isnull));
}

/*
 * group_has_members
 */
static bool
group_has_members(int32 group_id)
{
	Oid			type = INT4OID;
	Datum		arg = Int32GetDatum(group_id);

	return mq_query("SELECT 1 FROM mq.member WHERE group_id = $1 LIMIT 1",
					1, &type, &arg, NULL, false) > 0;
}

/*
 * expire_group
 *		Remove the members of a group, whose row the caller has locked, that
 *		missed their session timeout, except keep (if not NULL).  Returns
 *		how many were removed.
 */
static uint64
expire_group(int32 group_id, const char *keep)
{
	Oid			types[2] = {INT4OID, TEXTOID};
	Datum		args[2];
	uint64		expired;
	uint64		i;

	args[0] = Int32GetDatum(group_id);
	args[1] = CStringGetTextDatum(keep ? keep : "");
	expired = mq_query("DELETE FROM mq.member WHERE group_id = $1"
					   " AND last_seen + session_timeout < now()"
					   " AND member_id <> $2 RETURNING member_id",
					   2, types, args, NULL, false);
	for (i = 0; i < expired; i++)
	{
		bool		isnull;

		ereport(LOG,
				(errmsg("mq: member \"%s\" of consumer group %d missed its session timeout and was removed",
						TextDatumGetCString(mq_query_value(i, 1, &isnull)), group_id)));
	}
	return expired;
}

/*
 * member_assignment
 *		A member's partitions as jsonb, {"topic": [partitions]}, including
 *		every partition of the group's broadcasting subscriptions; copied
 *		out of SPI's memory.
 */
static Datum
member_assignment(int32 group_id, const char *member_id)
{
	Oid			types[2] = {INT4OID, TEXTOID};
	Datum		args[2];
	bool		isnull;

	args[0] = Int32GetDatum(group_id);
	args[1] = CStringGetTextDatum(member_id);
	mq_query("SELECT coalesce(jsonb_object_agg(t.name, x.parts ORDER BY t.name), '{}')"
			 " FROM (SELECT topic_id, array_agg(partition ORDER BY partition) AS parts"
			 "         FROM mq.assignment WHERE group_id = $1 AND member_id = $2"
			 "        GROUP BY topic_id"
			 "       UNION ALL"
			 "       SELECT s.topic_id, array(SELECT generate_series(0, t.partitions - 1))"
			 "         FROM mq.subscription s JOIN mq.topic t USING (topic_id)"
			 "        WHERE s.group_id = $1 AND s.mode = 'broadcasting') x"
			 " JOIN mq.topic t USING (topic_id)",
			 2, types, args, NULL, false);
	return SPI_datumTransfer(mq_query_value(0, 1, &isnull), false, -1);
}

/*
 * member_result
 *		The (generation, assignment) row of mq.join and mq.heartbeat.
 */
static Datum
member_result(FunctionCallInfo fcinfo, int64 generation, Datum assignment)
{
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = Int64GetDatum(generation);
	values[1] = assignment;
	return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values,
											 nulls));
}

/*
 * subscribe
 *		The work of both mq.subscribe functions.
 */
static Datum
subscribe(FunctionCallInfo fcinfo, StartKind start, TimestampTz at)
{
	char	   *group_name = mq_group_name_arg(fcinfo, 0);
	char	   *topic_name = mq_topic_name_arg(fcinfo, 1);
	MqTopicInfo topic;
	MqGroupInfo group;
	char	   *mode;
	int32		max_retries;
	bool		ordered;
	Datum		tags = (Datum) 0;
	bool		tags_null = true;
	Datum		filter = (Datum) 0;
	bool		filter_null = true;
	Oid			types[8] = {INT4OID, INT4OID, TEXTOID, TEXTARRAYOID, JSONPATHOID,
	BOOLOID, INT4OID, TEXTOID};
	Datum		args[9];
	char		nulls[9] = "         ";
	bool		isnull;
	bool		created;

	if (PG_ARGISNULL(3) || PG_ARGISNULL(6) || PG_ARGISNULL(7))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("mode, ordered and max_retries must not be null")));
	mode = text_to_cstring(PG_GETARG_TEXT_PP(3));
	if (strcmp(mode, "clustering") != 0 && strcmp(mode, "broadcasting") != 0 &&
		strcmp(mode, "shared") != 0 && strcmp(mode, "key_shared") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid subscription mode \"%s\"", mode),
				 errhint("The modes are 'clustering' (members share the partitions), 'broadcasting' (every member gets every message), 'shared' (consumers share messages one by one) and 'key_shared' (the same, one consumer at a time per key).")));
	ordered = PG_GETARG_BOOL(6);
	max_retries = PG_GETARG_INT32(7);
	if (max_retries < 0 || max_retries > MQ_MAX_ATTEMPTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_retries must be between 0 and %d",
						MQ_MAX_ATTEMPTS)));
	if (!PG_ARGISNULL(4))
		tags = parse_tags(text_to_cstring(PG_GETARG_TEXT_PP(4)), &tags_null);
	if (!PG_ARGISNULL(5))
	{
		filter = parse_filter(text_to_cstring(PG_GETARG_TEXT_PP(5)),
							  group_name, topic_name);
		filter_null = false;
	}

	mq_topic_get(topic_name, &topic);
	mq_topic_check_access(&topic, MQ_ACCESS_READ);

	SPI_connect();
	{
		Oid			t[2] = {TEXTOID, TEXTOID};
		Datum		a[2];

		/* a new group is the caller's; an existing one needs manage */
		a[0] = CStringGetTextDatum(group_name);
		a[1] = CStringGetTextDatum(mq_acl_caller_name());
		if (mq_query("INSERT INTO mq.consumer_group (group_id, name, owner)"
					 " VALUES (nextval('mq.group_id_seq'), $1, $2)"
					 " ON CONFLICT (name) DO NOTHING RETURNING group_id",
					 2, t, a, NULL, false) > 0)
			mq_acl_changed();
		else
			mq_acl_check(MQ_OBJECT_GROUP, group_name, MQ_PRIV_MANAGE);
	}
	if (!group_lookup(group_name, true, &group))
		undefined_group(group_name);

	args[0] = Int32GetDatum(group.group_id);
	args[1] = Int32GetDatum(topic.topic_id);
	args[2] = CStringGetTextDatum(mode);
	args[3] = tags;
	nulls[3] = tags_null ? 'n' : ' ';
	args[4] = filter;
	nulls[4] = filter_null ? 'n' : ' ';
	args[5] = BoolGetDatum(ordered);
	args[6] = Int32GetDatum(max_retries);
	args[7] = CStringGetTextDatum(start == START_EARLIEST ? "earliest" :
								  start == START_LATEST ? "latest" : "time");
	if (mq_query("SELECT mode FROM mq.subscription"
				 " WHERE group_id = $1 AND topic_id = $2 FOR UPDATE",
				 2, types, args, NULL, false) > 0)
	{
		char	   *old_mode = TextDatumGetCString(mq_query_value(0, 1, &isnull));

		if (strcmp(old_mode, mode) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("consumer group \"%s\" is already subscribed to topic \"%s\" in %s mode",
							group_name, topic_name, old_mode),
					 errhint("Unsubscribe first (its positions are lost) to change the mode.")));
		mq_subscription_changed();
		mq_query("UPDATE mq.subscription SET tags = $4, filter = $5,"
				 " ordered = $6, max_retries = $7"
				 " WHERE group_id = $1 AND topic_id = $2",
				 7, types, args, nulls, false);
		created = false;
	}
	else
	{
		Oid			itypes[9];
		Datum		attime = TimestampTzGetDatum(at);

		memcpy(itypes, types, sizeof(types));
		itypes[8] = TIMESTAMPTZOID;
		args[8] = attime;
		nulls[8] = start == START_TIME ? ' ' : 'n';
		mq_subscription_changed();
		mq_query("INSERT INTO mq.subscription (group_id, topic_id, mode, tags,"
				 " filter, ordered, max_retries, start, start_at)"
				 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
				 9, itypes, args, nulls, false);
		created = true;

		if (mode[0] == 's' || mode[0] == 'k')
			insert_positions(group.group_id, &topic, "", start, at);
		else if (mode[0] == 'c')
		{
			insert_positions(group.group_id, &topic, "", start, at);
			if (group_has_members(group.group_id))
			{
				if (quiet_subscribe)
					assign_quietly(group.group_id, topic.topic_id);
				else
					rebalance(group.group_id);
			}
		}
		else
		{
			Oid			gtype = INT4OID;
			Datum		garg = Int32GetDatum(group.group_id);
			SPITupleTable *members;
			uint64		nmembers;
			uint64		i;

			mq_query("SELECT member_id FROM mq.member WHERE group_id = $1",
					 1, &gtype, &garg, NULL, false);
			members = SPI_tuptable;
			nmembers = SPI_processed;
			for (i = 0; i < nmembers; i++)
				insert_positions(group.group_id, &topic,
								 SPI_getvalue(members->vals[i],
											  members->tupdesc, 1),
								 start, at);
		}
	}
	SPI_finish();
	PG_RETURN_BOOL(created);
}

static StartKind
start_arg(FunctionCallInfo fcinfo)
{
	char	   *start;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("start must not be null")));
	start = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (strcmp(start, "earliest") == 0)
		return START_EARLIEST;
	if (strcmp(start, "latest") == 0)
		return START_LATEST;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid start \"%s\"", start),
			 errhint("Use 'earliest', 'latest' or a timestamptz.")));
	pg_unreachable();
}

/*
 * mq_subscribe
 *		SQL: mq.subscribe(group, topic, start => 'latest' | 'earliest',
 *		mode, tags, filter, ordered, max_retries).  Subscribing again keeps
 *		the positions and replaces tags, filter, ordered and max_retries.
 */
Datum
mq_subscribe(PG_FUNCTION_ARGS)
{
	return subscribe(fcinfo, start_arg(fcinfo), 0);
}

/*
 * mq_subscribe_at
 *		SQL: mq.subscribe(group, topic, start timestamptz, ...).
 */
Datum
mq_subscribe_at(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("start must not be null")));
	return subscribe(fcinfo, START_TIME, PG_GETARG_TIMESTAMPTZ(2));
}

/*
 * mq_unsubscribe
 *		SQL: mq.unsubscribe(group, topic).  Returns false if the group was
 *		not subscribed.
 */
Datum
mq_unsubscribe(PG_FUNCTION_ARGS)
{
	char	   *group_name = mq_group_access_arg(fcinfo, 0, MQ_PRIV_MANAGE);
	char	   *topic_name = mq_topic_name_arg(fcinfo, 1);
	MqTopicInfo topic;
	MqGroupInfo group;
	Oid			types[2] = {INT4OID, INT4OID};
	Datum		args[2];
	bool		removed;

	mq_topic_get(topic_name, &topic);
	mq_topic_check_access(&topic, MQ_ACCESS_READ);
	SPI_connect();
	if (!group_lookup(group_name, true, &group))
		undefined_group(group_name);
	args[0] = Int32GetDatum(group.group_id);
	args[1] = Int32GetDatum(topic.topic_id);
	mq_subscription_changed();
	removed = mq_query("DELETE FROM mq.subscription"
					   " WHERE group_id = $1 AND topic_id = $2",
					   2, types, args, NULL, false) > 0;
	mq_query("DELETE FROM mq.share_ack WHERE group_id = $1 AND topic_id = $2",
			 2, types, args, NULL, false);
	if (removed && group_has_members(group.group_id))
		rebalance(group.group_id);
	SPI_finish();
	PG_RETURN_BOOL(removed);
}

/*
 * mq_drop_group
 *		SQL: mq.drop_group(group, if_exists => false).
 */
Datum
mq_drop_group(PG_FUNCTION_ARGS)
{
	char	   *group_name = mq_group_access_arg(fcinfo, 0, MQ_PRIV_MANAGE);
	bool		if_exists = !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
	MqGroupInfo group;
	Oid			type = INT4OID;
	Datum		arg;

	SPI_connect();
	if (!group_lookup(group_name, true, &group))
	{
		SPI_finish();
		if (!if_exists)
			undefined_group(group_name);
		ereport(NOTICE,
				(errmsg("consumer group \"%s\" does not exist, skipping",
						group_name)));
		PG_RETURN_BOOL(false);
	}
	arg = Int32GetDatum(group.group_id);
	mq_subscription_changed();
	mq_acl_changed();
	mq_query("DELETE FROM mq.consumer_group WHERE group_id = $1",
			 1, &type, &arg, NULL, false);
	mq_query("DELETE FROM mq.share_ack WHERE group_id = $1",
			 1, &type, &arg, NULL, false);
	SPI_finish();
	PG_RETURN_BOOL(true);
}

/*
 * mq_join
 *		SQL: mq.join(group, member_id, session_timeout, strategy) returns
 *		(generation, assignment).  A new member, a new strategy or expired
 *		members start a new generation; a member joining again with nothing
 *		changed gets the current one.
 */
Datum
mq_join(PG_FUNCTION_ARGS)
{
	char	   *group_name = mq_group_access_arg(fcinfo, 0, MQ_PRIV_CONSUME);
	char	   *member_id = mq_group_member_arg(fcinfo, 1);
	Interval   *timeout;
	MqGroupInfo group;
	Oid			types[3] = {INT4OID, TEXTOID, INTERVALOID};
	Datum		args[3];
	bool		isnull;
	bool		changed;
	int64		generation;
	Datum		assignment;
	uint64		i;
	SPITupleTable *subs;
	uint64		nsubs;

	if (member_id == NULL || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("member_id and session_timeout must not be null")));
	timeout = PG_GETARG_INTERVAL_P(2);
	if (timeout->month != 0 || timeout->day != 0 ||
		timeout->time < USECS_PER_SEC || timeout->time > USECS_PER_HOUR)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("session_timeout must be between 1 second and 1 hour")));

	SPI_connect();
	if (!group_lookup(group_name, true, &group))
		undefined_group(group_name);
	generation = group.generation;

	changed = expire_group(group.group_id, member_id) > 0;

	if (!PG_ARGISNULL(3))
	{
		char	   *strategy = text_to_cstring(PG_GETARG_TEXT_PP(3));
		size_t		s;
		Oid			stypes[2] = {INT4OID, TEXTOID};
		Datum		sargs[2];

		for (s = 0; s < lengthof(strategies); s++)
			if (strcmp(strategy, strategies[s]) == 0)
				break;
		if (s == lengthof(strategies))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid assignment strategy \"%s\"", strategy),
					 errhint("The strategies are 'range', 'round_robin', 'sticky' and 'consistent_hash'.")));
		sargs[0] = Int32GetDatum(group.group_id);
		sargs[1] = CStringGetTextDatum(strategy);
		if (mq_query("UPDATE mq.consumer_group SET strategy = $2"
					 " WHERE group_id = $1 AND strategy <> $2",
					 2, stypes, sargs, NULL, false) > 0)
			changed = true;
	}

	args[0] = Int32GetDatum(group.group_id);
	args[1] = CStringGetTextDatum(member_id);
	args[2] = IntervalPGetDatum(timeout);
	mq_query("INSERT INTO mq.member (group_id, member_id, session_timeout)"
			 " VALUES ($1, $2, $3)"
			 " ON CONFLICT (group_id, member_id) DO UPDATE"
			 " SET session_timeout = excluded.session_timeout, last_seen = now()"
			 " RETURNING xmax = 0",
			 3, types, args, NULL, false);
	if (DatumGetBool(mq_query_value(0, 1, &isnull)))
		changed = true;

	/* a position of its own in every broadcasting subscription */
	mq_query("SELECT t.name, s.start, s.start_at FROM mq.subscription s"
			 " JOIN mq.topic t USING (topic_id)"
			 " WHERE s.group_id = $1 AND s.mode = 'broadcasting'",
			 1, types, args, NULL, false);
	subs = SPI_tuptable;
	nsubs = SPI_processed;
	for (i = 0; i < nsubs; i++)
	{
		MqTopicInfo topic;
		char	   *start = SPI_getvalue(subs->vals[i], subs->tupdesc, 2);
		Datum		at = SPI_getbinval(subs->vals[i], subs->tupdesc, 3, &isnull);

		mq_topic_get(SPI_getvalue(subs->vals[i], subs->tupdesc, 1), &topic);
		insert_positions(group.group_id, &topic, member_id,
						 strcmp(start, "earliest") == 0 ? START_EARLIEST :
						 strcmp(start, "latest") == 0 ? START_LATEST : START_TIME,
						 isnull ? 0 : DatumGetTimestampTz(at));
	}

	if (changed)
		generation = rebalance(group.group_id);
	assignment = member_assignment(group.group_id, member_id);
	SPI_finish();
	return member_result(fcinfo, generation, assignment);
}

/*
 * mq_heartbeat
 *		SQL: mq.heartbeat(group, member_id, generation) keeps the member
 *		alive and returns the current (generation, assignment): a generation
 *		other than the one passed means the group was rebalanced.  Members
 *		of the group that missed their session timeout are expired first.
 */
Datum
mq_heartbeat(PG_FUNCTION_ARGS)
{
	char	   *group_name = mq_group_access_arg(fcinfo, 0, MQ_PRIV_CONSUME);
	char	   *member_id = mq_group_member_arg(fcinfo, 1);
	MqGroupInfo group;
	Oid			types[2] = {INT4OID, TEXTOID};
	Datum		args[2];
	Datum		assignment;

	if (member_id == NULL || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("member_id and generation must not be null")));

	SPI_connect();
	mq_group_get(group_name, &group);
	args[0] = Int32GetDatum(group.group_id);
	args[1] = CStringGetTextDatum(member_id);

	if (mq_query("SELECT 1 FROM mq.member WHERE group_id = $1"
				 " AND last_seen + session_timeout < now() AND member_id <> $2"
				 " LIMIT 1", 2, types, args, NULL, false) > 0)
	{
		if (!group_lookup(group_name, true, &group))
			undefined_group(group_name);
		if (expire_group(group.group_id, member_id) > 0)
			group.generation = rebalance(group.group_id);
	}

	if (mq_query("UPDATE mq.member SET last_seen = now()"
				 " WHERE group_id = $1 AND member_id = $2",
				 2, types, args, NULL, false) == 0)
		mq_group_check_member(&group, member_id, group.generation);
	assignment = member_assignment(group.group_id, member_id);
	SPI_finish();
	return member_result(fcinfo, group.generation, assignment);
}

/*
 * mq_leave
 *		SQL: mq.leave(group, member_id).  The member's partitions go to the
 *		others, and its broadcasting positions are removed.  Returns false
 *		if it was not a member.
 */
Datum
mq_leave(PG_FUNCTION_ARGS)
{
	char	   *group_name = mq_group_access_arg(fcinfo, 0, MQ_PRIV_CONSUME);
	char	   *member_id = mq_group_member_arg(fcinfo, 1);
	MqGroupInfo group;
	Oid			types[2] = {INT4OID, TEXTOID};
	Datum		args[2];
	bool		left;

	if (member_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("member_id must not be null")));
	SPI_connect();
	if (!group_lookup(group_name, true, &group))
		undefined_group(group_name);
	args[0] = Int32GetDatum(group.group_id);
	args[1] = CStringGetTextDatum(member_id);
	left = mq_query("DELETE FROM mq.member WHERE group_id = $1 AND member_id = $2",
					2, types, args, NULL, false) > 0;
	if (left)
	{
		mq_query("DELETE FROM mq.position WHERE group_id = $1 AND member_id = $2",
				 2, types, args, NULL, false);
		rebalance(group.group_id);
	}
	SPI_finish();
	PG_RETURN_BOOL(left);
}

/*
 * group_expire_all
 *		Expire the members of every group that missed their session timeout
 *		and rebalance those groups.  Returns how many were removed.  The
 *		caller is connected to SPI.
 */
static int64
group_expire_all(void)
{
	SPITupleTable *groups;
	uint64		ngroups;
	uint64		i;
	int64		expired = 0;

	mq_query("SELECT DISTINCT group_id FROM mq.member"
			 " WHERE last_seen + session_timeout < now() ORDER BY group_id",
			 0, NULL, NULL, NULL, false);
	groups = SPI_tuptable;
	ngroups = SPI_processed;
	for (i = 0; i < ngroups; i++)
	{
		bool		isnull;
		Oid			type = INT4OID;
		Datum		arg = SPI_getbinval(groups->vals[i], groups->tupdesc, 1,
										&isnull);
		uint64		n;

		if (mq_query("SELECT 1 FROM mq.consumer_group WHERE group_id = $1"
					 " FOR UPDATE", 1, &type, &arg, NULL, false) == 0)
			continue;
		n = expire_group(DatumGetInt32(arg), NULL);
		if (n > 0)
			rebalance(DatumGetInt32(arg));
		expired += n;
	}
	return expired;
}

/*
 * mq_expire_members
 *		SQL: mq.expire_members(); the worker calls it on every pass.
 */
Datum
mq_expire_members(PG_FUNCTION_ARGS)
{
	int64		expired;

	SPI_connect();
	expired = group_expire_all();
	SPI_finish();
	PG_RETURN_INT32((int32) expired);
}

/*
 * mq_group_topic_grown
 *		Partitions [from, to) were added to a topic: give every position
 *		holder of the topic a position at the start of each, and rebalance
 *		the groups that have members.  The caller is connected to SPI.
 */
void
mq_group_topic_grown(int32 topic_id, int32 from, int32 to)
{
	Oid			types[3] = {INT4OID, INT4OID, INT4OID};
	Datum		args[3];
	SPITupleTable *groups;
	uint64		ngroups;
	uint64		i;

	args[0] = Int32GetDatum(topic_id);
	args[1] = Int32GetDatum(from);
	args[2] = Int32GetDatum(to - 1);
	mq_query("INSERT INTO mq.position"
			 " (group_id, topic_id, partition, member_id, next_offset)"
			 " SELECT h.group_id, $1, p, h.member_id, 0"
			 " FROM (SELECT DISTINCT group_id, member_id FROM mq.position"
			 "        WHERE topic_id = $1) h,"
			 " generate_series($2, $3) p"
			 " ON CONFLICT DO NOTHING",
			 3, types, args, NULL, false);

	mq_query("SELECT g.group_id FROM mq.consumer_group g"
			 " WHERE EXISTS (SELECT 1 FROM mq.subscription s"
			 "                WHERE s.group_id = g.group_id AND s.topic_id = $1"
			 "                  AND s.mode = 'clustering')"
			 " AND EXISTS (SELECT 1 FROM mq.member m WHERE m.group_id = g.group_id)"
			 " ORDER BY g.group_id FOR UPDATE OF g",
			 1, types, args, NULL, false);
	groups = SPI_tuptable;
	ngroups = SPI_processed;
	for (i = 0; i < ngroups; i++)
	{
		bool		isnull;

		rebalance(DatumGetInt32(SPI_getbinval(groups->vals[i],
											  groups->tupdesc, 1, &isnull)));
	}
}

/*
 * mq_group_expire_pass
 *		The worker's job: expire members.  Runs in the worker's transaction.
 *		Returns how many members expired.
 */
int
mq_group_expire_pass(void)
{
	int			expired;

	SPI_connect();
	expired = group_expire_all();
	SPI_finish();
	return expired;
}
