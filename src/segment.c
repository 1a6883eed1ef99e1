/*-------------------------------------------------------------------------
 *
 * segment.c
 *	  Segments: the tables that hold a topic's messages.  Creating them,
 *	  rolling to a new one, dropping them past retention, locking them for
 *	  reading, and the offsets they bound (log start, offset at a time).
 *
 * A topic's log is a sequence of segment tables, listed in mq.segment by
 * segment number; producers write to the newest (the active segment, which
 * the topic directory names), and every offset of a segment precedes every
 * offset of the next.  A segment is rolled by size or age (by the worker)
 * or by hand (mq.roll_segment); retention drops whole segments, oldest
 * first, never the active one, and never deletes rows.  A segment table is
 * not a member of the extension (pg_dump saves its data) but depends on it.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/segment.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/timestamp.h"

#include "query.h"
#include "segment.h"
#include "settings.h"
#include "topic.h"

/* Parameter types of the SPI queries below. */
static Oid	int4_type = INT4OID;

/*
 * mq_segment_for_each
 *		Run command, a format with one %s, for each segment table of a
 *		topic.  Caller is connected to SPI.
 */
void
mq_segment_for_each(int32 topic_id, const char *command)
{
	Datum		arg = Int32GetDatum(topic_id);
	SPITupleTable *segments;
	uint64		nsegments;
	uint64		i;

	mq_query_once("SELECT relid::text FROM mq.segment WHERE topic_id = $1",
				  1, &int4_type, &arg, NULL, false, 0);
	segments = SPI_tuptable;
	nsegments = SPI_processed;
	for (i = 0; i < nsegments; i++)
		mq_query_once(psprintf(command,
							   SPI_getvalue(segments->vals[i],
											segments->tupdesc, 1)), 0, NULL, NULL, NULL, false, 0);
}

/*
 * mq_segment_create
 *		Create segment table number segment_no of a topic, with its
 *		indexes, and record it in mq.segment.  Caller is connected to SPI.
 *		Returns the table's OID.
 */
Oid
mq_segment_create(int32 topic_id, int32 segment_no)
{
	char	   *table = psprintf("mq.seg_%d_%d", topic_id, segment_no);
	ObjectAddress table_addr;
	ObjectAddress extension_addr;
	Oid			relid;
	bool		isnull;

	mq_query_once(psprintf("CREATE TABLE %s ("
						   " partition integer NOT NULL,"
						   " \"offset\" bigint NOT NULL,"
						   " id uuid NOT NULL,"
						   " produced_at timestamptz NOT NULL,"
						   " payload_type \"char\" NOT NULL,"
						   " key text COLLATE \"C\","
						   " tag text COLLATE \"C\","
						   " headers jsonb,"
						   " payload bytea NOT NULL,"
						   " PRIMARY KEY (partition, \"offset\"))", table), 0, NULL, NULL, NULL, false, 0);

	/*
	 * Lookups by key (most recent first) and by time.  Lookups by id use the
	 * time index too: a UUIDv7 carries its message's time.
	 */
	mq_query_once(psprintf("CREATE INDEX ON %s (key, produced_at)"
						   " WHERE key IS NOT NULL", table), 0, NULL, NULL, NULL, false, 0);
	mq_query_once(psprintf("CREATE INDEX ON %s USING brin (produced_at)", table), 0, NULL, NULL, NULL, false, 0);
	mq_query_once(psprintf("INSERT INTO mq.segment (topic_id, segment_no, relid)"
						   " VALUES (%d, %d, '%s') RETURNING relid::oid",
						   topic_id, segment_no, table), 0, NULL, NULL, NULL, false, 0);
	relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));

	/*
	 * The table holds data, so it is not a member of the extension (pg_dump
	 * saves it as an ordinary table), but it depends on it: DROP EXTENSION
	 * refuses while topics exist, and drops them with CASCADE.
	 */
	ObjectAddressSet(table_addr, RelationRelationId, relid);
	ObjectAddressSet(extension_addr, ExtensionRelationId,
					 get_extension_oid(MQ_EXTENSION_NAME, false));
	recordDependencyOn(&table_addr, &extension_addr, DEPENDENCY_NORMAL);
	return relid;
}

/*
 * mq_segment_roll
 *		Start a new segment for topic name: producers write to it once this
 *		transaction commits; the old segments stay readable until retention
 *		drops them.  Serialised with topic DDL (a drop must see every
 *		segment).  Returns the new segment's number, or -1 if nowait and
 *		producers hold the active segment.
 */
int32
mq_segment_roll(const char *name, bool nowait)
{
	Datum		args[2];
	Oid			types[2] = {TEXTOID, OIDOID};
	MqTopicInfo info;
	int32		topic_id;
	int32		segment_no;
	bool		isnull;
	Oid			relid;
	Oid			owner;
	Oid			save_userid;
	int			save_sec_context;

	SPI_connect();
	mq_query_once("LOCK TABLE mq.topic IN SHARE ROW EXCLUSIVE MODE", 0, NULL, NULL, NULL, false, 0);

	/*
	 * Load the topic before changing it, so that the entry exists when the
	 * roll commits (its callback moves it to the new segment) and nobody
	 * loads it afterwards from a snapshot that predates the roll.
	 */
	mq_topic_get(name, &info);

	/*
	 * Producers writing to the active segment hold it; wait for them (or, for
	 * the worker, try again later), and keep new ones out until the roll
	 * commits: a segment's offsets must all precede the next one's.
	 */
	if (nowait)
	{
		if (!ConditionalLockRelationOid(info.segment_relid, ShareLock))
		{
			SPI_finish();
			return -1;
		}
	}
	else
		LockRelationOid(info.segment_relid, ShareLock);

	args[0] = CStringGetTextDatum(name);
	args[1] = ObjectIdGetDatum(info.segment_relid);
	mq_query_once("SELECT t.topic_id,"
				  " (SELECT max(s.segment_no) FROM mq.segment s"
				  "   WHERE s.topic_id = t.topic_id) + 1,"
				  " (SELECT c.relowner FROM pg_catalog.pg_class c"
				  "   WHERE c.oid = $2)"
				  " FROM mq.topic t WHERE t.name = $1",
				  2, types, args, NULL, false, 1);
	if (SPI_processed == 0)
		mq_topic_undefined(name);
	topic_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	segment_no = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 2, &isnull));
	owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 3, &isnull));

	/*
	 * The new segment belongs to the previous one's owner (the worker runs as
	 * the bootstrap superuser), so that its privileges, and default
	 * privileges, are the topic owner's.
	 */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	relid = mq_segment_create(topic_id, segment_no);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	SPI_finish();

	mq_topic_rolled(topic_id, name, relid);
	return segment_no;
}

/*
 * mq_segment_roll_due
 *		Roll the active segment of every topic of this database that has
 *		reached its segment_bytes (with its TOAST table and indexes), or is
 *		older than its segment_age and not empty.  Called by the database
 *		worker, in a transaction with a snapshot.  Returns how many topics
 *		it rolled.
 */
int
mq_segment_roll_due(void)
{
	int			rolled = 0;
	List	   *due = NIL;
	ListCell   *lc;
	MemoryContext outer = CurrentMemoryContext;
	uint64		i;

	/* rolls are serialised with topic DDL: do not wait for it */
	if (!ConditionalLockRelationOid(get_relname_relid("topic",
													  get_namespace_oid(MQ_EXTENSION_NAME, false)),
									ShareRowExclusiveLock))
		return 0;

	SPI_connect();
	mq_query_once("SELECT t.name FROM mq.topic t"
				  " CROSS JOIN LATERAL (SELECT s.relid, s.created_at FROM mq.segment s"
				  "   WHERE s.topic_id = t.topic_id"
				  "   ORDER BY s.segment_no DESC LIMIT 1) s"
				  " WHERE pg_total_relation_size(s.relid) >= t.segment_bytes"
				  "    OR (s.created_at + t.segment_age <= now()"
				  "        AND pg_relation_size(s.relid) > 0)", 0, NULL, NULL, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *name = SPI_getvalue(SPI_tuptable->vals[i],
										SPI_tuptable->tupdesc, 1);
		MemoryContext oldcxt = MemoryContextSwitchTo(outer);

		/* outlives SPI_finish() */
		due = lappend(due, pstrdup(name));
		MemoryContextSwitchTo(oldcxt);
	}
	SPI_finish();

	foreach(lc, due)
	{
		int32		segment_no = mq_segment_roll(lfirst(lc), true);

		if (segment_no >= 0)
		{
			ereport(DEBUG1,
					(errmsg("mq rolled topic \"%s\" to segment %d",
							(char *) lfirst(lc), segment_no)));
			rolled++;
		}
	}
	return rolled;
}

/*
 * segment_lock
 *		Lock segment table name (as mq.segment lists it) for reading, and
 *		return its OID, or InvalidOid if it no longer exists: retention may
 *		have dropped it since the caller listed it, and then the caller
 *		skips it.
 */
static Oid
segment_lock(const char *name)
{
	RangeVar   *rv = makeRangeVarFromNameList(stringToQualifiedNameList(name));

	return RangeVarGetRelidExtended(rv, AccessShareLock, RVR_MISSING_OK,
									NULL, NULL);
}

/*
 * mq_segment_scan_begin
 *		List the segments of topic_id, oldest first (newest first if
 *		newest_first), for mq_segment_scan_next.  The caller is connected to
 *		SPI and ends with mq_segment_scan_end.
 */
void
mq_segment_scan_begin(MqSegmentScan *scan, int32 topic_id, bool newest_first)
{
	Oid			type = INT4OID;
	Datum		arg = Int32GetDatum(topic_id);

	mq_query_once(newest_first ?
				  "SELECT relid::text FROM mq.segment"
				  " WHERE topic_id OPERATOR(pg_catalog.=) $1"
				  " ORDER BY segment_no DESC" :
				  "SELECT relid::text FROM mq.segment"
				  " WHERE topic_id OPERATOR(pg_catalog.=) $1"
				  " ORDER BY segment_no",
				  1, &type, &arg, NULL, false, 0);
	scan->segments = SPI_tuptable;
	scan->count = SPI_processed;
	scan->next = 0;
}

/*
 * mq_segment_scan_next
 *		Lock the next segment of the list for reading and set *relid and
 *		*name (its qualified name, for query texts).  A segment that
 *		retention dropped since it was listed is skipped.  Returns false
 *		when there is none left.
 */
bool
mq_segment_scan_next(MqSegmentScan *scan, Oid *relid, const char **name)
{
	while (scan->next < scan->count)
	{
		char	   *n = SPI_getvalue(scan->segments->vals[scan->next],
									 scan->segments->tupdesc, 1);

		scan->next++;
		*relid = segment_lock(n);
		if (OidIsValid(*relid))
		{
			*name = n;
			return true;
		}
	}
	return false;
}

/*
 * mq_segment_scan_end
 *		Free the list of segments.
 */
void
mq_segment_scan_end(MqSegmentScan *scan)
{
	SPI_freetuptable(scan->segments);
	scan->segments = NULL;
}


/*
 * mq_segment_retention_pass
 *		Drop the segments that fall out of their topic's retention, oldest
 *		first, never a topic's active segment: by time, a segment whose
 *		successor was started longer than retention ago (every message in
 *		it is older than that); by size, a segment whose successors alone
 *		reach retention_bytes.  Each partition's log start moves past the
 *		last offset the segment held.  Segments are dropped whole, never
 *		emptied by DELETE.  A segment that readers are using is left for
 *		the next pass, and so are the segments after it.  The durable high
 *		marks are untouched: they are past every offset handed out, so a
 *		partition emptied by retention still never reuses an offset.
 *		Called by the database worker, in a transaction with a snapshot.
 *		Returns how many segments were dropped.
 */
int
mq_segment_retention_pass(void)
{
	uint64		n;
	uint64		i;
	int			dropped = 0;
	int32		blocked_topic = -1;
	SPITupleTable *segments;

	/* serialised with topic DDL, like rolls: do not wait for it */
	if (!ConditionalLockRelationOid(get_relname_relid("topic",
													  get_namespace_oid(MQ_EXTENSION_NAME, false)),
									ShareRowExclusiveLock))
		return 0;

	SPI_connect();
	mq_query_once("SELECT s.topic_id, t.partitions, s.relid::oid, s.relid::text"
				  " FROM mq.topic t JOIN mq.segment s USING (topic_id)"
				  " WHERE s.segment_no OPERATOR(pg_catalog.<) (SELECT max(a.segment_no)"
				  "   FROM mq.segment a WHERE a.topic_id OPERATOR(pg_catalog.=) t.topic_id)"
				  " AND ((SELECT n.created_at FROM mq.segment n"
				  "       WHERE n.topic_id OPERATOR(pg_catalog.=) t.topic_id"
				  "       AND n.segment_no OPERATOR(pg_catalog.>) s.segment_no"
				  "       ORDER BY n.segment_no LIMIT 1)"
				  "      OPERATOR(pg_catalog.<=) (pg_catalog.now() OPERATOR(pg_catalog.-) t.retention)"
				  "   OR (SELECT sum(pg_catalog.pg_total_relation_size(n.relid))"
				  "       FROM mq.segment n"
				  "       WHERE n.topic_id OPERATOR(pg_catalog.=) t.topic_id"
				  "       AND n.segment_no OPERATOR(pg_catalog.>) s.segment_no)"
				  "      OPERATOR(pg_catalog.>=) t.retention_bytes)"
				  " ORDER BY s.topic_id, s.segment_no", 0, NULL, NULL, NULL, false, 0);
	segments = SPI_tuptable;
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = segments->vals[i];
		bool		isnull;
		int32		topic_id = DatumGetInt32(SPI_getbinval(tup, segments->tupdesc, 1, &isnull));
		int32		partitions = DatumGetInt32(SPI_getbinval(tup, segments->tupdesc, 2, &isnull));
		Oid			relid = DatumGetObjectId(SPI_getbinval(tup, segments->tupdesc, 3, &isnull));
		char	   *table = SPI_getvalue(tup, segments->tupdesc, 4);
		Datum		args[3];
		Oid			types[3] = {INT4OID, INT4OID, OIDOID};

		if (topic_id == blocked_topic)
			continue;
		if (!ConditionalLockRelationOid(relid, AccessExclusiveLock))
		{
			/* in use: keep it, and the newer ones, for the next pass */
			blocked_topic = topic_id;
			continue;
		}

		args[0] = Int32GetDatum(topic_id);
		args[1] = Int32GetDatum(partitions);
		args[2] = ObjectIdGetDatum(relid);
		mq_query_once(psprintf("UPDATE mq.partition p"
							   " SET log_start = greatest(p.log_start, l.last OPERATOR(pg_catalog.+) 1)"
							   " FROM (SELECT g.p, (SELECT s.\"offset\" FROM %s s"
							   "   WHERE s.partition OPERATOR(pg_catalog.=) g.p"
							   "   ORDER BY s.\"offset\" DESC LIMIT 1) AS last"
							   "  FROM pg_catalog.generate_series(0, $2 OPERATOR(pg_catalog.-) 1) g(p)) l"
							   " WHERE p.topic_id OPERATOR(pg_catalog.=) $1"
							   " AND p.partition OPERATOR(pg_catalog.=) l.p"
							   " AND l.last IS NOT NULL", table),
					  2, types, args, NULL, false, 0);
		mq_query_once("DELETE FROM mq.segment WHERE relid OPERATOR(pg_catalog.=) $3::pg_catalog.regclass",
					  3, types, args, NULL, false, 0);
		mq_query_once(psprintf("DROP TABLE %s", table), 0, NULL, NULL, NULL, false, 0);
		ereport(DEBUG1,
				(errmsg("mq dropped segment %s past its topic's retention", table)));
		dropped++;
	}
	SPI_finish();
	return dropped;
}

/*
 * mq_segment_log_start
 *		The log start offset of a partition: the first offset that
 *		retention has not removed.
 */
int64
mq_segment_log_start(const MqTopicInfo *topic, int32 partition)
{
	Oid			types[2] = {INT4OID, INT4OID};
	Datum		args[2];
	bool		isnull;

	args[0] = Int32GetDatum(topic->topic_id);
	args[1] = Int32GetDatum(partition);
	if (mq_query("SELECT log_start FROM mq.partition"
				 " WHERE topic_id = $1 AND partition = $2",
				 2, types, args, NULL, false) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("topic \"%s\" was dropped", topic->name)));
	return DatumGetInt64(mq_query_value(0, 1, &isnull));
}

/*
 * mq_segment_offset_at_time
 *		The offset of the first committed message of the partition produced
 *		at or after at, or the stable offset if there is none.  Each segment
 *		is searched, oldest first, through its BRIN index on produced_at.
 */
int64
mq_segment_offset_at_time(const MqTopicInfo *topic, int32 partition, TimestampTz at)
{
	int64		stable = mq_topic_stable_offset(topic, partition);
	MqSegmentScan scan;
	Oid			relid;
	const char *segment;
	int64		result = stable;

	mq_segment_scan_begin(&scan, topic->topic_id, false);
	while (mq_segment_scan_next(&scan, &relid, &segment))
	{
		Oid			types[3] = {INT4OID, TIMESTAMPTZOID, INT8OID};
		Datum		args[3];
		bool		isnull;
		Datum		found;

		args[0] = Int32GetDatum(partition);
		args[1] = TimestampTzGetDatum(at);
		args[2] = Int64GetDatum(stable);
		mq_query(psprintf("SELECT min(\"offset\") FROM %s"
						  " WHERE partition = $1 AND produced_at >= $2"
						  " AND \"offset\" < $3", segment),
				 3, types, args, NULL, false);
		found = mq_query_value(0, 1, &isnull);
		if (!isnull)
		{
			result = DatumGetInt64(found);
			break;
		}
	}
	mq_segment_scan_end(&scan);
	return result;
}
