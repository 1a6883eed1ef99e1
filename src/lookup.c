/*-------------------------------------------------------------------------
 *
 * lookup.c
 *	  Reading the log: mq.read, and lookups by offset, id, key and time.
 *
 * Every function here decodes record batches (codec.c) straight into its
 * result.  A reader first reads the partition's stable offset, then reads
 * messages strictly below it with a snapshot taken afterwards.  Every
 * transaction that was assigned an offset below the stable offset had ended
 * before the stable offset was read, so that snapshot sees all of those that
 * committed: a reader that moves on to the stable offset never skips a
 * message.  In REPEATABLE READ or SERIALIZABLE the transaction's snapshot may
 * predate the stable offset, so those levels are refused.
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
#include "utils/datum.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "offsets.h"
#include "partitioner.h"
#include "query.h"
#include "segment.h"
#include "settings.h"
#include "topic.h"

/*
 * How far before an id's time a lookup by id looks for its batch: the
 * batch's first message may have been sent that much earlier in the same
 * transaction.
 */
#define ID_LOOKBACK		(60 * USECS_PER_SEC)

PG_FUNCTION_INFO_V1(mq_read);
PG_FUNCTION_INFO_V1(mq_get);
PG_FUNCTION_INFO_V1(mq_get_by_id);
PG_FUNCTION_INFO_V1(mq_get_by_key);
PG_FUNCTION_INFO_V1(mq_get_by_time);
PG_FUNCTION_INFO_V1(mq_messages);

/* What the visitors below put records into. */
typedef struct Output
{
	ReturnSetInfo *rsinfo;
	bool		with_partition; /* lookups' rows start with the partition */
	int64		max;			/* rows still wanted */
	int64		returned;
	int64		next;			/* mq.read: just past the last offset */
	const pg_uuid_t *id;		/* get_by_id: the id looked for */
	text	   *key;			/* get_by_key: the key looked for */
	MqPayloadNames payload_names;
} Output;

/*
 * init_output
 *		Start out, for the result of fcinfo (already materialized), with up
 *		to max rows.
 */
static void
init_output(Output *out, FunctionCallInfo fcinfo, bool with_partition,
			int64 max)
{
	memset(out, 0, sizeof(Output));
	out->rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	out->with_partition = with_partition;
	out->max = max;
	mq_payload_names_init(&out->payload_names);
}

/*
 * put_record
 *		Add rec to the result: [partition,] offset, epoch, id, key, tag,
 *		headers, the payload columns, produced_at.  Returns whether more are
 *		wanted.
 */
static bool
put_record(Output *out, const MqRecord *rec)
{
	const MqMessage *m = &rec->msg;
	Datum		values[8 + MQ_PAYLOAD_COLUMNS];
	bool		nulls[8 + MQ_PAYLOAD_COLUMNS] = {0};
	int			c = 0;

	if (out->with_partition)
		values[c++] = Int32GetDatum(m->partition);
	values[c++] = Int64GetDatum(rec->offset);
	values[c++] = Int32GetDatum((int32) rec->epoch);
	values[c++] = UUIDPGetDatum(&m->id);
	nulls[c] = (m->key == NULL);
	values[c++] = PointerGetDatum(m->key);
	nulls[c] = (m->tag == NULL);
	values[c++] = PointerGetDatum(m->tag);
	nulls[c] = (m->headers == NULL);
	values[c++] = PointerGetDatum(m->headers);
	mq_payload_columns(m, &out->payload_names, values + c, nulls + c);
	c += MQ_PAYLOAD_COLUMNS;
	values[c++] = TimestampTzGetDatum(rec->produced_at);
	tuplestore_putvalues(out->rsinfo->setResult, out->rsinfo->setDesc,
						 values, nulls);
	out->next = rec->offset + 1;
	out->returned++;
	return out->returned < out->max;
}

static bool
visit_all(const MqRecord *rec, void *arg)
{
	return put_record((Output *) arg, rec);
}

static bool
visit_id(const MqRecord *rec, void *arg)
{
	Output	   *out = arg;

	if (memcmp(rec->msg.id.data, out->id->data, UUID_LEN) != 0)
		return true;
	return put_record(out, rec);
}

static bool
visit_key(const MqRecord *rec, void *arg)
{
	Output	   *out = arg;
	const text *k = rec->msg.key;

	if (k == NULL || VARSIZE_ANY_EXHDR(k) != VARSIZE_ANY_EXHDR(out->key) ||
		memcmp(VARDATA_ANY(k), VARDATA_ANY(out->key),
			   VARSIZE_ANY_EXHDR(k)) != 0)
		return true;
	return put_record(out, rec);
}

/*
 * read_partition
 *		Put the committed records of a partition in [from, stable) into the
 *		result, in offset order, until out->max are there.  The caller is
 *		connected to SPI and has read stable before this is called.
 */
static void
read_partition(Output *out, const MqTopicInfo *topic, int32 partition,
			   int64 from, int64 stable)
{
	MqSegmentScan scan;
	Oid			relid;
	const char *segment;

	out->next = from;
	mq_segment_scan_begin(&scan, topic->topic_id, false);
	while (out->returned < out->max &&
		   mq_segment_scan_next(&scan, &relid, &segment))
		mq_segment_read(relid, partition, out->next, stable, visit_all, out);
	mq_segment_scan_end(&scan);
}

/*
 * check_read
 *		Refuse a read that could miss messages: in REPEATABLE READ or
 *		SERIALIZABLE, or during recovery.
 */
static void
check_read(const char *what, const char *topic)
{
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s cannot run in a REPEATABLE READ or SERIALIZABLE transaction",
						what),
				 errdetail("Its snapshot may predate the partition's stable offset, so messages could be missed."),
				 errhint("Read in a READ COMMITTED transaction.")));

	/*
	 * A standby's shared memory does not follow the primary's commits: its
	 * stable offset would let a reader pass offsets that commit later.
	 */
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot read topic \"%s\" during recovery", topic),
				 errhint("Read on the primary.")));
}

/*
 * mq_read
 *		SQL: mq.read(topic, partition, from_offset, max) returns up to max
 *		committed messages of the partition, from from_offset on, strictly
 *		below its stable offset, in offset order.
 */
Datum
mq_read(PG_FUNCTION_ARGS)
{
	char	   *name = mq_topic_name_arg(fcinfo, 0);
	MqTopicInfo topic;
	int32		partition;
	int64		from;
	int32		max;
	int64		stable;
	Output		out;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("partition, from_offset and max must not be null")));
	partition = PG_GETARG_INT32(1);
	from = PG_GETARG_INT64(2);
	max = PG_GETARG_INT32(3);

	check_read("mq.read", name);
	if (from < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("from_offset must not be negative")));
	if (max < 1 || max > MQ_MAX_BATCH)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max must be between 1 and %d", MQ_MAX_BATCH)));

	mq_topic_get(name, &topic);
	mq_topic_check_access(&topic, MQ_ACCESS_READ);
	mq_topic_check_partition(&topic, partition);

	InitMaterializedSRF(fcinfo, 0);

	/* The stable offset first; the snapshot of the reads below after it. */
	if (!mq_offsets_stable(topic.topic_id, partition, &stable, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("topic \"%s\" was dropped", name)));
	if (from >= stable)
		return (Datum) 0;

	init_output(&out, fcinfo, false, max);
	SPI_connect();
	read_partition(&out, &topic, partition, from, stable);
	SPI_finish();
	return (Datum) 0;
}

/*
 * mq_messages
 *		SQL: mq.messages(topic, partition) shows the committed messages of a
 *		topic (or of one partition if partition is not null), one row per
 *		message, in partition and offset order: what a segment table showed
 *		before messages were stored as record batches.  Reads below each
 *		partition's stable offset, like mq.read.
 */
Datum
mq_messages(PG_FUNCTION_ARGS)
{
	char	   *name = mq_topic_name_arg(fcinfo, 0);
	MqTopicInfo topic;
	int32		first = 0;
	int32		last;
	int32		p;
	Output		out;

	check_read("mq.messages", name);
	mq_topic_get(name, &topic);
	mq_topic_check_access(&topic, MQ_ACCESS_READ);
	last = topic.partitions - 1;
	if (!PG_ARGISNULL(1))
	{
		first = last = PG_GETARG_INT32(1);
		mq_topic_check_partition(&topic, first);
	}

	InitMaterializedSRF(fcinfo, 0);
	init_output(&out, fcinfo, true, PG_INT64_MAX);
	SPI_connect();
	for (p = first; p <= last; p++)
	{
		int64		stable;

		if (!mq_offsets_stable(topic.topic_id, p, &stable, NULL))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("topic \"%s\" was dropped", name)));
		read_partition(&out, &topic, p, 0, stable);
	}
	SPI_finish();
	return (Datum) 0;
}

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
 * lookup_output
 *		Start the result of a lookup that returns up to max rows.
 */
static void
lookup_output(FunctionCallInfo fcinfo, Output *out, int64 max)
{
	InitMaterializedSRF(fcinfo, 0);
	init_output(out, fcinfo, true, max);
}

/*
 * mq_get
 *		SQL: mq.get(topic, partition, offset) returns the committed message
 *		at that offset, if any: the batch that holds it is found through the
 *		primary key of each segment.
 */
Datum
mq_get(PG_FUNCTION_ARGS)
{
	MqTopicInfo topic;
	int32		partition;
	int64		offset;
	Output		out;
	MqSegmentScan scan;
	Oid			relid;
	const char *segment;

	lookup_topic(fcinfo, &topic, 3);
	partition = PG_GETARG_INT32(1);
	offset = PG_GETARG_INT64(2);
	mq_topic_check_partition(&topic, partition);
	lookup_output(fcinfo, &out, 1);
	if (offset < 0 || offset == PG_INT64_MAX)
		return (Datum) 0;

	SPI_connect();
	mq_segment_scan_begin(&scan, topic.topic_id, false);
	while (out.returned == 0 && mq_segment_scan_next(&scan, &relid, &segment))
		mq_segment_read(relid, partition, offset, offset + 1, visit_all, &out);
	mq_segment_scan_end(&scan);
	SPI_finish();
	return (Datum) 0;
}

/* Batches a lookup by time or id reads per fetch from its cursor. */
#define LOOKUP_FETCH		64

/*
 * find_batches
 *		Hand the records of the batches that query (a format with %s for the
 *		segment, $1 and $2 two timestamps) selects in each segment to visit,
 *		through a cursor, LOOKUP_FETCH batches at a time, until out->max
 *		rows are in the result.  The caller is connected to SPI.
 */
static void
find_batches(Output *out, const MqTopicInfo *topic, const char *query,
			 TimestampTz t1, TimestampTz t2, MqRecordVisitor visit,
			 void *arg)
{
	MqSegmentScan scan;
	Oid			relid;
	const char *segment;
	Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		args[2] = {TimestampTzGetDatum(t1), TimestampTzGetDatum(t2)};

	mq_segment_scan_begin(&scan, topic->topic_id, false);
	while (out->returned < out->max &&
		   mq_segment_scan_next(&scan, &relid, &segment))
	{
		Portal		portal = mq_query_cursor(psprintf(query, segment), 2,
											 types, args, NULL);

		while (out->returned < out->max &&
			   mq_query_fetch(portal, LOOKUP_FETCH) > 0)
		{
			mq_segment_visit_rows(visit, arg);
			SPI_freetuptable(SPI_tuptable);
		}
		SPI_cursor_close(portal);
	}
	mq_segment_scan_end(&scan);
}

/*
 * mq_get_by_id
 *		SQL: mq.get_by_id(topic, id) returns the message with that id.
 *
 * mq's ids are UUIDv7: their first 48 bits are the millisecond the message
 * was sent, which is its produced_at or at most a few milliseconds later
 * (when a backend sends more than 4096 messages in a millisecond).  So the
 * BRIN index on the batches' times finds the batches to decode, and no
 * index on id has to be maintained on the write path.  A message that
 * entered the log later than it was sent (delayed, retried, or a half
 * message) is found by a second search through the batches produced since
 * its id's time, whose cost grows with that time.  Ids that are not
 * version 7 find nothing.
 */
Datum
mq_get_by_id(PG_FUNCTION_ARGS)
{
	MqTopicInfo topic;
	pg_uuid_t  *id;
	int64		ms = 0;
	TimestampTz at;
	Output		out;
	int			i;

	lookup_topic(fcinfo, &topic, 2);
	id = PG_GETARG_UUID_P(1);
	lookup_output(fcinfo, &out, 1);
	out.id = id;
	if ((id->data[6] >> 4) != 7)
		return (Datum) 0;
	for (i = 0; i < 6; i++)
		ms = (ms << 8) | id->data[i];
	at = (ms - (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000) * 1000;

	SPI_connect();
	find_batches(&out, &topic,
				 "SELECT partition, base_offset, record_count, records FROM %s"
				 " WHERE first_at <= $2 AND last_at >= $1",
				 at - ID_LOOKBACK, at + 1000, visit_id, &out);

	/*
	 * A message that entered the log after it was sent (a delayed message, a
	 * retry, a half message committed later) was produced after its id's
	 * time: look through everything produced since.
	 */
	if (out.returned == 0)
		find_batches(&out, &topic,
					 "SELECT partition, base_offset, record_count, records FROM %s"
					 " WHERE last_at >= $1 AND $2 IS NOT NULL",
					 at, at, visit_id, &out);
	SPI_finish();
	return (Datum) 0;
}

/*
 * mq_get_by_key
 *		SQL: mq.get_by_key(topic, key, max) returns the max most recent
 *		messages with that key, newest first.  A keyed message is in the
 *		partition its key hashes to (unless its sender named another), so
 *		only that partition is read, newest batch first, segment by
 *		segment: the cost is that of the partition's recent history, never
 *		of the whole topic.
 */
Datum
mq_get_by_key(PG_FUNCTION_ARGS)
{
	MqTopicInfo topic;
	text	   *key;
	int32		partition;
	Output		out;
	MqSegmentScan scan;
	Oid			relid;
	const char *segment;

	lookup_topic(fcinfo, &topic, 3);
	key = PG_GETARG_TEXT_PP(1);
	lookup_output(fcinfo, &out, max_arg(fcinfo, 2));
	out.key = key;
	partition = mq_partitioner_key(VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key),
								   topic.partitions);

	SPI_connect();
	mq_segment_scan_begin(&scan, topic.topic_id, true);
	while (out.returned < out.max &&
		   mq_segment_scan_next(&scan, &relid, &segment))
		mq_segment_read_newest(relid, partition, visit_key, &out);
	mq_segment_scan_end(&scan);
	SPI_finish();
	return (Datum) 0;
}

/* A record found by time, kept until the segment's are sorted. */
typedef struct TimedRecord
{
	TimestampTz produced_at;
	int32		partition;
	int64		offset;
	uint32		epoch;
	pg_uuid_t	id;
	char		payload_type;
	Datum		key;			/* copies; 0 if null */
	Datum		tag;
	Datum		headers;
	Datum		payload;
} TimedRecord;

/* What visit_time collects. */
typedef struct TimeRange
{
	TimestampTz from;
	TimestampTz to;
	int64		want;			/* keep at most this many */
	List	   *found;			/* TimedRecords */
} TimeRange;

static bool
visit_time(const MqRecord *rec, void *arg)
{
	TimeRange  *range = arg;
	TimedRecord *t;

	if (rec->produced_at < range->from || rec->produced_at >= range->to)
		return true;
	t = palloc0(sizeof(TimedRecord));
	t->produced_at = rec->produced_at;
	t->partition = rec->msg.partition;
	t->offset = rec->offset;
	t->epoch = rec->epoch;
	t->id = rec->msg.id;
	t->payload_type = rec->msg.payload_type;
	if (rec->msg.key)
		t->key = datumCopy(PointerGetDatum(rec->msg.key), false, -1);
	if (rec->msg.tag)
		t->tag = datumCopy(PointerGetDatum(rec->msg.tag), false, -1);
	if (rec->msg.headers)
		t->headers = datumCopy(PointerGetDatum(rec->msg.headers), false, -1);
	t->payload = datumCopy(PointerGetDatum(rec->msg.payload), false, -1);
	range->found = lappend(range->found, t);
	return true;
}

static int
			timed_cmp(const ListCell *a, const ListCell *b);

/*
 * keep_earliest
 *		Sort what range found and free all but its want earliest records.
 */
static void
keep_earliest(TimeRange *range)
{
	list_sort(range->found, timed_cmp);
	while (list_length(range->found) > range->want)
	{
		TimedRecord *t = llast(range->found);

		if (t->key)
			pfree(DatumGetPointer(t->key));
		if (t->tag)
			pfree(DatumGetPointer(t->tag));
		if (t->headers)
			pfree(DatumGetPointer(t->headers));
		pfree(DatumGetPointer(t->payload));
		pfree(t);
		range->found = list_delete_last(range->found);
	}
}

static int
timed_cmp(const ListCell *a, const ListCell *b)
{
	const TimedRecord *x = lfirst(a);
	const TimedRecord *y = lfirst(b);

	if (x->produced_at != y->produced_at)
		return x->produced_at < y->produced_at ? -1 : 1;
	if (x->partition != y->partition)
		return x->partition < y->partition ? -1 : 1;
	return x->offset < y->offset ? -1 : (x->offset > y->offset ? 1 : 0);
}

/*
 * mq_get_by_time
 *		SQL: mq.get_by_time(topic, from, to, max) returns up to max messages
 *		produced in [from, to), oldest first: segment by segment, the
 *		batches whose time range meets [from, to) (through the BRIN index on
 *		the batches' times), read through a cursor and decoded, keeping the
 *		earliest records still wanted.
 */
Datum
mq_get_by_time(PG_FUNCTION_ARGS)
{
	MqTopicInfo topic;
	Output		out;
	TimeRange	range;
	MqSegmentScan scan;
	Oid			relid;
	const char *segment;
	Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		args[2];

	lookup_topic(fcinfo, &topic, 4);
	range.from = PG_GETARG_TIMESTAMPTZ(1);
	range.to = PG_GETARG_TIMESTAMPTZ(2);
	if (range.to < range.from)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the end of the time range is before its start")));
	lookup_output(fcinfo, &out, max_arg(fcinfo, 3));
	args[0] = TimestampTzGetDatum(range.from);
	args[1] = TimestampTzGetDatum(range.to);

	SPI_connect();
	mq_segment_scan_begin(&scan, topic.topic_id, false);
	while (out.returned < out.max &&
		   mq_segment_scan_next(&scan, &relid, &segment))
	{
		ListCell   *lc;
		Portal		portal;

		range.found = NIL;
		range.want = out.max - out.returned;
		portal = mq_query_cursor(psprintf("SELECT partition, base_offset,"
										  " record_count, records FROM %s"
										  " WHERE last_at >= $1 AND first_at < $2",
										  segment), 2, types, args, NULL);
		while (mq_query_fetch(portal, LOOKUP_FETCH) > 0)
		{
			mq_segment_visit_rows(visit_time, &range);
			SPI_freetuptable(SPI_tuptable);
			keep_earliest(&range);
		}
		SPI_cursor_close(portal);
		foreach(lc, range.found)
		{
			TimedRecord *t = lfirst(lc);
			MqRecord	rec = {0};

			rec.offset = t->offset;
			rec.epoch = t->epoch;
			rec.produced_at = t->produced_at;
			rec.msg.partition = t->partition;
			rec.msg.id = t->id;
			rec.msg.payload_type = t->payload_type;
			rec.msg.key = (text *) DatumGetPointer(t->key);
			rec.msg.tag = (text *) DatumGetPointer(t->tag);
			rec.msg.headers = (Jsonb *) DatumGetPointer(t->headers);
			rec.msg.payload = (bytea *) DatumGetPointer(t->payload);
			put_record(&out, &rec);
		}
		range.want = 0;
		keep_earliest(&range);
	}
	mq_segment_scan_end(&scan);
	SPI_finish();
	return (Datum) 0;
}
