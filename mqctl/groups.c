/*-------------------------------------------------------------------------
 *
 * groups.c
 *	  mqctl groups, lag and dlq: the state of consumer groups.
 *
 * groups lists the groups with their topics and total lag; lag shows the
 * mq.lag view, once or refreshed in place (--watch); dlq lists a group's
 * dead letters (mq.dead_letters) or replays them (mq.replay_dlq).
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  mqctl/groups.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <time.h>

#include "common/logging.h"
#include "getopt_long.h"
#include "mqctl.h"

/* lag --watch without a value: seconds between refreshes */
#define DEFAULT_WATCH_INTERVAL	2.0

#define LIST_GROUPS_SQL \
	"SELECT g.\"group\", g.strategy, g.generation, g.members," \
	"       coalesce(s.topics, '') AS topics, coalesce(l.lag, 0) AS lag" \
	"  FROM mq.groups g" \
	"  LEFT JOIN (SELECT \"group\"," \
	"                    string_agg(topic || CASE mode WHEN 'broadcasting'" \
	"                                       THEN ' (broadcasting)' ELSE '' END," \
	"                               ', ' ORDER BY topic) AS topics" \
	"               FROM mq.subscriptions GROUP BY \"group\") s" \
	"    USING (\"group\")" \
	"  LEFT JOIN (SELECT \"group\", sum(lag) AS lag" \
	"               FROM mq.lag GROUP BY \"group\") l" \
	"    USING (\"group\")" \
	" ORDER BY g.\"group\""

#define LAG_SQL \
	"SELECT \"group\", topic, partition, member_id AS member," \
	"       committed_offset AS committed, stable_offset AS stable, lag," \
	"       coalesce(date_trunc('milliseconds', oldest_unconsumed_age)::text," \
	"                '') AS oldest_unconsumed" \
	"  FROM mq.lag" \
	" WHERE $1::text IS NULL OR \"group\" = $1" \
	" ORDER BY \"group\", topic, partition, member_id"

#define LIST_DLQ_SQL \
	"SELECT \"offset\", origin_topic, origin_partition, origin_offset," \
	"       attempts, replayed, produced_at, key, tag," \
	"       left(translate(coalesce(payload_text, payload_json::text," \
	"                               payload_bytes::text)," \
	"                      E'\\n\\r\\t', '   '), 60) AS payload" \
	"  FROM mq.dead_letters($1, max => coalesce($2::integer, 100))"

#define REPLAY_DLQ_SQL \
	"SELECT mq.replay_dlq($1, $2::integer)"

void
help_groups(void)
{
	printf("mqctl groups lists the consumer groups: strategy, generation, members,\n"
		   "subscribed topics and total lag.\n\n");
	printf("Usage:\n");
	printf("  mqctl groups [OPTION]...\n\n");
	printf("Options:\n");
	printf("  -?, --help             show this help, then exit\n");
	help_connection_options();
}

void
help_lag(void)
{
	printf("mqctl lag shows the mq.lag view: for each position of a group, the\n"
		   "committed offset, the stable offset, the lag between them, and how long\n"
		   "ago the oldest unconsumed message was produced.\n\n");
	printf("Usage:\n");
	printf("  mqctl lag [GROUP] [OPTION]...\n\n");
	printf("Options:\n");
	printf("  -w, --watch[=SECONDS]  refresh every SECONDS (default 2) until interrupted;\n"
		   "                         a number right after --watch is taken as SECONDS\n");
	printf("  -n, --iterations=N     with --watch, stop after N refreshes\n");
	printf("  -?, --help             show this help, then exit\n");
	help_connection_options();
}

void
help_dlq(void)
{
	printf("mqctl dlq lists the dead letters of a group (messages nacked more than\n"
		   "their subscription's max_retries times), or replays them.\n\n");
	printf("Usage:\n");
	printf("  mqctl dlq GROUP [--max=N]\n");
	printf("  mqctl dlq GROUP replay [--max=N]\n\n");
	printf("The list shows where each came from, how many times it was delivered and\n"
		   "whether it was replayed.  replay sends those not yet replayed back to the\n"
		   "group through its retry topic (mq.replay_dlq), and prints how many.\n\n");
	printf("Options:\n");
	printf("  --max=N                list (default 100) or replay at most N dead letters\n");
	printf("  -?, --help             show this help, then exit\n");
	help_connection_options();
}

int
cmd_groups(int argc, char **argv)
{
	static const struct option long_options[] = {
		CONNECTION_OPTIONS,
		{NULL, 0, NULL, 0}
	};
	int			c;
	PGconn	   *conn;
	PGresult   *res;

	while ((c = getopt_long(argc, argv, CONNECTION_SHORT_OPTIONS,
							long_options, NULL)) != -1)
		common_option("groups", c, optarg);
	if (optind < argc)
		usage_error("groups", "too many arguments");

	conn = connect_or_exit();
	res = query_or_exit(conn, LIST_GROUPS_SQL, 0, NULL);
	print_table(conn, res, stdout);
	PQclear(res);
	PQfinish(conn);
	return 0;
}

/*
 * Prints the title of one refresh of lag --watch: the time and the
 * interval.  On a terminal the screen is cleared first, so that the table
 * is redrawn in place; elsewhere the tables follow each other.
 */
static void
print_watch_title(bool first, double interval)
{
	time_t		now = time(NULL);
	char		stamp[64];

	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", localtime(&now));
	if (isatty(fileno(stdout)))
		fputs("\033[H\033[2J", stdout);
	else if (!first)
		fputc('\n', stdout);
	printf("mq.lag at %s (every %gs)\n\n", stamp, interval);
}

int
cmd_lag(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"watch", optional_argument, NULL, 'w'},
		{"iterations", required_argument, NULL, 'n'},
		CONNECTION_OPTIONS,
		{NULL, 0, NULL, 0}
	};
	const char *param[1] = {NULL};
	bool		watch = false;
	double		interval = DEFAULT_WATCH_INTERVAL;
	int			iterations = 0;
	int			c;
	PGconn	   *conn;

	while ((c = getopt_long(argc, argv, "w::n:" CONNECTION_SHORT_OPTIONS,
							long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'w':
				watch = true;

				/*
				 * An optional value must be attached (--watch=5); take a
				 * separate number as the value too, as watch(1) users expect.
				 */
				if (optarg == NULL && optind < argc &&
					strspn(argv[optind], "0123456789.") == strlen(argv[optind]))
					optarg = argv[optind++];
				if (optarg != NULL)
					interval = parse_seconds_option("lag", "--watch", optarg);
				if (interval <= 0)
					usage_error("lag", "--watch must be a positive number of seconds");
				break;
			case 'n':
				watch = true;
				iterations = parse_int_option("lag", "--iterations", optarg,
											  1, PG_INT32_MAX);
				break;
			default:
				common_option("lag", c, optarg);
		}
	}
	if (optind < argc)
		param[0] = argv[optind++];
	if (optind < argc)
		usage_error("lag", "too many arguments");

	conn = connect_or_exit();
	if (watch)
		catch_stop_signals();
	for (int i = 0; !watch || iterations == 0 || i < iterations; i++)
	{
		PGresult   *res;

		if (i > 0)
			sleep_ms((int) (interval * 1000));
		if (stop_requested)
			break;
		res = query_or_exit(conn, LAG_SQL, 1, param);
		if (watch)
			print_watch_title(i == 0, interval);
		print_table(conn, res, stdout);
		fflush(stdout);
		PQclear(res);
		if (!watch)
			break;
	}
	PQfinish(conn);
	return 0;
}

int
cmd_dlq(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"max", required_argument, NULL, 'm'},
		CONNECTION_OPTIONS,
		{NULL, 0, NULL, 0}
	};
	const char *params[2] = {NULL, NULL};
	bool		replay = false;
	int			c;
	PGconn	   *conn;
	PGresult   *res;

	while ((c = getopt_long(argc, argv, CONNECTION_SHORT_OPTIONS,
							long_options, NULL)) != -1)
	{
		if (c == 'm')
		{
			parse_int_option("dlq", "--max", optarg, 1, 100000);
			params[1] = optarg;
		}
		else
			common_option("dlq", c, optarg);
	}
	if (optind == argc)
		usage_error("dlq", "a group name is needed");
	params[0] = argv[optind++];
	if (optind < argc)
	{
		if (strcmp(argv[optind], "replay") != 0)
			usage_error("dlq", "unknown action \"%s\"", argv[optind]);
		replay = true;
		optind++;
	}
	if (optind < argc)
		usage_error("dlq", "too many arguments");

	conn = connect_or_exit();
	if (replay)
	{
		res = query_or_exit(conn, REPLAY_DLQ_SQL, 2, params);
		printf("replayed %s dead letters of group \"%s\"\n",
			   PQgetvalue(res, 0, 0), params[0]);
	}
	else
	{
		res = query_or_exit(conn, LIST_DLQ_SQL, 2, params);
		print_table(conn, res, stdout);
	}
	PQclear(res);
	PQfinish(conn);
	return 0;
}
