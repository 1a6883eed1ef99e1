/*-------------------------------------------------------------------------
 *
 * topic.c
 *	  Topics: mq.create_topic, mq.drop_topic, the shared-memory topic and
 *	  partition directories, and the one access check every entry point
 *	  goes through.
 *
 * mq.topic, mq.segment and mq.partition are the source of truth.  The
 * first use of a topic in any backend loads it into shared memory
 * (mq_topic_get, through SPI); from then on producers and readers find it
 * there without a catalog query.  A partition's next offset starts at its
 * durable high mark, which every offset ever assigned is below (see
 * produce.c), so offsets continue past anything handed out before a
 * restart.
 *
 * Entries leave the directory when a transaction that dropped the topic
 * commits, when the (sub)transaction that created it aborts, and when DROP
 * EXTENSION commits.  That happens in the transaction callbacks, which run
 * before the ending transaction releases its locks: a producer that was
 * waiting for the segment table's lock finds the entry gone when it checks
 * again, and fails cleanly.  Loading a topic locks its segment table before
 * entering it, so a drop cannot commit in between.  A transaction that
 * dropped a topic and uses its name again forgets the old entry at once.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/topic.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "lib/stringinfo.h"
#include "nodes/makefuncs.h"
#include "utils/regproc.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "fetch.h"
#include "group.h"
#include "mq.h"
#include "shmem.h"
#include "topic.h"

/* A topic created or dropped by the current transaction. */
typedef enum TopicChangeKind
{
	TOPIC_CREATED,
	TOPIC_DROPPED,
	TOPIC_GROWN,				/* partitions added */
	TOPIC_ROLLED				/* a new active segment */
} TopicChangeKind;

typedef struct TopicChange
{
	SubTransactionId subid;
	TopicChangeKind kind;
	int32		topic_id;
	char		name[MQ_NAME_MAX + 1];
	int32		old_partitions; /* TOPIC_GROWN: from */
	int32		new_partitions; /* TOPIC_GROWN: to */
	Oid			segment_relid;	/* TOPIC_ROLLED: the new segment */
} TopicChange;

static void forget_topic(Oid dboid, const char *name, int32 topic_id);

/* Changes of the current transaction, in TopTransactionContext. */
static List *topic_changes = NIL;
static bool purge_at_commit = false;	/* the extension is being dropped */

/* Parameter types of the SPI queries below. */
static Oid	text_type = TEXTOID;
static Oid	int4_type = INT4OID;

PG_FUNCTION_INFO_V1(mq_create_topic);
PG_FUNCTION_INFO_V1(mq_drop_topic);
PG_FUNCTION_INFO_V1(mq_alter_topic);
PG_FUNCTION_INFO_V1(mq_roll_segment);
PG_FUNCTION_INFO_V1(mq_partition_offsets);

/*
 * mq_name_arg
 *		Argument argno, the name of an mq object of the given kind ("topic",
 *		"consumer group"): not null, 1 to MQ_NAME_MAX characters among
 *		letters, digits, ".", "_" and "-" (so it is safe in file names,
 *		channel names and messages).
 */
char *
mq_name_arg(FunctionCallInfo fcinfo, int argno, const char *kind)
{
	char	   *name;
	size_t		len;
	const char *p;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s name must not be null", kind)));

	name = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	len = strlen(name);
	for (p = name; *p; p++)
	{
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			break;
	}
	if (len == 0 || len > MQ_NAME_MAX || *p != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("invalid %s name \"%s\"", kind, name),
				 errdetail("A %s name has 1 to %d characters among letters, digits, \".\", \"_\" and \"-\".",
						   kind, MQ_NAME_MAX)));
	return name;
}

/*
 * mq_topic_name_arg
 *		Argument argno as a topic name.
 */
char *
mq_topic_name_arg(FunctionCallInfo fcinfo, int argno)
{
	return mq_name_arg(fcinfo, argno, "topic");
}

static void
topic_key(MqTopicKey *key, const char *name)
{
	memset(key, 0, sizeof(*key));
	key->dboid = MyDatabaseId;
	strlcpy(key->name, name, sizeof(key->name));
}

static void
partition_key(MqPartitionKey *key, int32 topic_id, int32 partition)
{
	memset(key, 0, sizeof(*key));
	key->dboid = MyDatabaseId;
	key->topic_id = topic_id;
	key->partition = partition;
}

static void
copy_info(const MqTopic *topic, MqTopicInfo *info)
{
	strlcpy(info->name, topic->key.name, sizeof(info->name));
	info->topic_id = topic->topic_id;
	info->partitions = topic->partitions;
	info->segment_relid = topic->segment_relid;
}

/*
 * mq_topic_find
 *		Copy the directory entry of topic name into *info.  Returns false if
 *		the topic is not in shared memory (never loaded, or dropped).  No
 *		catalog access: usable at commit time.
 */
bool
mq_topic_find(const char *name, MqTopicInfo *info)
{
	MqTopicKey	key;
	MqTopic    *topic;

	topic_key(&key, name);
	LWLockAcquire(MqState->topic_lock, LW_SHARED);
	topic = hash_search(MqTopicDir.htab, &key, HASH_FIND, NULL);
	if (topic != NULL)
		copy_info(topic, info);
	LWLockRelease(MqState->topic_lock);
	return topic != NULL;
}

/*
 * mq_partition_find
 *		The shared state of a partition of a loaded topic, or NULL.  See the
 *		lock discipline in shmem.h for how long the pointer stays valid.
 */
MqPartition *
mq_partition_find(int32 topic_id, int32 partition)
{
	MqPartitionKey key;
	MqPartition *part;

	partition_key(&key, topic_id, partition);
	LWLockAcquire(MqState->topic_lock, LW_SHARED);
	part = hash_search(MqPartitionDir.htab, &key, HASH_FIND, NULL);
	LWLockRelease(MqState->topic_lock);
	return part;
}

/*
 * dropped_here
 *		Whether the current transaction dropped topic topic_id.
 */
static bool
dropped_here(int32 topic_id)
{
	ListCell   *lc;

	foreach(lc, topic_changes)
	{
		TopicChange *change = lfirst(lc);

		if (change->kind == TOPIC_DROPPED && change->topic_id == topic_id)
			return true;
	}
	return false;
}

/*
 * undefined_topic
 *		Report that topic name does not exist.
 */
static void
undefined_topic(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("topic \"%s\" does not exist", name),
			 errhint("The view mq.topics lists the existing topics.")));
}

/*
 * mq_topic_get
 *		Copy topic name's directory entry into *info, loading the topic
 *		from mq's tables into shared memory if it is not there yet.  Raises
 *		an error if the topic does not exist, or if shared memory has no
 *		room for it (SQLSTATE 53400).
 */
void
mq_topic_get(const char *name, MqTopicInfo *info)
{
	MqTopicKey	key;
	MqTopic    *topic;
	Datum		arg;
	int32		topic_id;
	int32		partitions;
	Oid			relid;
	int64	   *high_marks;
	bool		found;
	bool		isnull;
	int			attempt;
	uint64		i;

	if (mq_topic_find(name, info))
	{
		if (!dropped_here(info->topic_id))
			return;

		/*
		 * This transaction dropped that topic (and holds its tables
		 * exclusively, so nobody else uses the entry): a topic created under
		 * the same name since needs an entry of its own.
		 */
		LWLockAcquire(MqState->topic_lock, LW_EXCLUSIVE);
		forget_topic(MyDatabaseId, name, info->topic_id);
		LWLockRelease(MqState->topic_lock);
	}

	/*
	 * Not loaded: read it from the tables, with a snapshot newer than any
	 * drop whose commit already removed the topic from shared memory. Then
	 * lock its segment table, so that no drop can commit before the entry is
	 * in place, and make sure the table still exists; if not, a drop
	 * committed in between, and the tables are read again.
	 */
	SPI_connect();
	arg = CStringGetTextDatum(name);
	for (attempt = 0;; attempt++)
	{
		PushActiveSnapshot(GetLatestSnapshot());
		SPI_execute_with_args("SELECT t.topic_id, t.partitions,"
							  " (SELECT s.relid FROM mq.segment s"
							  "   WHERE s.topic_id = t.topic_id"
							  "   ORDER BY s.segment_no DESC LIMIT 1)::oid"
							  " FROM mq.topic t WHERE t.name = $1",
							  1, &text_type, &arg, NULL, true, 1);
		PopActiveSnapshot();
		if (SPI_processed == 0)
		{
			SPI_finish();
			undefined_topic(name);
		}
		topic_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
		partitions = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
												 SPI_tuptable->tupdesc, 2, &isnull));
		relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 3, &isnull));
		LockRelationOid(relid, AccessShareLock);
		if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		{
			/*
			 * Now that no drop or roll can commit, read the partition count,
			 * the active segment and the high marks again, with one snapshot
			 * (an ALTER or a roll may have committed while we waited).
			 */
			arg = Int32GetDatum(topic_id);
			PushActiveSnapshot(GetLatestSnapshot());
			SPI_execute_with_args("SELECT t.partitions,"
								  " (SELECT s.relid FROM mq.segment s"
								  "   WHERE s.topic_id = t.topic_id"
								  "   ORDER BY s.segment_no DESC LIMIT 1)::oid,"
								  " p.high_mark"
								  " FROM mq.topic t JOIN mq.partition p USING (topic_id)"
								  " WHERE t.topic_id = $1 ORDER BY p.partition",
								  1, &int4_type, &arg, NULL, true, 0);
			PopActiveSnapshot();
			if (SPI_processed > 0 &&
				DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 2,
											   &isnull)) == relid)
			{
				partitions = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
														 SPI_tuptable->tupdesc,
														 1, &isnull));
				if (SPI_processed != (uint64) partitions)
					ereport(ERROR,
							(errcode(ERRCODE_DATA_CORRUPTED),
							 errmsg("topic \"%s\" has %d partitions but %llu rows in mq.partition",
									name, partitions,
									(unsigned long long) SPI_processed)));
				high_marks = SPI_palloc(sizeof(int64) * partitions);
				for (i = 0; i < SPI_processed; i++)
					high_marks[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
																SPI_tuptable->tupdesc,
																3, &isnull));
				break;
			}
		}
		UnlockRelationOid(relid, AccessShareLock);
		if (attempt >= 3)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("topic \"%s\" keeps being changed while it is loaded", name)));
		arg = CStringGetTextDatum(name);
	}

	SPI_finish();

	/* Enter it, unless another backend was quicker. */
	topic_key(&key, name);
	LWLockAcquire(MqState->topic_lock, LW_EXCLUSIVE);
	topic = hash_search(MqTopicDir.htab, &key, HASH_FIND, NULL);
	if (topic == NULL)
	{
		if (hash_get_num_entries(MqPartitionDir.htab) + partitions >
			mq_max_partitions)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("not enough mq partition slots for the %d partitions of topic \"%s\"",
							partitions, name),
					 errdetail("%ld of %d slots are in use.",
							   hash_get_num_entries(MqPartitionDir.htab),
							   mq_max_partitions),
					 errhint("Increase mq.max_partitions and restart the server.")));
		topic = mq_shmem_enter(&MqTopicDir, &key, &found);
		topic->topic_id = topic_id;
		topic->partitions = partitions;
		topic->segment_relid = relid;

		for (i = 0; i < (uint64) partitions; i++)
		{
			MqPartitionKey pkey;
			MqPartition *part;

			partition_key(&pkey, topic_id, (int32) i);
			part = mq_shmem_enter(&MqPartitionDir, &pkey, &found);
			if (found)
				continue;
			LWLockInitialize(&part->lock, MqState->partition_tranche);
			SpinLockInit(&part->mutex);
			part->next_offset = high_marks[i];
			part->high_mark = high_marks[i];
			part->notified = high_marks[i];
			ConditionVariableInit(&part->cv);
		}
	}
	copy_info(topic, info);
	LWLockRelease(MqState->topic_lock);
}

/*
 * mq_check_access
 *		The single access check of every SQL entry point that touches a
 *		topic.  Until per-topic privileges exist, EXECUTE on the function
 *		(revoked from PUBLIC) is the whole check, so this accepts; it is
 *		the one place per-topic privileges will go.
 */
void
mq_check_access(const MqTopicInfo *topic, MqAccess mode)
{
	(void) topic;
	(void) mode;
}

/*
 * mq_check_partition
 *		Refuse a partition number outside the topic.
 */
void
mq_check_partition(const MqTopicInfo *topic, int32 partition)
{
	if (partition < 0 || partition >= topic->partitions)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("partition %d does not exist in topic \"%s\"",
						partition, topic->name),
				 errdetail("Topic \"%s\" has partitions 0 to %d.",
						   topic->name, topic->partitions - 1)));
}

/*
 * remember_change
 *		Note that the current subtransaction created, dropped or grew a
 *		topic.
 */
static TopicChange *
remember_change(TopicChangeKind kind, int32 topic_id, const char *name)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	TopicChange *change = palloc0(sizeof(TopicChange));

	change->subid = GetCurrentSubTransactionId();
	change->kind = kind;
	change->topic_id = topic_id;
	strlcpy(change->name, name, sizeof(change->name));
	topic_changes = lappend(topic_changes, change);
	MemoryContextSwitchTo(oldcxt);
	return change;
}

static int64
interval_usecs(Interval *iv)
{
	return iv->time + (int64) iv->day * USECS_PER_DAY +
		(int64) iv->month * DAYS_PER_MONTH * USECS_PER_DAY;
}

/*
 * check_ddl_access
 *		The access check of topic DDL, which knows the topic by name and id
 *		only (0 if not known yet).
 */
static void
check_ddl_access(const char *name, int32 topic_id)
{
	MqTopicInfo info = {0};

	strlcpy(info.name, name, sizeof(info.name));
	info.topic_id = topic_id;
	mq_check_access(&info, MQ_ACCESS_SEND);
}

/*
 * for_each_segment
 *		Run command, a format with one %s, for each segment table of a
 *		topic.  Caller is connected to SPI.
 */
static void
for_each_segment(int32 topic_id, const char *command)
{
	Datum		arg = Int32GetDatum(topic_id);
	SPITupleTable *segments;
	uint64		nsegments;
	uint64		i;

	SPI_execute_with_args("SELECT relid::text FROM mq.segment WHERE topic_id = $1",
						  1, &int4_type, &arg, NULL, false, 0);
	segments = SPI_tuptable;
	nsegments = SPI_processed;
	for (i = 0; i < nsegments; i++)
		SPI_execute(psprintf(command,
							 SPI_getvalue(segments->vals[i],
										  segments->tupdesc, 1)),
					false, 0);
}

/*
 * create_segment
 *		Create segment table number segment_no of a topic, with its
 *		indexes, and record it in mq.segment.  Caller is connected to SPI.
 *		Returns the table's OID.
 */
static Oid
create_segment(int32 topic_id, int32 segment_no)
{
	char	   *table = psprintf("mq.seg_%d_%d", topic_id, segment_no);
	ObjectAddress table_addr;
	ObjectAddress extension_addr;
	Oid			relid;
	bool		isnull;

	SPI_execute(psprintf("CREATE TABLE %s ("
						 " partition integer NOT NULL,"
						 " \"offset\" bigint NOT NULL,"
						 " id uuid NOT NULL,"
						 " produced_at timestamptz NOT NULL,"
						 " payload_type \"char\" NOT NULL,"
						 " key text COLLATE \"C\","
						 " tag text COLLATE \"C\","
						 " headers jsonb,"
						 " payload bytea NOT NULL,"
						 " PRIMARY KEY (partition, \"offset\"))", table),
				false, 0);

	/*
	 * Lookups by key (most recent first) and by time.  Lookups by id use the
	 * time index too: a UUIDv7 carries its message's time.
	 */
	SPI_execute(psprintf("CREATE INDEX ON %s (key, produced_at)"
						 " WHERE key IS NOT NULL", table), false, 0);
	SPI_execute(psprintf("CREATE INDEX ON %s USING brin (produced_at)", table),
				false, 0);
	SPI_execute(psprintf("INSERT INTO mq.segment (topic_id, segment_no, relid)"
						 " VALUES (%d, %d, '%s') RETURNING relid::oid",
						 topic_id, segment_no, table),
				false, 0);
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
 * check_partition_count
 *		Refuse a partition count out of bounds.
 */
static void
check_partition_count(const char *name, int32 partitions)
{
	if (partitions < 1 || partitions > 100000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("topic \"%s\" cannot have %d partitions", name, partitions),
				 errdetail("A topic has 1 to 100000 partitions.")));
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
	if (!PG_ARGISNULL(4) && PG_GETARG_INT64(4) < 1024 * 1024)
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
 *		segment_bytes, segment_age, notify, dedup_window) returns the new
 *		topic's id.
 */
Datum
mq_create_topic(PG_FUNCTION_ARGS)
{
	char	   *name = mq_topic_name_arg(fcinfo, 0);
	int32		partitions;
	int64		segment_bytes;
	Datum		args[1];
	int32		topic_id;
	bool		isnull;
	int			i;

	for (i = 1; i < 8; i++)
	{
		/* only the retention settings may be NULL, meaning "no limit" */
		if (PG_ARGISNULL(i) && i != 2 && i != 3)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument %d of mq.create_topic must not be null", i + 1)));
	}
	partitions = PG_GETARG_INT32(1);
	segment_bytes = PG_GETARG_INT64(4);

	check_partition_count(name, partitions);
	check_topic_settings(fcinfo, name);

	SPI_connect();

	/* Serialise topic DDL, so that the check below is reliable. */
	SPI_execute("LOCK TABLE mq.topic IN SHARE ROW EXCLUSIVE MODE", false, 0);

	args[0] = CStringGetTextDatum(name);
	SPI_execute_with_args("SELECT 1 FROM mq.topic WHERE name = $1",
						  1, &text_type, args, NULL, false, 1);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("topic \"%s\" already exists", name)));

	SPI_execute("SELECT nextval('mq.topic_id_seq')::integer", false, 1);
	topic_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));

	{
		Oid			types[9] = {TEXTOID, INT4OID, INT4OID, INTERVALOID,
		INT8OID, INT8OID, INTERVALOID, BOOLOID, INTERVALOID};
		Datum		values[9];
		char		valnulls[9];

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
		SPI_execute_with_args("INSERT INTO mq.topic (name, topic_id, partitions,"
							  " retention, retention_bytes, segment_bytes,"
							  " segment_age, notify, dedup_window)"
							  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
							  9, types, values, valnulls, false, 0);
	}

	create_segment(topic_id, 0);
	SPI_execute(psprintf("INSERT INTO mq.partition (topic_id, partition)"
						 " SELECT %d, p FROM generate_series(0, %d) p",
						 topic_id, partitions - 1), false, 0);

	SPI_finish();

	remember_change(TOPIC_CREATED, topic_id, name);
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

	SPI_connect();
	SPI_execute("LOCK TABLE mq.topic IN SHARE ROW EXCLUSIVE MODE", false, 0);
	SPI_execute_with_args("SELECT topic_id FROM mq.topic WHERE name = $1",
						  1, &text_type, &arg, NULL, false, 1);
	if (SPI_processed == 0)
	{
		SPI_finish();
		if (!if_exists)
			undefined_topic(name);
		ereport(NOTICE,
				(errmsg("topic \"%s\" does not exist, skipping", name)));
		PG_RETURN_BOOL(false);
	}
	topic_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	check_ddl_access(name, topic_id);

	for_each_segment(topic_id, "DROP TABLE %s");
	arg = Int32GetDatum(topic_id);
	mq_fetch_subscriptions_changed();
	SPI_execute_with_args("DELETE FROM mq.topic WHERE topic_id = $1",
						  1, &int4_type, &arg, NULL, false, 0);
	SPI_finish();

	remember_change(TOPIC_DROPPED, topic_id, name);
	PG_RETURN_BOOL(true);
}

/*
 * mq_topic_roll
 *		Start a new segment for topic name: producers write to it once this
 *		transaction commits; the old segments stay readable until retention
 *		drops them.  Serialised with topic DDL (a drop must see every
 *		segment).  Returns the new segment's number, or -1 if nowait and
 *		producers hold the active segment.
 */
int32
mq_topic_roll(const char *name, bool nowait)
{
	Datum		args[2];
	Oid			types[2] = {TEXTOID, OIDOID};
	MqTopicInfo info;
	int32		topic_id;
	int32		segment_no;
	bool		isnull;
	TopicChange *change;
	Oid			relid;
	Oid			owner;
	Oid			save_userid;
	int			save_sec_context;

	SPI_connect();
	SPI_execute("LOCK TABLE mq.topic IN SHARE ROW EXCLUSIVE MODE", false, 0);

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
	SPI_execute_with_args("SELECT t.topic_id,"
						  " (SELECT max(s.segment_no) FROM mq.segment s"
						  "   WHERE s.topic_id = t.topic_id) + 1,"
						  " (SELECT c.relowner FROM pg_catalog.pg_class c"
						  "   WHERE c.oid = $2)"
						  " FROM mq.topic t WHERE t.name = $1",
						  2, types, args, NULL, false, 1);
	if (SPI_processed == 0)
		undefined_topic(name);
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
	relid = create_segment(topic_id, segment_no);
	SetUserIdAndSecContext(save_userid, save_sec_context);
	SPI_finish();

	change = remember_change(TOPIC_ROLLED, topic_id, name);
	change->segment_relid = relid;
	return segment_no;
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

	check_ddl_access(name, 0);
	PG_RETURN_INT32(mq_topic_roll(name, false));
}

/*
 * mq_topic_roll_due
 *		Roll the active segment of every topic of this database that has
 *		reached its segment_bytes (with its TOAST table and indexes), or is
 *		older than its segment_age and not empty.  Called by the database
 *		worker, in a transaction with a snapshot.  Returns how many topics
 *		it rolled.
 */
int
mq_topic_roll_due(void)
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
	SPI_execute("SELECT t.name FROM mq.topic t"
				" CROSS JOIN LATERAL (SELECT s.relid, s.created_at FROM mq.segment s"
				"   WHERE s.topic_id = t.topic_id"
				"   ORDER BY s.segment_no DESC LIMIT 1) s"
				" WHERE pg_total_relation_size(s.relid) >= t.segment_bytes"
				"    OR (s.created_at + t.segment_age <= now()"
				"        AND pg_relation_size(s.relid) > 0)",
				true, 0);
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
		int32		segment_no = mq_topic_roll(lfirst(lc), true);

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
 * mq_lock_segment
 *		Lock segment table name (as mq.segment lists it) for reading, and
 *		return its OID, or InvalidOid if it no longer exists: retention may
 *		have dropped it since the caller listed it, and then the caller
 *		skips it.
 */
Oid
mq_lock_segment(const char *name)
{
	RangeVar   *rv = makeRangeVarFromNameList(stringToQualifiedNameList(name));

	return RangeVarGetRelidExtended(rv, AccessShareLock, RVR_MISSING_OK,
									NULL, NULL);
}

/*
 * mq_topic_retention_pass
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
mq_topic_retention_pass(void)
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
	SPI_execute("SELECT s.topic_id, t.partitions, s.relid::oid, s.relid::text"
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
				" ORDER BY s.topic_id, s.segment_no",
				false, 0);
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
		SPI_execute_with_args(psprintf("UPDATE mq.partition p"
									   " SET log_start = greatest(p.log_start, l.last OPERATOR(pg_catalog.+) 1)"
									   " FROM (SELECT g.p, (SELECT s.\"offset\" FROM %s s"
									   "   WHERE s.partition OPERATOR(pg_catalog.=) g.p"
									   "   ORDER BY s.\"offset\" DESC LIMIT 1) AS last"
									   "  FROM pg_catalog.generate_series(0, $2 OPERATOR(pg_catalog.-) 1) g(p)) l"
									   " WHERE p.topic_id OPERATOR(pg_catalog.=) $1"
									   " AND p.partition OPERATOR(pg_catalog.=) l.p"
									   " AND l.last IS NOT NULL", table),
							  2, types, args, NULL, false, 0);
		SPI_execute_with_args("DELETE FROM mq.segment WHERE relid OPERATOR(pg_catalog.=) $3::pg_catalog.regclass",
							  3, types, args, NULL, false, 0);
		SPI_execute(psprintf("DROP TABLE %s", table), false, 0);
		ereport(DEBUG1,
				(errmsg("mq dropped segment %s past its topic's retention", table)));
		dropped++;
	}
	SPI_finish();
	return dropped;
}

/*
 * grow_partitions
 *		Add partitions [from, to) of a loaded topic to shared memory now, so
 *		that running out of slots fails the ALTER, not its commit; the
 *		topic's partition count follows at commit (mq_topic_xact_end).  The
 *		caller holds the topic's segment tables exclusively, so nobody can
 *		use or load the topic meanwhile.
 */
static void
grow_partitions(const char *name, int32 topic_id, int32 from, int32 to)
{
	MqTopicKey	key;
	MqTopic    *topic;
	int32		p;

	topic_key(&key, name);
	LWLockAcquire(MqState->topic_lock, LW_EXCLUSIVE);
	topic = hash_search(MqTopicDir.htab, &key, HASH_FIND, NULL);
	if (topic == NULL || topic->topic_id != topic_id)
	{
		/* not loaded: the next use loads the new count from the tables */
		LWLockRelease(MqState->topic_lock);
		return;
	}
	if (hash_get_num_entries(MqPartitionDir.htab) + (to - from) > mq_max_partitions)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("not enough mq partition slots for %d more partitions of topic \"%s\"",
						to - from, name),
				 errhint("Increase mq.max_partitions and restart the server.")));
	for (p = from; p < to; p++)
	{
		MqPartitionKey pkey;
		MqPartition *part;
		bool		found;

		partition_key(&pkey, topic_id, p);
		part = mq_shmem_enter(&MqPartitionDir, &pkey, &found);
		if (found)
			continue;
		LWLockInitialize(&part->lock, MqState->partition_tranche);
		SpinLockInit(&part->mutex);
		ConditionVariableInit(&part->cv);
	}
	LWLockRelease(MqState->topic_lock);
}

/*
 * mq_alter_topic
 *		SQL: mq.alter_topic(name, partitions, retention, retention_bytes,
 *		segment_bytes, segment_age, notify, dedup_window,
 *		unlimited_retention, unlimited_retention_bytes).  NULL leaves a
 *		setting as it is.  Partitions can only be added, as in Kafka.
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

	SPI_connect();
	SPI_execute("LOCK TABLE mq.topic IN SHARE ROW EXCLUSIVE MODE", false, 0);
	SPI_execute_with_args("SELECT topic_id, partitions FROM mq.topic WHERE name = $1",
						  1, &text_type, &arg, NULL, false, 1);
	if (SPI_processed == 0)
		undefined_topic(name);
	topic_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	partitions = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 2, &isnull));
	check_ddl_access(name, topic_id);

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

	if (!PG_ARGISNULL(1) && PG_GETARG_INT32(1) != partitions)
	{
		int32		new_partitions = PG_GETARG_INT32(1);
		TopicChange *change;

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
		for_each_segment(topic_id, "LOCK TABLE %s IN ACCESS EXCLUSIVE MODE");
		SPI_execute(psprintf("INSERT INTO mq.partition (topic_id, partition)"
							 " SELECT %d, p FROM generate_series(%d, %d) p",
							 topic_id, partitions, new_partitions - 1),
					false, 0);
		appendStringInfo(&sets, ", partitions = %d", new_partitions);

		change = remember_change(TOPIC_GROWN, topic_id, name);
		change->old_partitions = partitions;
		change->new_partitions = new_partitions;
		grow_partitions(name, topic_id, partitions, new_partitions);
	}

	if (sets.len > 0)
		SPI_execute(psprintf("UPDATE mq.topic SET %s WHERE topic_id = %d",
							 sets.data + 2, topic_id), false, 0);

	/* consumer groups get positions in the new partitions, and rebalance */
	if (!PG_ARGISNULL(1) && PG_GETARG_INT32(1) > partitions)
		mq_groups_topic_grown(topic_id, partitions, PG_GETARG_INT32(1));
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * forget_partitions
 *		Remove partitions [from, to) of topic_id from shared memory.  Caller
 *		holds topic_lock exclusively.
 */
static void
forget_partitions(Oid dboid, int32 topic_id, int32 from, int32 to)
{
	int32		p;

	for (p = from; p < to; p++)
	{
		MqPartitionKey pkey;

		memset(&pkey, 0, sizeof(pkey));
		pkey.dboid = dboid;
		pkey.topic_id = topic_id;
		pkey.partition = p;
		hash_search(MqPartitionDir.htab, &pkey, HASH_REMOVE, NULL);
	}
}

/*
 * forget_topic
 *		Remove a topic and its partitions from shared memory, if the entry
 *		there is for topic_id.  Caller holds topic_lock exclusively.
 */
static void
forget_topic(Oid dboid, const char *name, int32 topic_id)
{
	MqTopicKey	key;
	MqTopic    *topic;
	int32		p;

	memset(&key, 0, sizeof(key));
	key.dboid = dboid;
	strlcpy(key.name, name, sizeof(key.name));
	topic = hash_search(MqTopicDir.htab, &key, HASH_FIND, NULL);
	if (topic == NULL || topic->topic_id != topic_id)
		return;

	forget_partitions(dboid, topic_id, 0, topic->partitions);
	/* and those an uncommitted ALTER added after them */
	for (p = topic->partitions;; p++)
	{
		MqPartitionKey pkey;

		memset(&pkey, 0, sizeof(pkey));
		pkey.dboid = dboid;
		pkey.topic_id = topic_id;
		pkey.partition = p;
		if (hash_search(MqPartitionDir.htab, &pkey, HASH_REMOVE, NULL) == NULL)
			break;
	}
	hash_search(MqTopicDir.htab, &key, HASH_REMOVE, NULL);
}

/*
 * mq_topic_extension_dropped
 *		DROP EXTENSION mq: forget every topic of this database at commit.
 */
void
mq_topic_extension_dropped(void)
{
	purge_at_commit = true;
	mq_fetch_subscriptions_changed();
}

bool
mq_topic_xact_pending(void)
{
	return topic_changes != NIL || purge_at_commit;
}

/*
 * mq_topic_subxact_end
 *		A subtransaction ended: changes of a committed one move to its
 *		parent; topics created by an aborted one leave shared memory now
 *		(their tables are gone), and its drops are forgotten.
 */
void
mq_topic_subxact_end(bool commit, SubTransactionId mysubid,
					 SubTransactionId parentsubid)
{
	ListCell   *lc;

	foreach(lc, topic_changes)
	{
		TopicChange *change = lfirst(lc);

		if (change->subid != mysubid)
			continue;
		if (commit)
			change->subid = parentsubid;
		else
		{
			LWLockAcquire(MqState->topic_lock, LW_EXCLUSIVE);
			if (change->kind == TOPIC_CREATED)
				forget_topic(MyDatabaseId, change->name, change->topic_id);
			else if (change->kind == TOPIC_GROWN)
				forget_partitions(MyDatabaseId, change->topic_id,
								  change->old_partitions,
								  change->new_partitions);
			LWLockRelease(MqState->topic_lock);
			topic_changes = foreach_delete_current(topic_changes, lc);
		}
	}
}

/*
 * changed_entry
 *		The directory entry of the topic a change is about, or NULL if it is
 *		not loaded (or is another topic of the same name).  Caller holds
 *		topic_lock.
 */
static MqTopic *
changed_entry(const TopicChange *change)
{
	MqTopicKey	key;
	MqTopic    *topic;

	topic_key(&key, change->name);
	topic = hash_search(MqTopicDir.htab, &key, HASH_FIND, NULL);
	if (topic == NULL || topic->topic_id != change->topic_id)
		return NULL;
	return topic;
}

/*
 * mq_topic_xact_end
 *		The transaction ended: drop the directory entries that no longer
 *		match the tables.  Runs in the COMMIT/ABORT callbacks: no
 *		allocation, no catalog access, nothing that can fail.
 */
void
mq_topic_xact_end(bool commit)
{
	ListCell   *lc;

	if (!mq_topic_xact_pending())
		return;

	LWLockAcquire(MqState->topic_lock, LW_EXCLUSIVE);
	foreach(lc, topic_changes)
	{
		TopicChange *change = lfirst(lc);
		MqTopic    *topic;

		switch (change->kind)
		{
			case TOPIC_CREATED:
				if (!commit)
					forget_topic(MyDatabaseId, change->name, change->topic_id);
				break;
			case TOPIC_DROPPED:
				if (commit)
					forget_topic(MyDatabaseId, change->name, change->topic_id);
				break;
			case TOPIC_ROLLED:
				topic = commit ? changed_entry(change) : NULL;
				if (topic != NULL)
					topic->segment_relid = change->segment_relid;
				break;
			case TOPIC_GROWN:
				if (commit)
				{
					topic = changed_entry(change);
					if (topic != NULL && topic->partitions < change->new_partitions)
						topic->partitions = change->new_partitions;
				}
				else
					forget_partitions(MyDatabaseId, change->topic_id,
									  change->old_partitions,
									  change->new_partitions);
				break;
		}
	}
	if (commit && purge_at_commit)
	{
		HASH_SEQ_STATUS status;
		MqTopic    *topic;

		hash_seq_init(&status, MqTopicDir.htab);
		while ((topic = hash_seq_search(&status)) != NULL)
		{
			if (topic->key.dboid == MyDatabaseId)
				forget_topic(MyDatabaseId, topic->key.name, topic->topic_id);
		}
	}
	LWLockRelease(MqState->topic_lock);

	/* the list lives in TopTransactionContext, which is about to go */
	topic_changes = NIL;
	purge_at_commit = false;
}

/*
 * mq_partition_offsets
 *		SQL: mq.partition_offsets(topic) returns, per partition, the end
 *		offset (next to assign), the stable offset, the number of ranges in
 *		flight and the first offset of the oldest one.
 */
Datum
mq_partition_offsets(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = mq_topic_name_arg(fcinfo, 0);
	MqTopicInfo info;
	int32		p;

	InitMaterializedSRF(fcinfo, 0);
	mq_topic_get(name, &info);
	mq_check_access(&info, MQ_ACCESS_READ);

	/* topic_lock keeps the entries from going away while we read them */
	LWLockAcquire(MqState->topic_lock, LW_SHARED);
	for (p = 0; p < info.partitions; p++)
	{
		MqPartitionKey key;
		MqPartition *part;
		Datum		values[5];
		bool		nulls[5] = {0};
		int64		next;
		int64		oldest = 0;
		int			count;

		partition_key(&key, info.topic_id, p);
		part = hash_search(MqPartitionDir.htab, &key, HASH_FIND, NULL);
		if (part == NULL)
			break;				/* dropped meanwhile */
		SpinLockAcquire(&part->mutex);
		next = part->next_offset;
		count = part->count;
		if (count > 0)
			oldest = part->ring[part->head].start;
		SpinLockRelease(&part->mutex);

		values[0] = Int32GetDatum(p);
		values[1] = Int64GetDatum(next);
		values[2] = Int64GetDatum(count > 0 ? oldest : next);
		values[3] = Int32GetDatum(count);
		values[4] = Int64GetDatum(oldest);
		nulls[4] = (count == 0);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
							 values, nulls);
	}
	LWLockRelease(MqState->topic_lock);
	return (Datum) 0;
}
