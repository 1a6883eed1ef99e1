/*-------------------------------------------------------------------------
 *
 * common.c
 *	  What every mqctl subcommand needs: the connection, queries that report
 *	  the server's errors, aligned tables, notifications, options, signals.
 *
 * Errors from the server are printed with their SQLSTATE, detail and hint,
 * so that a script can tell "unknown topic" (42704) from the rest.  A
 * subcommand that cannot continue exits with the status documented in
 * mqctl.h; the long-running ones (consume, tail) call reconnect() instead
 * when the connection drops.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  mqctl/common.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <poll.h>
#include <sys/time.h>

#include "catalog/pg_type_d.h"
#include "common/logging.h"
#include "mqctl.h"

volatile sig_atomic_t stop_requested = false;

/* Connections being opened in threads of their own (consume). */
int			opening_threads = 0;

/*
 * Exits with status.  While a thread is still opening a connection, the
 * process ends at once (_exit), without the atexit handlers, which could
 * tear down what libpq (OpenSSL, the resolver) is using in that thread.
 */
void
mqctl_exit(int status)
{
	if (opening_threads > 0)
	{
		fflush(stdout);
		fflush(stderr);
		_exit(status);
	}
	exit(status);
}

/* The connection options given (-d, -h, -p, -U); NULL: libpq's defaults */
static const char *dbname = NULL;
static const char *host = NULL;
static const char *port = NULL;
static const char *username = NULL;

/*
 * The servers of a cluster (consume and lag): the connection strings of
 * --server, in order, or the router that --nodes-from names.
 */
static const char **servers = NULL;
static int	nservers = 0;
static const char *nodes_from = NULL;

/* Whether the extension is installed in the database connected to. */
#define MQ_INSTALLED_SQL \
	"SELECT 1 FROM pg_catalog.pg_extension" \
	" WHERE extname OPERATOR(pg_catalog.=) 'mq'"

/* The nodes of a router's cluster (router/mq_router.sql), in their order */
#define ROUTER_NODES_SQL \
	"SELECT connstr FROM mq_router.nodes ORDER BY node"

/*
 * Opens a connection to server, a connection string (NULL: -d's), under
 * the connection options (or the PG* environment variables), waiting for
 * it; connect_timeout, if not NULL, is the connect_timeout to use unless
 * the connection string has one.  Returns the connection, open or failed
 * (NULL if out of memory).  Logs nothing: it may run in another thread.
 *
 * As in psql, dbname comes after host, port, user and connect_timeout:
 * libpq applies the keywords in order and expands a connection string
 * given as dbname in its place, so that what the connection string says
 * overrides -h, -p and -U.
 */
PGconn *
open_connection(const char *server, const char *connect_timeout)
{
	const char *conninfo = server != NULL ? server : dbname;
	const char *keywords[] = {"host", "port", "user", "connect_timeout",
	"dbname", "fallback_application_name", NULL};
	const char *values[] = {host, port, username, connect_timeout,
	conninfo, "mqctl", NULL};

	return PQconnectdbParams(keywords, values, true);
}

/*
 * open_connection() for a node of a cluster: with NODE_CONNECT_TIMEOUT
 * unless the connection string or PGCONNECT_TIMEOUT sets connect_timeout.
 */
PGconn *
open_node_connection(const char *server)
{
	return open_connection(server, getenv("PGCONNECT_TIMEOUT") != NULL ?
						   NULL : NODE_CONNECT_TIMEOUT);
}

/*
 * open_connection() without a connect_timeout of its own; NULL, with the
 * reason logged, if it fails.
 */
PGconn *
try_connect(const char *server)
{
	PGconn	   *conn = open_connection(server, NULL);

	if (PQstatus(conn) != CONNECTION_OK)
	{
		pg_log_error("%s", PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/*
 * Connects to server (NULL: the connection options' server), or exits with
 * EXIT_CONNECTION.  A database without the extension is refused here,
 * once, with a hint, rather than by the first query with a missing schema
 * or function.
 */
PGconn *
connect_or_exit(const char *server)
{
	PGconn	   *conn = try_connect(server);

	if (conn == NULL)
		mqctl_exit(EXIT_CONNECTION);
	require_mq(conn);
	return conn;
}

/*
 * Exits with EXIT_CONNECTION, saying so with a hint, if mq is not
 * installed in conn's database.
 */
void
require_mq(PGconn *conn)
{
	PGresult   *res;
	bool		installed;

	res = query_or_exit(conn, MQ_INSTALLED_SQL, 0, NULL);
	installed = PQntuples(res) > 0;
	PQclear(res);
	if (!installed)
	{
		pg_log_error("mq is not installed in database \"%s\"", PQdb(conn));
		pg_log_error_hint("Run CREATE EXTENSION mq in it, or connect to the database that has it (-d).");
		PQfinish(conn);
		mqctl_exit(EXIT_CONNECTION);
	}
}

/*
 * Closes a lost connection and opens a new one, waiting 100 ms before the
 * first attempt and doubling the wait after each failure, up to 5 s.
 * Returns NULL, without a connection, if SIGINT or SIGTERM came meanwhile.
 */
PGconn *
reconnect(PGconn *conn)
{
	int			delay = RECONNECT_FIRST_MS;

	PQfinish(conn);
	pg_log_warning("connection lost; reconnecting");
	for (;;)
	{
		sleep_ms(delay);
		if (stop_requested)
			return NULL;
		conn = try_connect(NULL);
		if (conn != NULL)
		{
			pg_log_info("reconnected");
			return conn;
		}
		delay = Min(delay * 2, RECONNECT_MAX_MS);
	}
}

/* Whether the connection is gone (after a failed query or wait). */
bool
connection_lost(PGconn *conn)
{
	return PQstatus(conn) == CONNECTION_BAD;
}

/*
 * Runs a query with text parameters (NULL elements are SQL NULLs) and text
 * results.  Returns its result, failed or not (NULL if libpq is out of
 * memory), for the caller to check with query_succeeded().
 */
PGresult *
exec_query(PGconn *conn, const char *sql, int nparams,
		   const char *const *params)
{
	return PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
}

/* Whether a result of exec_query() is a success. */
bool
query_succeeded(const PGresult *res)
{
	ExecStatusType status = PQresultStatus(res);

	return status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK;
}

/*
 * Logs the error of a failed query: the server's message with its SQLSTATE,
 * then its detail and hint.  where, if not NULL, is put before the message
 * (the input line it is about, in produce).  A lost connection has no
 * SQLSTATE: libpq's message is logged as it is.
 */
void
report_error(PGconn *conn, const PGresult *res, const char *where)
{
	const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);

	if (sqlstate == NULL || message == NULL)
	{
		pg_log_error("%s", PQerrorMessage(conn));
		return;
	}
	if (where != NULL)
		pg_log_error("%s: %s (SQLSTATE %s)", where, message, sqlstate);
	else
		pg_log_error("%s (SQLSTATE %s)", message, sqlstate);
	if (detail != NULL)
		pg_log_error_detail("%s", detail);
	if (hint != NULL)
		pg_log_error_hint("%s", hint);
}

/*
 * exec_query() for callers that only need to know whether it failed:
 * returns its result, or NULL with the error logged; the caller tells a
 * lost connection from an error with connection_lost().
 */
PGresult *
run_query(PGconn *conn, const char *sql, int nparams,
		  const char *const *params)
{
	PGresult   *res = exec_query(conn, sql, nparams, params);

	if (query_succeeded(res))
		return res;
	report_error(conn, res, NULL);
	PQclear(res);
	return NULL;
}

/*
 * Exits after a failed query: with EXIT_CONNECTION if the connection was
 * lost, else with EXIT_SQL_ERROR.
 */
void
exit_after_failure(PGconn *conn)
{
	int			status = connection_lost(conn) ? EXIT_CONNECTION : EXIT_SQL_ERROR;

	PQfinish(conn);
	mqctl_exit(status);
}

/* run_query(), exiting with exit_after_failure() if it fails */
PGresult *
query_or_exit(PGconn *conn, const char *sql, int nparams,
			  const char *const *params)
{
	PGresult   *res = run_query(conn, sql, nparams, params);

	if (res == NULL)
		exit_after_failure(conn);
	return res;
}

/*
 * LISTENs on a channel.  LISTEN takes no parameter: the channel, which
 * comes from the mq.topics view, is quoted by libpq as an identifier.
 * Exits like query_or_exit() if the command fails, unless the connection
 * is lost: the caller's next wait sees that.
 */
void
listen_channel(PGconn *conn, const char *channel)
{
	char	   *quoted = PQescapeIdentifier(conn, channel, strlen(channel));
	char	   *sql;
	PGresult   *res;

	if (quoted == NULL)
	{
		pg_log_error("%s", PQerrorMessage(conn));
		mqctl_exit(EXIT_SQL_ERROR);
	}
	sql = psprintf("LISTEN %s", quoted);
	PQfreemem(quoted);
	res = run_query(conn, sql, 0, NULL);
	pg_free(sql);
	if (res == NULL && !connection_lost(conn))
		mqctl_exit(EXIT_SQL_ERROR);
	PQclear(res);
}

/*
 * Waits up to timeout_ms for a notification on any of nconns connections,
 * which must be idle, or for one of the nother sockets in other (with the
 * events each wants) to be ready.  Returns the number of notifications
 * received (discarded: a notification from mq means "look again"), 0 on
 * timeout, signal or another socket ready, -1 if a connection was lost
 * (connection_lost() says which).
 */
int
wait_for_notifications(PGconn *const *conns, int nconns,
					   const struct pollfd *other, int nother, int timeout_ms)
{
	struct pollfd *pfds = pg_malloc((nconns + nother) * sizeof(struct pollfd));
	int			count = 0;
	bool		lost = false;

	for (int i = 0; i < nconns; i++)
	{
		pfds[i].fd = PQsocket(conns[i]);
		pfds[i].events = POLLIN;
		pfds[i].revents = 0;
		if (pfds[i].fd < 0)
		{
			pg_free(pfds);
			return -1;
		}
	}
	for (int i = 0; i < nother; i++)
		pfds[nconns + i] = other[i];
	if (poll(pfds, nconns + nother, timeout_ms) < 0 && errno != EINTR)
	{
		pg_log_error("could not wait for the server: %m");
		mqctl_exit(EXIT_CONNECTION);
	}
	pg_free(pfds);
	for (int i = 0; i < nconns; i++)
	{
		PGnotify   *notify;

		if (!PQconsumeInput(conns[i]))
			lost = true;
		while ((notify = PQnotifies(conns[i])) != NULL)
		{
			PQfreemem(notify);
			count++;
		}
	}
	return lost ? -1 : count;
}

/* wait_for_notifications() on one connection */
int
wait_for_notification(PGconn *conn, int timeout_ms)
{
	return wait_for_notifications(&conn, 1, NULL, 0, timeout_ms);
}

/* Display width of a string in the client encoding. */
static int
display_width(const char *s, int encoding)
{
	int			width = 0;

	while (*s)
	{
		int			w = PQdsplen(s, encoding);

		if (w > 0)
			width += w;
		s += PQmblenBounded(s, encoding);
	}
	return width;
}

/* Whether a column is numeric, to be aligned right. */
static bool
numeric_column(const PGresult *res, int col)
{
	switch (PQftype(res, col))
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
		case FLOAT4OID:
		case FLOAT8OID:
			return true;
		default:
			return false;
	}
}

/*
 * Prints s in a field of the given width: left, right or centred.  The last
 * field of a row is not padded on the right.
 */
static void
print_cell(FILE *out, const char *s, int encoding, int width, char align,
		   bool last)
{
	int			pad = width - display_width(s, encoding);
	int			before = align == 'r' ? pad : align == 'c' ? pad / 2 : 0;

	fprintf(out, "%*s%s%*s", before, "", s, last ? 0 : pad - before, "");
}

/*
 * Prints a query result as an aligned table, as psql does: centred column
 * names, a rule, the rows (numbers aligned right), and the row count.
 */
void
print_table(PGconn *conn, const PGresult *res, FILE *out)
{
	int			encoding = PQclientEncoding(conn);
	int			ncols = PQnfields(res);
	int			nrows = PQntuples(res);
	int		   *widths = pg_malloc0(ncols * sizeof(int));

	for (int c = 0; c < ncols; c++)
	{
		widths[c] = display_width(PQfname(res, c), encoding);
		for (int r = 0; r < nrows; r++)
			widths[c] = Max(widths[c],
							display_width(PQgetvalue(res, r, c), encoding));
	}

	for (int c = 0; c < ncols; c++)
	{
		fputs(c == 0 ? " " : " | ", out);
		print_cell(out, PQfname(res, c), encoding, widths[c], 'c',
				   c == ncols - 1);
	}
	fputc('\n', out);
	for (int c = 0; c < ncols; c++)
	{
		fputs(c == 0 ? "-" : "-+-", out);
		for (int i = 0; i < widths[c]; i++)
			fputc('-', out);
	}
	fputs("-\n", out);
	for (int r = 0; r < nrows; r++)
	{
		for (int c = 0; c < ncols; c++)
		{
			fputs(c == 0 ? " " : " | ", out);
			print_cell(out, PQgetvalue(res, r, c), encoding, widths[c],
					   numeric_column(res, c) ? 'r' : 'l', c == ncols - 1);
		}
		fputc('\n', out);
	}
	fprintf(out, "(%d %s)\n", nrows, nrows == 1 ? "row" : "rows");
	pg_free(widths);
}

/*
 * Reports a usage error and exits with EXIT_USAGE, pointing to the
 * subcommand's help (the program's when subcommand is NULL).
 */
void
usage_error(const char *subcommand, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	pg_log_generic_v(PG_LOG_ERROR, PG_LOG_PRIMARY, fmt, ap);
	va_end(ap);
	if (subcommand != NULL)
		pg_log_error_hint("Try \"mqctl %s --help\" for more information.",
						  subcommand);
	else
		pg_log_error_hint("Try \"mqctl --help\" for more information.");
	exit(EXIT_USAGE);
}

/* Parses an integer option value in [min, max], or exits with EXIT_USAGE. */
int
parse_int_option(const char *subcommand, const char *option,
				 const char *value, int min, int max)
{
	char	   *end;
	long		n;

	errno = 0;
	n = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || n < min || n > max)
		usage_error(subcommand, "%s must be an integer from %d to %d",
					option, min, max);
	return (int) n;
}

/* Parses a non-negative number of seconds, or exits with EXIT_USAGE. */
double
parse_seconds_option(const char *subcommand, const char *option,
					 const char *value)
{
	char	   *end;
	double		s;

	errno = 0;
	s = strtod(value, &end);
	if (errno != 0 || end == value || *end != '\0' || !(s >= 0 && s < 1e6))
		usage_error(subcommand, "%s must be a number of seconds", option);
	return s;
}

/*
 * Handles the options every subcommand accepts, in the default branch of
 * its getopt_long switch: the connection options (CONNECTION_OPTIONS);
 * anything else was refused by getopt_long, which said why.  A connection
 * option given twice keeps its last value, as in psql.
 */
void
common_option(const char *subcommand, int c, const char *arg)
{
	switch (c)
	{
		case 'd':
			dbname = arg;
			return;
		case 'h':
			host = arg;
			return;
		case 'p':
			port = arg;
			return;
		case 'U':
			username = arg;
			return;
		case 'S':
			servers = pg_realloc(servers, (nservers + 1) * sizeof(char *));
			servers[nservers++] = arg;
			return;
		case OPT_NODES_FROM:
			nodes_from = arg;
			return;
	}
	pg_log_error_hint("Try \"mqctl %s --help\" for more information.",
					  subcommand);
	exit(EXIT_USAGE);
}

/*
 * The servers of a cluster given with --server or --nodes-from, for the
 * subcommands that take SERVER_OPTIONS: sets *list to their connection
 * strings, numbered from 0 in their order (with --nodes-from, the
 * router's node numbers), and returns how many.  Returns 0 when neither
 * was given: one server, the connection options'.  Exits with EXIT_USAGE
 * if they are mixed with -d or with each other, and as connect_or_exit()
 * if the router cannot be asked.
 */
int
cluster_servers(const char *subcommand, const char ***list)
{
	PGconn	   *conn;
	PGresult   *res;

	if ((nservers > 0 || nodes_from != NULL) && dbname != NULL)
		usage_error(subcommand, "-d excludes --server and --nodes-from");
	if (nservers > 0 && nodes_from != NULL)
		usage_error(subcommand, "--server and --nodes-from exclude each other");
	if (nodes_from != NULL)
	{
		conn = try_connect(nodes_from);
		if (conn == NULL)
			mqctl_exit(EXIT_CONNECTION);
		res = query_or_exit(conn, ROUTER_NODES_SQL, 0, NULL);
		nservers = PQntuples(res);
		if (nservers == 0)
		{
			pg_log_error("the router's cluster has no nodes");
			mqctl_exit(EXIT_CONNECTION);
		}
		servers = pg_malloc(nservers * sizeof(char *));
		for (int i = 0; i < nservers; i++)
			servers[i] = pg_strdup(PQgetvalue(res, i, 0));
		PQclear(res);
		PQfinish(conn);
	}
	*list = servers;
	return nservers;
}

/* Prints the connection options part of a --help. */
void
help_connection_options(void)
{
	printf("\nConnection options (where not given: the PG* environment variables):\n");
	printf("  -d, --dbname=CONNINFO    database name or connection string (which\n"
		   "                           overrides -h, -p and -U where it sets them)\n");
	printf("  -h, --host=HOSTNAME      database server host or socket directory\n");
	printf("  -p, --port=PORT          database server port\n");
	printf("  -U, --username=USERNAME  database user name\n");
}

/* Prints the cluster options part of a --help (SERVER_OPTIONS). */
void
help_server_options(void)
{
	printf("\nCluster options (instead of -d; -h, -p and -U apply to each server):\n");
	printf("  -S, --server=CONNINFO    a server of the cluster, a connection string;\n"
		   "                           repeat for each, numbered from 0 in this order\n");
	printf("  --nodes-from=CONNINFO    the servers are the nodes of the mq router at\n"
		   "                           CONNINFO (mq_router.nodes)\n");
}

static void
stop_handler(SIGNAL_ARGS)
{
	stop_requested = true;
}

/*
 * Makes SIGINT and SIGTERM set stop_requested instead of ending the
 * process, for subcommands that finish cleanly.  A wait in poll() returns
 * early when they come.
 */
void
catch_stop_signals(void)
{
	pqsignal(SIGINT, stop_handler);
	pqsignal(SIGTERM, stop_handler);
}

/* Sleeps for ms milliseconds, or less if a signal comes. */
void
sleep_ms(int ms)
{
	(void) poll(NULL, 0, ms);
}

/* Seconds since the epoch, with microseconds, for rates and timeouts. */
double
now_seconds(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec + tv.tv_usec / 1e6;
}
