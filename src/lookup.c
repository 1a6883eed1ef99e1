/*-------------------------------------------------------------------------
 *
 * lookup.c
 *	  Reading the log: mq.read, and lookups by offset, id, key and time.
 *
 * A reader first reads the partition's stable offset, then reads messages
 * strictly below it with a snapshot taken afterwards (SPI takes a new one
 * for each query in READ COMMITTED).  Every transaction that was assigned
 * an offset below the stable offset had ended before the stable offset
 * was read, so that snapshot sees all of those that committed: a reader
 * that moves on to the stable offset never skips a message.  In REPEATABLE
 * READ or SERIALIZABLE the transaction's snapshot may predate the stable
 * offset, so those levels are refused.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/lookup.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "offsets.h"
#include "query.h"
#include "segment.h"
#include "settings.h"
#include "topic.h"

/* Parameter types of the SPI queries below. */
static Oid	read_types[4] = {INT4OID, INT8OID, INT8OID, INT8OID};

PG_FUNCTION_INFO_V1(mq_read);
PG_FUNCTION_INFO_V1(mq_get);
PG_FUNCTION_INFO_V1(mq_get_by_id);
PG_FUNCTION_INFO_V1(mq_get_by_key);
PG_FUNCTION_INFO_V1(mq_get_by_time);

/*
 * mq_read
 *		SQL: mq.read(topic, partition, from_offset, max) returns up to max
 *		committed messages of the partition, from from_offset on, strictly
 *		below its stable offset, in offset order.
 */
Datum
mq_read(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = mq_topic_name_arg(fcinfo, 0);
	MqTopicInfo topic;
	int32		partition;
	int64		from;
	int32		max;
	int64		stable;
	Datum		args[4];
	MqSegmentScan scan;
	Oid			relid;
	const char *segment;
	int64		returned = 0;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("partition, from_offset and max must not be null")));
	partition = PG_GETARG_INT32(1);
	from = PG_GETARG_INT64(2);
	max = PG_GETARG_INT32(3);

	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("mq.read cannot run in a REPEATABLE READ or SERIALIZABLE transaction"),
				 errdetail("Its snapshot may predate the partition's stable offset, so messages could be missed."),
				 errhint("Read in a READ COMMITTED transaction.")));
	if (from < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("from_offset must not be negative")));
	if (max < 1 || max > MQ_MAX_BATCH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max must be between 1 and %d", MQ_MAX_BATCH)));

	/*
	 * A standby's shared memory does not follow the primary's commits: its
	 * stable offset would let a reader pass offsets that commit later.
	 */
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot read topic \"%s\" during recovery", name),
				 errhint("Read on the primary.")));

	mq_topic_get(name, &topic);
	mq_topic_check_access(&topic, MQ_ACCESS_READ);
	mq_topic_check_partition(&topic, partition);

	InitMaterializedSRF(fcinfo, 0);

	/* The stable offset first; the snapshot of each query below after it. */
	if (!mq_offsets_stable(topic.topic_id, partition, &stable, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("topic \"%s\" was dropped", name)));
	if (from >= stable)
		return (Datum) 0;

	SPI_connect();
	mq_segment_scan_begin(&scan, topic.topic_id, false);

	args[0] = Int32GetDatum(partition);
	args[2] = Int64GetDatum(stable);
	while (returned < max && mq_segment_scan_next(&scan, &relid, &segment))
	{
		char	   *query;
		uint64		i;

		args[1] = Int64GetDatum(from);
		args[3] = Int64GetDatum(max - returned);
		query = psprintf("SELECT \"offset\", id, key, tag, headers, payload,"
						 " CASE payload_type WHEN 't' THEN 'text'"
						 "  WHEN 'j' THEN 'jsonb' ELSE 'bytea' END,"
						 " produced_at"
						 " FROM %s"
						 " WHERE partition = $1 AND \"offset\" >= $2"
						 " AND \"offset\" < $3"
						 " ORDER BY \"offset\" LIMIT $4", segment);
		mq_query_once(query, 4,
					  read_types,
					  args, NULL, false, 0);
		for (i = 0; i < SPI_processed; i++)
		{
			Datum		values[8];
			bool		nulls[8];
			int			c;

			for (c = 0; c < 8; c++)
				values[c] = SPI_getbinval(SPI_tuptable->vals[i],
										  SPI_tuptable->tupdesc, c + 1,
										  &nulls[c]);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
								 values, nulls);
			from = DatumGetInt64(values[0]) + 1;
			returned++;
		}
	}
	mq_segment_scan_end(&scan);
	SPI_finish();

	return (Datum) 0;
}

/*
 * lookup
 *		Run query against the topic's segment tables, newest first if
 *		newest_first, until max rows were returned; put each row (partition,
 *		offset, id, key, tag, headers, payload, payload_type, produced_at)
 *		into the function's result.  query has a %s for the segment table;
 *		$1 is arg, $2 the number of rows still wanted.  Each segment is
 *		searched through its indexes.
 */
static void
lookup(FunctionCallInfo fcinfo, const MqTopicInfo *topic, const char *query,
	   Oid argtype, Datum arg, Datum arg2, Oid arg2type, int32 max,
	   bool newest_first)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MqSegmentScan scan;
	Oid			relid;
	const char *segment;
	int64		returned = 0;

	if (rsinfo->setResult == NULL)
		InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	mq_segment_scan_begin(&scan, topic->topic_id, newest_first);
	while (returned < max && mq_segment_scan_next(&scan, &relid, &segment))
	{
		Oid			types[3] = {argtype, INT8OID, arg2type};
		Datum		args[3] = {arg, Int64GetDatum(max - returned), arg2};
		uint64		i;

		mq_query_once(psprintf(query, segment),
					  OidIsValid(arg2type) ? 3 : 2, types, args,
					  NULL, false, 0);
		for (i = 0; i < SPI_processed; i++)
		{
			Datum		values[9];
			bool		nulls[9];
			int			c;

			for (c = 0; c < 9; c++)
				values[c] = SPI_getbinval(SPI_tuptable->vals[i],
										  SPI_tuptable->tupdesc, c + 1,
										  &nulls[c]);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
								 values, nulls);
			returned++;
		}
	}
	mq_segment_scan_end(&scan);
	SPI_finish();
}

#define LOOKUP_COLUMNS \
	"SELECT partition, \"offset\", id, key, tag, headers, payload," \
	" CASE payload_type WHEN 't' THEN 'text'" \
	"  WHEN 'j' THEN 'jsonb' ELSE 'bytea' END, produced_at FROM %s "

/*
 * lookup_topic
 *		The topic of a lookup function (argument 0), checked for reading.
 */
static void
lookup_topic(FunctionCallInfo fcinfo, MqTopicInfo *topic, int nargs)
{
	char	   *name = mq_topic_name_arg(fcinfo, 0);
	int			i;

	for (i = 1; i < nargs; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument %d of this mq lookup must not be null",
							i + 1)));
	mq_topic_get(name, topic);
	mq_topic_check_access(topic, MQ_ACCESS_READ);
}

static int32
max_arg(FunctionCallInfo fcinfo, int argno)
{
	int32		max = PG_GETARG_INT32(argno);

	if (max < 1 || max > MQ_MAX_BATCH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max must be between 1 and %d", MQ_MAX_BATCH)));
	return max;
}

/*
 * mq_get
 *		SQL: mq.get(topic, partition, offset) returns the committed message
 *		at that offset, if any (through the primary key).
 */
Datum
mq_get(PG_FUNCTION_ARGS)
{
	MqTopicInfo topic;
	int32		partition;

	lookup_topic(fcinfo, &topic, 3);
	partition = PG_GETARG_INT32(1);
	mq_topic_check_partition(&topic, partition);
	lookup(fcinfo, &topic,
		   LOOKUP_COLUMNS "WHERE partition = $3 AND \"offset\" = $1 LIMIT $2",
		   INT8OID, PG_GETARG_DATUM(2), Int32GetDatum(partition), INT4OID,
		   1, false);
	return (Datum) 0;
}

/*
 * mq_get_by_id
 *		SQL: mq.get_by_id(topic, id) returns the message with that id.
 *
 * mq's ids are UUIDv7: their first 48 bits are the millisecond the message
 * was sent, which is its produced_at or at most a few milliseconds later
 * (when a backend sends more than 4096 messages in a millisecond).  So the
 * BRIN index on produced_at finds the message, and no index on id has to
 * be maintained on the write path.  A message that entered the log later
 * than it was sent (delayed, retried, or a half message) is found by a
 * second search through what was produced since its id's time, whose cost
 * grows with that time.  Ids that are not version 7 find nothing.
 */
Datum
mq_get_by_id(PG_FUNCTION_ARGS)
{
	MqTopicInfo topic;
	pg_uuid_t  *id;
	int64		ms = 0;
	TimestampTz at;
	int			i;

	lookup_topic(fcinfo, &topic, 2);
	id = PG_GETARG_UUID_P(1);
	InitMaterializedSRF(fcinfo, 0);
	if ((id->data[6] >> 4) != 7)
		return (Datum) 0;
	for (i = 0; i < 6; i++)
		ms = (ms << 8) | id->data[i];
	at = (ms - (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000) * 1000;

	lookup(fcinfo, &topic,
		   LOOKUP_COLUMNS "WHERE produced_at BETWEEN $3 - interval '1 minute'"
		   " AND $3 + interval '1 millisecond' AND id = $1 LIMIT $2",
		   UUIDOID, UUIDPGetDatum(id), TimestampTzGetDatum(at),
		   TIMESTAMPTZOID, 1, false);

	/*
	 * A message that entered the log after it was sent (a delayed message, a
	 * retry, a half message committed later) was produced after its id's
	 * time: look through everything produced since.
	 */
	if (tuplestore_tuple_count(((ReturnSetInfo *) fcinfo->resultinfo)->setResult) == 0)
		lookup(fcinfo, &topic,
			   LOOKUP_COLUMNS "WHERE produced_at >= $3 AND id = $1 LIMIT $2",
			   UUIDOID, UUIDPGetDatum(id), TimestampTzGetDatum(at),
			   TIMESTAMPTZOID, 1, false);
	return (Datum) 0;
}

/*
 * mq_get_by_key
 *		SQL: mq.get_by_key(topic, key, max) returns the max most recent
 *		messages with that key, newest first (through the index on key and
 *		time).
 */
Datum
mq_get_by_key(PG_FUNCTION_ARGS)
{
	MqTopicInfo topic;

	lookup_topic(fcinfo, &topic, 3);
	lookup(fcinfo, &topic,
		   LOOKUP_COLUMNS "WHERE key = $1 ORDER BY produced_at DESC,"
		   " partition DESC, \"offset\" DESC LIMIT $2",
		   TEXTOID, PG_GETARG_DATUM(1), (Datum) 0, InvalidOid,
		   max_arg(fcinfo, 2), true);
	return (Datum) 0;
}

/*
 * mq_get_by_time
 *		SQL: mq.get_by_time(topic, from, to, max) returns up to max messages
 *		produced in [from, to), oldest first (through the BRIN index on
 *		time).
 */
Datum
mq_get_by_time(PG_FUNCTION_ARGS)
{
	MqTopicInfo topic;

	lookup_topic(fcinfo, &topic, 4);
	if (PG_GETARG_TIMESTAMPTZ(2) < PG_GETARG_TIMESTAMPTZ(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the end of the time range is before its start")));
	lookup(fcinfo, &topic,
		   LOOKUP_COLUMNS "WHERE produced_at >= $1 AND produced_at < $3"
		   " ORDER BY produced_at, partition, \"offset\" LIMIT $2",
		   TIMESTAMPTZOID, PG_GETARG_DATUM(1), PG_GETARG_DATUM(2),
		   TIMESTAMPTZOID, max_arg(fcinfo, 3), false);
	return (Datum) 0;
}
