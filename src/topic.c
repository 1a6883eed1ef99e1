/*-------------------------------------------------------------------------
 *
 * topic.c
 *	  The topic directory: topic names to ids, partition counts and active
 *	  segments, in shared memory; the argument checks and the one access
 *	  check every entry point goes through.
 *
 * mq.topic, mq.segment and mq.partition are the source of truth.  The
 * first use of a topic in any backend loads it into shared memory
 * (mq_topic_get, through SPI), with its partitions (offsets.c), each
 * continuing from its durable high mark; from then on producers and
 * readers find it there without a catalog query.
 *
 * Entries leave the directory when a transaction that dropped the topic
 * commits, when the (sub)transaction that created it aborts, and when DROP
 * EXTENSION commits.  That happens in the transaction callbacks, which run
 * before the ending transaction releases its locks: a producer that was
 * waiting for the segment table's lock finds the entry gone when it checks
 * again, and fails cleanly.  Loading a topic locks its segment table before
 * entering it, so a drop cannot commit in between.  A transaction that
 * dropped a topic and uses its name again forgets the old entry at once.
 * Topic DDL (topic_ddl.c) and rolls (segment.c) tell this file what they
 * changed; the directory follows at the end of their transaction.
 *
 * Lock discipline.  This file owns MqTopic and topic_lock ("mq topics"
 * tranche, an LWLock): entries are added and removed under it held
 * exclusively, and looked up under it held shared; callers get a copy
 * (MqTopicInfo), never a pointer.  It comes before offsets.c's locks, and
 * entering or forgetting a topic's partitions happens under it held
 * exclusively.  No I/O and no catalog access while it is held.
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
#include "access/xlog.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "acl.h"
#include "codec.h"
#include "offsets.h"
#include "query.h"
#include "settings.h"
#include "shmem.h"
#include "topic.h"

/*
 * Topic directory entry: name to id, partition count and the segment that
 * receives new messages.  Protected by topic_lock.
 */
typedef struct MqTopicKey
{
	Oid			dboid;
	char		name[MQ_NAME_MAX + 1];	/* zero-padded */
} MqTopicKey;

typedef struct MqTopic
{
	MqTopicKey	key;			/* hash key */
	int32		topic_id;
	int32		partitions;
	Oid			segment_relid;	/* active segment table */
	MqCompression compression;	/* of the batches it writes */
	bool		in_recovery;	/* loaded during recovery (see mq_topic_find) */
} MqTopic;

typedef struct TopicShared
{
	LWLock	   *topic_lock;
} TopicShared;

static TopicShared *TopicState = NULL;

static MqDirectory TopicDir = {
	"topic", "mq.max_topics", &mq_max_topics,
	sizeof(MqTopicKey), sizeof(MqTopic), NULL, NULL
};

/* A change of a topic by the current transaction. */
typedef enum TopicChangeKind
{
	TOPIC_CREATED,
	TOPIC_DROPPED,
	TOPIC_GROWN,				/* partitions added */
	TOPIC_ROLLED,				/* a new active segment */
	TOPIC_COMPRESSION			/* a new compression for new batches */
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
	MqCompression compression;	/* TOPIC_COMPRESSION: the new one */
} TopicChange;

static void forget_topic(Oid dboid, const char *name, int32 topic_id);

/* Changes of the current transaction, in TopTransactionContext. */
static List *topic_changes = NIL;
static bool purge_at_commit = false;	/* the extension is being dropped */

/* Parameter types of the SPI queries below. */
static Oid	text_type = TEXTOID;
static Oid	int4_type = INT4OID;

/*
 * mq_topic_object_name_arg
 *		Argument argno, the name of an mq object of the given kind ("topic",
 *		"consumer group"): not null, 1 to MQ_NAME_MAX characters among
 *		letters, digits, ".", "_" and "-" (so it is safe in file names,
 *		channel names and messages).
 */
char *
mq_topic_object_name_arg(FunctionCallInfo fcinfo, int argno, const char *kind)
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
	return mq_topic_object_name_arg(fcinfo, argno, "topic");
}

static void
topic_key(MqTopicKey *key, const char *name)
{
	memset(key, 0, sizeof(*key));
	key->dboid = MyDatabaseId;
	strlcpy(key->name, name, sizeof(key->name));
}

static void
copy_info(const MqTopic *topic, MqTopicInfo *info)
{
	strlcpy(info->name, topic->key.name, sizeof(info->name));
	info->topic_id = topic->topic_id;
	info->partitions = topic->partitions;
	info->segment_relid = topic->segment_relid;
	info->compression = topic->compression;
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
	LWLockAcquire(TopicState->topic_lock, LW_SHARED);
	topic = hash_search(TopicDir.htab, &key, HASH_FIND, NULL);
	if (topic != NULL && topic->in_recovery && !RecoveryInProgress())
	{
		/*
		 * Loaded on a standby since promoted: what it holds is what the
		 * tables said then (no commit on the primary moved it), and its next
		 * offsets may be below offsets the primary has used since.  Forget
		 * it, so that it is loaded again from the promoted tables' high
		 * marks.
		 */
		LWLockRelease(TopicState->topic_lock);
		LWLockAcquire(TopicState->topic_lock, LW_EXCLUSIVE);
		topic = hash_search(TopicDir.htab, &key, HASH_FIND, NULL);
		if (topic != NULL && topic->in_recovery)
		{
			forget_topic(MyDatabaseId, name, topic->topic_id);
			topic = NULL;
		}
	}
	if (topic != NULL)
		copy_info(topic, info);
	LWLockRelease(TopicState->topic_lock);
	return topic != NULL;
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
 * mq_topic_undefined
 *		Report that topic name does not exist.
 */
void
mq_topic_undefined(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("topic \"%s\" does not exist", name),
			 errhint("The view mq.topics lists the existing topics.")));
}

/*
 * mq_topic_check_version
 *		Refuse to work with the extension's objects at another version than
 *		this library's: between installing a new library and ALTER
 *		EXTENSION mq UPDATE, the tables and segments are the old ones.
 *		Caller is connected to SPI.
 */
void
mq_topic_check_version(void)
{
	char	   *version;

	mq_query_once("SELECT extversion FROM pg_catalog.pg_extension"
				  " WHERE extname = 'mq'", 0, NULL, NULL, NULL, true, 0);
	version = SPI_processed == 1 ?
		SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1) : NULL;
	if (version == NULL || strcmp(version, MQ_EXTENSION_VERSION) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"%s\" is at version %s, but its library is version %s",
						MQ_EXTENSION_NAME, version ? version : "(none)",
						MQ_EXTENSION_VERSION),
				 errhint("Run ALTER EXTENSION %s UPDATE.", MQ_EXTENSION_NAME)));
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
	MqCompression compression = MQ_COMPRESSION_NONE;
	bool		found;
	bool		isnull;
	int			attempt;
	uint64		i;

	/*
	 * Whether the tables are read during recovery: taken before reading them,
	 * since a promotion that ends while they are read leaves what was read
	 * stale.
	 */
	bool		in_recovery = RecoveryInProgress();

	if (mq_topic_find(name, info))
	{
		if (!dropped_here(info->topic_id))
			return;

		/*
		 * This transaction dropped that topic (and holds its tables
		 * exclusively, so nobody else uses the entry): a topic created under
		 * the same name since needs an entry of its own.
		 */
		LWLockAcquire(TopicState->topic_lock, LW_EXCLUSIVE);
		forget_topic(MyDatabaseId, name, info->topic_id);
		LWLockRelease(TopicState->topic_lock);
	}

	/*
	 * Not loaded: read it from the tables, with a snapshot newer than any
	 * drop whose commit already removed the topic from shared memory. Then
	 * lock its segment table, so that no drop can commit before the entry is
	 * in place, and make sure the table still exists; if not, a drop
	 * committed in between, and the tables are read again.
	 */
	SPI_connect();
	mq_topic_check_version();
	arg = CStringGetTextDatum(name);
	for (attempt = 0;; attempt++)
	{
		PushActiveSnapshot(GetLatestSnapshot());
		mq_query_once("SELECT t.topic_id, t.partitions,"
					  " (SELECT s.relid FROM mq.segment s"
					  "   WHERE s.topic_id = t.topic_id"
					  "   ORDER BY s.segment_no DESC LIMIT 1)::oid"
					  " FROM mq.topic t WHERE t.name = $1",
					  1, &text_type, &arg, NULL, true, 1);
		PopActiveSnapshot();
		if (SPI_processed == 0)
		{
			SPI_finish();
			mq_topic_undefined(name);
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
			mq_query_once("SELECT t.partitions,"
						  " (SELECT s.relid FROM mq.segment s"
						  "   WHERE s.topic_id = t.topic_id"
						  "   ORDER BY s.segment_no DESC LIMIT 1)::oid,"
						  " p.high_mark, t.compression"
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
				compression = mq_codec_compression(SPI_getvalue(SPI_tuptable->vals[0],
																SPI_tuptable->tupdesc,
																4));
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
	LWLockAcquire(TopicState->topic_lock, LW_EXCLUSIVE);
	topic = hash_search(TopicDir.htab, &key, HASH_FIND, NULL);
	if (topic != NULL && topic->in_recovery && !in_recovery)
	{
		/* loaded during recovery, stale since the promotion: replace it */
		forget_topic(MyDatabaseId, name, topic->topic_id);
		topic = NULL;
	}
	if (topic == NULL)
	{
		/* check both capacities before changing anything */
		mq_offsets_check_room(name, 0, partitions);
		mq_shmem_check_room(&TopicDir);
		mq_offsets_enter(name, topic_id, 0, partitions, high_marks);
		topic = mq_shmem_enter(&TopicDir, &key, &found);
		topic->topic_id = topic_id;
		topic->partitions = partitions;
		topic->segment_relid = relid;
		topic->compression = compression;
		topic->in_recovery = in_recovery;
	}
	copy_info(topic, info);
	LWLockRelease(TopicState->topic_lock);
}

/*
 * mq_topic_check_access
 *		The single access check of every SQL entry point that touches a
 *		topic: sending needs the produce privilege, reading consume,
 *		describing it (its offsets, the age of a message) any privilege on
 *		it, and acting on its pending messages (parked ones) produce or
 *		manage (acl.c).
 */
void
mq_topic_check_access(const MqTopicInfo *topic, MqAccess mode)
{
	mq_acl_check(MQ_OBJECT_TOPIC, topic->name,
				 mode == MQ_ACCESS_SEND ? MQ_PRIV_PRODUCE :
				 mode == MQ_ACCESS_READ ? MQ_PRIV_CONSUME :
				 mode == MQ_ACCESS_OPERATE ? MQ_PRIV_PRODUCE | MQ_PRIV_MANAGE :
				 MQ_PRIV_ALL);
}

/*
 * mq_topic_check_partition
 *		Refuse a partition number outside the topic.
 */
void
mq_topic_check_partition(const MqTopicInfo *topic, int32 partition)
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
 *		Note that the current subtransaction created, dropped, grew or
 *		rolled a topic: the directory follows at its end.
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

/*
 * mq_topic_created
 *		The current transaction created a topic: its entry leaves the
 *		directory if the transaction (or subtransaction) aborts.
 */
void
mq_topic_created(int32 topic_id, const char *name)
{
	remember_change(TOPIC_CREATED, topic_id, name);
}

/*
 * mq_topic_dropped
 *		The current transaction dropped a topic: its entry leaves the
 *		directory when the transaction commits.
 */
void
mq_topic_dropped(int32 topic_id, const char *name)
{
	remember_change(TOPIC_DROPPED, topic_id, name);
}

/*
 * mq_topic_rolled
 *		The current transaction started segment relid for a topic: the
 *		entry points producers to it when the transaction commits.
 */
void
mq_topic_rolled(int32 topic_id, const char *name, Oid relid)
{
	TopicChange *change = remember_change(TOPIC_ROLLED, topic_id, name);

	change->segment_relid = relid;
}

/*
 * mq_topic_compressed
 *		The current transaction changed a topic's compression: batches
 *		written after it commits use the new one.
 */
void
mq_topic_compressed(int32 topic_id, const char *name,
					MqCompression compression)
{
	TopicChange *change = remember_change(TOPIC_COMPRESSION, topic_id, name);

	change->compression = compression;
}

/*
 * mq_topic_grow
 *		The current transaction grows topic name from partitions [0, from)
 *		to [0, to).  If the topic is loaded, add the new partitions to
 *		shared memory now, so that running out of slots fails the ALTER, not
 *		its commit; the topic's partition count follows at commit
 *		(mq_topic_xact_end).  The caller holds the topic's segment tables
 *		exclusively, so nobody can use or load the topic meanwhile.
 */
void
mq_topic_grow(const char *name, int32 topic_id, int32 from, int32 to)
{
	MqTopicKey	key;
	MqTopic    *topic;
	TopicChange *change;

	change = remember_change(TOPIC_GROWN, topic_id, name);
	change->old_partitions = from;
	change->new_partitions = to;

	topic_key(&key, name);
	LWLockAcquire(TopicState->topic_lock, LW_EXCLUSIVE);
	topic = hash_search(TopicDir.htab, &key, HASH_FIND, NULL);
	if (topic == NULL || topic->topic_id != topic_id)
	{
		/* not loaded: the next use loads the new count from the tables */
		LWLockRelease(TopicState->topic_lock);
		return;
	}
	mq_offsets_enter(name, topic_id, from, to, NULL);
	LWLockRelease(TopicState->topic_lock);
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

	memset(&key, 0, sizeof(key));
	key.dboid = dboid;
	strlcpy(key.name, name, sizeof(key.name));
	topic = hash_search(TopicDir.htab, &key, HASH_FIND, NULL);
	if (topic == NULL || topic->topic_id != topic_id)
		return;

	mq_offsets_forget(dboid, topic_id, 0, topic->partitions);
	/* and those an uncommitted ALTER added after them */
	mq_offsets_forget(dboid, topic_id, topic->partitions, -1);
	hash_search(TopicDir.htab, &key, HASH_REMOVE, NULL);
}

/*
 * mq_topic_extension_dropped
 *		DROP EXTENSION mq: forget every topic of this database at commit.
 */
void
mq_topic_extension_dropped(void)
{
	purge_at_commit = true;
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
			LWLockAcquire(TopicState->topic_lock, LW_EXCLUSIVE);
			if (change->kind == TOPIC_CREATED)
				forget_topic(MyDatabaseId, change->name, change->topic_id);
			else if (change->kind == TOPIC_GROWN)
				mq_offsets_forget(MyDatabaseId, change->topic_id,
								  change->old_partitions,
								  change->new_partitions);
			LWLockRelease(TopicState->topic_lock);
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
	topic = hash_search(TopicDir.htab, &key, HASH_FIND, NULL);
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

	LWLockAcquire(TopicState->topic_lock, LW_EXCLUSIVE);
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
			case TOPIC_COMPRESSION:
				topic = commit ? changed_entry(change) : NULL;
				if (topic != NULL)
					topic->compression = change->compression;
				break;
			case TOPIC_GROWN:
				if (commit)
				{
					topic = changed_entry(change);
					if (topic != NULL && topic->partitions < change->new_partitions)
						topic->partitions = change->new_partitions;
				}
				else
					mq_offsets_forget(MyDatabaseId, change->topic_id,
									  change->old_partitions,
									  change->new_partitions);
				break;
		}
	}
	if (commit && purge_at_commit)
	{
		HASH_SEQ_STATUS status;
		MqTopic    *topic;

		hash_seq_init(&status, TopicDir.htab);
		while ((topic = hash_seq_search(&status)) != NULL)
		{
			if (topic->key.dboid == MyDatabaseId)
				forget_topic(MyDatabaseId, topic->key.name, topic->topic_id);
		}
	}
	LWLockRelease(TopicState->topic_lock);

	/* the list lives in TopTransactionContext, which is about to go */
	topic_changes = NIL;
	purge_at_commit = false;
}

/*
 * mq_topic_stable_offset
 *		The stable offset of a partition; an error if the topic was dropped
 *		meanwhile.
 */
int64
mq_topic_stable_offset(const MqTopicInfo *topic, int32 partition)
{
	int64		stable;

	if (!mq_offsets_stable(topic->topic_id, partition, &stable, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("topic \"%s\" was dropped", topic->name)));
	return stable;
}

/*
 * mq_topic_shmem_request
 *		Reserve the directory's shared memory and its lock.  Called from
 *		mq.c's shmem_request_hook.
 */
void
mq_topic_shmem_request(void)
{
	RequestAddinShmemSpace(add_size(CACHELINEALIGN(sizeof(TopicShared)),
									mq_shmem_directory_size(&TopicDir)));
	RequestNamedLWLockTranche("mq topics", 1);
}

/*
 * mq_topic_shmem_startup
 *		Create the directory, or attach to it.  Called from mq.c's
 *		shmem_startup_hook with AddinShmemInitLock held.
 */
void
mq_topic_shmem_startup(void)
{
	bool		found;

	TopicState = ShmemInitStruct("mq topic directory", sizeof(TopicShared),
								 &found);
	if (!found)
		TopicState->topic_lock = &(GetNamedLWLockTranche("mq topics"))->lock;
	mq_shmem_directory_init(&TopicDir, TopicState->topic_lock);
}
