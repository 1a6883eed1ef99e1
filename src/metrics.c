/*-------------------------------------------------------------------------
 *
 * metrics.c
 *	  Counters of committed work per topic and per consumer group: the
 *	  mq.metrics view, mq.reset_metrics(), and their file across restarts.
 *
 * Counting points in the files that do the work (produce.c, fetch.c,
 * share.c, position.c, retry.c, worker.c) call mq_metrics_count(), which
 * adds to a table in backend memory, one frame per subtransaction level:
 * a subtransaction that commits hands its counts to its parent, one that
 * rolls back drops them.  When the transaction commits, the callback adds
 * what is left to the shared entries under one shared lock; an abort or a
 * PREPARE drops it.  So a counter moves only for work that committed, and
 * the hot paths never take a shared lock per message.
 *
 * The shared entries form a fixed-capacity directory (shmem.c) keyed by
 * (database, topic id, group id), group 0 for a topic's own counters,
 * sized by mq.max_metrics.  A commit that finds the directory full counts
 * into nothing and logs it once, rather than fail.  Entries leave when
 * mq.reset_metrics() runs, when the extension or the database is dropped
 * (at commit), and when the database worker's sweep (mq_metrics_sweep)
 * finds their topic or group gone.
 *
 * Like PostgreSQL's cumulative statistics, the counters survive a clean
 * restart and start again from zero after a crash: the postmaster writes
 * the directory to METRICS_FILE when it exits normally, and reads and
 * removes that file when it creates shared memory, so after a crash
 * there is no file to read.
 *
 * Lock discipline.  Lock order is top to bottom.
 *
 *	lock ("mq metrics" tranche, an LWLock)
 *		the directory: entries added and removed under it exclusively,
 *		looked up under it shared, and MetricsShared.full_reported.  Taken
 *		with no other mq lock held.  Nothing under it can fail.
 *	MetricsEntry.mutex (spinlock)
 *		the entry's since and counts, which commits add to under the lock
 *		held shared.  A few additions or a copy, nothing else.
 *
 * The postmaster reads and writes the file with no lock: no other process
 * is attached then.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/metrics.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "access/xact.h"
#include "catalog/pg_control.h"
#include "catalog/pg_type.h"
#include "common/controldata_utils.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "port/pg_crc32c.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "metrics.h"
#include "query.h"
#include "settings.h"
#include "shmem.h"
#include "subscription.h"

PG_FUNCTION_INFO_V1(mq_metric_counters);
PG_FUNCTION_INFO_V1(mq_reset_metrics);

/*
 * The counters of an entry: one per MqMetric, then the payload bytes of
 * the two metrics that count them.
 */
#define COUNTER_PRODUCED_BYTES		MQ_METRIC_COUNT
#define COUNTER_DELIVERED_BYTES		(MQ_METRIC_COUNT + 1)
#define METRICS_COUNTERS			(MQ_METRIC_COUNT + 2)

/* Where the postmaster keeps the counters between a clean stop and start. */
#define METRICS_FILE		PGSTAT_STAT_PERMANENT_DIRECTORY "/mq_metrics.stat"
#define METRICS_FILE_TMP	METRICS_FILE ".tmp"

/* "mqm1": the file's first word; the version changes with its layout. */
#define METRICS_FILE_MAGIC		0x6d716d31
#define METRICS_FILE_VERSION	1

typedef struct MetricsKey
{
	Oid			dbid;
	int32		topic_id;
	int32		group_id;		/* 0: the topic's own counters */
} MetricsKey;

typedef struct MetricsEntry
{
	MetricsKey	key;
	slock_t		mutex;			/* guards the fields below */
	TimestampTz since;			/* when the counters started from zero */
	int64		counts[METRICS_COUNTERS];
} MetricsEntry;

typedef struct MetricsShared
{
	LWLock	   *lock;
	pg_atomic_uint64 entered;	/* entries added so far: the sweep is due when
								 * it moves */
	bool		full_reported;	/* "all in use" was logged; under lock */
} MetricsShared;

static MetricsShared *MetricsState = NULL;

static MqDirectory MetricsDir = {
	"metric", "mq.max_metrics", &mq_max_metrics,
	sizeof(MetricsKey), sizeof(MetricsEntry), NULL, NULL
};

/*
 * Counts of the current transaction, per topic and group: one frame per
 * subtransaction level that counted, innermost first.
 */
typedef struct PendingFrame
{
	int			level;			/* transaction nesting level */
	struct PendingFrame *outer;
	int64		counts[METRICS_COUNTERS];
} PendingFrame;

typedef struct PendingKey
{
	int32		topic_id;
	int32		group_id;
} PendingKey;

typedef struct PendingEntry
{
	PendingKey	key;
	PendingFrame *frames;
	bool		missing;		/* no shared entry yet (flush_pending) */
} PendingEntry;

static HTAB *pending = NULL;	/* PendingEntry, in TopMemoryContext */
static MemoryContext frame_cxt = NULL;	/* the frames, reset at xact end */
static PendingEntry *last_counted = NULL;	/* consecutive counts skip the
											 * lookup */
static int	pending_level = 0;	/* deepest level with a frame, 0: none */

/* Level of the subtransaction that dropped the extension, or 0. */
static int	forget_level = 0;

/* What the worker's last sweep saw, so that it runs only after changes. */
static uint64 swept_entered = 0;
static uint64 swept_version = 0;

/*
 * mq_metrics_count
 *		Count messages (and for PRODUCED and DELIVERED, their payload bytes)
 *		of metric for a topic and group (0 for the topic's own metrics) in
 *		the current (sub)transaction.  Backend memory only: they reach the
 *		shared counters if and when the transaction commits.
 */
void
mq_metrics_count(int32 topic_id, int32 group_id, MqMetric metric,
				 int64 messages, int64 bytes)
{
	int			level = GetCurrentTransactionNestLevel();
	PendingEntry *e = last_counted;
	PendingFrame *f;

	Assert(metric == MQ_METRIC_PRODUCED || metric == MQ_METRIC_DELIVERED ||
		   bytes == 0);
	if (messages == 0 && bytes == 0)
		return;

	if (e == NULL || e->key.topic_id != topic_id || e->key.group_id != group_id)
	{
		PendingKey	key;
		bool		found;

		if (pending == NULL)
		{
			HASHCTL		info;

			info.keysize = sizeof(PendingKey);
			info.entrysize = sizeof(PendingEntry);
			info.hcxt = TopMemoryContext;
			pending = hash_create("mq metrics of the transaction", 16, &info,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
			frame_cxt = AllocSetContextCreate(TopMemoryContext,
											  "mq metrics frames",
											  ALLOCSET_SMALL_SIZES);
		}
		memset(&key, 0, sizeof(key));
		key.topic_id = topic_id;
		key.group_id = group_id;
		e = hash_search(pending, &key, HASH_ENTER, &found);
		if (!found)
			e->frames = NULL;
		last_counted = e;
	}

	f = e->frames;
	if (f == NULL || f->level != level)
	{
		f = MemoryContextAllocZero(frame_cxt, sizeof(PendingFrame));
		f->level = level;
		f->outer = e->frames;
		e->frames = f;
		pending_level = Max(pending_level, level);
	}
	f->counts[metric] += messages;
	if (metric == MQ_METRIC_PRODUCED)
		f->counts[COUNTER_PRODUCED_BYTES] += bytes;
	else if (metric == MQ_METRIC_DELIVERED)
		f->counts[COUNTER_DELIVERED_BYTES] += bytes;
}

/*
 * mq_metrics_subxact_end
 *		The subtransaction at the current nesting level ends: its counts go
 *		to its parent's frame if it committed, away if not.  Cannot fail.
 */
void
mq_metrics_subxact_end(bool commit)
{
	int			level = GetCurrentTransactionNestLevel();

	if (forget_level >= level)
		forget_level = commit ? level - 1 : 0;
	if (pending_level < level)
		return;

	{
		HASH_SEQ_STATUS seq;
		PendingEntry *e;

		hash_seq_init(&seq, pending);
		while ((e = hash_seq_search(&seq)) != NULL)
		{
			PendingFrame *f = e->frames;
			int			i;

			if (f == NULL || f->level != level)
				continue;
			if (!commit)
				e->frames = f->outer;
			else if (f->outer != NULL && f->outer->level == level - 1)
			{
				for (i = 0; i < METRICS_COUNTERS; i++)
					f->outer->counts[i] += f->counts[i];
				e->frames = f->outer;
			}
			else
			{
				f->level = level - 1;
				continue;
			}
			pfree(f);
		}
	}
	pending_level = level - 1;
}

/*
 * add_counts
 *		Add a pending entry's counts (its frames: only the top level's is
 *		left at commit) to shared entry se.
 */
static void
add_counts(MetricsEntry *se, const PendingEntry *e)
{
	const PendingFrame *f;
	int			i;

	SpinLockAcquire(&se->mutex);
	for (f = e->frames; f != NULL; f = f->outer)
		for (i = 0; i < METRICS_COUNTERS; i++)
			se->counts[i] += f->counts[i];
	SpinLockRelease(&se->mutex);
}

/*
 * flush_pending
 *		Add the committed transaction's counts to the shared entries: under
 *		the lock held shared for the entries that exist, then held
 *		exclusively to add those that do not, if any.  A full directory
 *		loses the counts of new entries and says so once in the log.
 *		Cannot fail.
 */
static void
flush_pending(void)
{
	HASH_SEQ_STATUS seq;
	PendingEntry *e;
	int			missing = 0;
	int			lost = 0;

	LWLockAcquire(MetricsState->lock, LW_SHARED);
	hash_seq_init(&seq, pending);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		MetricsKey	key;
		MetricsEntry *se;

		e->missing = false;
		if (e->frames == NULL)
			continue;
		memset(&key, 0, sizeof(key));
		key.dbid = MyDatabaseId;
		key.topic_id = e->key.topic_id;
		key.group_id = e->key.group_id;
		se = hash_search(MetricsDir.htab, &key, HASH_FIND, NULL);
		if (se != NULL)
			add_counts(se, e);
		else
		{
			e->missing = true;
			missing++;
		}
	}
	LWLockRelease(MetricsState->lock);
	if (missing == 0)
		return;

	LWLockAcquire(MetricsState->lock, LW_EXCLUSIVE);
	hash_seq_init(&seq, pending);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		MetricsKey	key;
		MetricsEntry *se;
		bool		found;

		if (!e->missing)
			continue;
		memset(&key, 0, sizeof(key));
		key.dbid = MyDatabaseId;
		key.topic_id = e->key.topic_id;
		key.group_id = e->key.group_id;
		se = mq_shmem_try_enter(&MetricsDir, &key, &found);
		if (se == NULL)
		{
			lost++;
			continue;
		}
		if (!found)
		{
			SpinLockInit(&se->mutex);
			se->since = GetCurrentTimestamp();
			pg_atomic_fetch_add_u64(&MetricsState->entered, 1);
		}
		add_counts(se, e);
	}
	if (lost > 0 && !MetricsState->full_reported)
	{
		MetricsState->full_reported = true;
		LWLockRelease(MetricsState->lock);
		ereport(LOG,
				(errmsg("all %d mq metrics slots are in use: the counts of new topics and groups are not kept",
						mq_max_metrics),
				 errhint("Increase mq.max_metrics and restart the server.")));
		return;
	}
	LWLockRelease(MetricsState->lock);
}

/*
 * forget
 *		Remove the shared entries of database dboid, or of every database if
 *		dboid is InvalidOid.  Returns how many.
 */
static int64
forget(Oid dboid)
{
	HASH_SEQ_STATUS seq;
	MetricsEntry *se;
	int64		removed = 0;

	LWLockAcquire(MetricsState->lock, LW_EXCLUSIVE);
	hash_seq_init(&seq, MetricsDir.htab);
	while ((se = hash_seq_search(&seq)) != NULL)
	{
		if (OidIsValid(dboid) && se->key.dbid != dboid)
			continue;
		hash_search(MetricsDir.htab, &se->key, HASH_REMOVE, NULL);
		removed++;
	}
	if (removed > 0)
		MetricsState->full_reported = false;
	LWLockRelease(MetricsState->lock);
	return removed;
}

/*
 * mq_metrics_xact_end
 *		The transaction ended: if it committed, add its counts to shared
 *		memory, and forget the database's entries if it dropped the
 *		extension; either way, empty the pending table.  Runs in the COMMIT,
 *		ABORT and PREPARE callbacks (a prepared transaction's work is not
 *		counted), so it must not fail.
 */
void
mq_metrics_xact_end(bool commit)
{
	if (commit && forget_level > 0)
		(void) forget(MyDatabaseId);
	else if (commit && pending_level > 0)
		flush_pending();
	forget_level = 0;
	pending_level = 0;
	last_counted = NULL;

	if (pending != NULL && hash_get_num_entries(pending) > 0)
	{
		HASH_SEQ_STATUS seq;
		PendingEntry *e;

		hash_seq_init(&seq, pending);
		while ((e = hash_seq_search(&seq)) != NULL)
			hash_search(pending, &e->key, HASH_REMOVE, NULL);
		MemoryContextReset(frame_cxt);
	}
}

/*
 * mq_metrics_extension_dropped
 *		DROP EXTENSION mq runs in the current transaction: if it commits,
 *		the database's counters go (topic and group ids start again at 1
 *		when the extension is created again).
 */
void
mq_metrics_extension_dropped(void)
{
	int			level = GetCurrentTransactionNestLevel();

	if (forget_level == 0 || level < forget_level)
		forget_level = level;
}

/*
 * mq_metrics_database_dropped
 *		DROP DATABASE removed dboid: its counters go too.
 */
void
mq_metrics_database_dropped(Oid dboid)
{
	(void) forget(dboid);
}

/*
 * mq_metrics_sweep
 *		Remove the entries of this database whose topic or group no longer
 *		exists.  Runs in the database worker, connected to no SPI; only when
 *		an entry was added or a topic or group may have been dropped since
 *		its last run.  Returns how many entries it removed.
 *
 * Both are read before the entries, and the ids are checked with the
 * latest snapshot after: an entry that a commit adds later (a late
 * acknowledgement of a dropped group, say) moves entered again, and is
 * looked at in the next run.  Ids are not reused, so an id checked gone
 * stays gone.
 */
int64
mq_metrics_sweep(void)
{
	uint64		entered = pg_atomic_read_u64(&MetricsState->entered);
	uint64		version = mq_subscription_version();
	HASH_SEQ_STATUS seq;
	MetricsEntry *se;
	Datum	   *topics;
	Datum	   *groups;
	int			n = 0;
	int64		removed = 0;
	uint64		i;

	if (entered == swept_entered && version == swept_version)
		return 0;

	LWLockAcquire(MetricsState->lock, LW_SHARED);
	topics = palloc(sizeof(Datum) * Max(hash_get_num_entries(MetricsDir.htab), 1));
	groups = palloc(sizeof(Datum) * Max(hash_get_num_entries(MetricsDir.htab), 1));
	hash_seq_init(&seq, MetricsDir.htab);
	while ((se = hash_seq_search(&seq)) != NULL)
	{
		if (se->key.dbid != MyDatabaseId)
			continue;
		topics[n] = Int32GetDatum(se->key.topic_id);
		groups[n] = Int32GetDatum(se->key.group_id);
		n++;
	}
	LWLockRelease(MetricsState->lock);

	if (n > 0)
	{
		Oid			types[2] = {INT4ARRAYOID, INT4ARRAYOID};
		Datum		args[2];
		uint64		gone;

		args[0] = PointerGetDatum(construct_array(topics, n, INT4OID, 4, true,
												  TYPALIGN_INT));
		args[1] = PointerGetDatum(construct_array(groups, n, INT4OID, 4, true,
												  TYPALIGN_INT));
		SPI_connect();
		gone = mq_query_latest("SELECT k.t, k.g"
							   " FROM ROWS FROM (pg_catalog.unnest($1),"
							   "  pg_catalog.unnest($2)) AS k(t, g)"
							   " WHERE NOT EXISTS (SELECT FROM mq.topic"
							   "  WHERE topic_id OPERATOR(pg_catalog.=) k.t)"
							   " OR (k.g OPERATOR(pg_catalog.<>) 0"
							   "  AND NOT EXISTS (SELECT FROM mq.consumer_group"
							   "   WHERE group_id OPERATOR(pg_catalog.=) k.g))",
							   2, types, args, NULL);
		if (gone > 0)
		{
			LWLockAcquire(MetricsState->lock, LW_EXCLUSIVE);
			for (i = 0; i < gone; i++)
			{
				MetricsKey	key;
				bool		isnull;

				memset(&key, 0, sizeof(key));
				key.dbid = MyDatabaseId;
				key.topic_id = DatumGetInt32(mq_query_value(i, 1, &isnull));
				key.group_id = DatumGetInt32(mq_query_value(i, 2, &isnull));
				if (hash_search(MetricsDir.htab, &key, HASH_REMOVE, NULL) != NULL)
					removed++;
			}
			if (removed > 0)
				MetricsState->full_reported = false;
			LWLockRelease(MetricsState->lock);
		}
		SPI_finish();
	}

	swept_entered = entered;
	swept_version = version;
	return removed;
}

/*
 * mq_metric_counters
 *		SQL: mq.metric_counters() returns the current database's entries by
 *		topic and group id, for the mq.metrics view.  The entries are copied
 *		under the lock and returned after it is released.
 */
Datum
mq_metric_counters(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS seq;
	MetricsEntry *se;
	MetricsEntry *copies;
	int			n = 0;
	int			i;

	InitMaterializedSRF(fcinfo, 0);

	LWLockAcquire(MetricsState->lock, LW_SHARED);
	copies = palloc(sizeof(MetricsEntry) *
					Max(hash_get_num_entries(MetricsDir.htab), 1));
	hash_seq_init(&seq, MetricsDir.htab);
	while ((se = hash_seq_search(&seq)) != NULL)
	{
		if (se->key.dbid != MyDatabaseId)
			continue;
		SpinLockAcquire(&se->mutex);
		copies[n++] = *se;
		SpinLockRelease(&se->mutex);
	}
	LWLockRelease(MetricsState->lock);

	for (i = 0; i < n; i++)
	{
		Datum		values[11];
		bool		nulls[11] = {0};
		const int64 *c = copies[i].counts;

		values[0] = Int32GetDatum(copies[i].key.topic_id);
		values[1] = Int32GetDatum(copies[i].key.group_id);
		values[2] = Int64GetDatum(c[MQ_METRIC_PRODUCED]);
		values[3] = Int64GetDatum(c[COUNTER_PRODUCED_BYTES]);
		values[4] = Int64GetDatum(c[MQ_METRIC_RELEASED]);
		values[5] = Int64GetDatum(c[MQ_METRIC_DELIVERED]);
		values[6] = Int64GetDatum(c[COUNTER_DELIVERED_BYTES]);
		values[7] = Int64GetDatum(c[MQ_METRIC_ACKNOWLEDGED]);
		values[8] = Int64GetDatum(c[MQ_METRIC_NACKED]);
		values[9] = Int64GetDatum(c[MQ_METRIC_DEAD_LETTERED]);
		values[10] = TimestampTzGetDatum(copies[i].since);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values,
							 nulls);
	}
	return (Datum) 0;
}

/*
 * mq_reset_metrics
 *		SQL: mq.reset_metrics() sets every counter of the current database
 *		to zero, at once (not with the transaction), as pg_stat_reset()
 *		does.  Superusers only.  Returns how many rows it reset.
 */
Datum
mq_reset_metrics(PG_FUNCTION_ARGS)
{
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only a superuser can reset mq metrics")));
	PG_RETURN_INT64(forget(MyDatabaseId));
}

/*
 * write_part
 *		Write len bytes to the metrics file and into its checksum.
 */
static bool
write_part(FILE *file, pg_crc32c *crc, const void *data, size_t len)
{
	COMP_CRC32C(*crc, data, len);
	return fwrite(data, 1, len, file) == len;
}

/*
 * read_part
 *		Read len bytes of the metrics file, and into its checksum.
 */
static bool
read_part(FILE *file, pg_crc32c *crc, void *data, size_t len)
{
	if (fread(data, 1, len, file) != len)
		return false;
	COMP_CRC32C(*crc, data, len);
	return true;
}

/*
 * stopped_cleanly
 *		Whether the server is stopping after a shutdown checkpoint (or
 *		restartpoint), as pg_control says.  The postmaster exits with code
 *		0 after an immediate shutdown too, which needs crash recovery.
 */
static bool
stopped_cleanly(void)
{
	bool		crc_ok;
	ControlFileData *control = get_controlfile(DataDir, &crc_ok);

	return crc_ok && (control->state == DB_SHUTDOWNED ||
					  control->state == DB_SHUTDOWNED_IN_RECOVERY);
}

/*
 * save_metrics
 *		on_shmem_exit callback of the postmaster: on a clean stop (exit code
 *		0, and the shutdown checkpoint written), write every entry to
 *		METRICS_FILE, through a temporary file renamed into place.  A
 *		failure is logged; the counters then start from zero.
 *
 * The file: magic, version, entry count, then each entry's key, since and
 * counters, then a CRC-32C of all that.
 */
static void
save_metrics(int code, Datum arg)
{
	FILE	   *file;
	pg_crc32c	crc;
	uint32		magic = METRICS_FILE_MAGIC;
	uint32		version = METRICS_FILE_VERSION;
	int32		count;
	HASH_SEQ_STATUS seq;
	MetricsEntry *se;
	bool		ok;

	if (code != 0 || MetricsState == NULL || !stopped_cleanly())
		return;

	file = AllocateFile(METRICS_FILE_TMP, PG_BINARY_W);
	if (file == NULL)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not write mq metrics file \"%s\": %m",
						METRICS_FILE_TMP)));
		return;
	}
	INIT_CRC32C(crc);
	count = (int32) hash_get_num_entries(MetricsDir.htab);
	ok = write_part(file, &crc, &magic, sizeof(magic)) &&
		write_part(file, &crc, &version, sizeof(version)) &&
		write_part(file, &crc, &count, sizeof(count));
	hash_seq_init(&seq, MetricsDir.htab);
	while ((se = hash_seq_search(&seq)) != NULL)
		ok = ok &&
			write_part(file, &crc, &se->key, sizeof(se->key)) &&
			write_part(file, &crc, &se->since, sizeof(se->since)) &&
			write_part(file, &crc, se->counts, sizeof(se->counts));
	FIN_CRC32C(crc);
	ok = ok && fwrite(&crc, 1, sizeof(crc), file) == sizeof(crc);
	if (FreeFile(file) != 0)
		ok = false;
	if (!ok)
	{
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not write mq metrics file \"%s\": %m",
						METRICS_FILE_TMP)));
		unlink(METRICS_FILE_TMP);
		return;
	}
	(void) durable_rename(METRICS_FILE_TMP, METRICS_FILE, LOG);
}

/*
 * load_metrics
 *		Fill the new directory from METRICS_FILE, if a clean stop left one,
 *		and remove it, so that a crash later finds none and the counters
 *		start from zero.  A file that is not a valid one of this version is
 *		ignored with a LOG line.  Entries past mq.max_metrics are dropped,
 *		and said so.  Runs in the postmaster (or a single-user backend)
 *		when it creates shared memory.
 */
static void
load_metrics(void)
{
	FILE	   *file;
	pg_crc32c	crc;
	pg_crc32c	stored;
	uint32		magic;
	uint32		version;
	int32		count;
	MetricsEntry *entries = NULL;
	const char *problem = NULL;
	int32		i;
	int32		dropped = 0;

	file = AllocateFile(METRICS_FILE, PG_BINARY_R);
	if (file == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not read mq metrics file \"%s\": %m",
							METRICS_FILE)));
		return;
	}

	INIT_CRC32C(crc);
	if (!read_part(file, &crc, &magic, sizeof(magic)) ||
		!read_part(file, &crc, &version, sizeof(version)) ||
		!read_part(file, &crc, &count, sizeof(count)))
		problem = "it is truncated";
	else if (magic != METRICS_FILE_MAGIC || version != METRICS_FILE_VERSION)
		problem = "it is not an mq metrics file of this version";
	else if (count < 0 || count > 10 * 1000 * 1000)
		problem = "its entry count is invalid";
	else
	{
		entries = palloc0(sizeof(MetricsEntry) * Max(count, 1));
		for (i = 0; i < count && problem == NULL; i++)
			if (!read_part(file, &crc, &entries[i].key, sizeof(entries[i].key)) ||
				!read_part(file, &crc, &entries[i].since, sizeof(entries[i].since)) ||
				!read_part(file, &crc, entries[i].counts, sizeof(entries[i].counts)))
				problem = "it is truncated";
		FIN_CRC32C(crc);
		if (problem == NULL &&
			(fread(&stored, 1, sizeof(stored), file) != sizeof(stored) ||
			 !EQ_CRC32C(crc, stored) || fgetc(file) != EOF))
			problem = "its checksum does not match";
	}
	FreeFile(file);

	if (problem != NULL)
		ereport(LOG,
				(errmsg("ignoring mq metrics file \"%s\": %s", METRICS_FILE,
						problem),
				 errdetail("mq's metrics start from zero.")));
	else
	{
		for (i = 0; i < count; i++)
		{
			MetricsEntry *se;
			bool		found;

			if (hash_get_num_entries(MetricsDir.htab) >= mq_max_metrics ||
				(se = hash_search(MetricsDir.htab, &entries[i].key,
								  HASH_ENTER_NULL, &found)) == NULL)
			{
				dropped++;
				continue;
			}
			SpinLockInit(&se->mutex);
			se->since = entries[i].since;
			memcpy(se->counts, entries[i].counts, sizeof(se->counts));
		}
		if (dropped > 0)
			ereport(LOG,
					(errmsg("%d mq metrics rows of the last run do not fit in mq.max_metrics (%d) and start from zero",
							dropped, mq_max_metrics)));
	}
	if (entries != NULL)
		pfree(entries);
	unlink(METRICS_FILE);
}

/*
 * mq_metrics_shmem_request
 *		Reserve the counters' shared memory and lock.  Called from mq.c's
 *		shmem_request_hook.
 */
void
mq_metrics_shmem_request(void)
{
	RequestAddinShmemSpace(add_size(CACHELINEALIGN(sizeof(MetricsShared)),
									mq_shmem_directory_size(&MetricsDir)));
	RequestNamedLWLockTranche("mq metrics", 1);
}

/*
 * mq_metrics_shmem_startup
 *		Create the counters' shared memory, or attach to it.  Called from
 *		mq.c's shmem_startup_hook with AddinShmemInitLock held.  The process
 *		that creates it (the postmaster, at start and after a crash) loads
 *		the file a clean stop left, and arranges to write it when it exits.
 */
void
mq_metrics_shmem_startup(void)
{
	bool		found;

	MetricsState = ShmemInitStruct("mq metrics state", sizeof(MetricsShared), &found);
	if (!found)
	{
		MetricsState->lock = &(GetNamedLWLockTranche("mq metrics"))->lock;
		pg_atomic_init_u64(&MetricsState->entered, 0);
		MetricsState->full_reported = false;
	}
	mq_shmem_directory_init(&MetricsDir, MetricsState->lock);

	if (!IsUnderPostmaster)
	{
		if (!found)
			load_metrics();
		on_shmem_exit(save_metrics, (Datum) 0);
	}
}
