/*-------------------------------------------------------------------------
 *
 * settings.c
 *	  The mq.* settings.
 *
 * Every setting is defined here, with its bounds and the variable that
 * holds it; settings.h declares the variables for the subsystems that read
 * them.  docs/install.md says what each one does.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/settings.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "settings.h"

/* Settings; see docs/install.md for what each one does. */
int			mq_max_databases = 16;
int			mq_max_topics = 1024;
int			mq_max_partitions = 8192;
int			mq_auto_commit_timeout = 30000;
int			mq_notify_interval = 5;
int			mq_worker_naptime = 1000;
int			mq_launcher_naptime = 30000;
int			mq_max_message_size = 1024;
int			mq_send_buffer_limit = 8192;
int			mq_max_delay = 40 * 24 * 3600;
bool		mq_test_clock = false;
int			mq_check_interval = 30;
int			mq_check_max = 15;
int			mq_check_timeout = 10000;
int			mq_share_window = 4096;
int			mq_max_share_partitions = 256;
int			mq_max_metrics = 4096;

/*
 * mq_settings_define
 *		Define every mq.* setting and reserve the prefix, so that a typo
 *		such as mq.max_topic is refused instead of silently ignored.
 */
void
mq_settings_define(void)
{
	DefineCustomIntVariable("mq.max_databases",
							"Maximum number of databases in which mq can be installed.",
							"Each such database has a worker, which also needs a slot in max_worker_processes.",
							&mq_max_databases,
							16, 1, 1024,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mq.max_topics",
							"Maximum number of topics, over all databases.",
							NULL,
							&mq_max_topics,
							1024, 1, 1000000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mq.max_partitions",
							"Maximum number of partitions, over all topics and databases.",
							NULL,
							&mq_max_partitions,
							8192, 1, 10000000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mq.share_window",
							"Messages of a partition that a shared subscription may have unsettled at once.",
							"Past the oldest unsettled message, a partition hands out no more than this many.",
							&mq_share_window,
							4096, 16, 65536,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mq.max_share_partitions",
							"Maximum number of partitions read by shared subscriptions, over all groups and databases.",
							NULL,
							&mq_max_share_partitions,
							256, 1, 1000000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mq.max_metrics",
							"Maximum number of rows of mq.metrics, over all databases.",
							"A topic has one row, and one per consumer group that consumes it.  Counts for a new row are not kept while all are in use.",
							&mq_max_metrics,
							4096, 16, 1000000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mq.worker_naptime",
							"Longest time a database worker sleeps when no timed work is due.",
							NULL,
							&mq_worker_naptime,
							1000, 10, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mq.launcher_naptime",
							"Time between two scans of pg_database by the mq launcher.",
							"CREATE DATABASE and CREATE EXTENSION wake the launcher at once; the scan catches databases that appear otherwise.",
							&mq_launcher_naptime,
							30000, 100, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mq.max_message_size",
							"Largest message payload accepted by mq.send.",
							NULL,
							&mq_max_message_size,
							1024, 1, 1024 * 1024,
							PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mq.send_buffer_limit",
							"Messages a transaction buffers before writing them early.",
							"Messages written early hold their partitions' stable offset until the transaction ends.",
							&mq_send_buffer_limit,
							8192, 64, 1024 * 1024,
							PGC_USERSET, GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mq.notify_interval",
							"Shortest time between two notifications of one topic.",
							"The worker coalesces commits into at most one NOTIFY per topic per interval.",
							&mq_notify_interval,
							5, 1, 60000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mq.auto_commit_timeout",
							"How long an auto-commit fetch keeps the partitions it read.",
							"The next auto-commit fetch of the session commits them; if it does not come in time, another consumer may take them and the messages are delivered again.",
							&mq_auto_commit_timeout,
							30000, 100, 24 * 3600 * 1000,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mq.max_delay",
							"Longest delay accepted for a delayed message.",
							NULL,
							&mq_max_delay,
							40 * 24 * 3600, 1, INT_MAX,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("mq.test_clock",
							 "Allows mq.advance_clock() to move mq's clock forward.",
							 "For tests of delays, back-off and check-back schedules only: the clock never moves back.",
							 &mq_test_clock,
							 false,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("mq.check_interval",
							"Time between two check-backs of a half message.",
							NULL,
							&mq_check_interval,
							30, 1, 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mq.check_max",
							"Check-backs of a half message before it is moved to mq.unresolved.",
							NULL,
							&mq_check_max,
							15, 1, 1000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("mq.check_timeout",
							"Longest time a check-back function may run.",
							"A check-back function that runs longer is canceled, and its answer counts as unknown.",
							&mq_check_timeout,
							10000, 10, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved(MQ_EXTENSION_NAME);
}
