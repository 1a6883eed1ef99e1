/*-------------------------------------------------------------------------
 *
 * segment.c
 *	  Segments: the tables that hold a topic's messages.  Creating them,
 *	  rolling to a new one, dropping them past retention, locking them for
 *	  reading, and the offsets they bound (log start, offset at a time, the
 *	  log's end below a restart gap, mq.partition_offsets).
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

#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/pg_shdepend.h"
#include "access/xact.h"
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/ruleutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/syscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "acl.h"
#include "codec.h"
#include "offsets.h"
#include "query.h"
#include "segment.h"
#include "settings.h"
#include "topic.h"

PG_FUNCTION_INFO_V1(mq_convert_segments);
PG_FUNCTION_INFO_V1(mq_partition_offsets);

static void check_layout(Relation rel);

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

	/* a segment table dropped by hand has nothing left to do */
	mq_query_once("SELECT relid::text FROM mq.segment s WHERE topic_id = $1"
				  " AND EXISTS (SELECT FROM pg_catalog.pg_class c"
				  "  WHERE c.oid OPERATOR(pg_catalog.=) s.relid::pg_catalog.oid)",
				  1, &int4_type, &arg, NULL, false, 0);
	segments = SPI_tuptable;
	nsegments = SPI_processed;
	for (i = 0; i < nsegments; i++)
		mq_query_once(psprintf(command,
							   SPI_getvalue(segments->vals[i],
											segments->tupdesc, 1)), 0, NULL, NULL, NULL, false, 0);
}

/*
 * mq_segment_set_storage
 *		How segment table table (a qualified name) stores the records of the
 *		batches written from now on.  A compressed batch is kept in the row
 *		(MAIN), and goes out of line only if it does not fit in a page; an
 *		uncompressed one (compression 'none') is never compressed by TOAST
 *		either (EXTERNAL), and goes out of line above about 2 kB.  Caller is
 *		connected to SPI.
 */
void
mq_segment_set_storage(const char *table, MqCompression compression)
{
	mq_query_once(psprintf("ALTER TABLE %s ALTER COLUMN records SET STORAGE %s",
						   table,
						   compression == MQ_COMPRESSION_NONE ? "EXTERNAL" : "MAIN"),
				  0, NULL, NULL, NULL, false, 0);
}

/*
 * create_table
 *		Create segment table table (a qualified name) with its indexes, as
 *		the current user.  The table holds data, so it is not a member of
 *		the extension (pg_dump saves it as an ordinary table), but it
 *		depends on it: DROP EXTENSION refuses while topics exist, and drops
 *		them with CASCADE.  Caller is connected to SPI.  Returns its OID.
 */
static Oid
create_table(const char *table, MqCompression compression)
{
	ObjectAddress table_addr;
	ObjectAddress extension_addr;
	Oid			extension = get_extension_oid(MQ_EXTENSION_NAME, false);
	Oid			relid;
	bool		isnull;

	/*
	 * One row per record batch (see codec.c), found by the batch's first
	 * offset.  The batch is compressed before the tuple is formed; see
	 * mq_segment_set_storage for where it is stored.
	 */
	mq_query_once(psprintf("CREATE TABLE %s ("
						   " partition integer NOT NULL,"
						   " base_offset bigint NOT NULL,"
						   " record_count integer NOT NULL,"
						   " first_at timestamptz NOT NULL,"
						   " last_at timestamptz NOT NULL,"
						   " records bytea NOT NULL,"
						   " PRIMARY KEY (partition, base_offset))", table),
				  0, NULL, NULL, NULL, false, 0);
	mq_segment_set_storage(table, compression);

	/*
	 * Lookups by time, and by id (a UUIDv7 carries its message's time): the
	 * batches whose time range meets the one looked for.
	 */
	mq_query_once(psprintf("CREATE INDEX ON %s USING brin (first_at, last_at)",
						   table), 0, NULL, NULL, NULL, false, 0);
	mq_query_once(psprintf("SELECT '%s'::pg_catalog.regclass::pg_catalog.oid",
						   table), 0, NULL, NULL, NULL, true, 0);
	relid = DatumGetObjectId(mq_query_value(0, 1, &isnull));

	/* created by ALTER EXTENSION UPDATE, it would be a member: it is not */
	if (creating_extension)
		deleteDependencyRecordsForSpecific(RelationRelationId, relid,
										   DEPENDENCY_EXTENSION,
										   ExtensionRelationId,
										   CurrentExtensionObject);
	ObjectAddressSet(table_addr, RelationRelationId, relid);
	ObjectAddressSet(extension_addr, ExtensionRelationId, extension);
	recordDependencyOn(&table_addr, &extension_addr, DEPENDENCY_NORMAL);
	return relid;
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
	Datum		arg = Int32GetDatum(topic_id);
	Oid			relid;

	mq_query_once("SELECT compression FROM mq.topic WHERE topic_id = $1",
				  1, &int4_type, &arg, NULL, false, 0);
	relid = create_table(table,
						 mq_codec_compression(SPI_getvalue(SPI_tuptable->vals[0],
														   SPI_tuptable->tupdesc,
														   1)));

	mq_query_once(psprintf("INSERT INTO mq.segment (topic_id, segment_no, relid)"
						   " VALUES (%d, %d, %u::pg_catalog.oid)",
						   topic_id, segment_no, relid),
				  0, NULL, NULL, NULL, false, 0);
	return relid;
}

/*
 * mq_segment_roll
 *		Start a new segment for topic name: producers write to it once this
 *		transaction commits; the old segments stay readable until retention
 *		drops them.  Serialised with the topic's DDL by a lock on its row
 *		(a drop must see every segment).  Returns the new segment's number,
 *		or -1 if nowait and the topic's DDL or its producers hold it.
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

	SPI_connect();
	args[0] = CStringGetTextDatum(name);
	if (mq_query_once(nowait ?
					  "SELECT 1 FROM mq.topic WHERE name = $1"
					  " FOR NO KEY UPDATE SKIP LOCKED" :
					  "SELECT 1 FROM mq.topic WHERE name = $1 FOR NO KEY UPDATE",
					  1, types, args, NULL, false, 0) == 0)
	{
		SPI_finish();
		if (nowait)
			return -1;			/* dropped, or under DDL: the next pass */
		mq_topic_undefined(name);
	}

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
				  "   WHERE s.topic_id = t.topic_id) + 1"
				  " FROM mq.topic t WHERE t.name = $1 AND $2 IS NOT NULL",
				  2, types, args, NULL, false, 1);
	if (SPI_processed == 0)
		mq_topic_undefined(name);
	topic_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	segment_no = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 2, &isnull));

	/* like every segment, the extension owner's (see query.c) */
	relid = mq_segment_create(topic_id, segment_no);
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

	mq_query(newest_first ?
			 "SELECT relid::text FROM mq.segment"
			 " WHERE topic_id OPERATOR(pg_catalog.=) $1"
			 " ORDER BY segment_no DESC" :
			 "SELECT relid::text FROM mq.segment"
			 " WHERE topic_id OPERATOR(pg_catalog.=) $1"
			 " ORDER BY segment_no",
			 1, &type, &arg, NULL, false);
	scan->segments = SPI_tuptable;
	scan->count = SPI_processed;
	scan->next = 0;
}

/*
 * mq_segment_scan_next
 *		Lock the next segment of the list for reading and set *relid and
 *		*name (its qualified name, for query texts), after checking its
 *		layout (see mq_segment_check_layout).  A segment that retention
 *		dropped since it was listed is skipped.  Returns false when there
 *		is none left.
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
			Relation	rel = table_open(*relid, NoLock);

			/* before any query runs on it */
			mq_segment_check_layout(rel);
			table_close(rel, NoLock);
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
	int32		locked_topic = -1;

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
		if (topic_id != locked_topic)
		{
			/* serialised with the topic's DDL and rolls: skip it if busy */
			args[0] = Int32GetDatum(topic_id);
			if (mq_query_once("SELECT 1 FROM mq.topic"
							  " WHERE topic_id OPERATOR(pg_catalog.=) $1"
							  " FOR NO KEY UPDATE SKIP LOCKED",
							  1, types, args, NULL, false, 0) == 0)
			{
				blocked_topic = topic_id;
				continue;
			}
			locked_topic = topic_id;
		}
		if (!ConditionalLockRelationOid(relid, AccessExclusiveLock))
		{
			/* in use: keep it, and the newer ones, for the next pass */
			blocked_topic = topic_id;
			continue;
		}
		{
			/* before a query runs on a table its owner controls */
			Relation	rel = table_open(relid, NoLock);

			mq_segment_check_layout(rel);
			table_close(rel, NoLock);
		}

		args[0] = Int32GetDatum(topic_id);
		args[1] = Int32GetDatum(partitions);
		args[2] = ObjectIdGetDatum(relid);
		mq_query_once(psprintf("UPDATE mq.partition p"
							   " SET log_start = greatest(p.log_start, l.last OPERATOR(pg_catalog.+) 1)"
							   " FROM (SELECT g.p, (SELECT s.base_offset OPERATOR(pg_catalog.+)"
							   "   s.record_count OPERATOR(pg_catalog.-) 1 FROM %s s"
							   "   WHERE s.partition OPERATOR(pg_catalog.=) g.p"
							   "   ORDER BY s.base_offset DESC LIMIT 1) AS last"
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
 * Segments whose layout this backend has checked: the check runs on every
 * commit and every read, so a segment passes it once until PostgreSQL
 * invalidates its relcache entry, which any change to its columns, rules
 * or indexes does.
 */
static HTAB *checked_segments = NULL;

/*
 * forget_checked
 *		Relcache invalidation callback: relid (every relation if invalid)
 *		must be checked again.
 */
static void
forget_checked(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	Oid		   *entry;

	if (checked_segments == NULL)
		return;
	if (OidIsValid(relid))
	{
		hash_search(checked_segments, &relid, HASH_REMOVE, NULL);
		return;
	}
	hash_seq_init(&status, checked_segments);
	while ((entry = hash_seq_search(&status)) != NULL)
		hash_search(checked_segments, entry, HASH_REMOVE, NULL);
}

/*
 * mq_segment_check_layout
 *		Refuse to read or write rel unless it is a segment table in the
 *		record batch layout: a plain table whose columns are exactly those
 *		mq_segment_create gives it, with no rules.  A segment of mq 0.1's
 *		layout not yet converted, or one changed by hand, gets a clean
 *		error instead of being misread.  Checked once per backend until
 *		the segment changes (see checked_segments).
 */
void
mq_segment_check_layout(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);

	if (checked_segments == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(Oid);
		ctl.hcxt = TopMemoryContext;
		checked_segments = hash_create("mq checked segments", 64, &ctl,
									   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CacheRegisterRelcacheCallback(forget_checked, (Datum) 0);
	}
	if (hash_search(checked_segments, &relid, HASH_FIND, NULL) == NULL)
	{
		check_layout(rel);
		hash_search(checked_segments, &relid, HASH_ENTER, NULL);
	}
}

/*
 * check_layout
 *		The checks of mq_segment_check_layout.
 */
static void
check_layout(Relation rel)
{
	static const Oid types[SEG_NATTS] = {
		[SEG_PARTITION] = INT4OID,
		[SEG_BASE_OFFSET] = INT8OID,
		[SEG_RECORD_COUNT] = INT4OID,
		[SEG_FIRST_AT] = TIMESTAMPTZOID,
		[SEG_LAST_AT] = TIMESTAMPTZOID,
		[SEG_RECORDS] = BYTEAOID,
	};
	TupleDesc	desc = RelationGetDescr(rel);
	bool		ok = rel->rd_rel->relkind == RELKIND_RELATION &&
	rel->rd_rules == NULL && desc->natts == SEG_NATTS &&
	OidIsValid(RelationGetPrimaryKeyIndex(rel));
	int			i;

	for (i = 0; ok && i < SEG_NATTS; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		ok = !att->attisdropped && att->attnotnull &&
			att->atttypid == types[i];
	}
	if (ok)
	{
		/* the primary key is btree (partition, base_offset), ascending */
		Relation	index = index_open(RelationGetPrimaryKeyIndex(rel),
									   AccessShareLock);
		Form_pg_index form = index->rd_index;

		ok = index->rd_rel->relam == BTREE_AM_OID &&
			form->indnkeyatts == 2 && form->indnatts == 2 &&
			form->indkey.values[0] == SEG_PARTITION + 1 &&
			form->indkey.values[1] == SEG_BASE_OFFSET + 1 &&
			index->rd_indoption[0] == 0 && index->rd_indoption[1] == 0 &&
			RelationGetIndexExpressions(index) == NIL &&
			RelationGetIndexPredicate(index) == NIL;
		index_close(index, AccessShareLock);
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("segment table \"%s\" does not have the record batch layout",
						RelationGetRelationName(rel)),
				 errhint("SELECT mq.convert_segments() converts the segments of mq 0.1 (ALTER EXTENSION mq UPDATE does it); a segment changed by hand must be restored.")));
}

/*
 * open_for_reading
 *		Open segment relid (locked by the caller) and its primary key for a
 *		read.  The caller checked the right to read the topic (acl.c); a
 *		segment with row-level security, which reads that bypass it could
 *		not honour, is refused.
 */
static Relation
open_for_reading(Oid relid, Relation *index)
{
	Relation	rel = table_open(relid, NoLock);

	mq_segment_check_layout(rel);
	if (rel->rd_rel->relrowsecurity)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("row-level security on segment table \"%s\" is not supported",
						RelationGetRelationName(rel))));
	*index = index_open(RelationGetPrimaryKeyIndex(rel), AccessShareLock);
	return rel;
}

/*
 * visit_batch
 *		Decode the batch in slot and hand its records with offsets in [from,
 *		bound) to visit, in order.  Returns false if visit asked to stop.
 */
static bool
visit_batch(TupleTableSlot *slot, int64 from, int64 bound,
			MqRecordVisitor visit, void *arg)
{
	MqBatchReader r;
	MqRecord	rec;
	bool		go_on = true;

	slot_getallattrs(slot);
	mq_codec_open(&r, slot->tts_values[SEG_RECORDS],
				  slot->tts_isnull[SEG_RECORDS],
				  DatumGetInt32(slot->tts_values[SEG_PARTITION]),
				  DatumGetInt64(slot->tts_values[SEG_BASE_OFFSET]),
				  DatumGetInt32(slot->tts_values[SEG_RECORD_COUNT]));
	while (go_on && mq_codec_next(&r, &rec))
	{
		if (rec.offset < from)
			continue;
		if (rec.offset >= bound)
			break;
		go_on = visit(&rec, arg);
	}
	mq_codec_close(&r);
	return go_on;
}

/*
 * mq_segment_read
 *		Hand the records of a partition in segment relid (locked by the
 *		caller) with offsets in [from, bound) to visit, in offset order,
 *		until it returns false.  The batches are found through the primary
 *		key: the one that holds from (from may point inside a batch), then
 *		the following ones.  Reads under a snapshot taken now, so a caller
 *		that read the stable offset first sees every batch below it that
 *		committed; with the caller's rights, as a query would.
 */
void
mq_segment_read(Oid relid, int32 partition, int64 from, int64 bound,
				MqRecordVisitor visit, void *arg)
{
	Relation	index;
	Relation	rel = open_for_reading(relid, &index);
	Snapshot	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	IndexScanDesc scan;
	ScanKeyData keys[3];
	int64		start = from;

	/* the batch that holds from: the last one that starts at or before it */
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT4EQ,
				Int32GetDatum(partition));
	ScanKeyInit(&keys[1], 2, BTLessEqualStrategyNumber, F_INT8LE,
				Int64GetDatum(from));
	scan = index_beginscan(rel, index, snapshot, 2, 0);
	index_rescan(scan, keys, 2, NULL, 0);
	if (index_getnext_slot(scan, BackwardScanDirection, slot))
	{
		bool		isnull;
		int64		base = DatumGetInt64(slot_getattr(slot, SEG_BASE_OFFSET + 1,
													  &isnull));
		int32		count = DatumGetInt32(slot_getattr(slot,
													   SEG_RECORD_COUNT + 1,
													   &isnull));

		if (base + count > from)
			start = base;
	}
	index_endscan(scan);

	ScanKeyInit(&keys[1], 2, BTGreaterEqualStrategyNumber, F_INT8GE,
				Int64GetDatum(start));
	ScanKeyInit(&keys[2], 2, BTLessStrategyNumber, F_INT8LT,
				Int64GetDatum(bound));
	scan = index_beginscan(rel, index, snapshot, 3, 0);
	index_rescan(scan, keys, 3, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		CHECK_FOR_INTERRUPTS();
		if (!visit_batch(slot, from, bound, visit, arg))
			break;
	}
	index_endscan(scan);

	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snapshot);
	index_close(index, AccessShareLock);
	table_close(rel, NoLock);
}

/*
 * mq_segment_read_newest
 *		Hand the records of a partition in segment relid (locked by the
 *		caller), newest first, to visit until it returns false.  Each batch
 *		is decoded whole and its records handed over last first.
 */
void
mq_segment_read_newest(Oid relid, int32 partition, MqRecordVisitor visit,
					   void *arg)
{
	Relation	index;
	Relation	rel = open_for_reading(relid, &index);
	Snapshot	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	IndexScanDesc scan;
	ScanKeyData key;
	bool		go_on = true;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT4EQ,
				Int32GetDatum(partition));
	scan = index_beginscan(rel, index, snapshot, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	while (go_on && index_getnext_slot(scan, BackwardScanDirection, slot))
	{
		MqBatchReader r;
		MqRecord   *recs;
		int32		count;
		int32		n = 0;

		CHECK_FOR_INTERRUPTS();
		slot_getallattrs(slot);
		count = DatumGetInt32(slot->tts_values[SEG_RECORD_COUNT]);
		mq_codec_open(&r, slot->tts_values[SEG_RECORDS],
					  slot->tts_isnull[SEG_RECORDS], partition,
					  DatumGetInt64(slot->tts_values[SEG_BASE_OFFSET]), count);
		/* the count fits the batch's size: mq_codec_open checked */
		recs = palloc(sizeof(MqRecord) * Max(count, 1));
		while (n < count && mq_codec_next(&r, &recs[n]))
			n++;
		while (go_on && n > 0)
			go_on = visit(&recs[--n], arg);
		mq_codec_close(&r);
		pfree(recs);
	}
	index_endscan(scan);

	ExecDropSingleTupleTableSlot(slot);
	UnregisterSnapshot(snapshot);
	index_close(index, AccessShareLock);
	table_close(rel, NoLock);
}

/*
 * check_batch_columns
 *		Refuse a query result whose columns first to first + 3 are not a
 *		batch's partition, base_offset, record_count and records: a segment
 *		whose columns were retyped by hand must give an error, not a datum
 *		of another type decoded as a batch.
 */
static void
check_batch_columns(TupleDesc desc, int first)
{
	static const Oid types[4] = {INT4OID, INT8OID, INT4OID, BYTEAOID};
	int			i;

	for (i = 0; i < 4; i++)
		if (SPI_gettypeid(desc, first + i) != types[i])
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("a segment table of this topic does not have the record batch layout"),
					 errhint("A segment changed by hand must be restored.")));
}

/*
 * mq_segment_visit_rows
 *		Hand the records of the batches in the last query's result, whose
 *		columns 1 to 4 are partition, base_offset, record_count and records,
 *		to visit, in the result's order, until it returns false.  Returns
 *		false if visit asked to stop.  The caller is connected to SPI.
 */
bool
mq_segment_visit_rows(MqRecordVisitor visit, void *arg)
{
	SPITupleTable *rows = SPI_tuptable;
	uint64		n = SPI_processed;
	uint64		i;
	bool		go_on = true;

	check_batch_columns(rows->tupdesc, 1);

	for (i = 0; i < n && go_on; i++)
	{
		MqBatchReader r;
		MqRecord	rec;
		bool		isnull;

		Datum		records = SPI_getbinval(rows->vals[i], rows->tupdesc, 4,
											&isnull);

		mq_codec_open(&r, records, isnull,
					  DatumGetInt32(SPI_getbinval(rows->vals[i], rows->tupdesc,
												  1, &isnull)),
					  DatumGetInt64(SPI_getbinval(rows->vals[i], rows->tupdesc,
												  2, &isnull)),
					  DatumGetInt32(SPI_getbinval(rows->vals[i], rows->tupdesc,
												  3, &isnull)));
		while (go_on && mq_codec_next(&r, &rec))
			go_on = visit(&rec, arg);
		mq_codec_close(&r);
	}
	return go_on;
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
 *		is searched, oldest first: the first batch whose time range ends at
 *		or after at, decoded.
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
		MqBatchReader r;
		MqRecord	rec;
		Datum		records;
		bool		isnull;
		bool		found = false;

		/*
		 * The first batch with a message at or after at holds the first such
		 * message: a batch's last_at is its latest time.  A visible batch is
		 * below the stable offset or above it as a whole (a transaction's
		 * offsets are in flight together).
		 */
		args[0] = Int32GetDatum(partition);
		args[1] = TimestampTzGetDatum(at);
		args[2] = Int64GetDatum(stable);
		if (mq_query_once(psprintf("SELECT partition, base_offset, record_count,"
								   " records FROM %s WHERE partition = $1"
								   " AND last_at >= $2 AND base_offset < $3"
								   " ORDER BY base_offset LIMIT 1", segment),
						  3, types, args, NULL, false, 0) == 0)
			continue;
		check_batch_columns(SPI_tuptable->tupdesc, 1);
		records = mq_query_value(0, 4, &isnull);
		mq_codec_open(&r, records, isnull, partition,
					  DatumGetInt64(mq_query_value(0, 2, &isnull)),
					  DatumGetInt32(mq_query_value(0, 3, &isnull)));
		while (mq_codec_next(&r, &rec))
		{
			if (rec.produced_at >= at && rec.offset < stable)
			{
				result = rec.offset;
				found = true;
				break;
			}
		}
		mq_codec_close(&r);
		if (found)
			break;
	}
	mq_segment_scan_end(&scan);
	return result;
}

/*
 * find_log_ends
 *		For each partition p of topic_id with bounds[p] >= 0, set ends[p] to
 *		the offset just past its last record stored below bounds[p], or to
 *		-1 if no segment holds one.  The segments are searched newest first,
 *		each with one backward probe of its primary key per partition not
 *		found yet, and the search stops once every partition is found: a
 *		partition whose last batch below its bound is in the newest segment
 *		costs one probe, one that has none one probe per segment.  No batch
 *		is decoded.  Reads with the latest snapshot; the caller is
 *		connected to SPI and checked the right to describe the topic.
 */
static void
find_log_ends(int32 topic_id, int32 partitions, const int64 *bounds,
			  int64 *ends)
{
	MqSegmentScan scan;
	Snapshot	snapshot;
	Oid			relid;
	const char *name;
	int32		left = 0;
	int32		p;

	for (p = 0; p < partitions; p++)
	{
		ends[p] = -1;
		if (bounds[p] >= 0)
			left++;
	}
	if (left == 0)
		return;

	mq_segment_scan_begin(&scan, topic_id, true);
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	while (left > 0 && mq_segment_scan_next(&scan, &relid, &name))
	{
		Relation	rel = table_open(relid, NoLock);
		Relation	index = index_open(RelationGetPrimaryKeyIndex(rel),
									   AccessShareLock);
		TupleTableSlot *slot = table_slot_create(rel, NULL);
		IndexScanDesc iscan = index_beginscan(rel, index, snapshot, 2, 0);

		for (p = 0; p < partitions; p++)
		{
			ScanKeyData keys[2];
			bool		isnull;

			if (bounds[p] < 0 || ends[p] >= 0)
				continue;
			CHECK_FOR_INTERRUPTS();
			ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT4EQ,
						Int32GetDatum(p));
			ScanKeyInit(&keys[1], 2, BTLessStrategyNumber, F_INT8LT,
						Int64GetDatum(bounds[p]));
			index_rescan(iscan, keys, 2, NULL, 0);
			if (!index_getnext_slot(iscan, BackwardScanDirection, slot))
				continue;
			ends[p] = DatumGetInt64(slot_getattr(slot, SEG_BASE_OFFSET + 1,
												 &isnull)) +
				DatumGetInt32(slot_getattr(slot, SEG_RECORD_COUNT + 1,
										   &isnull));
			left--;
		}
		index_endscan(iscan);
		ExecDropSingleTupleTableSlot(slot);
		index_close(index, AccessShareLock);
		table_close(rel, NoLock);
	}
	UnregisterSnapshot(snapshot);
	mq_segment_scan_end(&scan);
}

/*
 * find_restart_gaps
 *		Record where the restart gaps of topic's partitions start, for
 *		those not known yet (offs[p].gap_start < 0; see offsets.c): the end
 *		of each partition's log below its gap's end, or its log start if no
 *		segment holds a record of it there (it never had one, or retention
 *		dropped them all).  The log start is read after the segments, so a
 *		segment that retention dropped meanwhile has moved it.  Runs once
 *		per partition per server life, at the first call that shows the
 *		partition's offsets.
 */
static void
find_restart_gaps(const MqTopicInfo *topic, const MqPartitionOffsets *offs)
{
	int64	   *bounds = palloc(sizeof(int64) * topic->partitions);
	int64	   *ends = palloc(sizeof(int64) * topic->partitions);
	Oid			type = INT4OID;
	Datum		arg = Int32GetDatum(topic->topic_id);
	bool		any = false;
	int32		p;
	uint64		i;
	uint64		n;

	for (p = 0; p < topic->partitions; p++)
	{
		bounds[p] = offs[p].gap_start < 0 ? offs[p].gap_end : -1;
		any |= bounds[p] >= 0;
	}
	if (!any)
		return;

	SPI_connect();
	find_log_ends(topic->topic_id, topic->partitions, bounds, ends);
	n = mq_query_latest("SELECT partition, log_start FROM mq.partition"
						" WHERE topic_id OPERATOR(pg_catalog.=) $1",
						1, &type, &arg, NULL);
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		int64		log_start;

		p = DatumGetInt32(mq_query_value(i, 1, &isnull));
		log_start = DatumGetInt64(mq_query_value(i, 2, &isnull));
		if (p < topic->partitions && bounds[p] >= 0)
			mq_offsets_set_gap(topic->topic_id, p, bounds[p],
							   Max(ends[p], log_start));
	}
	SPI_finish();
	pfree(bounds);
	pfree(ends);
}

/*
 * mq_partition_offsets
 *		SQL: mq.partition_offsets(topic) returns, per partition, the end
 *		offset (next to assign), the stable offset, the number of ranges in
 *		flight, the first offset of the oldest one, and the restart gap
 *		(NULLs if there is none).  While nothing has been handed out past
 *		the gap, the end and stable offsets show the log's end, where the
 *		gap starts, rather than the high mark where it ends.
 */
Datum
mq_partition_offsets(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = mq_topic_name_arg(fcinfo, 0);
	MqTopicInfo info;
	MqPartitionOffsets *offs;
	int32		p;

	InitMaterializedSRF(fcinfo, 0);
	mq_topic_get(name, &info);
	mq_topic_check_access(&info, MQ_ACCESS_DESCRIBE);

	offs = palloc(sizeof(MqPartitionOffsets) * info.partitions);
	for (p = 0; p < info.partitions; p++)
		if (!mq_offsets_read(info.topic_id, p, &offs[p]))
			return (Datum) 0;	/* dropped meanwhile */
	find_restart_gaps(&info, offs);

	for (p = 0; p < info.partitions; p++)
	{
		MqPartitionOffsets *o = &offs[p];
		Datum		values[7];
		bool		nulls[7] = {0};
		bool		gap;

		if (!mq_offsets_read(info.topic_id, p, o))
			break;				/* dropped meanwhile */
		gap = o->gap_start >= 0 && o->gap_start < o->gap_end;
		values[0] = Int32GetDatum(p);
		values[1] = Int64GetDatum(gap && o->end == o->gap_end ?
								  o->gap_start : o->end);
		values[2] = Int64GetDatum(gap && o->stable == o->gap_end ?
								  o->gap_start : o->stable);
		values[3] = Int32GetDatum(o->inflight);
		values[4] = Int64GetDatum(o->oldest);
		nulls[4] = (o->inflight == 0);
		values[5] = Int64GetDatum(o->gap_start);
		values[6] = Int64GetDatum(o->gap_end);
		nulls[5] = nulls[6] = !gap;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
							 values, nulls);
	}
	return (Datum) 0;
}

/* Old-layout rows read per fetch while converting a segment. */
#define CONVERT_FETCH		1000

/*
 * write_batch
 *		Insert the batch w, of partition, starting at base_offset, into the
 *		segment table named table.  Caller is connected to SPI.
 */
static void
write_batch(const char *table, int32 partition, int64 base_offset,
			MqBatchWriter *w, MqCompression compression)
{
	Oid			types[6] = {INT4OID, INT8OID, INT4OID, TIMESTAMPTZOID,
	TIMESTAMPTZOID, BYTEAOID};
	Datum		values[6];

	values[0] = Int32GetDatum(partition);
	values[1] = Int64GetDatum(base_offset);
	values[2] = Int32GetDatum(w->count);
	values[3] = TimestampTzGetDatum(w->first_at);
	values[4] = TimestampTzGetDatum(w->last_at);
	values[5] = mq_codec_finish(w, compression);
	mq_query(psprintf("INSERT INTO %s (partition, base_offset, record_count,"
					  " first_at, last_at, records)"
					  " VALUES ($1, $2, $3, $4, $5, $6)", table),
			 6, types, values, NULL, false);
}

/*
 * convert_segment
 *		Rewrite one segment of the one-row-per-message layout (mq 0.1) as
 *		record batches: a batch holds consecutive offsets of one partition
 *		(a hole, an aborted transaction's offsets, starts a new one) and is
 *		cut at MQ_BATCH_MAX_BYTES.  The new table takes the old one's name
 *		and its place in mq.segment; the old one's owner becomes the topic's
 *		owner.  Caller is connected to SPI.  Returns the new table's OID.
 */
static Oid
convert_segment(Oid old_relid, MqCompression compression)
{
	char	   *table = pstrdup(quote_qualified_identifier(MQ_EXTENSION_NAME,
														   get_rel_name(old_relid)));
	char	   *old_name = psprintf("%s_v1", get_rel_name(old_relid));
	char	   *old_table = pstrdup(quote_qualified_identifier(MQ_EXTENSION_NAME,
															   old_name));
	Oid			owner;
	Oid			relid;
	Portal		portal;
	MqBatchWriter w;
	int32		partition = -1;
	int64		base = 0;
	int64		next = -1;
	MemoryContext batch_context;
	MemoryContext oldcxt;
	uint64		n;
	uint64		i;

	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(old_relid));
	MemoryContext row_context;
	Relation	old;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", old_relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);

	/*
	 * A plain table with no rules: a superuser is about to query a table its
	 * owner controls.
	 */
	old = table_open(old_relid, AccessExclusiveLock);
	if (old->rd_rel->relkind != RELKIND_RELATION || old->rd_rules != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("segment \"%s\" is not a plain table and cannot be converted",
						RelationGetRelationName(old))));
	table_close(old, NoLock);

	mq_query_once(psprintf("ALTER TABLE %s RENAME TO %s", table,
						   quote_identifier(old_name)),
				  0, NULL, NULL, NULL, false, 0);

	/* free the primary key's name for the new table's */
	mq_query_once(psprintf("SELECT pg_catalog.format('ALTER INDEX mq.%%I RENAME TO %%I',"
						   " c.relname, %s)"
						   " FROM pg_catalog.pg_index i"
						   " JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid"
						   " WHERE i.indrelid = %u AND i.indisprimary",
						   quote_literal_cstr(psprintf("%s_pkey", old_name)),
						   old_relid),
				  0, NULL, NULL, NULL, true, 0);
	if (SPI_processed == 1)
		mq_query_once(SPI_getvalue(SPI_tuptable->vals[0],
								   SPI_tuptable->tupdesc, 1),
					  0, NULL, NULL, NULL, false, 0);
	relid = create_table(table, compression);

	batch_context = AllocSetContextCreate(CurrentMemoryContext,
										  "mq batch conversion",
										  ALLOCSET_DEFAULT_SIZES);
	row_context = AllocSetContextCreate(CurrentMemoryContext,
										"mq batch conversion row",
										ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(batch_context);
	mq_codec_begin(&w, mq_offsets_epoch());
	MemoryContextSwitchTo(oldcxt);

	portal = mq_query_cursor(psprintf("SELECT partition, \"offset\", id,"
									  " produced_at, payload_type, key, tag,"
									  " headers, payload FROM %s"
									  " ORDER BY partition, \"offset\"",
									  old_table), 0, NULL, NULL, NULL);
	while ((n = mq_query_fetch(portal, CONVERT_FETCH)) > 0)
	{
		static const MqMessageColumns cols = {
			.partition = 1,.id = 3,.payload_type = 5,.key = 6,.tag = 7,
			.headers = 8,.payload = 9
		};
		SPITupleTable *rows = SPI_tuptable;

		for (i = 0; i < n; i++)
		{
			bool		isnull;
			int64		offset = DatumGetInt64(SPI_getbinval(rows->vals[i],
															 rows->tupdesc, 2,
															 &isnull));
			TimestampTz at = DatumGetTimestampTz(SPI_getbinval(rows->vals[i],
															   rows->tupdesc,
															   4, &isnull));
			MqMessage	m;

			/* the row's detoasted values live until it is in the batch */
			MemoryContextReset(row_context);
			oldcxt = MemoryContextSwitchTo(row_context);
			mq_message_from_row(rows->vals[i], rows->tupdesc, &cols, &m);
			MemoryContextSwitchTo(oldcxt);
			if (w.count > 0 &&
				(m.partition != partition || offset != next ||
				 w.buf.len >= MQ_BATCH_MAX_BYTES))
			{
				oldcxt = MemoryContextSwitchTo(batch_context);
				write_batch(table, partition, base, &w, compression);
				MemoryContextSwitchTo(oldcxt);
				MemoryContextReset(batch_context);
				oldcxt = MemoryContextSwitchTo(batch_context);
				mq_codec_begin(&w, mq_offsets_epoch());
				MemoryContextSwitchTo(oldcxt);
			}
			if (w.count == 0)
			{
				partition = m.partition;
				base = offset;
			}
			oldcxt = MemoryContextSwitchTo(batch_context);
			mq_codec_add(&w, &m, at);
			MemoryContextSwitchTo(oldcxt);
			next = offset + 1;
		}
		SPI_freetuptable(rows);
	}
	SPI_cursor_close(portal);
	if (w.count > 0)
	{
		oldcxt = MemoryContextSwitchTo(batch_context);
		write_batch(table, partition, base, &w, compression);
		MemoryContextSwitchTo(oldcxt);
	}
	MemoryContextDelete(batch_context);
	MemoryContextDelete(row_context);

	/*
	 * The new table is mq's (query.c creates it as the extension's owner);
	 * the old table's owner becomes the topic's owner (acl.c).  Its place,
	 * and then away.
	 */
	mq_query_once(psprintf("UPDATE mq.topic t SET owner = %s FROM mq.segment s"
						   " WHERE s.topic_id = t.topic_id"
						   " AND s.relid = %u::pg_catalog.oid",
						   quote_literal_cstr(GetUserNameFromId(owner, false)),
						   old_relid), 0, NULL, NULL, NULL, false, 0);
	mq_acl_changed();
	mq_query_once(psprintf("UPDATE mq.segment SET relid = %u::pg_catalog.oid"
						   " WHERE relid = %u::pg_catalog.oid",
						   relid, old_relid), 0, NULL, NULL, NULL, false, 0);
	mq_query_once(psprintf("DROP TABLE %s", old_table),
				  0, NULL, NULL, NULL, false, 0);
	return relid;
}

/*
 * mq_convert_segments
 *		SQL: mq.convert_segments() rewrites every segment of the
 *		one-row-per-message layout of mq 0.1 as record batches, compressed
 *		as its topic says; the 0.1 to 0.2 update script runs it, and so
 *		does whoever restores a dump of a 0.1 database into 0.2.  Returns
 *		how many segments it converted.
 */
Datum
mq_convert_segments(PG_FUNCTION_ARGS)
{
	uint64		n;
	uint64		i;
	SPITupleTable *segments;
	int			converted = 0;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only a superuser can convert mq segments")));

	SPI_connect();
	mq_topic_check_version();

	/* serialised with topic DDL, rolls and retention, which lock rows */
	mq_query_once("LOCK TABLE mq.topic IN EXCLUSIVE MODE",
				  0, NULL, NULL, NULL, false, 0);
	n = mq_query_once("SELECT s.relid::pg_catalog.oid, t.compression,"
					  " t.topic_id, t.name, s.segment_no OPERATOR(pg_catalog.=)"
					  "  (SELECT max(a.segment_no) FROM mq.segment a"
					  "    WHERE a.topic_id OPERATOR(pg_catalog.=) s.topic_id)"
					  " FROM mq.segment s JOIN mq.topic t USING (topic_id)"
					  " WHERE EXISTS (SELECT FROM pg_catalog.pg_attribute a"
					  "  WHERE a.attrelid OPERATOR(pg_catalog.=) s.relid"
					  "  AND a.attname OPERATOR(pg_catalog.=) 'offset'"
					  "  AND NOT a.attisdropped)"
					  " ORDER BY s.topic_id, s.segment_no",
					  0, NULL, NULL, NULL, false, 0);
	segments = SPI_tuptable;
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = segments->vals[i];
		TupleDesc	desc = segments->tupdesc;
		bool		isnull;
		Oid			relid;

		relid = convert_segment(DatumGetObjectId(SPI_getbinval(tup, desc, 1,
															   &isnull)),
								mq_codec_compression(SPI_getvalue(tup, desc,
																  2)));

		/* the directory's active segment follows when this commits */
		if (DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull)))
			mq_topic_rolled(DatumGetInt32(SPI_getbinval(tup, desc, 3,
														&isnull)),
							SPI_getvalue(tup, desc, 4), relid);
		converted++;
	}
	SPI_finish();
	PG_RETURN_INT32(converted);
}
