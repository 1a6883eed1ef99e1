/*-------------------------------------------------------------------------
 *
 * database.c
 *	  The directory of databases that have mq: what the launcher knows of
 *	  each database's worker, the doorbells that sessions ring at commit,
 *	  pauses, and the worker's statistics (mq.worker_status(),
 *	  mq.worker_jobs()).
 *
 * This file owns MqDatabase and the "mq directory" lock that guards it;
 * nothing else sees the struct.  Three kinds of process use it:
 *
 *	- ordinary sessions, at the end of a transaction: CREATE or DROP
 *	  EXTENSION, CREATE DATABASE and the pausing utility commands record
 *	  events that mq_database_xact_end() acts upon; committing producers
 *	  ring the worker's doorbell (mq_database_notify, mq_database_wake_at),
 *	  which sets a flag and a latch and never blocks;
 *	- the launcher (launcher.c), which decides from here which workers to
 *	  start, restart and retire;
 *	- a database worker (worker.c), which checks in, reads its doorbell and
 *	  records what its jobs did.
 *
 * The file is longer than most because the launcher's decisions (which
 * workers to start, restart, probe and retire) read and change MqDatabase
 * fields under dir_lock in the same loops as the launcher's private
 * records; keeping them here keeps the struct private to one file.
 * launcher.c is the process that acts on them.
 *
 * Lock discipline.  Lock order is top to bottom; never take an earlier
 * lock while holding a later one.
 *
 *	dir_lock ("mq directory" tranche, an LWLock)
 *		the database hash, every MqDatabase field above "mutex", and the
 *		launcher fields of DatabaseShared.  Held for a few dozen
 *		instructions: no I/O, no catalog access, no ereport(ERROR) except
 *		the slot-exhaustion error and, while a pause is recorded, running
 *		out of memory, both raised before anything is changed.
 *	MqDatabase.mutex (spinlock)
 *		the fields below it: the doorbell (notify_pending, tick_requested,
 *		next_due) and the tick and job statistics.  A handful of
 *		assignments only; taken with or without dir_lock.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/database.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "commands/dbcommands.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "database.h"
#include "settings.h"
#include "shmem.h"

/* Delay before restarting a worker that died, doubled per failure. */
#define MQ_RESTART_DELAY_MS		1000
#define MQ_RESTART_DELAY_MAX_MS	64000

/* What to do when a worker finds no background worker slot. */
#define NO_SLOT_HINT \
	"Increase max_worker_processes (mq needs one slot for its launcher and one per database where it is installed, besides parallel and replication workers) and restart the server."

/* Workers that may be starting at once (probes included). */
#define MQ_MAX_STARTING			2

/* How long a utility command waits for a paused worker to exit. */
#define MQ_PAUSE_TIMEOUT_MS		30000

/*
 * What the launcher knows of a database's worker.  The worker itself moves
 * an entry from STARTING to RUNNING, or to ABSENT when the extension is not
 * installed there; the launcher does everything else.
 */
typedef enum MqWorkerState
{
	MQ_WORKER_STOPPED,			/* no process; restart after a delay */
	MQ_WORKER_STARTING,			/* registered, not yet checked in */
	MQ_WORKER_RUNNING,			/* connected, extension present */
	MQ_WORKER_ABSENT			/* extension not installed: exited for good */
} MqWorkerState;

/* Longest job error message kept for mq.worker_jobs(), in bytes. */
#define MQ_JOB_ERROR_MAX	256

typedef struct MqJobStats
{
	TimestampTz last_run;		/* end of its last run, 0 if none */
	uint64		runs;
	int64		last_count;		/* what the last run did (rows, topics) */
	int64		backlog;		/* work left after it, -1 if not measured */
	uint64		errors;			/* runs that failed */
	TimestampTz last_error_at;
	char		last_error[MQ_JOB_ERROR_MAX];
} MqJobStats;

/*
 * One database in which mq is installed, or is being looked for.
 * Key: dboid.  Fields above mutex are protected by dir_lock, the others by
 * mutex (see the lock discipline above).
 */
typedef struct MqDatabase
{
	Oid			dboid;			/* hash key */
	MqWorkerState state;
	bool		start_requested;	/* CREATE EXTENSION committed here */
	bool		probe;			/* launcher looking for mq; evictable */
	int			pins;			/* open transactions that need the entry */
	int			pauses;			/* utility commands that need no worker */
	int			restarts;		/* unexpected worker exits so far */
	bool		no_slot;		/* its last start found no background worker
								 * slot free */
	pid_t		pid;			/* worker process, 0 if none */
	Latch	   *latch;			/* its latch, NULL if none */
	TimestampTz started_at;		/* when the current worker checked in */

	slock_t		mutex;
	TimestampTz last_tick;		/* end of the worker's last pass */
	uint64		ticks;			/* passes since the worker started */
	bool		notify_pending; /* a stable offset moved: notify listeners */
	bool		tick_requested; /* run a pass now, not at the next naptime */

	/*
	 * Earliest time, on mq's clock (mq_clock_now), at which timed work is
	 * due: a delayed message or a retry to release, a half message to check.
	 * Producers lower it when they commit such work; the worker sets it from
	 * its tables after each pass (see worker.c).
	 */
	TimestampTz next_due;

	MqJobStats	jobs[MQ_JOB_COUNT];
} MqDatabase;

/* The fixed part: the lock, the launcher, and the exit broadcast. */
typedef struct DatabaseShared
{
	LWLock	   *dir_lock;

	/* launcher, protected by dir_lock */
	pid_t		launcher_pid;
	Latch	   *launcher_latch;
	TimestampTz launcher_started_at;
	TimestampTz launcher_last_scan; /* end of its last pg_database scan */
	bool		rescan_requested;	/* look at pg_database again */

	/* broadcast whenever a database worker exits */
	ConditionVariable worker_exit_cv;
} DatabaseShared;

static DatabaseShared *DbState = NULL;

static MqDirectory DatabaseDir = {
	"database", "mq.max_databases", &mq_max_databases,
	sizeof(Oid), sizeof(MqDatabase), NULL, NULL
};

/* What mq.worker_jobs() calls each job. */
static const char *const job_names[MQ_JOB_COUNT] = {
	[MQ_JOB_WATCHDOG] = "watchdog",
	[MQ_JOB_DEDUP] = "dedup",
	[MQ_JOB_ROLL] = "roll",
	[MQ_JOB_RETENTION] = "retention",
	[MQ_JOB_MEMBERS] = "members",
	[MQ_JOB_RELEASE] = "release",
	[MQ_JOB_CHECKBACK] = "checkback",
	[MQ_JOB_NOTIFY] = "notify",
	[MQ_JOB_SHARE] = "share",
	[MQ_JOB_METRICS] = "metrics",
};

/*
 * The launcher's private record of a database.  Only the launcher has the
 * worker handles, so they live here rather than in shared memory.
 */
typedef struct LauncherDb
{
	Oid			dboid;			/* hash key */
	NameData	datname;		/* as of the latest pg_database scan */
	bool		in_catalog;		/* eligible in the latest pg_database scan */
	bool		settled;		/* known not to have mq: do not probe */
	bool		warned;			/* complained about this database already */
	bool		probe_warned;	/* complained that its probe found no slot */
	bool		recheck;		/* start requested, but not seen eligible */
	int			failures;		/* consecutive unexpected worker exits */
	TimestampTz restart_at;		/* no (re)start before this time */
	BackgroundWorkerHandle *handle; /* the worker we started, if any */
} LauncherDb;

/* Launcher state, private to the launcher process. */
static HTAB *launcher_dbs = NULL;

/* The entry of the database worker running in this process, if any. */
static MqDatabase *my_db = NULL;

/*
 * Events of the current transaction in an ordinary backend, acted upon at
 * its end by mq_database_xact_end().
 */
static bool xact_pinned = false;	/* pinned MyDatabaseId's entry */
static bool xact_wake_worker = false;	/* mq dropped here */
static bool xact_rescan = false;	/* a database was created */
static List *xact_paused = NIL; /* OIDs of databases paused, in
								 * TopMemoryContext */

static void launcher_detach(int code, Datum arg);
static void worker_detach(int code, Datum arg);

PG_FUNCTION_INFO_V1(mq_worker_status);
PG_FUNCTION_INFO_V1(mq_worker_jobs);

/*
 * wake_launcher
 *		Set the launcher's latch, if it is running.  Caller holds dir_lock.
 */
static void
wake_launcher(void)
{
	if (DbState->launcher_latch != NULL)
		SetLatch(DbState->launcher_latch);
}

/*
 * mq_database_is_eligible
 *		Whether a database may have an mq worker: it accepts connections,
 *		is valid (not left half-dropped) and is not a template.
 */
bool
mq_database_is_eligible(Form_pg_database pgdb)
{
	return pgdb->datallowconn && !pgdb->datistemplate &&
		!database_is_invalid_form(pgdb);
}

/*
 * launcher_db
 *		The launcher's record of dboid, created if new.
 */
static LauncherDb *
launcher_db(Oid dboid)
{
	LauncherDb *ldb;
	bool		found;

	ldb = hash_search(launcher_dbs, &dboid, HASH_ENTER, &found);
	if (!found)
	{
		ldb->in_catalog = false;
		snprintf(NameStr(ldb->datname), NAMEDATALEN, "%u", dboid);
		ldb->settled = false;
		ldb->warned = false;
		ldb->probe_warned = false;
		ldb->recheck = false;
		ldb->failures = 0;
		ldb->restart_at = 0;
		ldb->handle = NULL;
	}
	return ldb;
}

/*
 * mq_database_launcher_scan
 *		Read pg_database and note which databases are eligible for a
 *		worker.
 *
 * Databases that disappeared or became ineligible lose their directory
 * entry once nobody needs it; new ones will be probed by launcher_probe().
 * A start requested for a database that a scan taken after the request
 * still finds ineligible (CREATE EXTENSION in template1, say) is dropped.
 */
void
mq_database_launcher_scan(void)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	HASH_SEQ_STATUS status;
	LauncherDb *ldb;
	MqDatabase *db;

	hash_seq_init(&status, launcher_dbs);
	while ((ldb = hash_seq_search(&status)) != NULL)
		ldb->in_catalog = false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	pgstat_report_activity(STATE_RUNNING, "scanning pg_database");

	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database pgdb = (Form_pg_database) GETSTRUCT(tup);

		if (mq_database_is_eligible(pgdb))
		{
			ldb = launcher_db(pgdb->oid);
			ldb->in_catalog = true;
			ldb->datname = pgdb->datname;
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);

	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);

	/* Forget databases that are gone, unless something still uses them. */
	LWLockAcquire(DbState->dir_lock, LW_EXCLUSIVE);
	hash_seq_init(&status, launcher_dbs);
	while ((ldb = hash_seq_search(&status)) != NULL)
	{
		/* set by mq_database_launcher_manage(), so before this scan began */
		bool		armed = ldb->recheck;

		ldb->recheck = false;
		if (ldb->in_catalog || ldb->handle != NULL)
			continue;
		db = hash_search(DatabaseDir.htab, &ldb->dboid, HASH_FIND, NULL);
		if (db != NULL)
		{
			if (db->pins > 0 || db->pauses > 0 || db->pid != 0)
				continue;
			/* a request newer than the scan may be for a newer database */
			if (db->start_requested && !armed)
				continue;
			hash_search(DatabaseDir.htab, &ldb->dboid, HASH_REMOVE, NULL);
		}
		hash_search(launcher_dbs, &ldb->dboid, HASH_REMOVE, NULL);
	}
	DbState->launcher_last_scan = GetCurrentTimestamp();
	LWLockRelease(DbState->dir_lock);
}

/*
 * launcher_probe
 *		Give eligible databases not known to lack mq a directory entry that
 *		requests a worker, while fewer than MQ_MAX_STARTING workers are
 *		starting or waiting to start, and slots are free.  Caller holds
 *		dir_lock exclusively.
 */
static void
launcher_probe(int busy)
{
	HASH_SEQ_STATUS status;
	LauncherDb *ldb;

	hash_seq_init(&status, launcher_dbs);
	while ((ldb = hash_seq_search(&status)) != NULL)
	{
		MqDatabase *db;
		bool		found;

		if (ldb->settled || !ldb->in_catalog ||
			hash_search(DatabaseDir.htab, &ldb->dboid, HASH_FIND, NULL))
			continue;
		if (busy >= MQ_MAX_STARTING)
		{
			hash_seq_term(&status);
			break;
		}
		if (hash_get_num_entries(DatabaseDir.htab) >= mq_max_databases)
		{
			if (!ldb->warned)
				ereport(WARNING,
						(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
						 errmsg("mq launcher cannot look for mq in database %u: all %d mq database slots are in use",
								ldb->dboid, mq_max_databases),
						 errhint("Increase mq.max_databases and restart the server.")));
			ldb->warned = true;
			continue;
		}

		/* cannot fail: there is room and we hold the lock */
		db = mq_shmem_enter(&DatabaseDir, &ldb->dboid, &found);
		Assert(!found);
		db->state = MQ_WORKER_STOPPED;
		db->start_requested = true;
		db->probe = true;
		SpinLockInit(&db->mutex);
		busy++;
	}
}

/*
 * launcher_wants_start
 *		Whether the launcher should start a worker for db now.  Caller holds
 *		dir_lock.
 */
static bool
launcher_wants_start(MqDatabase *db, LauncherDb *ldb, TimestampTz now)
{
	if (ldb->handle != NULL || db->pid != 0 || db->pauses > 0 ||
		!ldb->in_catalog)
		return false;
	if (!db->start_requested && db->state != MQ_WORKER_STOPPED)
		return false;
	return ldb->restart_at <= now;
}

/*
 * mq_database_launcher_manage
 *		Start, restart and retire database workers.  Returns the number of
 *		milliseconds until a delayed restart falls due, or -1 if none is
 *		pending. start registers a worker (launcher.c), outside dir_lock.
 *		Workers wake the launcher when they check in or exit, so starts held
 *		back by MQ_MAX_STARTING are taken up then.
 */
long
mq_database_launcher_manage(MqStartWorker start)
{
	HASH_SEQ_STATUS status;
	LauncherDb *ldb;
	MqDatabase *db;
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz next_due = 0;
	Oid			due[MQ_MAX_STARTING];
	int			ndue = 0;
	int			starting = 0;
	int			waiting = 0;
	int			i;

	/* Which of our workers have exited? */
	hash_seq_init(&status, launcher_dbs);
	while ((ldb = hash_seq_search(&status)) != NULL)
	{
		pid_t		pid;

		if (ldb->handle != NULL &&
			GetBackgroundWorkerPid(ldb->handle, &pid) == BGWH_STOPPED)
		{
			pfree(ldb->handle);
			ldb->handle = NULL;
		}
	}

	LWLockAcquire(DbState->dir_lock, LW_EXCLUSIVE);

	/*
	 * Note failures, retire entries nobody needs, count the workers that are
	 * starting and the entries waiting for one.
	 */
	hash_seq_init(&status, DatabaseDir.htab);
	while ((db = hash_seq_search(&status)) != NULL)
	{
		ldb = launcher_db(db->dboid);

		if (db->state == MQ_WORKER_RUNNING)
			ldb->failures = 0;
		if (ldb->handle != NULL)
		{
			if (db->state == MQ_WORKER_STARTING)
				starting++;
			continue;
		}
		if (db->pid != 0)
			continue;			/* a previous launcher's worker, exiting */

		if (db->state == MQ_WORKER_STARTING || db->state == MQ_WORKER_RUNNING)
		{
			/* It exited without finding the extension gone: a failure. */
			int			shift = Min(ldb->failures, 6);

			db->restarts++;
			db->state = MQ_WORKER_STOPPED;
			ldb->failures++;
			ldb->restart_at =
				TimestampTzPlusMilliseconds(now,
											Min(MQ_RESTART_DELAY_MS << shift,
												MQ_RESTART_DELAY_MAX_MS));
			DbState->rescan_requested = true;	/* maybe the database is gone */
		}

		if (db->state == MQ_WORKER_ABSENT && !db->start_requested)
		{
			if (db->pins == 0 && db->pauses == 0)
			{
				hash_search(DatabaseDir.htab, &db->dboid, HASH_REMOVE, NULL);
				/* an ineligible database is probed again once eligible */
				ldb->settled = ldb->in_catalog;
			}
		}
		else if (db->pauses == 0 && ldb->in_catalog)
			waiting++;
		else if (db->start_requested && !ldb->in_catalog && !ldb->recheck)
		{
			/* requested where the last scan saw nothing eligible */
			ldb->recheck = true;
			DbState->rescan_requested = true;
		}
	}

	launcher_probe(starting + waiting);

	/* Pick the workers to start now; remember when the next one is due. */
	hash_seq_init(&status, DatabaseDir.htab);
	while ((db = hash_seq_search(&status)) != NULL)
	{
		ldb = launcher_db(db->dboid);
		if (launcher_wants_start(db, ldb, now))
		{
			if (starting + ndue < MQ_MAX_STARTING)
				due[ndue++] = db->dboid;
		}
		else if (ldb->restart_at > now && ldb->handle == NULL &&
				 (next_due == 0 || ldb->restart_at < next_due))
			next_due = ldb->restart_at;
	}
	LWLockRelease(DbState->dir_lock);

	/* Register outside the lock: it takes the postmaster's worker lock. */
	for (i = 0; i < ndue; i++)
	{
		BackgroundWorkerHandle *handle = start(due[i]);
		bool		probe;

		ldb = launcher_db(due[i]);
		LWLockAcquire(DbState->dir_lock, LW_EXCLUSIVE);
		db = hash_search(DatabaseDir.htab, &due[i], HASH_FIND, NULL);
		probe = (db == NULL || db->probe);
		if (db != NULL)
			db->no_slot = (handle == NULL);
		if (handle != NULL)
		{
			/* an evicted probe's worker finds no entry and exits */
			ldb->handle = handle;
			if (db != NULL)
			{
				db->state = MQ_WORKER_STARTING;
				db->start_requested = false;
			}
		}
		else
		{
			ldb->restart_at = TimestampTzPlusMilliseconds(now,
														  MQ_RESTART_DELAY_MS);
			if (next_due == 0 || ldb->restart_at < next_due)
				next_due = ldb->restart_at;
		}
		LWLockRelease(DbState->dir_lock);

		if (handle != NULL)
			ldb->warned = ldb->probe_warned = false;
		else if (probe && !ldb->probe_warned)
		{
			/* after a restart, databases that have mq are probed too */
			ereport(WARNING,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("could not start a worker to look for mq in database \"%s\": no background worker slot is free",
							NameStr(ldb->datname)),
					 errdetail("If mq is installed there, its delayed messages, retries, check-backs, wake-ups and shared acknowledgements wait until one is."),
					 errhint(NO_SLOT_HINT)));
			ldb->probe_warned = true;
		}
		else if (!probe && !ldb->warned)
		{
			ereport(WARNING,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("could not start the mq worker of database \"%s\": no background worker slot is free",
							NameStr(ldb->datname)),
					 errdetail("Its delayed messages, retries, check-backs, wake-ups and shared acknowledgements wait until one is."),
					 errhint(NO_SLOT_HINT)));
			ldb->warned = true;
		}
	}

	if (next_due == 0)
		return -1;
	return Max(1, TimestampDifferenceMilliseconds(now, next_due));
}

/*
 * mq_database_launcher_attach
 *		Announce the launcher in shared memory and set up its private
 *		records of databases.  Workers left by a previous
 *		launcher process (one that exited without a crash) are terminated:
 *		we have no handles for them, and they will be started again.
 */
void
mq_database_launcher_attach(void)
{
	HASH_SEQ_STATUS status;
	MqDatabase *db;
	HASHCTL		info;

	info.keysize = sizeof(Oid);
	info.entrysize = sizeof(LauncherDb);
	info.hcxt = AllocSetContextCreate(TopMemoryContext, "mq launcher",
									  ALLOCSET_DEFAULT_SIZES);
	launcher_dbs = hash_create("mq launcher databases", 64, &info,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	LWLockAcquire(DbState->dir_lock, LW_EXCLUSIVE);
	DbState->launcher_pid = MyProcPid;
	DbState->launcher_latch = MyLatch;
	DbState->launcher_started_at = GetCurrentTimestamp();
	DbState->rescan_requested = true;

	hash_seq_init(&status, DatabaseDir.htab);
	while ((db = hash_seq_search(&status)) != NULL)
	{
		if (db->pid != 0)
			kill(db->pid, SIGTERM);
		if (db->state != MQ_WORKER_ABSENT)
			db->state = MQ_WORKER_STOPPED;
	}
	LWLockRelease(DbState->dir_lock);

	before_shmem_exit(launcher_detach, (Datum) 0);
}

/*
 * launcher_detach
 *		before_shmem_exit callback: the launcher is gone.
 */
static void
launcher_detach(int code, Datum arg)
{
	/* an error may have left dir_lock held; nothing else is */
	LWLockReleaseAll();
	LWLockAcquire(DbState->dir_lock, LW_EXCLUSIVE);
	if (DbState->launcher_pid == MyProcPid)
	{
		DbState->launcher_pid = 0;
		DbState->launcher_latch = NULL;
	}
	LWLockRelease(DbState->dir_lock);
}

/*
 * mq_database_launcher_rescan_requested
 *		Whether something asked the launcher to read pg_database again since
 *		it last looked; clears the request.
 */
bool
mq_database_launcher_rescan_requested(void)
{
	bool		rescan;

	LWLockAcquire(DbState->dir_lock, LW_EXCLUSIVE);
	rescan = DbState->rescan_requested;
	DbState->rescan_requested = false;
	LWLockRelease(DbState->dir_lock);
	return rescan;
}

/*
 * mq_database_worker_attach
 *		Claim the directory entry of dboid for this worker process.  Exits
 *		(for the launcher to sort out) if the entry is gone, paused or
 *		taken.
 */
void
mq_database_worker_attach(Oid dboid)
{
	MqDatabase *db;

	LWLockAcquire(DbState->dir_lock, LW_EXCLUSIVE);
	db = hash_search(DatabaseDir.htab, &dboid, HASH_FIND, NULL);
	if (db == NULL || db->pauses > 0 || db->pid != 0)
	{
		if (db != NULL && db->pid == 0)
			db->state = MQ_WORKER_STOPPED;
		LWLockRelease(DbState->dir_lock);
		proc_exit(0);
	}
	db->pid = MyProcPid;
	db->latch = MyLatch;
	SpinLockAcquire(&db->mutex);
	db->ticks = 0;
	db->last_tick = 0;
	SpinLockRelease(&db->mutex);
	LWLockRelease(DbState->dir_lock);

	my_db = db;
	before_shmem_exit(worker_detach, (Datum) 0);
}

/*
 * worker_detach
 *		before_shmem_exit callback of a database worker.  An exit caused by
 *		a pause is not a failure, so it does not count as a restart.
 */
static void
worker_detach(int code, Datum arg)
{
	/* an error may have left dir_lock held; nothing else is */
	LWLockReleaseAll();
	LWLockAcquire(DbState->dir_lock, LW_EXCLUSIVE);
	my_db->pid = 0;
	my_db->latch = NULL;
	if (my_db->pauses > 0 && my_db->state != MQ_WORKER_ABSENT)
		my_db->state = MQ_WORKER_STOPPED;
	wake_launcher();
	LWLockRelease(DbState->dir_lock);

	ConditionVariableBroadcast(&DbState->worker_exit_cv);
}

/*
 * mq_database_job_done
 *		Record a run of a job in this worker's statistics: what it did, the
 *		work left, and its error message if it failed.
 */
void
mq_database_job_done(MqJob job, int64 count, int64 backlog, const char *error)
{
	MqJobStats *stats = &my_db->jobs[job];
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&my_db->mutex);
	stats->last_run = now;
	stats->runs++;
	stats->last_count = count;
	stats->backlog = backlog;
	if (error != NULL)
	{
		stats->errors++;
		stats->last_error_at = now;
		strlcpy(stats->last_error, error, MQ_JOB_ERROR_MAX);
	}
	SpinLockRelease(&my_db->mutex);
}

/*
 * mq_database_offer_due
 *		Timed work is due at due: lower this worker's next due time to it.
 */
void
mq_database_offer_due(TimestampTz due)
{
	SpinLockAcquire(&my_db->mutex);
	if (due < my_db->next_due)
		my_db->next_due = due;
	SpinLockRelease(&my_db->mutex);
}

/*
 * mq_database_reset_due
 *		The worker is about to look at its tables for due work: forget the
 *		next due time.  Work committed after that look lowers it again.
 */
void
mq_database_reset_due(void)
{
	SpinLockAcquire(&my_db->mutex);
	my_db->next_due = DT_NOEND;
	SpinLockRelease(&my_db->mutex);
}

/*
 * mq_database_next_due
 *		When this worker's timed work is next due (mq's clock).
 */
TimestampTz
mq_database_next_due(void)
{
	TimestampTz due;

	SpinLockAcquire(&my_db->mutex);
	due = my_db->next_due;
	SpinLockRelease(&my_db->mutex);
	return due;
}

/*
 * mq_database_doorbell
 *		What sessions asked of this worker since it last looked: *tick, a
 *		pass now (cleared by reading it), and *notify, notifications to
 *		send (cleared by mq_database_notify_done).
 */
void
mq_database_doorbell(bool *tick, bool *notify)
{
	SpinLockAcquire(&my_db->mutex);
	*tick = my_db->tick_requested;
	my_db->tick_requested = false;
	*notify = my_db->notify_pending;
	SpinLockRelease(&my_db->mutex);
}

/*
 * mq_database_notify_done
 *		The worker is about to send the pending notifications: commits from
 *		now on ring the doorbell again.
 */
void
mq_database_notify_done(void)
{
	SpinLockAcquire(&my_db->mutex);
	my_db->notify_pending = false;
	SpinLockRelease(&my_db->mutex);
}

/*
 * mq_database_tick_begin
 *		A worker's pass begins.  Clears the start request before the worker
 *		looks at the catalog: a CREATE EXTENSION that commits after this
 *		point sets it again, and a worker exiting now is then started again.
 *		Returns whether the worker had already checked in as running.
 */
bool
mq_database_tick_begin(void)
{
	bool		running;

	LWLockAcquire(DbState->dir_lock, LW_EXCLUSIVE);
	my_db->start_requested = false;
	running = (my_db->state == MQ_WORKER_RUNNING);
	LWLockRelease(DbState->dir_lock);
	return running;
}

/*
 * mq_database_worker_absent
 *		The worker found the extension missing, or its database ineligible
 *		(then the launcher reads pg_database again): it exits for good.
 */
void
mq_database_worker_absent(bool eligible)
{
	LWLockAcquire(DbState->dir_lock, LW_EXCLUSIVE);
	my_db->state = MQ_WORKER_ABSENT;
	if (!eligible)
		DbState->rescan_requested = true;
	wake_launcher();
	LWLockRelease(DbState->dir_lock);
}

/*
 * mq_database_worker_running
 *		The worker found the extension installed: it checks in as running.
 */
void
mq_database_worker_running(void)
{
	LWLockAcquire(DbState->dir_lock, LW_EXCLUSIVE);
	my_db->state = MQ_WORKER_RUNNING;
	my_db->probe = false;
	my_db->started_at = GetCurrentTimestamp();
	wake_launcher();
	LWLockRelease(DbState->dir_lock);
}

/*
 * mq_database_tick_end
 *		Count a completed pass of this worker (shown by mq.worker_status()).
 */
void
mq_database_tick_end(void)
{
	SpinLockAcquire(&my_db->mutex);
	my_db->ticks++;
	my_db->last_tick = GetCurrentTimestamp();
	SpinLockRelease(&my_db->mutex);
}

/*
 * mq_database_job_name
 *		What mq.worker_jobs() and the worker's messages call a job.
 */
const char *
mq_database_job_name(MqJob job)
{
	return job_names[job];
}

/*
 * mq_database_wake_at
 *		The committing transaction created timed work due at due (mq's
 *		clock): lower the worker's next due time, and wake it if that is
 *		earlier than what it sleeps for.  Called in the COMMIT callback:
 *		cannot fail.
 */
void
mq_database_wake_at(TimestampTz due)
{
	MqDatabase *db;

	LWLockAcquire(DbState->dir_lock, LW_SHARED);
	db = hash_search(DatabaseDir.htab, &MyDatabaseId, HASH_FIND, NULL);
	if (db != NULL)
	{
		bool		earlier;

		SpinLockAcquire(&db->mutex);
		earlier = (due < db->next_due);
		if (earlier)
			db->next_due = due;
		SpinLockRelease(&db->mutex);
		if (earlier && db->latch != NULL)
			SetLatch(db->latch);
	}
	LWLockRelease(DbState->dir_lock);
}

/*
 * mq_database_wake_all
 *		Wake every database worker, so that each looks at mq's clock again
 *		(mq.advance_clock moved it).
 */
void
mq_database_wake_all(void)
{
	HASH_SEQ_STATUS status;
	MqDatabase *db;

	LWLockAcquire(DbState->dir_lock, LW_SHARED);
	hash_seq_init(&status, DatabaseDir.htab);
	while ((db = hash_seq_search(&status)) != NULL)
		if (db->latch != NULL)
			SetLatch(db->latch);
	LWLockRelease(DbState->dir_lock);
}

/*
 * mq_database_notify
 *		A stable offset of this database moved: have its worker send the
 *		notifications.  Called by committing producers: a flag and a latch,
 *		no notification lock.
 */
void
mq_database_notify(void)
{
	MqDatabase *db;

	LWLockAcquire(DbState->dir_lock, LW_SHARED);
	db = hash_search(DatabaseDir.htab, &MyDatabaseId, HASH_FIND, NULL);
	if (db != NULL && db->latch != NULL)
	{
		bool		pending;

		SpinLockAcquire(&db->mutex);
		pending = db->notify_pending;
		db->notify_pending = true;
		SpinLockRelease(&db->mutex);

		/*
		 * Only the first commit after a notification pass wakes the worker:
		 * it then sleeps until mq.notify_interval is over, and more wake-ups
		 * would only cost context switches.
		 */
		if (!pending)
			SetLatch(db->latch);
	}
	LWLockRelease(DbState->dir_lock);
}

/*
 * evict_probe
 *		Remove one probe entry whose worker has not been started, to make
 *		room for a database that certainly has mq.  The launcher probes the
 *		database again when there is room.  Caller holds dir_lock
 *		exclusively.
 */
static void
evict_probe(void)
{
	HASH_SEQ_STATUS status;
	MqDatabase *db;

	hash_seq_init(&status, DatabaseDir.htab);
	while ((db = hash_seq_search(&status)) != NULL)
	{
		if (db->probe && db->state == MQ_WORKER_STOPPED && db->pid == 0 &&
			db->pins == 0 && db->pauses == 0)
		{
			hash_search(DatabaseDir.htab, &db->dboid, HASH_REMOVE, NULL);
			hash_seq_term(&status);
			return;
		}
	}
}

/*
 * running_probes
 *		How many of the launcher's probes (workers looking for mq in a
 *		database) are starting or running: each holds a background worker
 *		slot for a moment only.
 */
static int
running_probes(void)
{
	HASH_SEQ_STATUS status;
	MqDatabase *db;
	int			probes = 0;

	LWLockAcquire(DbState->dir_lock, LW_SHARED);
	hash_seq_init(&status, DatabaseDir.htab);
	while ((db = hash_seq_search(&status)) != NULL)
		if (db->probe && (db->pid != 0 || db->state == MQ_WORKER_STARTING))
			probes++;
	LWLockRelease(DbState->dir_lock);
	return probes;
}

/*
 * warn_if_no_slot
 *		Warn if every background worker slot is taken by a running worker
 *		other than the launcher's passing probes: the worker this database
 *		needs then cannot start (the launcher says so again, and
 *		mq.worker_status() shows "no worker slot").  A slot freed before
 *		the commit lets it start after all.  The count is read afresh, and
 *		probes come and go, so this is a warning, not a promise.
 */
static void
warn_if_no_slot(int probes)
{
	int			n;
	int			workers = 0;
	int			i;

	pgstat_clear_backend_activity_snapshot();
	n = pgstat_fetch_stat_numbackends();
	for (i = 1; i <= n; i++)
	{
		LocalPgBackendStatus *local = pgstat_fetch_stat_local_beentry(i);

		if (local != NULL &&
			local->backendStatus.st_backendType == B_BG_WORKER)
			workers++;
	}
	if (workers - probes >= max_worker_processes)
		ereport(WARNING,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("all %d background worker slots are in use: the mq worker of database \"%s\" cannot start",
						max_worker_processes, get_database_name(MyDatabaseId)),
				 errdetail("Without it, delayed messages, retries, check-backs, wake-ups and shared acknowledgements wait."),
				 errhint(NO_SLOT_HINT)));
}

/*
 * mq_database_extension_created
 *		CREATE EXTENSION mq ran in this database.  Pin the database's
 *		directory entry now, so that running out of slots fails the command
 *		rather than the commit; the worker is requested at commit.
 */
void
mq_database_extension_created(void)
{
	MqDatabase *db;
	bool		found;
	bool		has_worker;

	if (xact_pinned)
		return;

	LWLockAcquire(DbState->dir_lock, LW_EXCLUSIVE);
	if (hash_search(DatabaseDir.htab, &MyDatabaseId, HASH_FIND, NULL) == NULL &&
		hash_get_num_entries(DatabaseDir.htab) >= mq_max_databases)
		evict_probe();
	db = mq_shmem_enter(&DatabaseDir, &MyDatabaseId, &found);
	if (!found)
	{
		/* no worker until the extension is committed */
		db->state = MQ_WORKER_ABSENT;
		SpinLockInit(&db->mutex);
	}
	db->probe = false;
	db->pins++;
	xact_pinned = true;
	has_worker = (db->pid != 0 || db->state == MQ_WORKER_STARTING);
	LWLockRelease(DbState->dir_lock);

	if (!has_worker)
		warn_if_no_slot(running_probes());
}

/*
 * mq_database_extension_dropped
 *		DROP EXTENSION mq ran in this database: wake its worker at commit,
 *		so that it sees the extension gone and exits.
 */
void
mq_database_extension_dropped(void)
{
	xact_wake_worker = true;
}

/*
 * mq_database_created
 *		A database was created: have the launcher look at it after commit
 *		(it may be a copy of a database that has mq).
 */
void
mq_database_created(void)
{
	xact_rescan = true;
}

/*
 * mq_database_pause
 *		Stop the worker of dboid, if any, and keep it stopped until the end
 *		of the current transaction.  Waits for the worker to exit, for at
 *		most MQ_PAUSE_TIMEOUT_MS; the caller's command then runs as if mq
 *		were not there.
 */
void
mq_database_pause(Oid dboid)
{
	MqDatabase *db;
	MemoryContext oldcxt;
	TimestampTz deadline;
	pid_t		pid;

	LWLockAcquire(DbState->dir_lock, LW_EXCLUSIVE);
	db = hash_search(DatabaseDir.htab, &dboid, HASH_FIND, NULL);
	if (db == NULL)
	{
		LWLockRelease(DbState->dir_lock);
		return;
	}

	/* Record the pause first, so that an error cannot leak it. */
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	xact_paused = lappend_oid(xact_paused, dboid);
	MemoryContextSwitchTo(oldcxt);
	db->pauses++;

	/* The pid cannot be reused while we hold the lock it is cleared under. */
	pid = db->pid;
	if (pid != 0)
		kill(pid, SIGTERM);
	LWLockRelease(DbState->dir_lock);

	if (pid == 0)
		return;

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										   MQ_PAUSE_TIMEOUT_MS);
	ConditionVariablePrepareToSleep(&DbState->worker_exit_cv);
	for (;;)
	{
		LWLockAcquire(DbState->dir_lock, LW_SHARED);
		pid = db->pid;
		LWLockRelease(DbState->dir_lock);
		if (pid == 0)
			break;
		if (GetCurrentTimestamp() >= deadline)
		{
			ereport(WARNING,
					(errmsg("mq worker (PID %d) for database %u did not exit",
							(int) pid, dboid)));
			break;
		}
		(void) ConditionVariableTimedSleep(&DbState->worker_exit_cv, 100,
										   PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
}

/*
 * mq_database_xact_pending
 *		Whether the current transaction has worker events to act on at its
 *		end (used to refuse PREPARE TRANSACTION).
 */
bool
mq_database_xact_pending(void)
{
	return xact_pinned || xact_wake_worker || xact_rescan ||
		xact_paused != NIL;
}

/*
 * mq_database_xact_end
 *		Act on the current transaction's worker events at commit or abort.
 *
 * Runs in the COMMIT and ABORT callbacks, so it must not fail: it only
 * updates entries that are known to exist (pinned or paused ones cannot be
 * removed) and sets latches.
 */
void
mq_database_xact_end(bool commit)
{
	MqDatabase *db;
	ListCell   *lc;

	if (!mq_database_xact_pending())
		return;

	LWLockAcquire(DbState->dir_lock, LW_EXCLUSIVE);

	if (xact_pinned)
	{
		db = hash_search(DatabaseDir.htab, &MyDatabaseId, HASH_FIND, NULL);
		Assert(db != NULL && db->pins > 0);
		db->pins--;
		if (commit)
			db->start_requested = true;
	}

	foreach(lc, xact_paused)
	{
		Oid			dboid = lfirst_oid(lc);

		db = hash_search(DatabaseDir.htab, &dboid, HASH_FIND, NULL);
		Assert(db != NULL && db->pauses > 0);
		db->pauses--;
	}

	if (commit && xact_wake_worker)
	{
		db = hash_search(DatabaseDir.htab, &MyDatabaseId, HASH_FIND, NULL);
		if (db != NULL && db->latch != NULL)
		{
			SpinLockAcquire(&db->mutex);
			db->tick_requested = true;
			SpinLockRelease(&db->mutex);
			SetLatch(db->latch);
		}
	}

	if ((commit && xact_rescan) || xact_paused != NIL)
		DbState->rescan_requested = true;
	wake_launcher();

	LWLockRelease(DbState->dir_lock);

	list_free(xact_paused);
	xact_paused = NIL;
	xact_pinned = false;
	xact_wake_worker = false;
	xact_rescan = false;
}

/*
 * worker_state_name
 *		How mq.worker_status() shows a directory entry's state.
 */
static const char *
worker_state_name(const MqDatabase *db)
{
	if (db->pauses > 0)
		return "paused";
	if (db->no_slot && db->state != MQ_WORKER_RUNNING &&
		db->state != MQ_WORKER_ABSENT)
		return "no worker slot";
	switch (db->state)
	{
		case MQ_WORKER_STOPPED:
			return "stopped";
		case MQ_WORKER_STARTING:
			return "starting";
		case MQ_WORKER_RUNNING:
			return "running";
		case MQ_WORKER_ABSENT:
			return "not installed";
	}
	return "unknown";
}

/*
 * mq_worker_status
 *		SQL: mq.worker_status() shows the launcher and every database
 *		worker: role, database, pid, state, start time, last pass, passes
 *		and restarts.
 *
 * Entries are copied under the lock and names are looked up afterwards,
 * so no catalog access happens while dir_lock is held.
 */
Datum
mq_worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[8];
	bool		nulls[8];
	MqDatabase *copies;
	int			ncopies = 0;
	HASH_SEQ_STATUS status;
	MqDatabase *db;
	pid_t		launcher_pid;
	TimestampTz launcher_started_at;
	TimestampTz launcher_last_scan;
	int			i;

	InitMaterializedSRF(fcinfo, 0);

	copies = palloc(sizeof(MqDatabase) * mq_max_databases);

	LWLockAcquire(DbState->dir_lock, LW_SHARED);
	launcher_pid = DbState->launcher_pid;
	launcher_started_at = DbState->launcher_started_at;
	launcher_last_scan = DbState->launcher_last_scan;
	hash_seq_init(&status, DatabaseDir.htab);
	while ((db = hash_seq_search(&status)) != NULL)
	{
		copies[ncopies] = *db;
		SpinLockAcquire(&db->mutex);
		copies[ncopies].ticks = db->ticks;
		copies[ncopies].last_tick = db->last_tick;
		SpinLockRelease(&db->mutex);
		ncopies++;
	}
	LWLockRelease(DbState->dir_lock);

	memset(nulls, 0, sizeof(nulls));
	values[0] = CStringGetTextDatum("launcher");
	nulls[1] = true;
	values[2] = Int32GetDatum((int32) launcher_pid);
	nulls[2] = (launcher_pid == 0);
	values[3] = CStringGetTextDatum(launcher_pid != 0 ? "running" : "stopped");
	values[4] = TimestampTzGetDatum(launcher_started_at);
	nulls[4] = (launcher_pid == 0);
	values[5] = TimestampTzGetDatum(launcher_last_scan);
	nulls[5] = (launcher_pid == 0 || launcher_last_scan == 0);
	nulls[6] = true;
	nulls[7] = true;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);

	for (i = 0; i < ncopies; i++)
	{
		char	   *datname = get_database_name(copies[i].dboid);

		memset(nulls, 0, sizeof(nulls));
		values[0] = CStringGetTextDatum("worker");
		if (datname != NULL)
		{
			Name		n = palloc0(NAMEDATALEN);

			namestrcpy(n, datname);
			values[1] = NameGetDatum(n);
		}
		else
			nulls[1] = true;
		values[2] = Int32GetDatum((int32) copies[i].pid);
		nulls[2] = (copies[i].pid == 0);
		values[3] = CStringGetTextDatum(worker_state_name(&copies[i]));
		values[4] = TimestampTzGetDatum(copies[i].started_at);
		nulls[4] = (copies[i].started_at == 0);
		values[5] = TimestampTzGetDatum(copies[i].last_tick);
		nulls[5] = (copies[i].last_tick == 0);
		values[6] = Int64GetDatum((int64) copies[i].ticks);
		values[7] = Int32GetDatum(copies[i].restarts);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
							 values, nulls);
	}

	return (Datum) 0;
}

/*
 * mq_worker_jobs
 *		SQL: mq.worker_jobs() shows, for each database worker, each job:
 *		when it last ran, how many times, what its last run did, the work
 *		it left (when the job measures it), and its errors.  Jobs that have
 *		not run yet show no last_run.
 */
Datum
mq_worker_jobs(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	typedef struct JobsCopy
	{
		Oid			dboid;
		MqJobStats	jobs[MQ_JOB_COUNT];
	} JobsCopy;
	JobsCopy   *copies;
	int			ncopies = 0;
	HASH_SEQ_STATUS status;
	MqDatabase *db;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	copies = palloc(sizeof(JobsCopy) * mq_max_databases);

	LWLockAcquire(DbState->dir_lock, LW_SHARED);
	hash_seq_init(&status, DatabaseDir.htab);
	while ((db = hash_seq_search(&status)) != NULL)
	{
		if (db->state != MQ_WORKER_RUNNING && db->jobs[MQ_JOB_WATCHDOG].runs == 0)
			continue;
		copies[ncopies].dboid = db->dboid;
		SpinLockAcquire(&db->mutex);
		memcpy(copies[ncopies].jobs, db->jobs, sizeof(db->jobs));
		SpinLockRelease(&db->mutex);
		ncopies++;
	}
	LWLockRelease(DbState->dir_lock);

	for (i = 0; i < ncopies; i++)
	{
		char	   *datname = get_database_name(copies[i].dboid);
		int			j;

		for (j = 0; j < MQ_JOB_COUNT; j++)
		{
			MqJobStats *job = &copies[i].jobs[j];
			Datum		values[9];
			bool		nulls[9] = {0};

			if (datname != NULL)
			{
				Name		n = palloc0(NAMEDATALEN);

				namestrcpy(n, datname);
				values[0] = NameGetDatum(n);
			}
			else
				nulls[0] = true;
			values[1] = CStringGetTextDatum(job_names[j]);
			values[2] = TimestampTzGetDatum(job->last_run);
			nulls[2] = (job->runs == 0);
			values[3] = Int64GetDatum((int64) job->runs);
			values[4] = Int64GetDatum(job->last_count);
			nulls[4] = (job->runs == 0 || job->last_count < 0);
			values[5] = Int64GetDatum(job->backlog);
			nulls[5] = (job->runs == 0 || job->backlog < 0);
			values[6] = Int64GetDatum((int64) job->errors);
			values[7] = TimestampTzGetDatum(job->last_error_at);
			nulls[7] = (job->errors == 0);
			values[8] = CStringGetTextDatum(job->last_error);
			nulls[8] = (job->errors == 0);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
								 values, nulls);
		}
	}
	return (Datum) 0;
}

/*
 * mq_database_shmem_request
 *		Reserve the directory's shared memory and its lock.  Called from
 *		mq.c's shmem_request_hook.
 */
void
mq_database_shmem_request(void)
{
	RequestAddinShmemSpace(add_size(CACHELINEALIGN(sizeof(DatabaseShared)),
									mq_shmem_directory_size(&DatabaseDir)));
	RequestNamedLWLockTranche("mq directory", 1);
}

/*
 * mq_database_shmem_startup
 *		Create the directory, or attach to it.  Called from mq.c's
 *		shmem_startup_hook with AddinShmemInitLock held.
 */
void
mq_database_shmem_startup(void)
{
	bool		found;

	DbState = ShmemInitStruct("mq launcher state", sizeof(DatabaseShared), &found);
	if (!found)
	{
		memset(DbState, 0, sizeof(DatabaseShared));
		DbState->dir_lock = &(GetNamedLWLockTranche("mq directory"))->lock;
		ConditionVariableInit(&DbState->worker_exit_cv);
	}
	mq_shmem_directory_init(&DatabaseDir, DbState->dir_lock);
}
