/*-------------------------------------------------------------------------
 *
 * mqctl.c
 *	  mqctl, the command-line client of mq: entry point and dispatch.
 *
 *	  mqctl [CONNECTION OPTION...] SUBCOMMAND [ARGUMENT...] [OPTION...]
 *
 * The subcommand is the first argument that is neither an option nor the
 * value of a connection option.  The subcommand then parses all the
 * arguments, including the connection options given before its name, with
 * getopt_long, once: options and positional arguments may come in any
 * order.  --help anywhere before "--" prints the subcommand's help.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  mqctl/mqctl.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "common/logging.h"
#include "getopt_long.h"
#include "mqctl.h"

typedef struct Subcommand
{
	const char *name;
	int			(*run) (int argc, char **argv);
	void		(*help) (void);
	const char *summary;
} Subcommand;

static const Subcommand subcommands[] = {
	{"topics", cmd_topics, help_topics, "list, create, alter or drop topics"},
	{"groups", cmd_groups, help_groups, "list consumer groups"},
	{"lag", cmd_lag, help_lag, "show how far consumer groups are behind"},
	{"tail", cmd_tail, help_tail, "follow the new messages of a topic"},
	{"produce", cmd_produce, help_produce, "send lines or JSON lines to a topic"},
	{"consume", cmd_consume, help_consume, "consume as a member of a group"},
	{"dlq", cmd_dlq, help_dlq, "list or replay a group's dead letters"},
	{"half", cmd_half, help_half, "list, commit or roll back half messages"},
	{"delayed", cmd_delayed, help_delayed, "count pending delayed messages"},
};

/* The connection options, whose value may be the next argument. */
static const struct option connection_options[] = {
	CONNECTION_OPTIONS,
	{NULL, 0, NULL, 0}
};

static void
help(void)
{
	printf("mqctl is the command-line client of mq, the message broker in PostgreSQL.\n\n");
	printf("Usage:\n");
	printf("  mqctl [OPTION]... SUBCOMMAND [ARGUMENT]... [OPTION]...\n\n");
	printf("Subcommands:\n");
	for (size_t i = 0; i < lengthof(subcommands); i++)
		printf("  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
	printf("\nOptions:\n");
	printf("  -V, --version          output version information, then exit\n");
	printf("  -?, --help             show this help, then exit\n");
	help_connection_options();
	printf("\n\"mqctl SUBCOMMAND --help\" describes a subcommand.\n\n");
	printf("Exit status: 0 success, 1 error reported by the server, 2 usage error,\n"
		   "3 connection failure or no mq in the database.\n");
}

/*
 * Whether an argument is a connection option whose value is the next
 * argument: "-h", or "--host" (not "-hdb1" or "--host=db1").
 */
static bool
value_follows(const char *arg)
{
	for (int i = 0; connection_options[i].name != NULL; i++)
	{
		const struct option *o = &connection_options[i];

		if ((arg[0] == '-' && arg[1] == o->val && arg[2] == '\0') ||
			(strncmp(arg, "--", 2) == 0 && strcmp(arg + 2, o->name) == 0))
			return true;
	}
	return false;
}

/*
 * Returns the index in argv of the subcommand's name, or argc if there is
 * none: the first argument that is not an option, skipping the value of a
 * separate connection option.
 */
static int
find_subcommand(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
	{
		if (value_follows(argv[i]))
			i++;
		else if (argv[i][0] != '-' || strcmp(argv[i], "-") == 0)
			return i;
	}
	return argc;
}

/* Whether --help or -? comes before "--" among the arguments. */
static bool
wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-?") == 0)
			return true;
	}
	return false;
}

int
main(int argc, char *argv[])
{
	int			at;
	const Subcommand *sub = NULL;

	pg_logging_init(argv[0]);
	set_pglocale_pgservice(argv[0], PG_TEXTDOMAIN("mqctl"));

	if (argc > 1 &&
		(strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0))
	{
		puts("mqctl (mq) " MQ_VERSION);
		return 0;
	}

	at = find_subcommand(argc, argv);
	if (at == argc)
	{
		if (wants_help(argc, argv))
		{
			help();
			return 0;
		}
		usage_error(NULL, "no subcommand given");
	}
	for (size_t i = 0; i < lengthof(subcommands); i++)
		if (strcmp(argv[at], subcommands[i].name) == 0)
			sub = &subcommands[i];
	if (sub == NULL)
		usage_error(NULL, "unknown subcommand \"%s\"", argv[at]);

	if (wants_help(argc, argv))
	{
		sub->help();
		return 0;
	}

	/*
	 * Remove the subcommand's name from argv and put it in argv[0], where
	 * getopt_long takes the name its messages start with.
	 */
	memmove(&argv[at], &argv[at + 1], (argc - at) * sizeof(char *));
	argv[0] = psprintf("%s %s", get_progname(argv[0]), sub->name);
	return sub->run(argc - 1, argv);
}
