/*-------------------------------------------------------------------------
 *
 * delay.c
 *	  Delayed messages: the store of messages not yet due.
 *
 * A delayed message (mq.send with delay, deliver_at or delay_level) is not
 * buffered for the log: it is inserted into mq.delayed_message in the sender's
 * transaction, so it exists if and only if that transaction commits, and
 * survives a crash like any table row.  The database worker releases due
 * messages into their topics in batches: it takes them out of the store here
 * and sends them (produce.c), in one transaction, so a message is released
 * once or not at all.  Released messages keep their id and get their partition
 * and offset then, by the usual rules.  Retries (retry.c) are delayed messages
 * to the group's retry topic.
 *
 * The worker sleeps until the earliest due time it knows of (next_due in
 * its shared-memory entry).  A transaction that schedules earlier work
 * lowers it when it commits and sets the worker's latch, so release is
 * late by the worker's reaction time, not by a polling interval.
 *
 * Times are on mq's clock, mq_clock_now() (clock.c).
 *
 * The store is a plain table with an index on the due time.  Released and
 * cancelled rows are deleted; the table's autovacuum settings (in the
 * install script) keep the dead rows bounded whatever the backlog.
 *
 * A message whose release fails (its segment's owner added an index
 * expression that raises, say) must not hold up the others: the worker
 * finds it (worker.c), and mq_delay_release_failed puts it off with a
 * growing back-off, then, after MQ_RELEASE_ATTEMPTS failures, parks it in
 * mq.parked_message with its error.  An operator puts it back
 * (mq.unpark) or deletes it (mq.discard_parked).
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/delay.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "clock.h"
#include "database.h"
#include "delay.h"
#include "message.h"
#include "query.h"
#include "settings.h"
#include "topic.h"

PG_FUNCTION_INFO_V1(mq_cancel_delayed);
PG_FUNCTION_INFO_V1(mq_unpark);
PG_FUNCTION_INFO_V1(mq_discard_parked);

static bool delete_by_id(FunctionCallInfo fcinfo, const char *sql,
						 MqAccess mode);

/* RocketMQ's messageDelayLevel, in seconds. */
static const int delay_levels[MQ_DELAY_LEVELS] = {
	1, 5, 10, 30, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600,
	1200, 1800, 3600, 7200
};

/* Earliest due time this transaction scheduled, 0 if none. */
static TimestampTz xact_due = 0;

/*
 * mq_delay_level_usecs
 *		The delay of a RocketMQ delay level, 1 to MQ_DELAY_LEVELS.
 */
int64
mq_delay_level_usecs(int level)
{
	Assert(level >= 1 && level <= MQ_DELAY_LEVELS);
	return (int64) delay_levels[level - 1] * USECS_PER_SEC;
}

/*
 * mq_delay_arg
 *		The due time given by arguments argno (delay interval), argno + 1
 *		(deliver_at timestamptz) and argno + 2 (delay_level integer) of a
 *		send to topic: at most one may be given.  Returns false if none is,
 *		or if the time is not in the future (the message is sent now).
 *		Refuses a delay beyond mq.max_delay.
 */
bool
mq_delay_arg(FunctionCallInfo fcinfo, int argno, const char *topic,
			 TimestampTz *due)
{
	TimestampTz now = mq_clock_now();
	int			given = 0;
	int			i;

	for (i = 0; i < 3; i++)
		if (PG_NARGS() > argno + i && !PG_ARGISNULL(argno + i))
			given++;
	if (given == 0)
		return false;
	if (given > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("only one of delay, deliver_at and delay_level may be given")));

	if (!PG_ARGISNULL(argno))
	{
		Interval   *delay = PG_GETARG_INTERVAL_P(argno);

		if (delay->month < 0 || delay->day < 0 || delay->time < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("delay of a message to topic \"%s\" must not be negative",
							topic)));
		*due = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													   TimestampTzGetDatum(now),
													   IntervalPGetDatum(delay)));
	}
	else if (!PG_ARGISNULL(argno + 1))
		*due = PG_GETARG_TIMESTAMPTZ(argno + 1);
	else
	{
		int32		level = PG_GETARG_INT32(argno + 2);

		if (level < 1 || level > MQ_DELAY_LEVELS)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("delay_level must be between 1 and %d", MQ_DELAY_LEVELS),
					 errhint("Levels 1 to 18 are 1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h.")));
		*due = now + mq_delay_level_usecs(level);
	}

	if (TIMESTAMP_NOT_FINITE(*due) ||
		*due - now > (int64) mq_max_delay * USECS_PER_SEC)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("delay of a message to topic \"%s\" exceeds mq.max_delay (%d s)",
						topic, mq_max_delay)));
	return *due > now;
}

/*
 * mq_delay_schedule_at
 *		This transaction created timed work due at due: when it commits,
 *		the database worker must know, in case it sleeps past that.
 */
void
mq_delay_schedule_at(TimestampTz due)
{
	if (xact_due == 0 || due < xact_due)
		xact_due = due;
}

/*
 * mq_delay_xact_end
 *		Transaction end: after a commit, lower the worker's next due time to
 *		what this transaction scheduled (waking it if that is earlier).
 *		Only bookkeeping that cannot fail.
 */
void
mq_delay_xact_end(bool commit)
{
	if (commit && xact_due != 0)
		mq_database_wake_at(xact_due);
	xact_due = 0;
}

/*
 * mq_delay_store
 *		Store message m for topic until due, in the current transaction.
 *		m->partition is -1 to choose it on release.  The caller has checked
 *		access to the topic and the message's size.
 */
void
mq_delay_store(const MqTopicInfo *topic, const MqMessage *m, TimestampTz due)
{
	Oid			types[9] = {UUIDOID, INT4OID, INT4OID, TIMESTAMPTZOID,
	CHAROID, TEXTOID, TEXTOID, JSONBOID, BYTEAOID};
	Datum		values[9];
	char		nulls[9] = "         ";

	values[0] = UUIDPGetDatum(&m->id);
	values[1] = Int32GetDatum(topic->topic_id);
	values[2] = Int32GetDatum(m->partition);
	if (m->partition < 0)
		nulls[2] = 'n';
	values[3] = TimestampTzGetDatum(due);
	values[4] = CharGetDatum(m->payload_type);
	values[5] = PointerGetDatum(m->key);
	if (m->key == NULL)
		nulls[5] = 'n';
	values[6] = PointerGetDatum(m->tag);
	if (m->tag == NULL)
		nulls[6] = 'n';
	values[7] = PointerGetDatum(m->headers);
	if (m->headers == NULL)
		nulls[7] = 'n';
	values[8] = PointerGetDatum(m->payload);

	SPI_connect();
	mq_query("INSERT INTO mq.delayed_message (id, topic_id, partition,"
			 " due_at, payload_type, key, tag, headers, payload)"
			 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
			 9, types, values, nulls, false);
	SPI_finish();
	mq_delay_schedule_at(due);
}

/*
 * mq_cancel_delayed
 *		SQL: mq.cancel_delayed(id) removes a delayed message (or a pending
 *		retry) that has not been released.  Returns false if there is none
 *		by that id: never sent, cancelled, already released, or sent by a
 *		transaction that has not committed.  The caller needs the right to
 *		send to the message's topic.
 */
Datum
mq_cancel_delayed(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(delete_by_id(fcinfo,
								"DELETE FROM mq.delayed_message d"
								" WHERE d.id OPERATOR(pg_catalog.=) $1"
								" RETURNING (SELECT t.name FROM mq.topic t"
								"  WHERE t.topic_id OPERATOR(pg_catalog.=) d.topic_id)",
								MQ_ACCESS_SEND));
}

/*
 * mq_delay_take_due
 *		Take up to limit delayed messages due at now (mq's clock), oldest
 *		due first, out of the store, and hand each to release (with arg)
 *		in the current transaction, so that its commit does both.  Rows
 *		another transaction holds (a cancel in progress) are skipped.  The
 *		values handed over live until release returns.  Returns how many
 *		were taken.  Called by the database worker, in a transaction with a
 *		snapshot.
 */
int
mq_delay_take_due(TimestampTz now, int limit, MqDelayRelease release,
				  void *arg)
{
	Oid			types[2] = {TIMESTAMPTZOID, INT4OID};
	Datum		args[2];
	uint64		n;
	uint64		i;

	args[0] = TimestampTzGetDatum(now);
	args[1] = Int32GetDatum(limit);

	SPI_connect();

	/*
	 * The rows by ctid (a TID scan): a join on id would let a generic plan,
	 * which cannot know that the limit is small, scan the whole store.
	 */
	n = mq_query("DELETE FROM mq.delayed_message d"
				 " WHERE d.ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
				 "  SELECT ctid FROM mq.delayed_message"
				 "  WHERE due_at OPERATOR(pg_catalog.<=) $1"
				 "  ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED))"
				 " RETURNING (SELECT t.name FROM mq.topic t"
				 "  WHERE t.topic_id OPERATOR(pg_catalog.=) d.topic_id),"
				 " d.partition, d.id, d.payload_type, d.key, d.tag,"
				 " d.headers, d.payload",
				 2, types, args, NULL, false);
	for (i = 0; i < n; i++)
	{
		static const MqMessageColumns cols = {
			.partition = 2,.id = 3,.payload_type = 4,.key = 5,.tag = 6,
			.headers = 7,.payload = 8
		};
		HeapTuple	tup = SPI_tuptable->vals[i];
		MqMessage	m;

		mq_message_from_row(tup, SPI_tuptable->tupdesc, &cols, &m);
		release(SPI_getvalue(tup, SPI_tuptable->tupdesc, 1), &m, arg);
	}
	SPI_finish();
	return (int) n;
}

/*
 * mq_delay_next_due
 *		The earliest due time in the store after after, or DT_NOEND.  What
 *		is due at or before after and still there was skipped by the release
 *		as held by another transaction (a cancel in progress): the worker's
 *		next tick, or the holder's commit, brings it back; looking for it
 *		here would mean scanning the index entries of everything released
 *		since the last vacuum.  Reads with a new snapshot, so that the
 *		release's own deletes are seen.  Called by the database worker, in
 *		a transaction.
 */
TimestampTz
mq_delay_next_due(TimestampTz after)
{
	TimestampTz due = DT_NOEND;
	Oid			type = TIMESTAMPTZOID;
	Datum		arg = TimestampTzGetDatum(after);
	bool		isnull;
	Datum		d;

	SPI_connect();
	mq_query("SELECT min(due_at) FROM mq.delayed_message"
			 " WHERE due_at OPERATOR(pg_catalog.>) $1",
			 1, &type, &arg, NULL, false);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
					  &isnull);
	if (!isnull)
		due = DatumGetTimestampTz(d);
	SPI_finish();
	return due;
}

/*
 * mq_delay_release_failed
 *		The release of delayed message id failed with error at now (mq's
 *		clock): put it off by 2^(failures - 1) seconds, or park it once it
 *		has failed MQ_RELEASE_ATTEMPTS times.  Returns true if it was
 *		parked.  Called by the database worker, in a transaction.
 */
bool
mq_delay_release_failed(const pg_uuid_t *id, const char *error,
						TimestampTz now)
{
	Oid			types[3] = {UUIDOID, TEXTOID, TIMESTAMPTZOID};
	Datum		args[3];
	bool		isnull;
	int32		attempts;

	args[0] = UUIDPGetDatum(id);
	args[1] = CStringGetTextDatum(error);
	args[2] = TimestampTzGetDatum(now);

	SPI_connect();
	if (mq_query("UPDATE mq.delayed_message"
				 " SET release_attempts = release_attempts OPERATOR(pg_catalog.+) 1,"
				 " last_error = $2,"
				 " due_at = $3 OPERATOR(pg_catalog.+) pg_catalog.make_interval("
				 "  secs => pg_catalog.power(2, release_attempts)::pg_catalog.float8)"
				 " WHERE id OPERATOR(pg_catalog.=) $1"
				 " RETURNING release_attempts",
				 3, types, args, NULL, false) == 0)
	{
		SPI_finish();
		return false;			/* cancelled meanwhile */
	}
	attempts = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	if (attempts < MQ_RELEASE_ATTEMPTS)
	{
		SPI_finish();
		return false;
	}

	mq_query("WITH d AS (DELETE FROM mq.delayed_message"
			 "  WHERE id OPERATOR(pg_catalog.=) $1 RETURNING *)"
			 " INSERT INTO mq.parked_message (id, topic_id, partition, due_at,"
			 "  payload_type, key, tag, headers, payload, sent_at, attempts,"
			 "  error)"
			 " SELECT id, topic_id, partition, due_at, payload_type, key, tag,"
			 "  headers, payload, sent_at, release_attempts, $2 FROM d",
			 3, types, args, NULL, false);
	SPI_finish();
	ereport(WARNING,
			(errmsg("delayed message %s parked after %d failed releases",
					DatumGetCString(DirectFunctionCall1(uuid_out, args[0])),
					attempts),
			 errdetail("Last error: %s", error),
			 errhint("See mq.parked; put it back with mq.unpark() or delete it with mq.discard_parked().")));
	return true;
}

/*
 * returned_topic_check
 *		Check the caller's access (mode) to the topic named in column 1 of
 *		the first row of SPI_tuptable: the topic of the message a query just
 *		took, refused with the query if the caller may not.
 */
static void
returned_topic_check(MqAccess mode)
{
	MqTopicInfo topic;

	mq_topic_get(SPI_getvalue(SPI_tuptable->vals[0],
							  SPI_tuptable->tupdesc, 1), &topic);
	mq_topic_check_access(&topic, mode);
}

/*
 * id_arg
 *		The message id, argument 0, which must not be null.
 */
static Datum
id_arg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("id must not be null")));
	return PG_GETARG_DATUM(0);
}

/*
 * delete_by_id
 *		Run sql, a DELETE of the message whose id is argument 0 that returns
 *		its topic's name, and check the caller's access (mode) to that
 *		topic.  Returns whether there was one.
 */
static bool
delete_by_id(FunctionCallInfo fcinfo, const char *sql, MqAccess mode)
{
	Oid			type = UUIDOID;
	Datum		arg = id_arg(fcinfo);
	bool		found;

	SPI_connect();
	mq_query(sql, 1, &type, &arg, NULL, false);
	found = (SPI_processed > 0);
	if (found)
		returned_topic_check(mode);
	SPI_finish();
	return found;
}

/*
 * mq_unpark
 *		SQL: mq.unpark(id) puts a parked message back into the delayed
 *		store, due now, with its release attempts counted from zero.
 *		Returns false if none is parked by that id.  The caller needs the
 *		produce or the manage privilege on its topic.
 */
Datum
mq_unpark(PG_FUNCTION_ARGS)
{
	Oid			types[2] = {UUIDOID, TIMESTAMPTZOID};
	Datum		args[2];
	bool		found;
	TimestampTz now = mq_clock_now();

	args[0] = id_arg(fcinfo);
	args[1] = TimestampTzGetDatum(now);

	SPI_connect();
	mq_query("WITH p AS (DELETE FROM mq.parked_message"
			 "  WHERE id OPERATOR(pg_catalog.=) $1 RETURNING *),"
			 " d AS (INSERT INTO mq.delayed_message (id, topic_id,"
			 "  partition, due_at, payload_type, key, tag, headers,"
			 "  payload, sent_at)"
			 "  SELECT id, topic_id, partition, $2, payload_type, key,"
			 "  tag, headers, payload, sent_at FROM p)"
			 " SELECT t.name FROM p JOIN mq.topic t"
			 "  ON t.topic_id OPERATOR(pg_catalog.=) p.topic_id",
			 2, types, args, NULL, false);
	found = (SPI_processed > 0);
	if (found)
		returned_topic_check(MQ_ACCESS_OPERATE);
	SPI_finish();
	if (found)
		mq_delay_schedule_at(now);
	PG_RETURN_BOOL(found);
}

/*
 * mq_discard_parked
 *		SQL: mq.discard_parked(id) deletes a parked message for good.
 *		Returns false if none is parked by that id.  The caller needs the
 *		produce or the manage privilege on its topic.
 */
Datum
mq_discard_parked(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(delete_by_id(fcinfo,
								"DELETE FROM mq.parked_message p"
								" WHERE p.id OPERATOR(pg_catalog.=) $1"
								" RETURNING (SELECT t.name FROM mq.topic t"
								"  WHERE t.topic_id OPERATOR(pg_catalog.=) p.topic_id)",
								MQ_ACCESS_OPERATE));
}
