/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The per-database worker: the process that does mq's timed work.
 *
 * The launcher (launcher.c) starts one worker per database that has mq.
 * Each pass of the worker runs its jobs, each in a subtransaction of its
 * own so that one failing job does not undo the others: the watchdog of
 * in-flight offsets, the dedup purge, segment roll and retention, member
 * expiry, the sweep of dropped topics' and groups' counters, the release of due delayed messages and retries (taken from the
 * delayed store, delay.c, and handed to the producer path, produce.c),
 * half-message check-back, and the notifications that committing
 * producers ask for.  The worker sleeps on its latch until the next of
 * its deadlines: the naptime, the next due time, the notify interval.
 * Sessions ring its doorbell (database.c); nothing calls into this file.
 *
 * The worker exits when the extension is dropped or its database becomes
 * a template or stops accepting connections; a pause (database.c) stops
 * it for the length of a utility command.  Its loop waits on its latch
 * with WL_EXIT_ON_PM_DEATH and calls CHECK_FOR_INTERRUPTS() each time
 * round, so SIGTERM (die), query cancel and ProcSignalBarriers (which DROP
 * DATABASE waits for) are always absorbed promptly.  SIGUSR1 is left to
 * PostgreSQL's handler.
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
#include "catalog/namespace.h"
#include "catalog/pg_database.h"
#include "commands/async.h"
#include "commands/dbcommands.h"
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
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "clock.h"
#include "database.h"
#include "delay.h"
#include "group.h"
#include "half.h"
#include "metrics.h"
#include "offsets.h"
#include "produce.h"
#include "query.h"
#include "segment.h"
#include "settings.h"
#include "share.h"
#include "topic.h"
#include "worker.h"

/* The database's name, for log messages. */
static NameData my_dbname;

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

/* A job: does its work, returns how much, and sets *backlog if it knows. */
typedef int64 (*JobFunction) (int64 *backlog);

/* The SQLSTATE of the last job that failed. */
static int	job_errcode = 0;

/*
 * run_job
 *		Run a job in a subtransaction of the current transaction, so that an
 *		error undoes only that job's work: it is logged as a WARNING and
 *		counted in the job's statistics, and the worker goes on with the
 *		other jobs.  What the job sent is written (mq_produce_flush) before
 *		the subtransaction ends, so that a write that fails fails the job,
 *		not the worker's commit.  Returns what the job returned, or -1 if it
 *		failed; *error, if error is not NULL, then gets the error's message
 *		(in the caller's memory context).
 */
static int64
run_job(MqJob job, JobFunction fn, char **error)
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
		mq_produce_flush();
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		mq_database_job_done(job, count, backlog, NULL);
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
						mq_database_job_name(job), NameStr(my_dbname), edata->message)));
		mq_database_job_done(job, -1, -1, edata->message);
		if (error != NULL)
			*error = pstrdup(edata->message);
		job_errcode = edata->sqlerrcode;
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
	return mq_produce_purge_dedup() + mq_half_purge_resolved();
}

static int64
roll_job(int64 *backlog)
{
	return mq_segment_roll_due();
}

static int64
retention_job(int64 *backlog)
{
	return mq_segment_retention_pass();
}

static int64
members_job(int64 *backlog)
{
	return mq_group_expire_pass();
}

static int64
share_job(int64 *backlog)
{
	return mq_share_compact();
}

static int64
metrics_job(int64 *backlog)
{
	return mq_metrics_sweep();
}

/* Delayed messages released per transaction. */
#define RELEASE_BATCH		10000

/*
 * How long one due pass releases before the worker's other work gets its
 * turn, in milliseconds.
 */
#define RELEASE_BUDGET_MS	1000

/* The time (mq's clock) against which the running release or check runs. */
static TimestampTz job_now;

/*
 * How many due messages the next release takes.  RELEASE_BATCH, unless a
 * release failed: then it is cut down until the failing message is the only
 * one taken (see release).  It stays cut down from one due pass to the
 * next until then: a failing batch that takes longer than a pass's budget
 * must not be tried whole again.
 */
static int	release_limit = RELEASE_BATCH;

/* What the running release took: the last message's id, and its topic. */
typedef struct ReleaseState
{
	MqTopicInfo topic;
	pg_uuid_t	last_id;
	int			taken;
} ReleaseState;

static ReleaseState release_state;

/*
 * release_message
 *		Send a due message taken from the delayed store, in the release
 *		job's subtransaction.  Consecutive messages of one topic look it up
 *		once.
 */
static void
release_message(const char *topic, const MqMessage *m, void *arg)
{
	ReleaseState *state = arg;

	state->last_id = m->id;
	state->taken++;
	if (state->topic.topic_id == 0 || strcmp(state->topic.name, topic) != 0)
		mq_topic_get(topic, &state->topic);
	mq_produce_buffer(&state->topic, m);
	mq_metrics_count(state->topic.topic_id, 0, MQ_METRIC_RELEASED, 1, 0);
}

/*
 * release_job
 *		Release up to release_limit due delayed messages and retries: taken
 *		from the store (delay.c) and sent (produce.c), in one
 *		subtransaction.
 */
static int64
release_job(int64 *backlog)
{
	memset(&release_state, 0, sizeof(release_state));
	return mq_delay_take_due(job_now, release_limit, release_message,
							 &release_state);
}

/*
 * transient
 *		Whether an error says something about the server's state, not about
 *		the message being written: a deadlock, a lock or statement timeout,
 *		a cancel, resources or a limit (the in-flight ring full), I/O.  The
 *		release is then tried again later, and no message is blamed.
 */
static bool
transient(int sqlerrcode)
{
	switch (ERRCODE_TO_CATEGORY(sqlerrcode))
	{
		case ERRCODE_TO_CATEGORY(ERRCODE_TRANSACTION_ROLLBACK): /* 40 */
		case ERRCODE_TO_CATEGORY(ERRCODE_INSUFFICIENT_RESOURCES):	/* 53 */
		case ERRCODE_TO_CATEGORY(ERRCODE_PROGRAM_LIMIT_EXCEEDED):	/* 54 */
		case ERRCODE_TO_CATEGORY(ERRCODE_OPERATOR_INTERVENTION):	/* 57 */
		case ERRCODE_TO_CATEGORY(ERRCODE_SYSTEM_ERROR): /* 58 */
			return true;
		default:
			return sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE;
	}
}

/* The message whose release failed, and the error, for park_job. */
static pg_uuid_t culprit;
static char *culprit_error;

static int64
park_job(int64 *backlog)
{
	return mq_delay_release_failed(&culprit, culprit_error, job_now) ? 1 : 0;
}

/*
 * release
 *		Run the release job.  If it fails after taking a single message,
 *		that message is the culprit: it is put off or parked (delay.c), and
 *		the release goes on with the others.  If it fails after taking more,
 *		the next release takes an eighth as many, until the culprit is found
 *		alone; then full batches again.  A message whose release fails thus
 *		costs the others a few cut-down releases, not the worker.  An error
 *		that says nothing about the message (transient) blames none.
 *		Returns how many were released, or -1 if the release failed for
 *		another reason (the worker then tries again a naptime later).
 *		*again is set if the release must be run again at once.
 */
static int64
release(bool *again)
{
	int64		released;

	culprit_error = NULL;
	released = run_job(MQ_JOB_RELEASE, release_job, &culprit_error);
	*again = (released == release_limit);
	if (released >= 0)
	{
		if (!*again)
			release_limit = RELEASE_BATCH;	/* nothing more due: start over */
		return released;
	}
	if (release_state.taken == 0 || transient(job_errcode))
		return -1;				/* not a message's fault: a naptime later */

	*again = true;
	if (release_state.taken > 1)
	{
		release_limit = Max(1, release_state.taken / 8);
		return 0;
	}
	culprit = release_state.last_id;
	release_limit = RELEASE_BATCH;
	if (run_job(MQ_JOB_RELEASE, park_job, NULL) < 0)
		return -1;
	return 0;
}

static int64
checkback_job(int64 *backlog)
{
	return mq_half_check_due(job_now, backlog);
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
 * (mq_database_wake_at), which mq_database_offer_due() keeps.  After
 * RELEASE_BUDGET_MS of releasing, the pass stops and leaves next_due at
 * "now", so that the worker's other work gets its turn before the release
 * goes on.  A release that fails is cut down until the message that
 * fails it is found and put off (see release); any other job that fails is
 * tried again a naptime later, not in a loop.
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

	mq_database_reset_due();
	retry_at = TimestampTzPlusMilliseconds(mq_clock_now(), mq_worker_naptime);

	for (;;)
	{
		int64		released = -1;
		bool		again = false;
		bool		ran = false;

		CHECK_FOR_INTERRUPTS();
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		pgstat_report_activity(STATE_RUNNING, "mq worker release");
		if (OidIsValid(get_extension_oid(MQ_EXTENSION_NAME, true)) &&
			lock_for_jobs())
		{
			PushActiveSnapshot(GetTransactionSnapshot());
			job_now = mq_clock_now();
			released = release(&again);
			if (released >= 0 && !again)
			{
				/*
				 * What is still due was skipped as held by someone else: the
				 * next tick looks again, not a loop.  Work that commits
				 * meanwhile lowers next_due by itself.
				 */
				next_release = mq_delay_next_due(job_now);
				next_check = mq_half_next_check(job_now, &check_due);
			}
			PopActiveSnapshot();
			ran = true;
		}
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);

		if (!ran)
		{
			/* extension gone or its tables locked: try at the next tick */
			mq_database_offer_due(retry_at);
			return;
		}
		if (released < 0)
		{
			next_release = retry_at;
			check_due = true;
			break;
		}
		if (!again)
			break;
		if (TimestampDifferenceExceeds(start, GetCurrentTimestamp(),
									   RELEASE_BUDGET_MS))
		{
			next_release = 0;
			check_due = true;
			break;
		}
	}

	if (check_due || next_check <= mq_clock_now())
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		pgstat_report_activity(STATE_RUNNING, "mq worker checkback");
		next_check = retry_at;
		if (OidIsValid(get_extension_oid(MQ_EXTENSION_NAME, true)) &&
			lock_for_jobs())
		{
			PushActiveSnapshot(GetTransactionSnapshot());
			job_now = mq_clock_now();
			checked = run_job(MQ_JOB_CHECKBACK, checkback_job, NULL);
			if (checked >= MQ_CHECK_BATCH)
				next_check = 0; /* more are due: after the other due work */
			else if (checked >= 0)
			{
				bool		stuck;

				next_check = mq_half_next_check(job_now, &stuck);
				if (stuck)
					next_check = Min(next_check, retry_at);
			}
			PopActiveSnapshot();
		}
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);
	}
	mq_database_offer_due(Min(next_release, next_check));
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
	bool		was_running;

	/* before looking at the catalog: see mq_database_tick_begin */
	was_running = mq_database_tick_begin();

	/* no transaction needed, and nothing below can hold it up */
	mq_database_job_done(MQ_JOB_WATCHDOG, mq_offsets_watchdog(), -1, NULL);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	pgstat_report_activity(STATE_RUNNING, "mq worker tick");
	installed = OidIsValid(get_extension_oid(MQ_EXTENSION_NAME, true));
	if (installed && lock_for_jobs())
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		run_job(MQ_JOB_DEDUP, dedup_job, NULL);
		run_job(MQ_JOB_ROLL, roll_job, NULL);
		run_job(MQ_JOB_MEMBERS, members_job, NULL);
		run_job(MQ_JOB_SHARE, share_job, NULL);
		run_job(MQ_JOB_METRICS, metrics_job, NULL);
		PopActiveSnapshot();
	}
	tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(MyDatabaseId));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for database %u", MyDatabaseId);
	eligible = mq_database_is_eligible((Form_pg_database) GETSTRUCT(tup));
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
			run_job(MQ_JOB_RETENTION, retention_job, NULL);
			PopActiveSnapshot();
		}
		CommitTransactionCommand();
	}
	pgstat_report_activity(STATE_IDLE, NULL);

	if (!installed || !eligible)
	{
		mq_database_worker_absent(eligible);

		/* Quiet for a probe; worth a line when mq was dropped. */
		if (!eligible)
			ereport(LOG,
					(errmsg("mq worker for database \"%s\" exiting: the database is a template or does not accept connections",
							NameStr(my_dbname))));
		else
			ereport(was_running ? LOG : DEBUG1,
					(errmsg("mq worker for database \"%s\" exiting: extension \"%s\" is not installed",
							NameStr(my_dbname), MQ_EXTENSION_NAME)));
		return false;
	}

	if (!was_running)
	{
		mq_database_worker_running();
		ereport(LOG,
				(errmsg("mq worker started for database \"%s\"",
						NameStr(my_dbname))));
	}

	mq_database_tick_end();

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
		mq_query_once("SELECT topic_id, name, partitions FROM mq.topic"
					  " WHERE notify", 0, NULL, NULL, NULL, true, 0);
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
			if (mq_offsets_advanced(topic_ids[i], partitions[i], &payload,
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
		mq_offsets_notified(topic_ids[i], partitions[i], marks[i]);
	return notified;
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

	mq_database_worker_attach(dboid);
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

		mq_database_doorbell(&tick, &notify);

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
			mq_database_offer_due(mq_clock_now());
		}

		/* delayed messages, retries and check-backs that are due */
		if (mq_clock_now() >= mq_database_next_due())
			due_pass();

		/* notifications, at most one pass per mq.notify_interval */
		now = GetCurrentTimestamp();
		if (notify &&
			now >= TimestampTzPlusMilliseconds(last_notify, mq_notify_interval))
		{
			mq_database_notify_done();
			mq_database_job_done(MQ_JOB_NOTIFY, notify_pass(), -1, NULL);
			last_notify = GetCurrentTimestamp();
			notify = false;
		}

		now = GetCurrentTimestamp();
		timeout = ms_until(now, TimestampTzPlusMilliseconds(last_tick,
															mq_worker_naptime));
		due = mq_database_next_due();

		/*
		 * Down to the millisecond below, not above: a latch wait cannot be
		 * shorter than a millisecond, and rounding up would make a release
		 * late by up to one; the loop instead comes round at most a
		 * millisecond early and waits no more.
		 */
		{
			TimestampTz mq_time = mq_clock_now();

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
