/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The mq launcher and the per-database workers that do mq's timed work.
 *
 * The launcher is a static background worker, registered in _PG_init and
 * restarted by the postmaster if it exits.  It connects to no database and
 * reads pg_database, a shared catalog.  It cannot see pg_extension of other
 * databases, so it learns where mq is installed in two ways:
 *
 *	- a CREATE EXTENSION mq that commits requests a worker for its database
 *	  (mq.c's object access hook and transaction callback);
 *	- a database the launcher has not seen before (after its own start, or
 *	  a CREATE DATABASE, which may copy a template that has mq) is probed:
 *	  a worker is started there, and exits for good if it does not find the
 *	  extension.  At most MQ_MAX_STARTING workers start or wait to start at
 *	  once, so probing many databases does not use up max_worker_processes
 *	  nor the directory; a CREATE EXTENSION that finds the directory full
 *	  evicts a probe that has not started yet.
 *
 * Workers run only in databases that accept connections and are not
 * templates (a worker connected to a template would make CREATE DATABASE
 * fail): the launcher skips the others, and a worker whose database turns
 * into one exits.
 *
 * Per-database workers are dynamic background workers that never restart
 * by themselves (BGW_NEVER_RESTART): the launcher watches them through
 * their handles and restarts one that exited unexpectedly, after a delay
 * that doubles with each consecutive failure (MQ_RESTART_DELAY_MS up to
 * MQ_RESTART_DELAY_MAX_MS).  After a crash the postmaster re-initialises
 * shared memory and restarts the launcher, which starts over.
 *
 * Commands that need a database without other connections (DROP DATABASE,
 * ALTER DATABASE RENAME or SET TABLESPACE, CREATE DATABASE ... TEMPLATE)
 * pause its worker first: mq_worker_pause() makes the launcher leave the
 * database alone, terminates the worker and waits for it to exit.  The
 * pause ends with the command's transaction.
 *
 * Every loop here waits on its latch with WL_EXIT_ON_PM_DEATH and calls
 * CHECK_FOR_INTERRUPTS() each time round, so SIGTERM (die), query cancel
 * and ProcSignalBarriers (which DROP DATABASE waits for) are always
 * absorbed promptly.  SIGUSR1 is left to PostgreSQL's handler.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "commands/async.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "mq.h"
#include "group.h"
#include "delay.h"
#include "produce.h"
#include "shmem.h"
#include "topic.h"
#include "txn.h"
#include "worker.h"

/* Delay before restarting a worker that died, doubled per failure. */
#define MQ_RESTART_DELAY_MS		1000
#define MQ_RESTART_DELAY_MAX_MS	64000

/* Workers that may be starting at once (probes included). */
#define MQ_MAX_STARTING			2

/* How long a utility command waits for a paused worker to exit. */
#define MQ_PAUSE_TIMEOUT_MS		30000

/*
 * The launcher's private record of a database.  Only the launcher has the
 * worker handles, so they live here rather than in shared memory.
 */
typedef struct LauncherDb
{
	Oid			dboid;			/* hash key */
	bool		in_catalog;		/* eligible in the latest pg_database scan */
	bool		settled;		/* known not to have mq: do not probe */
	bool		warned;			/* complained about this database already */
	bool		recheck;		/* start requested, but not seen eligible */
	int			failures;		/* consecutive unexpected worker exits */
	TimestampTz restart_at;		/* no (re)start before this time */
	BackgroundWorkerHandle *handle; /* the worker we started, if any */
} LauncherDb;

/* Launcher state, private to the launcher process. */
static HTAB *launcher_dbs = NULL;
static MemoryContext launcher_context = NULL;

/* Worker state, private to a database worker. */
static MqDatabase *my_db = NULL;
static NameData my_dbname;		/* for log messages */

/*
 * Events of the current transaction in an ordinary backend, acted upon at
 * its end by mq_worker_xact_end().
 */
static bool xact_pinned = false;	/* pinned MyDatabaseId's entry */
static bool xact_wake_worker = false;	/* mq dropped here */
static bool xact_rescan = false;	/* a database was created */
static List *xact_paused = NIL; /* OIDs of databases paused, in
								 * TopMemoryContext */

PG_FUNCTION_INFO_V1(mq_worker_status);
PG_FUNCTION_INFO_V1(mq_worker_jobs);

static void launcher_detach(int code, Datum arg);
static void worker_detach(int code, Datum arg);

/*
 * wake_launcher
 *		Set the launcher's latch, if it is running.  Caller holds dir_lock.
 */
static void
wake_launcher(void)
{
	if (MqState->launcher_latch != NULL)
		SetLatch(MqState->launcher_latch);
}

/*
 * mq_worker_register_launcher
 *		Register the launcher as a static background worker.  Called from
 *		_PG_init in the postmaster.
 */
void
mq_worker_register_launcher(void)
{
	BackgroundWorker bgw = {0};

	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = 1;
	strlcpy(bgw.bgw_library_name, MQ_EXTENSION_NAME, BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, "mq_launcher_main", BGW_MAXLEN);
	strlcpy(bgw.bgw_name, "mq launcher", BGW_MAXLEN);
	strlcpy(bgw.bgw_type, "mq launcher", BGW_MAXLEN);
	RegisterBackgroundWorker(&bgw);
}

/*
 * start_worker
 *		Ask the postmaster for a worker for dboid.  Returns its handle, or
 *		NULL when no background worker slot is free.  Launcher only.
 */
static BackgroundWorkerHandle *
start_worker(Oid dboid)
{
	BackgroundWorker bgw = {0};
	BackgroundWorkerHandle *handle;
	MemoryContext oldcxt;
	bool		ok;

	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(bgw.bgw_library_name, MQ_EXTENSION_NAME, BGW_MAXLEN);
	strlcpy(bgw.bgw_function_name, "mq_worker_main", BGW_MAXLEN);
	snprintf(bgw.bgw_name, BGW_MAXLEN, "mq worker for database %u", dboid);
	strlcpy(bgw.bgw_type, "mq worker", BGW_MAXLEN);
	bgw.bgw_main_arg = ObjectIdGetDatum(dboid);
	bgw.bgw_notify_pid = MyProcPid;

	/* the handle outlives the loop iteration */
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	ok = RegisterDynamicBackgroundWorker(&bgw, &handle);
	MemoryContextSwitchTo(oldcxt);

	return ok ? handle : NULL;
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
		ldb->settled = false;
		ldb->warned = false;
		ldb->recheck = false;
		ldb->failures = 0;
		ldb->restart_at = 0;
		ldb->handle = NULL;
	}
	return ldb;
}

/*
 * database_is_eligible
 *		Whether a database may have an mq worker: it accepts connections,
 *		is valid (not left half-dropped) and is not a template.
 */
static bool
database_is_eligible(Form_pg_database pgdb)
{
	return pgdb->datallowconn && !pgdb->datistemplate &&
		!database_is_invalid_form(pgdb);
}

/*
 * launcher_scan
 *		Read pg_database and note which databases are eligible for a
 *		worker.
 *
 * Databases that disappeared or became ineligible lose their directory
 * entry once nobody needs it; new ones will be probed by launcher_probe().
 * A start requested for a database that a scan taken after the request
 * still finds ineligible (CREATE EXTENSION in template1, say) is dropped.
 */
static void
launcher_scan(void)
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

		if (database_is_eligible(pgdb))
			launcher_db(pgdb->oid)->in_catalog = true;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);

	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);

	/* Forget databases that are gone, unless something still uses them. */
	LWLockAcquire(MqState->dir_lock, LW_EXCLUSIVE);
	hash_seq_init(&status, launcher_dbs);
	while ((ldb = hash_seq_search(&status)) != NULL)
	{
		/* set by launcher_manage(), so before this scan began */
		bool		armed = ldb->recheck;

		ldb->recheck = false;
		if (ldb->in_catalog || ldb->handle != NULL)
			continue;
		db = hash_search(MqDatabaseDir.htab, &ldb->dboid, HASH_FIND, NULL);
		if (db != NULL)
		{
			if (db->pins > 0 || db->pauses > 0 || db->pid != 0)
				continue;
			/* a request newer than the scan may be for a newer database */
			if (db->start_requested && !armed)
				continue;
			hash_search(MqDatabaseDir.htab, &ldb->dboid, HASH_REMOVE, NULL);
		}
		hash_search(launcher_dbs, &ldb->dboid, HASH_REMOVE, NULL);
	}
	MqState->launcher_last_scan = GetCurrentTimestamp();
	LWLockRelease(MqState->dir_lock);
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
			hash_search(MqDatabaseDir.htab, &ldb->dboid, HASH_FIND, NULL))
			continue;
		if (busy >= MQ_MAX_STARTING)
		{
			hash_seq_term(&status);
			break;
		}
		if (hash_get_num_entries(MqDatabaseDir.htab) >= mq_max_databases)
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
		db = mq_shmem_enter(&MqDatabaseDir, &ldb->dboid, &found);
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
 * launcher_manage
 *		Start, restart and retire database workers.  Returns the number of
 *		milliseconds until a delayed restart falls due, or -1 if none is
 *		pending.  Workers wake the launcher when they check in or exit, so
 *		starts held back by MQ_MAX_STARTING are taken up then.
 */
static long
launcher_manage(void)
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

	LWLockAcquire(MqState->dir_lock, LW_EXCLUSIVE);

	/*
	 * Note failures, retire entries nobody needs, count the workers that are
	 * starting and the entries waiting for one.
	 */
	hash_seq_init(&status, MqDatabaseDir.htab);
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
			MqState->rescan_requested = true;	/* maybe the database is gone */
		}

		if (db->state == MQ_WORKER_ABSENT && !db->start_requested)
		{
			if (db->pins == 0 && db->pauses == 0)
			{
				hash_search(MqDatabaseDir.htab, &db->dboid, HASH_REMOVE, NULL);
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
			MqState->rescan_requested = true;
		}
	}

	launcher_probe(starting + waiting);

	/* Pick the workers to start now; remember when the next one is due. */
	hash_seq_init(&status, MqDatabaseDir.htab);
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
	LWLockRelease(MqState->dir_lock);

	/* Register outside the lock: it takes the postmaster's worker lock. */
	for (i = 0; i < ndue; i++)
	{
		BackgroundWorkerHandle *handle = start_worker(due[i]);

		ldb = launcher_db(due[i]);
		LWLockAcquire(MqState->dir_lock, LW_EXCLUSIVE);
		db = hash_search(MqDatabaseDir.htab, &due[i], HASH_FIND, NULL);
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
		LWLockRelease(MqState->dir_lock);

		if (handle != NULL)
			ldb->warned = false;
		else if (!ldb->warned)
		{
			ereport(WARNING,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("could not start mq worker for database %u: no free background worker slots",
							due[i]),
					 errhint("Increase max_worker_processes and restart the server.")));
			ldb->warned = true;
		}
	}

	if (next_due == 0)
		return -1;
	return Max(1, TimestampDifferenceMilliseconds(now, next_due));
}

/*
 * launcher_attach
 *		Announce the launcher in shared memory.  Workers left by a previous
 *		launcher process (one that exited without a crash) are terminated:
 *		we have no handles for them, and they will be started again.
 */
static void
launcher_attach(void)
{
	HASH_SEQ_STATUS status;
	MqDatabase *db;

	LWLockAcquire(MqState->dir_lock, LW_EXCLUSIVE);
	MqState->launcher_pid = MyProcPid;
	MqState->launcher_latch = MyLatch;
	MqState->launcher_started_at = GetCurrentTimestamp();
	MqState->rescan_requested = true;

	hash_seq_init(&status, MqDatabaseDir.htab);
	while ((db = hash_seq_search(&status)) != NULL)
	{
		if (db->pid != 0)
			kill(db->pid, SIGTERM);
		if (db->state != MQ_WORKER_ABSENT)
			db->state = MQ_WORKER_STOPPED;
	}
	LWLockRelease(MqState->dir_lock);

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
	LWLockAcquire(MqState->dir_lock, LW_EXCLUSIVE);
	if (MqState->launcher_pid == MyProcPid)
	{
		MqState->launcher_pid = 0;
		MqState->launcher_latch = NULL;
	}
	LWLockRelease(MqState->dir_lock);
}

/*
 * mq_launcher_main
 *		Entry point of the launcher.
 */
void
mq_launcher_main(Datum main_arg)
{
	HASHCTL		info;
	TimestampTz next_scan = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* No database: only shared catalogs such as pg_database are readable. */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("mq launcher");

	launcher_context = AllocSetContextCreate(TopMemoryContext,
											 "mq launcher",
											 ALLOCSET_DEFAULT_SIZES);
	info.keysize = sizeof(Oid);
	info.entrysize = sizeof(LauncherDb);
	info.hcxt = launcher_context;
	launcher_dbs = hash_create("mq launcher databases", 64, &info,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	launcher_attach();
	ereport(LOG, (errmsg("mq launcher started")));

	for (;;)
	{
		TimestampTz now;
		bool		rescan;
		long		timeout;
		long		until_scan;

		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		LWLockAcquire(MqState->dir_lock, LW_EXCLUSIVE);
		rescan = MqState->rescan_requested;
		MqState->rescan_requested = false;
		LWLockRelease(MqState->dir_lock);

		now = GetCurrentTimestamp();
		if (rescan || now >= next_scan)
		{
			launcher_scan();
			next_scan = TimestampTzPlusMilliseconds(now, mq_launcher_naptime);
		}

		timeout = launcher_manage();

		until_scan = Max(0, TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
															next_scan));
		if (timeout < 0 || timeout > until_scan)
			timeout = until_scan;
		if (timeout > 0)
			(void) WaitLatch(MyLatch,
							 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 timeout, PG_WAIT_EXTENSION);
	}
}

/*
 * worker_attach
 *		Claim the directory entry of dboid for this worker process.  Exits
 *		(for the launcher to sort out) if the entry is gone, paused or
 *		taken.
 */
static void
worker_attach(Oid dboid)
{
	MqDatabase *db;

	LWLockAcquire(MqState->dir_lock, LW_EXCLUSIVE);
	db = hash_search(MqDatabaseDir.htab, &dboid, HASH_FIND, NULL);
	if (db == NULL || db->pauses > 0 || db->pid != 0)
	{
		if (db != NULL && db->pid == 0)
			db->state = MQ_WORKER_STOPPED;
		LWLockRelease(MqState->dir_lock);
		proc_exit(0);
	}
	db->pid = MyProcPid;
	db->latch = MyLatch;
	SpinLockAcquire(&db->mutex);
	db->ticks = 0;
	db->last_tick = 0;
	SpinLockRelease(&db->mutex);
	LWLockRelease(MqState->dir_lock);

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
	LWLockAcquire(MqState->dir_lock, LW_EXCLUSIVE);
	my_db->pid = 0;
	my_db->latch = NULL;
	if (my_db->pauses > 0 && my_db->state != MQ_WORKER_ABSENT)
		my_db->state = MQ_WORKER_STOPPED;
	wake_launcher();
	LWLockRelease(MqState->dir_lock);

	ConditionVariableBroadcast(&MqState->worker_exit_cv);
}

/*
 * lock_for_jobs
 *		Lock the extension's tables that the pass's jobs use, without
 *		waiting.  Returns false if one is missing or locked by someone else
 *		(DROP EXTENSION, topic DDL): the jobs then wait for the next pass.
 *		The worker never waits for a lock that DDL holds while it holds
 *		another that the DDL wants, so it cannot take part in a deadlock
 *		with it.
 */
static bool
lock_for_jobs(void)
{
	static const struct
	{
		const char *name;
		LOCKMODE	mode;
	}			tables[] = {
		{"topic", AccessShareLock},
		{"segment", AccessShareLock},
		{"partition", AccessShareLock},
		{"dedup", RowExclusiveLock},
		{"consumer_group", RowShareLock},
		{"member", RowExclusiveLock},
		{"assignment", RowExclusiveLock},
		{"delayed_message", RowExclusiveLock},
		{"half_message", RowExclusiveLock},
	};
	Oid			nsp = get_namespace_oid(MQ_EXTENSION_NAME, true);
	size_t		i;

	if (!OidIsValid(nsp))
		return false;
	for (i = 0; i < lengthof(tables); i++)
	{
		Oid			relid = get_relname_relid(tables[i].name, nsp);

		if (!OidIsValid(relid) ||
			!ConditionalLockRelationOid(relid, tables[i].mode))
			return false;
	}
	return true;
}

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
};

/* A job: does its work, returns how much, and sets *backlog if it knows. */
typedef int64 (*JobFunction) (int64 *backlog);

/*
 * job_done
 *		Record a run of a job in this worker's statistics: what it did, the
 *		work left, and its error message if it failed.
 */
static void
job_done(MqJob job, int64 count, int64 backlog, const char *error)
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
 * run_job
 *		Run a job in a subtransaction of the current transaction, so that an
 *		error undoes only that job's work: it is logged as a WARNING and
 *		counted in the job's statistics, and the worker goes on with the
 *		other jobs.  Returns what the job returned, or -1 if it failed.
 */
static int64
run_job(MqJob job, JobFunction fn)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	int64		count = -1;
	int64		backlog = -1;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		count = fn(&backlog);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		job_done(job, count, backlog, NULL);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ereport(WARNING,
				(errmsg("mq worker job \"%s\" failed in database \"%s\": %s",
						job_names[job], NameStr(my_dbname), edata->message)));
		job_done(job, -1, -1, edata->message);
		FreeErrorData(edata);
		count = -1;
	}
	PG_END_TRY();
	return count;
}

/*
 * dedup_job
 *		Forget what the idempotence windows (the topics' dedup_window) no
 *		longer cover: expired deduplication entries, and resolved half
 *		messages.
 */
static int64
dedup_job(int64 *backlog)
{
	return mq_produce_purge_dedup() + mq_txn_purge_resolved();
}

static int64
roll_job(int64 *backlog)
{
	return mq_topic_roll_due();
}

static int64
retention_job(int64 *backlog)
{
	return mq_topic_retention_pass();
}

static int64
members_job(int64 *backlog)
{
	return mq_groups_worker_pass();
}

/* Delayed messages released per transaction. */
#define RELEASE_BATCH		10000

/* The time (mq's clock) against which the running release or check runs. */
static TimestampTz job_now;

static int64
release_job(int64 *backlog)
{
	return mq_delay_release(job_now, RELEASE_BATCH);
}

static int64
checkback_job(int64 *backlog)
{
	return mq_txn_check_due(job_now, backlog);
}

/*
 * offer_due
 *		Timed work is due at due: lower this worker's next due time to it.
 */
static void
offer_due(TimestampTz due)
{
	SpinLockAcquire(&my_db->mutex);
	if (due < my_db->next_due)
		my_db->next_due = due;
	SpinLockRelease(&my_db->mutex);
}

/*
 * due_pass
 *		Release due delayed messages and retries, in transactions of
 *		RELEASE_BATCH; the last of them also learns when the next release
 *		and the next check-back are due.  Then, if check-backs are due, run
 *		them in a transaction of their own, so that a slow check-back
 *		function never holds back the commit of released messages.
 *
 * next_due is set to "never" before the first snapshot is taken: work
 * committed before that snapshot is seen by the queries below, and a
 * transaction that commits after it lowers next_due itself afterwards
 * (mq_worker_wake_at), which offer_due() keeps.  After a full second of
 * releasing, the pass stops and leaves next_due at "now", so that the
 * worker's other work gets its turn before the release goes on.  A job
 * that fails is tried again a naptime later, not in a loop.
 */
static void
due_pass(void)
{
	TimestampTz start = GetCurrentTimestamp();
	TimestampTz retry_at;
	TimestampTz next_release = DT_NOEND;
	TimestampTz next_check = DT_NOEND;
	bool		check_due = false;
	int64		checked;

	SpinLockAcquire(&my_db->mutex);
	my_db->next_due = DT_NOEND;
	SpinLockRelease(&my_db->mutex);
	retry_at = TimestampTzPlusMilliseconds(mq_now(), mq_worker_naptime);

	for (;;)
	{
		int64		released = -1;
		bool		ran = false;

		CHECK_FOR_INTERRUPTS();
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		pgstat_report_activity(STATE_RUNNING, "mq worker release");
		if (OidIsValid(get_extension_oid(MQ_EXTENSION_NAME, true)) &&
			lock_for_jobs())
		{
			PushActiveSnapshot(GetTransactionSnapshot());
			job_now = mq_now();
			released = run_job(MQ_JOB_RELEASE, release_job);
			if (released >= 0 && released < RELEASE_BATCH)
			{
				/*
				 * What is still due was skipped as held by someone else: the
				 * next tick looks again, not a loop.  Work that commits
				 * meanwhile lowers next_due by itself.
				 */
				next_release = mq_delay_next_due(job_now);
				next_check = mq_txn_next_check(job_now, &check_due);
			}
			PopActiveSnapshot();
			ran = true;
		}
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);

		if (!ran)
		{
			/* extension gone or its tables locked: try at the next tick */
			offer_due(retry_at);
			return;
		}
		if (released < 0)
		{
			next_release = retry_at;
			check_due = true;
			break;
		}
		if (released < RELEASE_BATCH)
			break;
		if (TimestampDifferenceExceeds(start, GetCurrentTimestamp(), 1000))
		{
			next_release = 0;
			check_due = true;
			break;
		}
	}

	if (check_due || next_check <= mq_now())
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		pgstat_report_activity(STATE_RUNNING, "mq worker checkback");
		next_check = retry_at;
		if (OidIsValid(get_extension_oid(MQ_EXTENSION_NAME, true)) &&
			lock_for_jobs())
		{
			PushActiveSnapshot(GetTransactionSnapshot());
			job_now = mq_now();
			checked = run_job(MQ_JOB_CHECKBACK, checkback_job);
			if (checked >= MQ_CHECK_BATCH)
				next_check = 0; /* more are due: after the other due work */
			else if (checked >= 0)
			{
				bool		stuck;

				next_check = mq_txn_next_check(job_now, &stuck);
				if (stuck)
					next_check = Min(next_check, retry_at);
			}
			PopActiveSnapshot();
		}
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);
	}
	offer_due(Min(next_release, next_check));
}

/*
 * mq_worker_wake_at
 *		The committing transaction created timed work due at due (mq's
 *		clock): lower the worker's next due time, and wake it if that is
 *		earlier than what it sleeps for.  Called in the COMMIT callback:
 *		cannot fail.
 */
void
mq_worker_wake_at(TimestampTz due)
{
	MqDatabase *db;

	LWLockAcquire(MqState->dir_lock, LW_SHARED);
	db = hash_search(MqDatabaseDir.htab, &MyDatabaseId, HASH_FIND, NULL);
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
	LWLockRelease(MqState->dir_lock);
}

/*
 * mq_worker_wake_all
 *		Wake every database worker, so that each looks at mq's clock again
 *		(mq.advance_clock moved it).
 */
void
mq_worker_wake_all(void)
{
	HASH_SEQ_STATUS status;
	MqDatabase *db;

	LWLockAcquire(MqState->dir_lock, LW_SHARED);
	hash_seq_init(&status, MqDatabaseDir.htab);
	while ((db = hash_seq_search(&status)) != NULL)
		if (db->latch != NULL)
			SetLatch(db->latch);
	LWLockRelease(MqState->dir_lock);
}

/*
 * worker_tick
 *		One pass of a database worker.  Returns false when the worker should
 *		exit for good: the extension is not installed in this database, or
 *		the database became a template or stopped accepting connections.
 */
static bool
worker_tick(void)
{
	bool		installed;
	bool		eligible;
	HeapTuple	tup;
	MqWorkerState prev_state;

	/*
	 * Clear the start request before looking at the catalog: a CREATE
	 * EXTENSION that commits after this point sets it again, and a worker
	 * exiting now is then started again.
	 */
	LWLockAcquire(MqState->dir_lock, LW_EXCLUSIVE);
	my_db->start_requested = false;
	prev_state = my_db->state;
	LWLockRelease(MqState->dir_lock);

	/* no transaction needed, and nothing below can hold it up */
	job_done(MQ_JOB_WATCHDOG, mq_produce_watchdog(), -1, NULL);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	pgstat_report_activity(STATE_RUNNING, "mq worker tick");
	installed = OidIsValid(get_extension_oid(MQ_EXTENSION_NAME, true));
	if (installed && lock_for_jobs())
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		run_job(MQ_JOB_DEDUP, dedup_job);
		run_job(MQ_JOB_ROLL, roll_job);
		run_job(MQ_JOB_MEMBERS, members_job);
		PopActiveSnapshot();
	}
	tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(MyDatabaseId));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for database %u", MyDatabaseId);
	eligible = database_is_eligible((Form_pg_database) GETSTRUCT(tup));
	namestrcpy(&my_dbname, NameStr(((Form_pg_database) GETSTRUCT(tup))->datname));
	ReleaseSysCache(tup);
	CommitTransactionCommand();

	/*
	 * Retention in a short transaction of its own: its update of the
	 * partitions' log start must not stay uncommitted while another job waits
	 * for a lock, since a producer moving the same row's high mark (in place)
	 * waits for it with the partition's LWLock held.
	 */
	if (installed && eligible)
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		if (lock_for_jobs())
		{
			PushActiveSnapshot(GetTransactionSnapshot());
			run_job(MQ_JOB_RETENTION, retention_job);
			PopActiveSnapshot();
		}
		CommitTransactionCommand();
	}
	pgstat_report_activity(STATE_IDLE, NULL);

	if (!installed || !eligible)
	{
		LWLockAcquire(MqState->dir_lock, LW_EXCLUSIVE);
		my_db->state = MQ_WORKER_ABSENT;
		if (!eligible)
			MqState->rescan_requested = true;
		wake_launcher();
		LWLockRelease(MqState->dir_lock);

		/* Quiet for a probe; worth a line when mq was dropped. */
		if (!eligible)
			ereport(LOG,
					(errmsg("mq worker for database \"%s\" exiting: the database is a template or does not accept connections",
							NameStr(my_dbname))));
		else
			ereport(prev_state == MQ_WORKER_RUNNING ? LOG : DEBUG1,
					(errmsg("mq worker for database \"%s\" exiting: extension \"%s\" is not installed",
							NameStr(my_dbname), MQ_EXTENSION_NAME)));
		return false;
	}

	if (prev_state != MQ_WORKER_RUNNING)
	{
		LWLockAcquire(MqState->dir_lock, LW_EXCLUSIVE);
		my_db->state = MQ_WORKER_RUNNING;
		my_db->probe = false;
		my_db->started_at = GetCurrentTimestamp();
		wake_launcher();
		LWLockRelease(MqState->dir_lock);
		ereport(LOG,
				(errmsg("mq worker started for database \"%s\"",
						NameStr(my_dbname))));
	}

	SpinLockAcquire(&my_db->mutex);
	my_db->ticks++;
	my_db->last_tick = GetCurrentTimestamp();
	SpinLockRelease(&my_db->mutex);

	return true;
}

/*
 * ms_until
 *		Milliseconds from now to then, at least 0 and at most a day.
 */
static long
ms_until(TimestampTz now, TimestampTz then)
{
	if (then <= now)
		return 0;
	return (long) Min((then - now + 999) / 1000, (int64) 24 * 3600 * 1000);
}

/* Below PostgreSQL's limit on a NOTIFY payload (BLCKSZ - NAMEDATALEN - 128). */
#define MQ_NOTIFY_PAYLOAD_MAX	7000

/*
 * notify_pass
 *		Send one NOTIFY for each topic that has notifications on and whose
 *		stable offset moved in some partition since the last one: channel
 *		"mq.<topic>" ("mq.#<topic id>" when that would pass NAMEDATALEN),
 *		payload the partitions that moved, comma-separated ("*" if the list
 *		would not fit in a payload).  Producers only set a flag and this
 *		worker's latch, so they never take the notification queue's lock.
 *		What was notified is recorded once the NOTIFY committed.  Returns
 *		how many topics were notified.
 */
static int
notify_pass(void)
{
	int			notified = 0;
	static MemoryContext notify_cxt = NULL;
	MemoryContext old;
	int			ntopics = 0;
	int32	   *topic_ids = NULL;
	int32	   *partitions = NULL;
	int64	  **marks = NULL;
	int			i;

	if (notify_cxt == NULL)
		notify_cxt = AllocSetContextCreate(TopMemoryContext, "mq notify",
										   ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(notify_cxt);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	pgstat_report_activity(STATE_RUNNING, "mq worker notify");
	if (OidIsValid(get_extension_oid(MQ_EXTENSION_NAME, true)) &&
		lock_for_jobs())
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		SPI_connect();
		SPI_execute("SELECT topic_id, name, partitions FROM mq.topic"
					" WHERE notify", true, 0);
		old = MemoryContextSwitchTo(notify_cxt);
		ntopics = (int) SPI_processed;
		topic_ids = palloc(sizeof(int32) * Max(ntopics, 1));
		partitions = palloc(sizeof(int32) * Max(ntopics, 1));
		marks = palloc(sizeof(int64 *) * Max(ntopics, 1));
		MemoryContextSwitchTo(old);
		for (i = 0; i < ntopics; i++)
		{
			bool		isnull;
			char	   *name = SPI_getvalue(SPI_tuptable->vals[i],
											SPI_tuptable->tupdesc, 2);
			StringInfoData payload;
			char		channel[NAMEDATALEN];

			topic_ids[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
													   SPI_tuptable->tupdesc,
													   1, &isnull));
			partitions[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
														SPI_tuptable->tupdesc,
														3, &isnull));
			marks[i] = MemoryContextAlloc(notify_cxt,
										  sizeof(int64) * partitions[i]);
			initStringInfo(&payload);
			if (mq_partitions_advanced(topic_ids[i], partitions[i], &payload,
									   marks[i]) == 0)
				continue;
			if (strlen(name) + 3 < NAMEDATALEN)
				snprintf(channel, sizeof(channel), "mq.%s", name);
			else
				snprintf(channel, sizeof(channel), "mq.#%d", topic_ids[i]);
			Async_Notify(channel,
						 payload.len < MQ_NOTIFY_PAYLOAD_MAX ?
						 payload.data : "*");
			notified++;
		}
		SPI_finish();
		PopActiveSnapshot();
	}
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);

	for (i = 0; i < ntopics; i++)
		mq_partitions_notified(topic_ids[i], partitions[i], marks[i]);
	return notified;
}

/*
 * mq_worker_notify
 *		A stable offset of this database moved: have its worker send the
 *		notifications.  Called by committing producers: a flag and a latch,
 *		no notification lock.
 */
void
mq_worker_notify(void)
{
	MqDatabase *db;

	LWLockAcquire(MqState->dir_lock, LW_SHARED);
	db = hash_search(MqDatabaseDir.htab, &MyDatabaseId, HASH_FIND, NULL);
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
	LWLockRelease(MqState->dir_lock);
}

/*
 * mq_worker_main
 *		Entry point of a database worker; main_arg is the database OID.
 */
void
mq_worker_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	TimestampTz last_tick = 0;
	TimestampTz last_notify = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	worker_attach(dboid);
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("mq worker");

	/*
	 * The worker runs as the bootstrap superuser: no database-level
	 * search_path may bring other schemas' functions or operators into its
	 * queries.
	 */
	SetConfigOption("search_path", "pg_catalog", PGC_SUSET, PGC_S_OVERRIDE);

	for (;;)
	{
		TimestampTz now;
		bool		tick;
		bool		notify;
		long		timeout;
		TimestampTz due;

		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		SpinLockAcquire(&my_db->mutex);
		tick = my_db->tick_requested;
		my_db->tick_requested = false;
		notify = my_db->notify_pending;
		SpinLockRelease(&my_db->mutex);

		/*
		 * The timed pass, every naptime (as it is now: a reload may have
		 * changed it) or when asked for.
		 */
		now = GetCurrentTimestamp();
		if (tick ||
			now >= TimestampTzPlusMilliseconds(last_tick, mq_worker_naptime))
		{
			if (!worker_tick())
				break;
			last_tick = GetCurrentTimestamp();

			/*
			 * Look for due work at every tick too, in case a wake-up was
			 * missed: a delayed send in a prepared transaction commits
			 * without this module's commit callback.
			 */
			offer_due(mq_now());
		}

		/* delayed messages, retries and check-backs that are due */
		SpinLockAcquire(&my_db->mutex);
		due = my_db->next_due;
		SpinLockRelease(&my_db->mutex);
		if (mq_now() >= due)
			due_pass();

		/* notifications, at most one pass per mq.notify_interval */
		now = GetCurrentTimestamp();
		if (notify &&
			now >= TimestampTzPlusMilliseconds(last_notify, mq_notify_interval))
		{
			SpinLockAcquire(&my_db->mutex);
			my_db->notify_pending = false;
			SpinLockRelease(&my_db->mutex);
			job_done(MQ_JOB_NOTIFY, notify_pass(), -1, NULL);
			last_notify = GetCurrentTimestamp();
			notify = false;
		}

		now = GetCurrentTimestamp();
		timeout = ms_until(now, TimestampTzPlusMilliseconds(last_tick,
															mq_worker_naptime));
		SpinLockAcquire(&my_db->mutex);
		due = my_db->next_due;
		SpinLockRelease(&my_db->mutex);

		/*
		 * Down to the millisecond below, not above: a latch wait cannot be
		 * shorter than a millisecond, and rounding up would make a release
		 * late by up to one; the loop instead comes round at most a
		 * millisecond early and waits no more.
		 */
		{
			TimestampTz mq_time = mq_now();

			timeout = Min(timeout, due <= mq_time ? 0 :
						  (long) Min((due - mq_time) / 1000, (int64) timeout));
		}
		if (notify)
			timeout = Min(timeout,
						  ms_until(now, TimestampTzPlusMilliseconds(last_notify,
																	mq_notify_interval)));
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout, PG_WAIT_EXTENSION);
	}

	/* Exit code 0: the extension is gone, nothing to restart. */
	proc_exit(0);
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

	hash_seq_init(&status, MqDatabaseDir.htab);
	while ((db = hash_seq_search(&status)) != NULL)
	{
		if (db->probe && db->state == MQ_WORKER_STOPPED && db->pid == 0 &&
			db->pins == 0 && db->pauses == 0)
		{
			hash_search(MqDatabaseDir.htab, &db->dboid, HASH_REMOVE, NULL);
			hash_seq_term(&status);
			return;
		}
	}
}

/*
 * mq_worker_extension_created
 *		CREATE EXTENSION mq ran in this database.  Pin the database's
 *		directory entry now, so that running out of slots fails the command
 *		rather than the commit; the worker is requested at commit.
 */
void
mq_worker_extension_created(void)
{
	MqDatabase *db;
	bool		found;

	if (xact_pinned)
		return;

	LWLockAcquire(MqState->dir_lock, LW_EXCLUSIVE);
	if (hash_search(MqDatabaseDir.htab, &MyDatabaseId, HASH_FIND, NULL) == NULL &&
		hash_get_num_entries(MqDatabaseDir.htab) >= mq_max_databases)
		evict_probe();
	db = mq_shmem_enter(&MqDatabaseDir, &MyDatabaseId, &found);
	if (!found)
	{
		/* no worker until the extension is committed */
		db->state = MQ_WORKER_ABSENT;
		SpinLockInit(&db->mutex);
	}
	db->probe = false;
	db->pins++;
	xact_pinned = true;
	LWLockRelease(MqState->dir_lock);
}

/*
 * mq_worker_extension_dropped
 *		DROP EXTENSION mq ran in this database: wake its worker at commit,
 *		so that it sees the extension gone and exits.
 */
void
mq_worker_extension_dropped(void)
{
	xact_wake_worker = true;
}

/*
 * mq_worker_database_created
 *		A database was created: have the launcher look at it after commit
 *		(it may be a copy of a database that has mq).
 */
void
mq_worker_database_created(void)
{
	xact_rescan = true;
}

/*
 * mq_worker_pause
 *		Stop the worker of dboid, if any, and keep it stopped until the end
 *		of the current transaction.  Waits for the worker to exit, for at
 *		most MQ_PAUSE_TIMEOUT_MS; the caller's command then runs as if mq
 *		were not there.
 */
void
mq_worker_pause(Oid dboid)
{
	MqDatabase *db;
	MemoryContext oldcxt;
	TimestampTz deadline;
	pid_t		pid;

	LWLockAcquire(MqState->dir_lock, LW_EXCLUSIVE);
	db = hash_search(MqDatabaseDir.htab, &dboid, HASH_FIND, NULL);
	if (db == NULL)
	{
		LWLockRelease(MqState->dir_lock);
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
	LWLockRelease(MqState->dir_lock);

	if (pid == 0)
		return;

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										   MQ_PAUSE_TIMEOUT_MS);
	ConditionVariablePrepareToSleep(&MqState->worker_exit_cv);
	for (;;)
	{
		LWLockAcquire(MqState->dir_lock, LW_SHARED);
		pid = db->pid;
		LWLockRelease(MqState->dir_lock);
		if (pid == 0)
			break;
		if (GetCurrentTimestamp() >= deadline)
		{
			ereport(WARNING,
					(errmsg("mq worker (PID %d) for database %u did not exit",
							(int) pid, dboid)));
			break;
		}
		(void) ConditionVariableTimedSleep(&MqState->worker_exit_cv, 100,
										   PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
}

/*
 * mq_worker_xact_pending
 *		Whether the current transaction has worker events to act on at its
 *		end (used to refuse PREPARE TRANSACTION).
 */
bool
mq_worker_xact_pending(void)
{
	return xact_pinned || xact_wake_worker || xact_rescan ||
		xact_paused != NIL;
}

/*
 * mq_worker_xact_end
 *		Act on the current transaction's worker events at commit or abort.
 *
 * Runs in the COMMIT and ABORT callbacks, so it must not fail: it only
 * updates entries that are known to exist (pinned or paused ones cannot be
 * removed) and sets latches.
 */
void
mq_worker_xact_end(bool commit)
{
	MqDatabase *db;
	ListCell   *lc;

	if (!mq_worker_xact_pending())
		return;

	LWLockAcquire(MqState->dir_lock, LW_EXCLUSIVE);

	if (xact_pinned)
	{
		db = hash_search(MqDatabaseDir.htab, &MyDatabaseId, HASH_FIND, NULL);
		Assert(db != NULL && db->pins > 0);
		db->pins--;
		if (commit)
			db->start_requested = true;
	}

	foreach(lc, xact_paused)
	{
		Oid			dboid = lfirst_oid(lc);

		db = hash_search(MqDatabaseDir.htab, &dboid, HASH_FIND, NULL);
		Assert(db != NULL && db->pauses > 0);
		db->pauses--;
	}

	if (commit && xact_wake_worker)
	{
		db = hash_search(MqDatabaseDir.htab, &MyDatabaseId, HASH_FIND, NULL);
		if (db != NULL && db->latch != NULL)
		{
			SpinLockAcquire(&db->mutex);
			db->tick_requested = true;
			SpinLockRelease(&db->mutex);
			SetLatch(db->latch);
		}
	}

	if ((commit && xact_rescan) || xact_paused != NIL)
		MqState->rescan_requested = true;
	wake_launcher();

	LWLockRelease(MqState->dir_lock);

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

	LWLockAcquire(MqState->dir_lock, LW_SHARED);
	launcher_pid = MqState->launcher_pid;
	launcher_started_at = MqState->launcher_started_at;
	launcher_last_scan = MqState->launcher_last_scan;
	hash_seq_init(&status, MqDatabaseDir.htab);
	while ((db = hash_seq_search(&status)) != NULL)
	{
		copies[ncopies] = *db;
		SpinLockAcquire(&db->mutex);
		copies[ncopies].ticks = db->ticks;
		copies[ncopies].last_tick = db->last_tick;
		SpinLockRelease(&db->mutex);
		ncopies++;
	}
	LWLockRelease(MqState->dir_lock);

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

	LWLockAcquire(MqState->dir_lock, LW_SHARED);
	hash_seq_init(&status, MqDatabaseDir.htab);
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
	LWLockRelease(MqState->dir_lock);

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
