/*-------------------------------------------------------------------------
 *
 * groups.c
 *	  mqctl groups, lag and dlq: the state of consumer groups.
 *
 * groups lists the groups with their topics and total lag; lag shows the
 * mq.lag view, once or refreshed in place (--watch), of one server or of
 * every node of a cluster with each group's total per topic; dlq lists a
 * group's dead letters (mq.dead_letters) or replays them (mq.replay_dlq).
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

#include "catalog/pg_type_d.h"
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

/* LAG_SQL's columns that a cluster's lag sorts and sums by */
enum
{
	LAG_GROUP,
	LAG_TOPIC,
	LAG_PARTITION,
	LAG_MEMBER,
	LAG_COMMITTED,
	LAG_STABLE,
	LAG_LAG
};

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
	printf("\nWith several servers (--server, --nodes-from) each row says its node, and\n"
		   "a second table sums the lag of each group and topic over the nodes.\n");
	help_connection_options();
	help_server_options();
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

	conn = connect_or_exit(NULL);
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

/* A row of one node's lag, in a cluster's table. */
typedef struct LagRow
{
	int			node;
	const PGresult *res;
	int			row;
} LagRow;

/* Orders a cluster's lag rows by group, topic, node, partition, member. */
static int
lag_row_cmp(const void *a, const void *b)
{
	const LagRow *x = a;
	const LagRow *y = b;
	int			c;

	for (int col = LAG_GROUP; col <= LAG_TOPIC; col++)
		if ((c = strcmp(PQgetvalue(x->res, x->row, col),
						PQgetvalue(y->res, y->row, col))) != 0)
			return c;
	if (x->node != y->node)
		return x->node < y->node ? -1 : 1;
	c = atoi(PQgetvalue(x->res, x->row, LAG_PARTITION)) -
		atoi(PQgetvalue(y->res, y->row, LAG_PARTITION));
	if (c != 0)
		return c;
	return strcmp(PQgetvalue(x->res, x->row, LAG_MEMBER),
				  PQgetvalue(y->res, y->row, LAG_MEMBER));
}

/* Whether two lag rows are of the same group and topic. */
static bool
same_group_topic(const LagRow *x, const LagRow *y)
{
	return strcmp(PQgetvalue(x->res, x->row, LAG_GROUP),
				  PQgetvalue(y->res, y->row, LAG_GROUP)) == 0 &&
		strcmp(PQgetvalue(x->res, x->row, LAG_TOPIC),
			   PQgetvalue(y->res, y->row, LAG_TOPIC)) == 0;
}

/*
 * Makes an empty result with the given columns, for tables mqctl builds
 * itself: names and types (which print_table() aligns by).
 */
static PGresult *
make_table(PGconn *conn, int ncols, const char *const *names,
		   const Oid *types)
{
	PGresult   *res = PQmakeEmptyPGresult(conn, PGRES_TUPLES_OK);
	PGresAttDesc *attrs = pg_malloc0(ncols * sizeof(PGresAttDesc));

	for (int c = 0; c < ncols; c++)
	{
		attrs[c].name = unconstify(char *, names[c]);
		attrs[c].typid = types[c];
		attrs[c].typlen = -1;
		attrs[c].atttypmod = -1;
	}
	if (res == NULL || !PQsetResultAttrs(res, ncols, attrs))
	{
		pg_log_error("out of memory");
		exit(EXIT_SQL_ERROR);
	}
	pg_free(attrs);
	return res;
}

/* PQsetvalue() of a string (copied), exiting if libpq is out of memory. */
static void
set_cell(PGresult *res, int row, int col, const char *value)
{
	if (!PQsetvalue(res, row, col, unconstify(char *, value),
					(int) strlen(value)))
	{
		pg_log_error("out of memory");
		exit(EXIT_SQL_ERROR);
	}
}

/*
 * Prints the lag of a cluster's nodes, LAG_SQL's result on each: one table
 * of all positions with a first column saying the node, then one of each
 * group's lag per topic summed over the nodes (a NULL lag counts 0), then
 * a line for each node that is unavailable (its result NULL).  conn is
 * that of an available node, whose result there must be.
 */
static void
print_cluster_lag(PGconn *conn, PGresult **results, int nnodes)
{
	const PGresult *first = NULL;
	int			ncols;
	const char **names;
	Oid		   *types;
	static const char *const total_names[] = {"group", "topic", "nodes",
	"positions", "lag"};
	static const Oid total_types[] = {TEXTOID, TEXTOID, INT4OID, INT4OID,
	INT8OID};
	PGresult   *all;
	PGresult   *totals;
	LagRow	   *rows;
	int			nrows = 0;
	int			ntotals = 0;
	char		number[32];
	long long	lag = 0;		/* of the group and topic so far */
	int			nodes = 0;
	int			positions = 0;

	for (int i = nnodes - 1; i >= 0; i--)
		first = results[i] != NULL ? results[i] : first;
	ncols = PQnfields(first);
	names = pg_malloc((ncols + 1) * sizeof(char *));
	types = pg_malloc((ncols + 1) * sizeof(Oid));
	names[0] = "node";
	types[0] = INT4OID;
	for (int c = 0; c < ncols; c++)
	{
		names[c + 1] = PQfname(first, c);
		types[c + 1] = PQftype(first, c);
	}
	all = make_table(conn, ncols + 1, names, types);
	totals = make_table(conn, lengthof(total_names), total_names, total_types);

	for (int i = 0; i < nnodes; i++)
		nrows += results[i] != NULL ? PQntuples(results[i]) : 0;
	rows = pg_malloc(Max(nrows, 1) * sizeof(LagRow));
	nrows = 0;
	for (int i = 0; i < nnodes; i++)
		for (int r = 0; results[i] != NULL && r < PQntuples(results[i]); r++)
		{
			rows[nrows].node = i;
			rows[nrows].res = results[i];
			rows[nrows++].row = r;
		}
	qsort(rows, nrows, sizeof(LagRow), lag_row_cmp);

	for (int r = 0; r < nrows; r++)
	{
		const PGresult *res = rows[r].res;
		int			row = rows[r].row;

		snprintf(number, sizeof(number), "%d", rows[r].node);
		set_cell(all, r, 0, number);
		for (int c = 0; c < ncols; c++)
			set_cell(all, r, c + 1, PQgetvalue(res, row, c));

		lag += atoll(PQgetvalue(res, row, LAG_LAG));
		positions++;
		if (r == 0 || !same_group_topic(&rows[r - 1], &rows[r]) ||
			rows[r - 1].node != rows[r].node)
			nodes++;
		/* the last row of its group and topic: their total */
		if (r + 1 < nrows && same_group_topic(&rows[r], &rows[r + 1]))
			continue;
		set_cell(totals, ntotals, 0, PQgetvalue(res, row, LAG_GROUP));
		set_cell(totals, ntotals, 1, PQgetvalue(res, row, LAG_TOPIC));
		snprintf(number, sizeof(number), "%d", nodes);
		set_cell(totals, ntotals, 2, number);
		snprintf(number, sizeof(number), "%d", positions);
		set_cell(totals, ntotals, 3, number);
		snprintf(number, sizeof(number), "%lld", lag);
		set_cell(totals, ntotals, 4, number);
		ntotals++;
		lag = 0;
		nodes = positions = 0;
	}
	print_table(conn, all, stdout);
	fputc('\n', stdout);
	print_table(conn, totals, stdout);
	for (int i = 0; i < nnodes; i++)
		if (results[i] == NULL)
			printf("node %d: unavailable\n", i);
	PQclear(all);
	PQclear(totals);
	pg_free(rows);
	pg_free(names);
	pg_free(types);
}

/*
 * Connects to the nodes of a cluster that have no connection (NULL in
 * conns), leaving those that cannot be reached without one; a node that
 * does not answer is given up after its connect_timeout, or
 * NODE_CONNECT_TIMEOUT seconds.  Returns how many nodes are connected.
 * Exits with EXIT_CONNECTION if mq is not installed on a node.
 */
static int
connect_nodes(const char **servers, PGconn **conns, int nnodes)
{
	int			connected = 0;

	for (int n = 0; n < nnodes; n++)
	{
		if (conns[n] == NULL)
		{
			conns[n] = open_node_connection(servers[n]);
			if (PQstatus(conns[n]) == CONNECTION_OK)
				require_mq(conns[n]);
			else
			{
				pg_log_error("node %d: %s", n, conns[n] != NULL ?
							 PQerrorMessage(conns[n]) : "out of memory");
				PQfinish(conns[n]);
				conns[n] = NULL;
			}
		}
		connected += conns[n] != NULL;
	}
	return connected;
}

/*
 * LAG_SQL's result on a node, or NULL if the node is unavailable: not
 * connected, or its connection lost (then closed).  Exits on any other
 * error.
 */
static PGresult *
node_lag(PGconn **conn, const char *const *param)
{
	PGresult   *res;

	if (*conn == NULL)
		return NULL;
	res = run_query(*conn, LAG_SQL, 1, param);
	if (res == NULL && !connection_lost(*conn))
		exit_after_failure(*conn);
	if (res == NULL)
	{
		PQfinish(*conn);
		*conn = NULL;
	}
	return res;
}

/*
 * Prints the lag of a cluster's nodes with print_cluster_lag(), or, if no
 * node is available, says so on stderr.
 */
static void
print_nodes_lag(PGconn **conns, PGresult **results, int nnodes)
{
	for (int n = 0; n < nnodes; n++)
		if (results[n] != NULL)
		{
			print_cluster_lag(conns[n], results, nnodes);
			return;
		}
	pg_log_error("no node is available");
}

int
cmd_lag(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"watch", optional_argument, NULL, 'w'},
		{"iterations", required_argument, NULL, 'n'},
		CONNECTION_OPTIONS,
		SERVER_OPTIONS,
		{NULL, 0, NULL, 0}
	};
	const char *param[1] = {NULL};
	const char **servers;
	int			nservers;
	int			nconns;
	PGconn	  **conns;
	PGresult  **results;
	bool		watch = false;
	double		interval = DEFAULT_WATCH_INTERVAL;
	int			iterations = 0;
	int			c;

	while ((c = getopt_long(argc, argv, "w::n:" CONNECTION_SHORT_OPTIONS
							SERVER_SHORT_OPTIONS,
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

	/*
	 * One server, or every node of a cluster: one connection each.  A node
	 * that cannot be reached is shown as unavailable (and tried again at the
	 * next --watch round), unless none can be.
	 */
	nservers = cluster_servers("lag", &servers);
	nconns = Max(nservers, 1);
	conns = pg_malloc0(nconns * sizeof(PGconn *));
	results = pg_malloc(nconns * sizeof(PGresult *));
	if (nservers == 0)
		conns[0] = connect_or_exit(NULL);
	else if (connect_nodes(servers, conns, nservers) == 0)
	{
		pg_log_error("no node is reachable");
		exit(EXIT_CONNECTION);
	}
	if (watch)
		catch_stop_signals();
	for (int i = 0; !watch || iterations == 0 || i < iterations; i++)
	{
		if (i > 0)
			sleep_ms((int) (interval * 1000));
		if (stop_requested)
			break;
		if (nservers == 0)
			results[0] = query_or_exit(conns[0], LAG_SQL, 1, param);
		else if (i > 0)
			connect_nodes(servers, conns, nservers);
		for (int n = 0; n < nservers; n++)
			results[n] = node_lag(&conns[n], param);
		if (watch)
			print_watch_title(i == 0, interval);
		if (nservers > 0)
			print_nodes_lag(conns, results, nservers);
		else
			print_table(conns[0], results[0], stdout);
		fflush(stdout);
		for (int n = 0; n < nconns; n++)
			PQclear(results[n]);
		if (!watch)
			break;
	}
	for (int n = 0; n < nconns; n++)
		PQfinish(conns[n]);
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

	conn = connect_or_exit(NULL);
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
