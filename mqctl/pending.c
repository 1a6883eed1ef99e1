/*-------------------------------------------------------------------------
 *
 * pending.c
 *	  mqctl delayed and mqctl half: messages that are not in their topic
 *	  yet.
 *
 * A delayed message waits for its due time (mq.delayed counts them per
 * topic); a half message waits for its producer to commit or roll it back
 * (mq.half_messages lists them, mq.commit_prepared and
 * mq.rollback_prepared resolve one by its handle).
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  mqctl/pending.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "common/logging.h"
#include "getopt_long.h"
#include "mqctl.h"

static const struct option connection_only[] = {
	CONNECTION_OPTIONS,
	{NULL, 0, NULL, 0}
};

#define LIST_DELAYED_SQL \
	"SELECT topic, pending, next_due, last_due" \
	"  FROM mq.delayed" \
	" ORDER BY topic"

#define LIST_HALF_SQL \
	"SELECT handle, topic, producer_group, state, prepared_at," \
	"       date_trunc('second', age) AS age, checks, next_check_at, key" \
	"  FROM mq.half_messages" \
	" WHERE state IN ('prepared', 'unresolved')" \
	" ORDER BY prepared_at, handle"

void
help_delayed(void)
{
	printf("mqctl delayed counts the delayed messages not yet due, per topic.\n\n");
	printf("Usage:\n");
	printf("  mqctl delayed [OPTION]...\n\n");
	printf("Options:\n");
	printf("  -?, --help             show this help, then exit\n");
	help_connection_options();
}

void
help_half(void)
{
	printf("mqctl half lists half messages, or commits or rolls one back.\n\n");
	printf("Usage:\n");
	printf("  mqctl half [OPTION]...\n");
	printf("  mqctl half commit HANDLE\n");
	printf("  mqctl half rollback HANDLE\n\n");
	printf("A half message is sent with mq.prepare and becomes visible when its\n"
		   "producer commits it.  The list shows those not yet resolved: prepared,\n"
		   "or unresolved after the last check-back.  HANDLE is the uuid mq.prepare\n"
		   "returned, shown in the list.  Resolving a message that is no longer\n"
		   "pending (resolved, or forgotten) exits with 1.\n\n");
	printf("Options:\n");
	printf("  -?, --help             show this help, then exit\n");
	help_connection_options();
}

/* Parses the options of a subcommand that has only the connection ones. */
static void
parse_connection_only(const char *subcommand, int argc, char **argv)
{
	int			c;

	while ((c = getopt_long(argc, argv, CONNECTION_SHORT_OPTIONS,
							connection_only, NULL)) != -1)
		common_option(subcommand, c, optarg);
}

/* Runs a listing query and prints its result as a table. */
static int
list(const char *sql)
{
	PGconn	   *conn = connect_or_exit(NULL);
	PGresult   *res = query_or_exit(conn, sql, 0, NULL);

	print_table(conn, res, stdout);
	PQclear(res);
	PQfinish(conn);
	return 0;
}

int
cmd_delayed(int argc, char **argv)
{
	parse_connection_only("delayed", argc, argv);
	if (optind < argc)
		usage_error("delayed", "too many arguments");
	return list(LIST_DELAYED_SQL);
}

int
cmd_half(int argc, char **argv)
{
	const char *action;
	const char *param[1];
	bool		commit;
	PGconn	   *conn;
	PGresult   *res;
	bool		resolved;

	parse_connection_only("half", argc, argv);
	if (optind == argc)
		return list(LIST_HALF_SQL);

	action = argv[optind++];
	if (strcmp(action, "commit") == 0)
		commit = true;
	else if (strcmp(action, "rollback") == 0)
		commit = false;
	else
		usage_error("half", "unknown action \"%s\"", action);
	if (optind == argc)
		usage_error("half", "%s needs a handle", action);
	param[0] = argv[optind++];
	if (optind < argc)
		usage_error("half", "too many arguments");

	conn = connect_or_exit(NULL);
	res = query_or_exit(conn,
						commit ?
						"SELECT mq.commit_prepared($1::uuid)" :
						"SELECT mq.rollback_prepared($1::uuid)",
						1, param);
	resolved = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	PQfinish(conn);
	if (!resolved)
	{
		pg_log_error("half message %s was already %s", param[0],
					 commit ? "committed" : "rolled back");
		return EXIT_SQL_ERROR;
	}
	printf("%s half message %s\n",
		   commit ? "committed" : "rolled back", param[0]);
	return 0;
}
