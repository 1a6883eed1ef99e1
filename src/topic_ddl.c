/*-------------------------------------------------------------------------
 *
 * topic_ddl.c
 *	  Topic DDL: mq.create_topic, mq.alter_topic, mq.drop_topic and
 *	  mq.roll_segment.
 *
 * Topic DDL is serialised per topic by a FOR NO KEY UPDATE lock on its row
 * of mq.topic, which the worker's rolls and retention also take (skipping
 * a locked topic), so DDL on one topic never waits for DDL on another; a
 * drop's final DELETE takes the key lock only at its end, so that sends
 * whose inserts refer to the topic (FOR KEY SHARE) are not waited for while
 * the drop holds it.  Two creates of one name meet on mq.topic's unique
 * name.  The tables change in the caller's
 * transaction; the topic directory
 * (topic.c) follows when it ends.  Dropping a topic or adding partitions
 * changes what consumer groups read: groups get positions in new
 * partitions (group.c), and sessions forget the subscriptions they keep.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/topic_ddl.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "acl.h"
#include "codec.h"
#include "group.h"
#include "query.h"
#include "segment.h"
#include "settings.h"
#include "subscription.h"
#include "topic.h"

/* The smallest segment_bytes a topic may have (1 MB). */
#define MQ_MIN_SEGMENT_BYTES	(1024 * 1024)

/* Parameter types of the SPI queries below. */
static Oid	text_type = TEXTOID;
static Oid	int4_type = INT4OID;

PG_FUNCTION_INFO_V1(mq_create_topic);
PG_FUNCTION_INFO_V1(mq_drop_topic);
PG_FUNCTION_INFO_V1(mq_roll_segment);
PG_FUNCTION_INFO_V1(mq_alter_topic);

static int64
interval_usecs(Interval *iv)
{
	return iv->time + (int64) iv->day * USECS_PER_DAY +
		(int64) iv->month * DAYS_PER_MONTH * USECS_PER_DAY;
}

/*
 * check_ddl_access
 *		The access check of topic DDL: altering, rolling or dropping a topic
 *		needs the manage privilege on it (its owner has it).  A topic that
 *		does not exist passes: the caller reports it.
 */
static void
check_ddl_access(const char *name)
{
	mq_acl_check(MQ_OBJECT_TOPIC, name, MQ_PRIV_MANAGE);
}

/*
 * check_partition_count
 *		Refuse a partition count out of bounds.
 */
static void
check_partition_count(const char *name, int32 partitions)
{
	if (partitions < 1 || partitions > MQ_MAX_PARTITIONS_PER_TOPIC)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("topic \"%s\" cannot have %d partitions", name, partitions),
				 errdetail("A topic has 1 to %d partitions.",
						   MQ_MAX_PARTITIONS_PER_TOPIC)));
}

/*
 * check_topic_settings
 *		Refuse bad values among the settings mq.create_topic and
 *		mq.alter_topic share, at the same argument positions: retention (2),
 *		retention_bytes (3), segment_bytes (4), segment_age (5) and
 *		dedup_window (7).  NULL ones are not checked.
 */
static void
check_topic_settings(FunctionCallInfo fcinfo, const char *name)
{
	static const struct
	{
		int			argno;
		const char *setting;
	}			intervals[] = {{2, "retention"}, {5, "segment_age"}, {7, "dedup_window"}};
	size_t		i;

	for (i = 0; i < lengthof(intervals); i++)
	{
		int			argno = intervals[i].argno;

		if (!PG_ARGISNULL(argno) &&
			interval_usecs(PG_GETARG_INTERVAL_P(argno)) <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s of topic \"%s\" must be positive",
							intervals[i].setting, name)));
	}
	if (!PG_ARGISNULL(3) && PG_GETARG_INT64(3) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("retention_bytes of topic \"%s\" must be positive", name)));
	if (!PG_ARGISNULL(4) && PG_GETARG_INT64(4) < MQ_MIN_SEGMENT_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("segment_bytes of topic \"%s\" must be at least 1 MB", name)));
}

/*
 * interval_literal
 *		An interval datum as a quoted SQL literal.
 */
static char *
interval_literal(Datum interval)
{
	return quote_literal_cstr(DatumGetCString(DirectFunctionCall1(interval_out,
																  interval)));
}

/*
 * mq_create_topic
 *		SQL: mq.create_topic(name, partitions, retention, retention_bytes,
 *		segment_bytes, segment_age, notify, dedup_window, compression)
 *		returns the new topic's id.
 */
Datum
mq_create_topic(PG_FUNCTION_ARGS)
{
	char	   *name = mq_topic_name_arg(fcinfo, 0);
	int32		partitions;
	int64		segment_bytes;
	Datum		args[1];
	char	   *owner;
	int32		topic_id;
	MqCompression compression;
	bool		isnull;
	int			i;

	/* mq 0.1's mq.create_topic, before ALTER EXTENSION UPDATE, has 8 */
	for (i = 1; i < PG_NARGS(); i++)
	{
		/* only the retention settings may be NULL, meaning "no limit" */
		if (PG_ARGISNULL(i) && i != 2 && i != 3)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument %d of mq.create_topic must not be null", i + 1)));
	}
	partitions = PG_GETARG_INT32(1);
	segment_bytes = PG_GETARG_INT64(4);
	compression = PG_NARGS() > 8 ?
		mq_codec_compression(text_to_cstring(PG_GETARG_TEXT_PP(8))) :
		MQ_COMPRESSION_LZ4;

	check_partition_count(name, partitions);
	check_topic_settings(fcinfo, name);
	owner = mq_acl_caller_name();

	SPI_connect();
	mq_topic_check_version();

	args[0] = CStringGetTextDatum(name);

	mq_query("SELECT pg_catalog.nextval('mq.topic_id_seq')::integer",
			 0, NULL, NULL, NULL, false);
	topic_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));

	{
		Oid			types[11] = {TEXTOID, INT4OID, INT4OID, INTERVALOID,
		INT8OID, INT8OID, INTERVALOID, BOOLOID, INTERVALOID, TEXTOID, TEXTOID};
		Datum		values[11];
		char		valnulls[11];

		memset(valnulls, ' ', sizeof(valnulls));
		values[0] = args[0];
		values[1] = Int32GetDatum(topic_id);
		values[2] = Int32GetDatum(partitions);
		values[3] = PG_GETARG_DATUM(2);
		valnulls[3] = PG_ARGISNULL(2) ? 'n' : ' ';
		values[4] = PG_GETARG_DATUM(3);
		valnulls[4] = PG_ARGISNULL(3) ? 'n' : ' ';
		values[5] = Int64GetDatum(segment_bytes);
		values[6] = PG_GETARG_DATUM(5);
		values[7] = PG_GETARG_DATUM(6);
		values[8] = PG_GETARG_DATUM(7);
		values[9] = CStringGetTextDatum(mq_codec_compression_name(compression));
		values[10] = CStringGetTextDatum(owner);

		/*
		 * A create of the same name that has not committed yet makes this
		 * wait for it, then find the conflict.
		 */
		if (mq_query_once("INSERT INTO mq.topic (name, topic_id, partitions,"
						  " retention, retention_bytes, segment_bytes,"
						  " segment_age, notify, dedup_window, compression, owner)"
						  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
						  " ON CONFLICT (name) DO NOTHING",
						  11, types, values, valnulls, false, 0) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("topic \"%s\" already exists", name)));
	}

	mq_segment_create(topic_id, 0);
	mq_query_once(psprintf("INSERT INTO mq.partition (topic_id, partition)"
						   " SELECT %d, p FROM generate_series(0, %d) p",
						   topic_id, partitions - 1), 0, NULL, NULL, NULL, false, 0);

	SPI_finish();

	mq_topic_created(topic_id, name);
	mq_acl_changed();
	PG_RETURN_INT32(topic_id);
}

/*
 * mq_drop_topic
 *		SQL: mq.drop_topic(name, if_exists) drops the topic, its segments
 *		and its marks.  Returns whether there was a topic to drop.
 */
Datum
mq_drop_topic(PG_FUNCTION_ARGS)
{
	char	   *name = mq_topic_name_arg(fcinfo, 0);
	bool		if_exists = !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
	Datum		arg = CStringGetTextDatum(name);
	int32		topic_id;
	bool		isnull;

	check_ddl_access(name);
	SPI_connect();
	mq_query_once("SELECT topic_id FROM mq.topic WHERE name = $1"
				  " FOR NO KEY UPDATE",
				  1, &text_type, &arg, NULL, false, 1);
	if (SPI_processed == 0)
	{
		SPI_finish();
		if (!if_exists)
			mq_topic_undefined(name);
		ereport(NOTICE,
				(errmsg("topic \"%s\" does not exist, skipping", name)));
		PG_RETURN_BOOL(false);
	}
	topic_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));

	mq_segment_for_each(topic_id, "DROP TABLE %s");
	arg = Int32GetDatum(topic_id);
	mq_subscription_changed();
	mq_query_once("DELETE FROM mq.topic WHERE topic_id = $1",
				  1, &int4_type, &arg, NULL, false, 0);
	mq_query_once("DELETE FROM mq.share_ack WHERE topic_id = $1",
				  1, &int4_type, &arg, NULL, false, 0);
	SPI_finish();

	mq_topic_dropped(topic_id, name);
	mq_acl_changed();
	PG_RETURN_BOOL(true);
}

/*
 * mq_roll_segment
 *		SQL: mq.roll_segment(topic) starts a new segment now and returns
 *		its number.
 */
Datum
mq_roll_segment(PG_FUNCTION_ARGS)
{
	char	   *name = mq_topic_name_arg(fcinfo, 0);

	check_ddl_access(name);
	PG_RETURN_INT32(mq_segment_roll(name, false));
}

/*
 * mq_alter_topic
 *		SQL: mq.alter_topic(name, partitions, retention, retention_bytes,
 *		segment_bytes, segment_age, notify, dedup_window,
 *		unlimited_retention, unlimited_retention_bytes, compression).  NULL
 *		leaves a setting as it is.  Partitions can only be added, as in
 *		Kafka.  A new compression applies to the batches written after the
 *		change commits.
 */
Datum
mq_alter_topic(PG_FUNCTION_ARGS)
{
	char	   *name = mq_topic_name_arg(fcinfo, 0);
	Datum		arg = CStringGetTextDatum(name);
	int32		topic_id;
	int32		partitions;
	bool		isnull;
	StringInfoData sets;

	check_ddl_access(name);
	SPI_connect();
	mq_query_once("SELECT topic_id, partitions FROM mq.topic WHERE name = $1"
				  " FOR NO KEY UPDATE",
				  1, &text_type, &arg, NULL, false, 1);
	if (SPI_processed == 0)
		mq_topic_undefined(name);
	topic_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	partitions = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 2, &isnull));

	initStringInfo(&sets);
	check_topic_settings(fcinfo, name);
	if (!PG_ARGISNULL(2))
		appendStringInfo(&sets, ", retention = %s",
						 interval_literal(PG_GETARG_DATUM(2)));
	if (!PG_ARGISNULL(3))
		appendStringInfo(&sets, ", retention_bytes = " INT64_FORMAT,
						 PG_GETARG_INT64(3));
	if (!PG_ARGISNULL(4))
		appendStringInfo(&sets, ", segment_bytes = " INT64_FORMAT,
						 PG_GETARG_INT64(4));
	if (!PG_ARGISNULL(5))
		appendStringInfo(&sets, ", segment_age = %s",
						 interval_literal(PG_GETARG_DATUM(5)));
	if (!PG_ARGISNULL(6))
		appendStringInfo(&sets, ", notify = %s",
						 PG_GETARG_BOOL(6) ? "true" : "false");
	if (!PG_ARGISNULL(7))
		appendStringInfo(&sets, ", dedup_window = %s",
						 interval_literal(PG_GETARG_DATUM(7)));
	if (!PG_ARGISNULL(8) && PG_GETARG_BOOL(8))
	{
		if (!PG_ARGISNULL(2))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("retention and unlimited_retention cannot both be given")));
		appendStringInfoString(&sets, ", retention = NULL");
	}
	if (!PG_ARGISNULL(9) && PG_GETARG_BOOL(9))
	{
		if (!PG_ARGISNULL(3))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("retention_bytes and unlimited_retention_bytes cannot both be given")));
		appendStringInfoString(&sets, ", retention_bytes = NULL");
	}

	if (PG_NARGS() > 10 && !PG_ARGISNULL(10))
	{
		MqCompression c = mq_codec_compression(text_to_cstring(PG_GETARG_TEXT_PP(10)));
		Datum		id = Int32GetDatum(topic_id);
		char	   *segment;

		mq_query_once("SELECT s.relid::text, t.compression"
					  " FROM mq.segment s JOIN mq.topic t USING (topic_id)"
					  " WHERE s.topic_id = $1 ORDER BY s.segment_no DESC LIMIT 1",
					  1, &int4_type, &id, NULL, false, 0);
		segment = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		if (mq_codec_compression(SPI_getvalue(SPI_tuptable->vals[0],
											  SPI_tuptable->tupdesc, 2)) != c)
		{
			appendStringInfo(&sets, ", compression = %s",
							 quote_literal_cstr(mq_codec_compression_name(c)));
			mq_topic_compressed(topic_id, name, c);
			/* the active segment stores new batches as the setting says */
			mq_segment_set_storage(segment, c);
		}
	}

	if (!PG_ARGISNULL(1) && PG_GETARG_INT32(1) != partitions)
	{
		int32		new_partitions = PG_GETARG_INT32(1);

		if (new_partitions < partitions)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot reduce the partitions of topic \"%s\" from %d to %d",
							name, partitions, new_partitions),
					 errdetail("Partitions can only be added: messages and offsets live in them.")));
		check_partition_count(name, new_partitions);

		/*
		 * Load the topic first (the entry must exist when the ALTER commits,
		 * or a later load from an older snapshot could miss the growth); then
		 * nobody may send to, read or load it while it grows.
		 */
		{
			MqTopicInfo info;

			mq_topic_get(name, &info);
		}
		mq_segment_for_each(topic_id, "LOCK TABLE %s IN ACCESS EXCLUSIVE MODE");
		mq_query_once(psprintf("INSERT INTO mq.partition (topic_id, partition)"
							   " SELECT %d, p FROM generate_series(%d, %d) p",
							   topic_id, partitions, new_partitions - 1), 0, NULL, NULL, NULL, false, 0);
		appendStringInfo(&sets, ", partitions = %d", new_partitions);

		mq_topic_grow(name, topic_id, partitions, new_partitions);
	}

	if (sets.len > 0)
		mq_query_once(psprintf("UPDATE mq.topic SET %s WHERE topic_id = %d",
							   sets.data + 2, topic_id), 0, NULL, NULL, NULL, false, 0);

	/* consumer groups get positions in the new partitions, and rebalance */
	if (!PG_ARGISNULL(1) && PG_GETARG_INT32(1) > partitions)
		mq_group_topic_grown(topic_id, partitions, PG_GETARG_INT32(1));
	SPI_finish();
	PG_RETURN_VOID();
}
