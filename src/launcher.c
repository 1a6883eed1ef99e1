/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The mq launcher: the process that starts one worker per database
 *	  that has mq.
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
 *	  extension.  Only a few workers start or wait to start at once, so
 *	  probing many databases does not use up max_worker_processes nor the
 *	  directory; a CREATE EXTENSION that finds the directory full evicts a
 *	  probe that has not started yet.
 *
 * Workers run only in databases that accept connections and are not
 * templates (a worker connected to a template would make CREATE DATABASE
 * fail): the launcher skips the others, and a worker whose database turns
 * into one exits.
 *
 * Per-database workers are dynamic background workers that never restart
 * by themselves (BGW_NEVER_RESTART): the launcher watches them through
 * their handles and restarts one that exited unexpectedly, after a delay
 * that doubles with each consecutive failure.  After a crash the postmaster
 * re-initialises shared memory and restarts the launcher, which starts
 * over.  The decisions, and the records they are made from, are in
 * database.c, which owns the directory of databases; this file is the
 * process that acts on them.
 *
 * The loop waits on its latch with WL_EXIT_ON_PM_DEATH and calls
 * CHECK_FOR_INTERRUPTS() each time round, so SIGTERM (die), query cancel
 * and ProcSignalBarriers are always absorbed promptly.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/launcher.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "database.h"
#include "launcher.h"
#include "settings.h"

/*
 * mq_launcher_register
 *		Register the launcher as a static background worker.  Called from
 *		_PG_init in the postmaster.
 */
void
mq_launcher_register(void)
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
 * mq_launcher_main
 *		Entry point of the launcher.
 */
void
mq_launcher_main(Datum main_arg)
{
	TimestampTz next_scan = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* No database: only shared catalogs such as pg_database are readable. */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("mq launcher");

	mq_database_launcher_attach();
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

		rescan = mq_database_launcher_rescan_requested();
		now = GetCurrentTimestamp();
		if (rescan || now >= next_scan)
		{
			mq_database_launcher_scan();
			next_scan = TimestampTzPlusMilliseconds(now, mq_launcher_naptime);
		}

		timeout = mq_database_launcher_manage(start_worker);

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
