/*-------------------------------------------------------------------------
 *
 * topics.c
 *	  mqctl topics: list, create, alter and drop topics.
 *
 * create and alter pass only the settings given, as named arguments of
 * mq.create_topic and mq.alter_topic, so that the server's defaults apply
 * to the others.  The statement is put together from the fixed fragments
 * of the settings table below; the values are parameters.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  mqctl/topics.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "common/logging.h"
#include "getopt_long.h"
#include "mqctl.h"
#include "pqexpbuffer.h"

/*
 * The topic settings that can be given as options, as named arguments of
 * mq.create_topic and mq.alter_topic.  "unlimited" is accepted for those
 * that can be unlimited: mq.create_topic takes NULL for it, mq.alter_topic
 * an unlimited_<argument> flag.
 */
typedef struct TopicSetting
{
	const char *argument;		/* argument of mq.create_topic/alter_topic */
	const char *type;			/* its SQL type */
	bool		can_be_unlimited;
	const char *value;			/* as given, or NULL */
} TopicSetting;

enum
{
	SET_PARTITIONS,
	SET_RETENTION,
	SET_RETENTION_BYTES,
	SET_SEGMENT_BYTES,
	SET_SEGMENT_AGE,
	SET_DEDUP_WINDOW,
	SET_NOTIFY,
	NUM_SETTINGS
};

static TopicSetting settings[NUM_SETTINGS] = {
	[SET_PARTITIONS] = {"partitions", "integer", false, NULL},
	[SET_RETENTION] = {"retention", "interval", true, NULL},
	[SET_RETENTION_BYTES] = {"retention_bytes", "bigint", true, NULL},
	[SET_SEGMENT_BYTES] = {"segment_bytes", "bigint", false, NULL},
	[SET_SEGMENT_AGE] = {"segment_age", "interval", false, NULL},
	[SET_DEDUP_WINDOW] = {"dedup_window", "interval", false, NULL},
	[SET_NOTIFY] = {"notify", "boolean", false, NULL},
};

/* getopt_long values: settings from OPT_SETTING on, then the others */
#define OPT_SETTING		256
#define OPT_NO_NOTIFY	(OPT_SETTING + NUM_SETTINGS)
#define OPT_IF_EXISTS	(OPT_NO_NOTIFY + 1)

static const struct option long_options[] = {
	{"partitions", required_argument, NULL, OPT_SETTING + SET_PARTITIONS},
	{"retention", required_argument, NULL, OPT_SETTING + SET_RETENTION},
	{"retention-bytes", required_argument, NULL,
	OPT_SETTING + SET_RETENTION_BYTES},
	{"segment-bytes", required_argument, NULL, OPT_SETTING + SET_SEGMENT_BYTES},
	{"segment-age", required_argument, NULL, OPT_SETTING + SET_SEGMENT_AGE},
	{"dedup-window", required_argument, NULL, OPT_SETTING + SET_DEDUP_WINDOW},
	{"notify", no_argument, NULL, OPT_SETTING + SET_NOTIFY},
	{"no-notify", no_argument, NULL, OPT_NO_NOTIFY},
	{"if-exists", no_argument, NULL, OPT_IF_EXISTS},
	CONNECTION_OPTIONS,
	{NULL, 0, NULL, 0}
};

#define LIST_TOPICS_SQL \
	"SELECT t.name AS topic, t.partitions," \
	"       coalesce(p.messages, 0) AS messages," \
	"       pg_size_pretty(t.size_bytes) AS size, t.segments," \
	"       coalesce(t.retention::text, 'unlimited') AS retention," \
	"       coalesce(pg_size_pretty(t.retention_bytes), 'unlimited')" \
	"           AS retention_bytes," \
	"       coalesce(t.channel, '') AS channel" \
	"  FROM mq.topics t" \
	"  LEFT JOIN (SELECT topic, sum(messages_estimate) AS messages" \
	"               FROM mq.partitions GROUP BY topic) p" \
	"    ON p.topic = t.name" \
	" ORDER BY t.name"

void
help_topics(void)
{
	printf("mqctl topics lists, creates, alters or drops topics.\n\n");
	printf("Usage:\n");
	printf("  mqctl topics [OPTION]...\n");
	printf("  mqctl topics create NAME [SETTING]...\n");
	printf("  mqctl topics alter NAME SETTING...\n");
	printf("  mqctl topics drop NAME [--if-exists]\n\n");
	printf("The list shows each topic's partitions, an estimate of its messages\n"
		   "(end offsets minus log start offsets), size and notification channel.\n\n");
	printf("Settings (those not given keep their default, or their value on alter):\n");
	printf("  --partitions=N           number of partitions (alter: only more)\n");
	printf("  --retention=INTERVAL     how long messages are kept, or \"unlimited\"\n");
	printf("  --retention-bytes=BYTES  size limit per partition, or \"unlimited\"\n");
	printf("  --segment-bytes=BYTES    size at which a new segment starts\n");
	printf("  --segment-age=INTERVAL   age at which a new segment starts\n");
	printf("  --dedup-window=INTERVAL  how long dedup_ids are remembered\n");
	printf("  --notify, --no-notify    whether commits NOTIFY the topic's channel\n\n");
	printf("Options:\n");
	printf("  --if-exists              drop: no error if the topic does not exist\n");
	printf("  -?, --help               show this help, then exit\n");
	help_connection_options();
}

/* Creates or alters a topic with the settings given. */
static int
create_or_alter(PGconn *conn, bool create, const char *name)
{
	PQExpBuffer sql = createPQExpBuffer();
	const char *params[NUM_SETTINGS + 1];
	int			nparams = 0;
	PGresult   *res;

	params[nparams++] = name;
	appendPQExpBuffer(sql, "SELECT mq.%s_topic($1",
					  create ? "create" : "alter");
	for (int i = 0; i < NUM_SETTINGS; i++)
	{
		const TopicSetting *s = &settings[i];

		if (s->value == NULL)
			continue;
		if (s->can_be_unlimited && strcmp(s->value, "unlimited") == 0)
		{
			if (create)
				appendPQExpBuffer(sql, ", %s => NULL", s->argument);
			else
				appendPQExpBuffer(sql, ", unlimited_%s => true", s->argument);
			continue;
		}
		params[nparams++] = s->value;
		appendPQExpBuffer(sql, ", %s => $%d::%s",
						  s->argument, nparams, s->type);
	}
	appendPQExpBufferChar(sql, ')');

	res = query_or_exit(conn, sql->data, nparams, params);
	printf("%s topic \"%s\"\n", create ? "created" : "altered", name);
	PQclear(res);
	destroyPQExpBuffer(sql);
	return 0;
}

int
cmd_topics(int argc, char **argv)
{
	const char *action = NULL;
	const char *name = NULL;
	bool		if_exists = false;
	bool		any_setting = false;
	int			c;
	PGconn	   *conn;
	PGresult   *res;
	const char *param[1];

	while ((c = getopt_long(argc, argv, CONNECTION_SHORT_OPTIONS,
							long_options, NULL)) != -1)
	{
		if (c >= OPT_SETTING && c < OPT_SETTING + NUM_SETTINGS)
		{
			settings[c - OPT_SETTING].value = optarg ? optarg : "true";
			any_setting = true;
		}
		else if (c == OPT_NO_NOTIFY)
		{
			settings[SET_NOTIFY].value = "false";
			any_setting = true;
		}
		else if (c == OPT_IF_EXISTS)
			if_exists = true;
		else
			common_option("topics", c, optarg);
	}

	if (optind < argc)
		action = argv[optind++];
	if (optind < argc)
		name = argv[optind++];
	if (optind < argc)
		usage_error("topics", "too many arguments");

	if (action == NULL)
	{
		if (any_setting || if_exists)
			usage_error("topics", "settings need \"create\" or \"alter\"");
		conn = connect_or_exit(NULL);
		res = query_or_exit(conn, LIST_TOPICS_SQL, 0, NULL);
		print_table(conn, res, stdout);
		PQclear(res);
		PQfinish(conn);
		return 0;
	}

	if (strcmp(action, "create") != 0 && strcmp(action, "alter") != 0 &&
		strcmp(action, "drop") != 0)
		usage_error("topics", "unknown action \"%s\"", action);
	if (name == NULL)
		usage_error("topics", "%s needs a topic name", action);
	if (strcmp(action, "drop") == 0 ? any_setting : if_exists)
		usage_error("topics", "%s does not take that option", action);
	if (strcmp(action, "alter") == 0 && !any_setting)
		usage_error("topics", "alter needs a setting to change");

	conn = connect_or_exit(NULL);
	if (strcmp(action, "drop") != 0)
		create_or_alter(conn, strcmp(action, "create") == 0, name);
	else
	{
		param[0] = name;
		res = query_or_exit(conn,
							if_exists ?
							"SELECT mq.drop_topic($1, if_exists => true)" :
							"SELECT mq.drop_topic($1)",
							1, param);
		if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
			printf("dropped topic \"%s\"\n", name);
		PQclear(res);
	}
	PQfinish(conn);
	return 0;
}
