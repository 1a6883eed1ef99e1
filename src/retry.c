/*-------------------------------------------------------------------------
 *
 * retry.c
 *	  Retries with back-off and dead letters: mq.nack and mq.replay_dlq.
 *
 * A consumer that cannot handle a message hands it back with mq.nack, in
 * the transaction in which it consumes (so that a rollback undoes the nack
 * with the rest).  What happens depends on the subscription:
 *
 * - Normally (RocketMQ's concurrent consumption) the group's position
 *   moves on, and a copy of the message is scheduled as a delayed message
 *   to the group's retry topic "<group>.retry", which the group is
 *   subscribed to: only this group gets it again.  The copy carries the
 *   headers "mq.attempt" (deliveries that failed so far) and
 *   "mq.origin_topic", "mq.origin_partition", "mq.origin_offset",
 *   "mq.origin_id".  The delay is the one given, else RocketMQ's back-off:
 *   delay level 3 + the attempt (10 s, 30 s, 1 min, 2 min, ... 2 h).
 * - With ordered => true the message is retried in place: the position
 *   goes back to it, so it comes again before anything after it in its
 *   partition.  Failed deliveries are counted in the position (attempts).
 *
 * After max_retries retries (per subscription) the message goes to the
 * group's dead-letter topic "<group>.dlq" instead: a normal topic with one
 * partition, which mq.dead_letters lists and mq.replay_dlq sends back
 * through the retry topic.  The retry and dead-letter topics are created
 * on first use, by the consumer's role.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/retry.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "clock.h"
#include "delay.h"
#include "group.h"
#include "message.h"
#include "metrics.h"
#include "position.h"
#include "produce.h"
#include "query.h"
#include "retry.h"
#include "settings.h"
#include "topic.h"

PG_FUNCTION_INFO_V1(mq_nack);
PG_FUNCTION_INFO_V1(mq_nack_batch);
PG_FUNCTION_INFO_V1(mq_replay_dlq);

/* max_retries of a message whose subscription is gone: the default. */
#define DEFAULT_MAX_RETRIES		16

/* qsort comparator of int64 */
static int
compare_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/*
 * The delay level of a first retry without an explicit delay: RocketMQ's
 * level 3 (10 s); each later attempt goes one level up.
 */
#define MQ_RETRY_FIRST_LEVEL	3

/* Dead letters mq.replay_dlq reads per query. */
#define MQ_REPLAY_CHUNK		1000

/* A message handed back, as read from its topic. */
typedef struct Nacked
{
	MqMessage	msg;			/* its content, partition -1 */
	int32		attempt;		/* its "mq.attempt" header, 0 if none */
	char	   *origin;			/* its "mq.origin_topic", NULL if none */
} Nacked;

/*
 * group_topic_name
 *		The name of the group's topic with suffix (".retry" or ".dlq").
 */
static char *
group_topic_name(const MqGroupInfo *group, const char *suffix)
{
	if (strlen(group->name) + strlen(suffix) > MQ_NAME_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("consumer group name \"%s\" is too long for its topic \"%s%s\"",
						group->name, group->name, suffix),
				 errdetail("Topic names have at most %d characters.", MQ_NAME_MAX)));
	return psprintf("%s%s", group->name, suffix);
}

/*
 * check_own_topic
 *		Topic name, the group's retry or dead-letter topic, must be the
 *		group's own: owned by the group's owner, as when its first nack
 *		made it.  mq writes and reads it as the extension's owner on the
 *		group's behalf, so a topic of that name that another role owns
 *		(made by hand, or left by a dropped group of that name) is refused
 *		rather than read or written.  The caller is connected to SPI.
 */
static void
check_own_topic(const MqGroupInfo *group, const char *name)
{
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		args[2];
	bool		isnull;

	args[0] = CStringGetTextDatum(name);
	args[1] = Int32GetDatum(group->group_id);
	if (mq_query("SELECT t.owner, g.owner FROM mq.topic t, mq.consumer_group g"
				 " WHERE t.name OPERATOR(pg_catalog.=) $1"
				 " AND g.group_id OPERATOR(pg_catalog.=) $2"
				 " AND t.owner OPERATOR(pg_catalog.<>) g.owner",
				 2, types, args, NULL, false) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("topic \"%s\" is not consumer group \"%s\"'s own", name,
						group->name),
				 errdetail("Its owner is role \"%s\"; the group's owner is role \"%s\".",
						   TextDatumGetCString(mq_query_value(0, 1, &isnull)),
						   TextDatumGetCString(mq_query_value(0, 2, &isnull))),
				 errhint("Give it to the group's owner with mq.alter_topic_owner(), or drop it.")));
}

/*
 * ensure_group_topic
 *		Load the group's topic name, creating it with the given partitions
 *		if it does not exist, and subscribing the group to it from its
 *		earliest offset if subscribe.  Concurrent callers of a group are
 *		serialised on its row, so only one creates.  The caller is
 *		connected to SPI.
 */
static void
ensure_group_topic(const MqGroupInfo *group, const char *name,
				   int32 partitions, bool subscribe, MqTopicInfo *topic)
{
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		args[2];
	const char *exists = subscribe ?
	"SELECT 1 FROM mq.subscription s JOIN mq.topic t USING (topic_id)"
	" WHERE t.name OPERATOR(pg_catalog.=) $1"
	" AND s.group_id OPERATOR(pg_catalog.=) $2" :
	"SELECT 1 FROM mq.topic t WHERE t.name OPERATOR(pg_catalog.=) $1"
	" AND $2 IS NOT NULL";

	args[0] = CStringGetTextDatum(name);
	args[1] = Int32GetDatum(group->group_id);
	if (mq_query(exists, 2, types, args, NULL, false) == 0)
	{
		mq_query("SELECT 1 FROM mq.consumer_group"
				 " WHERE group_id OPERATOR(pg_catalog.=) $2 FOR NO KEY UPDATE",
				 2, types, args, NULL, false);
		if (mq_query(exists, 2, types, args, NULL, false) == 0)
		{
			args[1] = Int32GetDatum(partitions);
			if (mq_query("SELECT 1 FROM mq.topic"
						 " WHERE name OPERATOR(pg_catalog.=) $1 AND $2 IS NOT NULL",
						 2, types, args, NULL, false) == 0)
			{
				/* the group's own topic: its owner's */
				mq_query("SELECT mq.create_topic($1, partitions => $2)",
						 2, types, args, NULL, false);
				args[1] = Int32GetDatum(group->group_id);
				mq_query("UPDATE mq.topic SET owner = g.owner"
						 " FROM mq.consumer_group g"
						 " WHERE g.group_id OPERATOR(pg_catalog.=) $2"
						 " AND mq.topic.name OPERATOR(pg_catalog.=) $1",
						 2, types, args, NULL, false);
			}
			check_own_topic(group, name);
			if (subscribe)
				mq_group_subscribe_quietly(group->name, name);
		}
	}
	check_own_topic(group, name);
	mq_topic_get(name, topic);
}

/*
 * read_nacked
 *		Read the message at offset of the topic's partition into *m.  The
 *		caller is connected to SPI.
 */
static void
read_nacked(const MqTopicInfo *topic, int32 partition, int64 offset,
			Nacked *m)
{
	static const MqMessageColumns cols = {
		.id = 1,.key = 2,.tag = 3,.headers = 4,.payload = 5,.delivered = true,
		.payload_type = 8
	};
	Oid			types[3] = {TEXTOID, INT4OID, INT8OID};
	Datum		args[3];
	HeapTuple	tup;
	TupleDesc	desc;
	char	   *attempt;

	args[0] = CStringGetTextDatum(topic->name);
	args[1] = Int32GetDatum(partition);
	args[2] = Int64GetDatum(offset);
	if (mq_query("SELECT g.id, g.key, g.tag, g.headers, g.payload_json,"
				 " g.payload_text, g.payload_bytes, g.payload_type,"
				 " g.headers OPERATOR(pg_catalog.->>) 'mq.attempt',"
				 " g.headers OPERATOR(pg_catalog.->>) 'mq.origin_topic'"
				 " FROM mq.get($1, $2, $3) g",
				 3, types, args, NULL, false) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("partition %d of topic \"%s\" has no message at offset %lld",
						partition, topic->name, (long long) offset),
				 errdetail("The offset may be past the stable offset, a hole left by an aborted producer, or removed by retention.")));
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	mq_message_from_row(tup, desc, &cols, &m->msg);
	attempt = SPI_getvalue(tup, desc, 9);
	m->attempt = 0;
	if (attempt != NULL)
	{
		char	   *end;
		long		v = strtol(attempt, &end, 10);

		/* a header is producer data: take only a sane count */
		if (*end == '\0' && end != attempt && v > 0 && v <= MQ_MAX_ATTEMPTS)
			m->attempt = (int32) v;
	}
	m->origin = SPI_getvalue(tup, desc, 10);
}

/*
 * retry_headers
 *		The headers of a copy of m for delivery attempt + 1: m's headers
 *		with "mq.attempt" set, and the origin headers added unless m is
 *		already a retry.  The caller is connected to SPI.
 */
static Jsonb *
retry_headers(const Nacked *m, int32 attempt, const MqTopicInfo *topic,
			  int32 partition, int64 offset)
{
	Oid			types[6] = {JSONBOID, INT4OID, TEXTOID, INT4OID, INT8OID, UUIDOID};
	Datum		args[6];
	char		nulls[6] = "      ";
	bool		isnull;

	args[0] = PointerGetDatum(m->msg.headers);
	nulls[0] = m->msg.headers == NULL ? 'n' : ' ';
	args[1] = Int32GetDatum(attempt);
	args[2] = CStringGetTextDatum(topic->name);
	args[3] = Int32GetDatum(partition);
	args[4] = Int64GetDatum(offset);
	args[5] = UUIDPGetDatum(&m->msg.id);
	mq_query(m->origin != NULL ?
			 "SELECT $1 OPERATOR(pg_catalog.||)"
			 " pg_catalog.jsonb_build_object('mq.attempt', $2)"
			 " WHERE $3 IS NOT NULL AND $4 IS NOT NULL AND $5 IS NOT NULL"
			 " AND $6 IS NOT NULL" :
			 "SELECT coalesce($1, '{}'::pg_catalog.jsonb) OPERATOR(pg_catalog.||)"
			 " pg_catalog.jsonb_build_object('mq.attempt', $2,"
			 " 'mq.origin_topic', $3, 'mq.origin_partition', $4,"
			 " 'mq.origin_offset', $5, 'mq.origin_id', $6)",
			 6, types, args, nulls, false);
	return DatumGetJsonbPCopy(SPI_getbinval(SPI_tuptable->vals[0],
											SPI_tuptable->tupdesc, 1,
											&isnull));
}

/*
 * dead_letter
 *		Send m, with its failed deliveries counted in its headers, to the
 *		group's dead-letter topic in the current transaction.
 */
static void
dead_letter(const MqGroupInfo *group, const Nacked *m, int32 attempts,
			const MqTopicInfo *topic, int32 partition, int64 offset)
{
	MqTopicInfo dlq;
	MqMessage	copy = m->msg;

	ensure_group_topic(group, group_topic_name(group, MQ_DLQ_SUFFIX), 1,
					   false, &dlq);
	mq_produce_new_id(&copy.id);
	copy.partition = 0;
	copy.headers = retry_headers(m, attempts, topic, partition, offset);
	mq_produce_buffer(&dlq, &copy);
	mq_metrics_count(topic->topic_id, group->group_id,
					 MQ_METRIC_DEAD_LETTERED, 1, 0);
}

/*
 * mq_retry_dead_letter
 *		Send message m of topic's partition at offset, delivered attempts
 *		times, to the group's dead-letter topic in the current transaction
 *		(for shared subscriptions, share.c).  The caller is connected to
 *		SPI.
 */
void
mq_retry_dead_letter(const MqGroupInfo *group, const MqMessage *m,
					 int32 attempts, const MqTopicInfo *topic,
					 int32 partition, int64 offset)
{
	Nacked		n;

	memset(&n, 0, sizeof(n));
	n.msg = *m;
	n.msg.partition = -1;
	dead_letter(group, &n, attempts, topic, partition, offset);
}

/*
 * nack_target
 *		The group and topic of a nack, checked: the caller's access, the
 *		member's generation, a clustering subscription, and a writable
 *		transaction.  Arguments: group 0, topic 1, member_id 5, generation
 *		6.  The caller is connected to SPI.
 */
static void
nack_target(FunctionCallInfo fcinfo, MqGroupInfo *group, MqTopicInfo *topic)
{
	const char *member_id;

	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot nack a message in a read-only transaction")));
	member_id = mq_position_target(fcinfo, group, topic, 5, 6);
	if (member_id[0] != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("consumer group \"%s\" reads topic \"%s\" in broadcasting mode, which has no retries",
						group->name, topic->name),
				 errhint("Each member has its own position: seek back to deliver a message again.")));
}

/*
 * nack_one
 *		Hand back the message at offset of the topic's partition for the
 *		group, after delay (NULL: the back-off).  Returns 'retry',
 *		'in_place' or 'dlq'.  The caller is connected to SPI and has run
 *		nack_target().
 */
static const char *
nack_one(const MqGroupInfo *group, const MqTopicInfo *topic, int32 partition,
		 int64 offset, Interval *delay)
{
	Nacked		m;
	char	   *retry_name;
	bool		is_retry;
	int32		max_retries = DEFAULT_MAX_RETRIES;
	bool		ordered = false;
	Oid			types[3] = {INT4OID, TEXTOID, INT4OID};
	Datum		args[3];
	bool		isnull;

	mq_topic_check_partition(topic, partition);
	read_nacked(topic, partition, offset, &m);
	mq_metrics_count(topic->topic_id, group->group_id, MQ_METRIC_NACKED, 1, 0);

	/* the subscription that delivered it first decides */
	retry_name = group_topic_name(group, MQ_RETRY_SUFFIX);
	is_retry = strcmp(topic->name, retry_name) == 0;
	if (!is_retry)
	{
		/* only mq's own retries count attempts and carry an origin */
		m.attempt = 0;
		m.origin = NULL;
	}
	args[0] = Int32GetDatum(group->group_id);
	args[1] = CStringGetTextDatum(is_retry && m.origin ? m.origin : topic->name);
	if (mq_query("SELECT s.max_retries, s.ordered FROM mq.subscription s"
				 " JOIN mq.topic t USING (topic_id)"
				 " WHERE s.group_id OPERATOR(pg_catalog.=) $1"
				 " AND t.name OPERATOR(pg_catalog.=) $2",
				 2, types, args, NULL, false) > 0)
	{
		max_retries = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
												  SPI_tuptable->tupdesc, 1,
												  &isnull));
		ordered = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 2,
											 &isnull));
	}

	if (ordered && !is_retry)
	{
		Oid			ptypes[4] = {INT4OID, INT4OID, INT4OID, INT8OID};
		Datum		pargs[4];
		int32		attempts;
		int			rewound;

		/*
		 * Only the transaction that holds the partition can say where its
		 * consumer stopped: elsewhere, going back to one message could skip
		 * another one handed back before it.
		 */
		rewound = mq_position_rewind(group->group_id, topic->topic_id, partition,
									 "", offset, false);
		if (rewound < 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("consumer group \"%s\" reads topic \"%s\" in order: a message of partition %d can be handed back only in the transaction that fetched it",
							group->name, topic->name, partition),
					 errhint("Fetch and nack in one transaction block.")));

		pargs[0] = Int32GetDatum(group->group_id);
		pargs[1] = Int32GetDatum(topic->topic_id);
		pargs[2] = Int32GetDatum(partition);
		pargs[3] = Int64GetDatum(offset);
		mq_query("SELECT CASE WHEN next_offset OPERATOR(pg_catalog.=) $4"
				 " THEN attempts ELSE 0 END FROM mq.position"
				 " WHERE group_id OPERATOR(pg_catalog.=) $1"
				 " AND topic_id OPERATOR(pg_catalog.=) $2"
				 " AND partition OPERATOR(pg_catalog.=) $3 AND member_id = ''",
				 4, ptypes, pargs, NULL, false);
		attempts = SPI_processed > 0 ?
			DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 1, &isnull)) : 0;

		/*
		 * An earlier nack in this transaction sent the partition back to a
		 * message before this one: this one comes again after it anyway.
		 */
		if (rewound == 0)
			return "in_place";
		if (attempts >= max_retries)
		{
			/* used up: to the dead letters, and the partition moves on */
			dead_letter(group, &m, attempts + 1, topic, partition, offset);
			return "dlq";
		}
		(void) mq_position_rewind(group->group_id, topic->topic_id, partition,
								  "", offset, true);

		/*
		 * The messages before it were handled: what the position moves
		 * forward counts as acknowledged.
		 */
		if (mq_query("UPDATE mq.position SET next_offset = $4,"
					 " attempts = CASE WHEN next_offset OPERATOR(pg_catalog.=) $4"
					 "  THEN attempts OPERATOR(pg_catalog.+) 1 ELSE 1 END,"
					 " committed_at = pg_catalog.now(), lease_owner = NULL,"
					 " lease_to = NULL, lease_until = NULL"
					 " WHERE group_id OPERATOR(pg_catalog.=) $1"
					 " AND topic_id OPERATOR(pg_catalog.=) $2"
					 " AND partition OPERATOR(pg_catalog.=) $3 AND member_id = ''"
					 " RETURNING GREATEST($4 OPERATOR(pg_catalog.-)"
					 "  (SELECT next_offset FROM mq.position"
					 "   WHERE group_id OPERATOR(pg_catalog.=) $1"
					 "   AND topic_id OPERATOR(pg_catalog.=) $2"
					 "   AND partition OPERATOR(pg_catalog.=) $3"
					 "   AND member_id = ''), 0)",
					 4, ptypes, pargs, NULL, false) > 0)
			mq_metrics_count(topic->topic_id, group->group_id,
							 MQ_METRIC_ACKNOWLEDGED,
							 DatumGetInt64(mq_query_value(0, 1, &isnull)), 0);
		return "in_place";
	}

	if (m.attempt >= max_retries)
	{
		dead_letter(group, &m, m.attempt + 1, topic, partition, offset);
		return "dlq";
	}

	{
		MqTopicInfo retry;
		MqMessage	copy = m.msg;
		TimestampTz now = mq_clock_now();
		TimestampTz due;

		if (delay != NULL)
			due = mq_due_after(now, delay, "delay");
		else
			due = now + mq_delay_level_usecs(Min(MQ_RETRY_FIRST_LEVEL + m.attempt,
												 MQ_DELAY_LEVELS));

		ensure_group_topic(group, retry_name, topic->partitions, true, &retry);
		mq_produce_new_id(&copy.id);
		copy.partition = -1;
		copy.headers = retry_headers(&m, m.attempt + 1, topic, partition,
									 offset);
		mq_delay_store(&retry, &copy, due);
		return "retry";
	}
}

/*
 * mq_nack
 *		SQL: mq.nack(group, topic, partition, offset, delay, member_id,
 *		generation) hands a message back for a later delivery to this group
 *		only, in the current transaction.  Returns 'retry' (scheduled on
 *		the group's retry topic), 'in_place' (ordered subscription: the
 *		position went back to it) or 'dlq' (sent to the dead-letter topic,
 *		max_retries being used up).
 */
Datum
mq_nack(PG_FUNCTION_ARGS)
{
	MqGroupInfo group;
	MqTopicInfo topic;
	const char *result;

	if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("partition and offset must not be null")));
	SPI_connect();
	nack_target(fcinfo, &group, &topic);
	result = nack_one(&group, &topic, PG_GETARG_INT32(2), PG_GETARG_INT64(3),
					  PG_ARGISNULL(4) ? NULL : PG_GETARG_INTERVAL_P(4));
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(result));
}

/*
 * mq_nack_batch
 *		SQL: mq.nack_batch(group, topic, partition, offsets, delay,
 *		member_id, generation) hands back several messages of a partition
 *		at once, in offset order; returns each offset with what happened
 *		to it, as mq.nack does.
 */
Datum
mq_nack_batch(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MqGroupInfo group;
	MqTopicInfo topic;
	ArrayType  *array;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	int64	   *offsets;

	if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("partition and offsets must not be null")));
	array = PG_GETARG_ARRAYTYPE_P(3);
	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("offsets must be a one-dimensional array")));
	deconstruct_array(array, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, &n);
	offsets = palloc(sizeof(int64) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("offset %d of the batch is null", i + 1)));
		offsets[i] = DatumGetInt64(elems[i]);
	}
	qsort(offsets, n, sizeof(int64), compare_int64);

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	nack_target(fcinfo, &group, &topic);
	for (i = 0; i < n; i++)
	{
		Datum		values[2];
		bool		isnull[2] = {0};

		if (i > 0 && offsets[i] == offsets[i - 1])
			continue;
		values[0] = Int64GetDatum(offsets[i]);
		values[1] = CStringGetTextDatum(nack_one(&group, &topic,
												 PG_GETARG_INT32(2),
												 offsets[i],
												 PG_ARGISNULL(4) ? NULL :
												 PG_GETARG_INTERVAL_P(4)));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values,
							 isnull);
	}
	SPI_finish();
	return (Datum) 0;
}

/*
 * mq_replay_dlq
 *		SQL: mq.replay_dlq(group, max) sends the group's dead letters that
 *		were not replayed yet, oldest first and at most max (NULL: all),
 *		back to the group through its retry topic, at once and with their
 *		attempts reset.  Returns how many.  The dead letters stay in the
 *		dead-letter topic until retention removes them; the group
 *		remembers how far it replayed (mq.dead_letters shows it).
 */
Datum
mq_replay_dlq(PG_FUNCTION_ARGS)
{
	MqGroupInfo group;
	MqTopicInfo retry;
	char	   *dlq_name;
	int64		max = PG_ARGISNULL(1) ? PG_INT64_MAX : PG_GETARG_INT32(1);
	int64		from;
	int64		replayed = 0;
	Oid			types[3] = {INT4OID, TEXTOID, INT8OID};
	Datum		args[3];
	bool		isnull;

	if (max < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max must be positive")));
	SPI_connect();
	mq_group_get(mq_group_access_arg(fcinfo, 0, MQ_PRIV_CONSUME), &group);
	dlq_name = group_topic_name(&group, MQ_DLQ_SUFFIX);
	args[0] = Int32GetDatum(group.group_id);
	args[1] = CStringGetTextDatum(dlq_name);
	if (mq_query("SELECT 1 FROM mq.topic WHERE name OPERATOR(pg_catalog.=) $2"
				 " AND $1 IS NOT NULL", 2, types, args, NULL, false) == 0)
	{
		SPI_finish();
		PG_RETURN_INT64(0);
	}
	check_own_topic(&group, dlq_name);
	ensure_group_topic(&group, group_topic_name(&group, MQ_RETRY_SUFFIX), 1,
					   true, &retry);
	mq_query("SELECT dlq_replayed FROM mq.consumer_group"
			 " WHERE group_id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
			 1, types, args, NULL, false);
	from = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
	while (replayed < max)
	{
		uint64		n;
		uint64		i;

		args[2] = Int64GetDatum(Min(max - replayed, MQ_REPLAY_CHUNK));
		types[2] = INT8OID;
		args[0] = Int64GetDatum(from);
		types[0] = INT8OID;
		n = mq_query("SELECT r.\"offset\", r.key, r.tag,"
					 " r.headers OPERATOR(pg_catalog.-) 'mq.attempt',"
					 " r.payload_json, r.payload_text, r.payload_bytes,"
					 " r.payload_type, r.id"
					 " FROM mq.read($2, 0, $1, $3::integer) r",
					 3, types, args, NULL, false);
		if (n == 0)
			break;
		for (i = 0; i < n; i++)
		{
			static const MqMessageColumns cols = {
				.id = 9,.key = 2,.tag = 3,.headers = 4,.payload = 5,
				.delivered = true,.payload_type = 8
			};
			HeapTuple	tup = SPI_tuptable->vals[i];
			MqMessage	m;

			from = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1,
											   &isnull)) + 1;
			mq_message_from_row(tup, SPI_tuptable->tupdesc, &cols, &m);
			mq_produce_new_id(&m.id);
			mq_produce_buffer(&retry, &m);
			replayed++;
		}
	}
	types[0] = INT4OID;
	args[0] = Int32GetDatum(group.group_id);
	types[2] = INT8OID;
	args[2] = Int64GetDatum(from);
	mq_query("UPDATE mq.consumer_group SET dlq_replayed = $3"
			 " WHERE group_id OPERATOR(pg_catalog.=) $1 AND $2 IS NOT NULL",
			 3, types, args, NULL, false);
	SPI_finish();
	PG_RETURN_INT64(replayed);
}
