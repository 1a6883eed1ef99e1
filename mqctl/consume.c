/*-------------------------------------------------------------------------
 *
 * consume.c
 *	  mqctl consume and mqctl tail: following messages as they come.
 *
 * consume is a member of a consumer group, at least once.  Each round is
 * one transaction: BEGIN, fetch a batch (mq.poll, which waits briefly in
 * the server when nothing is ready), handle each message (print it, or
 * run --exec's command with the payload on its standard input; a command
 * that fails gets mq.nack, which sends the message to retries and then to
 * the dead letters), then mq.commit(group) and COMMIT.  Output is flushed
 * before the commit, so a message is committed only once handled; one
 * handled but not committed (the connection or mqctl died) comes again.
 * Between rounds that found nothing, consume waits for a NOTIFY on the
 * channels of its topics, or for a while at most (the fallback when
 * notifications are off), so that it wakes within milliseconds of a
 * commit without holding a transaction open while idle.
 *
 * SIGINT and SIGTERM stop consume after the message being handled: the
 * messages handled so far are committed (mq.ack per partition when the
 * batch was cut short) and it exits with 0.  A lost connection is
 * reopened with back-off, and consuming resumes from the committed
 * positions.
 *
 * With several servers (--server, --nodes-from: the nodes of a cluster,
 * docs/scale-out.md) the group is the same group on each node.  consume
 * runs a round on each node in turn, each in a transaction on that node
 * that commits that node's positions, so that the guarantees are a single
 * server's, per node.  mq.poll does not wait in the server then, which
 * would hold up the other nodes: a pass that found nothing anywhere waits
 * for a NOTIFY on any node's connection.  A lost node is reopened on its
 * own back-off while the others go on.
 *
 * tail follows a topic without a group: it reads every partition with
 * mq.read from the stable offsets of when it started, woken the same way.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  mqctl/consume.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>

#include "common/logging.h"
#include "getopt_long.h"
#include "mqctl.h"

#define DEFAULT_BATCH_SIZE	100

/* how long mq.poll waits in the server before a round ends empty */
#define POLL_WAIT_MS		500

/* how long an idle consumer or tail waits for a notification */
#define IDLE_WAIT_MS		1000

/* most messages tail reads from a partition at once */
#define TAIL_READ_MAX		1000

/*
 * The columns both fetch and tail select, in this order: the message's
 * coordinates and metadata, its payload as text (bytea in its hex form),
 * its raw bytes if it is bytea, and the whole as one JSON object.
 */
enum
{
	COL_TOPIC,
	COL_PARTITION,
	COL_OFFSET,
	COL_EPOCH,
	COL_ID,
	COL_KEY,
	COL_TAG,
	COL_HEADERS,
	COL_TEXT,
	COL_RAW,
	COL_JSON
};

#define MESSAGE_COLUMNS \
	"topic, partition, \"offset\", epoch, id, key, tag, headers," \
	" coalesce(payload_text, payload_json::text, payload_bytes::text)," \
	" payload_bytes," \
	" json_build_object('topic', topic, 'partition', partition," \
	"     'offset', \"offset\", 'epoch', epoch, 'id', id, 'key', key," \
	"     'tag', tag," \
	"     'headers', headers, 'payload_type', payload_type," \
	"     'payload', CASE payload_type" \
	"                WHEN 'jsonb' THEN payload_json" \
	"                WHEN 'text' THEN to_json(payload_text)" \
	"                ELSE to_json(encode(payload_bytes, 'base64')) END," \
	"     'produced_at', produced_at)"

/* $1 group, $2 topic or NULL, $3 max, $4 wait */
#define POLL_SQL \
	"SELECT " MESSAGE_COLUMNS \
	"  FROM mq.poll($1, $2, max => $3::integer, wait => $4::interval)"

#define COMMIT_SQL			"SELECT mq.commit($1)"
#define ACK_SQL \
	"SELECT mq.ack($1::text, $2::text, $3::integer, $4::bigint)"
#define NACK_SQL \
	"SELECT mq.nack($1::text, $2::text, $3::integer, $4::bigint)"

/* the channels of the topics consume reads: $1 group, $2 topic or NULL */
#define CHANNELS_SQL \
	"SELECT DISTINCT t.channel" \
	"  FROM mq.subscriptions s" \
	"  JOIN mq.topics t ON t.name = s.topic" \
	" WHERE s.\"group\" = $1 AND t.channel IS NOT NULL" \
	"   AND ($2::text IS NULL OR s.topic IN ($2, $1 || '.retry'))"

#define SUBSCRIBED_SQL \
	"SELECT 1 FROM mq.subscriptions WHERE \"group\" = $1 AND topic = $2"

/* $1 topic, $2 partition, $3 from offset, $4 max */
#define READ_SQL \
	"SELECT " MESSAGE_COLUMNS \
	"  FROM (SELECT $1::text AS topic, $2::integer AS partition, r.*" \
	"          FROM mq.read($1, $2, $3, $4) r) m"

#define OFFSETS_SQL \
	"SELECT partition, stable_offset FROM mq.partition_offsets($1)" \
	" ORDER BY partition"

#define TOPIC_CHANNEL_SQL \
	"SELECT channel FROM mq.topics WHERE name = $1 AND channel IS NOT NULL"

/*
 * A server consume or tail reads: the one of the connection options, or a
 * node of a cluster (--server, --nodes-from).  A lost node is reopened on
 * its own back-off while the others are consumed.
 */
typedef struct Node
{
	const char *server;			/* connection string; NULL: -d's */
	int			number;			/* in the cluster; -1: the only server */
	PGconn	   *conn;			/* NULL while lost */
	struct Opening *opening;	/* while lost: the attempt under way, or NULL */
	bool		checked;		/* mq was found installed here */
	bool		absent;			/* the group or topic is not defined here */
	bool		retry_subscribed;	/* the group reads its retry_topic here */
	int			delay_ms;		/* back-off before the next attempt */
	double		retry_at;		/* when to try to reopen conn or to look again
								 * for an absent group or topic */
} Node;

/* What consume or tail was asked to do, and how far it got. */
typedef struct Follower
{
	Node	   *nodes;
	int			nnodes;
	Node	   *node;			/* the one being read */
	const char *group;			/* consume */
	const char *topic;			/* consume: NULL for all the group's topics */
	char	   *retry_topic;	/* consume with a topic: "<group>.retry" */
	bool		json;
	const char *exec;
	int			batch_size;
	long		max_messages;	/* 0: no limit */
	double		idle_exit;		/* seconds; 0: never */
	long		handled;
	double		last_message;	/* when the last message came */
	bool		undefined;		/* the round found the group or topic
								 * undefined on its node */
} Follower;

static const struct option long_options[] = {
	{"json", no_argument, NULL, 'j'},
	{"exec", required_argument, NULL, 'e'},
	{"batch-size", required_argument, NULL, 'b'},
	{"max-messages", required_argument, NULL, 'm'},
	{"idle-exit", required_argument, NULL, 'i'},
	CONNECTION_OPTIONS,
	SERVER_OPTIONS,
	{NULL, 0, NULL, 0}
};

void
help_consume(void)
{
	printf("mqctl consume consumes messages as a member of a consumer group, at least\n"
		   "once: positions are committed after the messages were handled.\n\n");
	printf("Usage:\n");
	printf("  mqctl consume GROUP [TOPIC] [OPTION]...\n\n");
	printf("Without TOPIC, every topic the group subscribes to is read; with TOPIC,\n"
		   "that one and the group's retry topic \"GROUP.retry\".  Each message is\n"
		   "printed (its payload, or a JSON object with --json), or given to --exec's\n"
		   "command.  SIGINT and SIGTERM commit what was handled, then exit with 0.\n"
		   "A lost connection is reopened, and consuming resumes from the committed\n"
		   "positions.  With several servers (--server, --nodes-from) the group is\n"
		   "consumed on each in turn, each node's positions committed on that node;\n"
		   "a node that cannot be reached, or has no such topic or group, is skipped\n"
		   "and tried again later.\n\n");
	printf("Options:\n");
	printf("  -j, --json             print each message as one line of JSON: topic,\n"
		   "                         partition, offset, epoch, id, key, tag,\n"
		   "                         headers, payload_type, payload, produced_at\n");
	printf("  -e, --exec=COMMAND     run COMMAND with /bin/sh -c for each message, with\n"
		   "                         the payload on standard input and MQ_GROUP,\n"
		   "                         MQ_TOPIC, MQ_PARTITION, MQ_OFFSET, MQ_EPOCH, MQ_ID,\n"
		   "                         MQ_KEY, MQ_TAG and MQ_HEADERS set; a non-zero exit\n"
		   "                         status nacks the message (mq.nack)\n");
	printf("  -b, --batch-size=N     messages per transaction (default %d)\n",
		   DEFAULT_BATCH_SIZE);
	printf("  -m, --max-messages=N   exit after handling N messages\n");
	printf("  -i, --idle-exit=SECONDS  exit once no message came for SECONDS\n");
	printf("  -?, --help             show this help, then exit\n");
	help_connection_options();
	help_server_options();
}

void
help_tail(void)
{
	printf("mqctl tail prints the messages committed to a topic from now on, in\n"
		   "every partition, without a consumer group.\n\n");
	printf("Usage:\n");
	printf("  mqctl tail TOPIC [OPTION]...\n\n");
	printf("Options:\n");
	printf("  -j, --json             print each message as one line of JSON\n");
	printf("  -m, --max-messages=N   exit after printing N messages\n");
	printf("  -i, --idle-exit=SECONDS  exit once no message came for SECONDS\n");
	printf("  -?, --help             show this help, then exit\n");
	help_connection_options();
}

/*
 * Parses the options of consume and tail into f, the positional arguments
 * left in argv[optind..].  Exits on a usage error.
 */
static void
parse_follower_options(const char *subcommand, int argc, char **argv,
					   Follower *f)
{
	int			c;
	bool		cluster = false;	/* --server or --nodes-from given */

	f->batch_size = DEFAULT_BATCH_SIZE;
	while ((c = getopt_long(argc, argv, "je:b:m:i:" CONNECTION_SHORT_OPTIONS
							SERVER_SHORT_OPTIONS,
							long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'j':
				f->json = true;
				break;
			case 'e':
				f->exec = optarg;
				break;
			case 'b':
				f->batch_size = parse_int_option(subcommand, "--batch-size",
												 optarg, 1, 100000);
				break;
			case 'm':
				f->max_messages = parse_int_option(subcommand,
												   "--max-messages",
												   optarg, 1, PG_INT32_MAX);
				break;
			case 'i':
				f->idle_exit = parse_seconds_option(subcommand, "--idle-exit",
													optarg);
				break;
			default:
				cluster |= c == 'S' || c == OPT_NODES_FROM;
				common_option(subcommand, c, optarg);
		}
	}
	if (strcmp(subcommand, "tail") == 0 &&
		(f->exec != NULL || f->batch_size != DEFAULT_BATCH_SIZE))
		usage_error(subcommand, "tail takes neither --exec nor --batch-size");
	if (strcmp(subcommand, "tail") == 0 && cluster)
		usage_error(subcommand, "tail reads one server: it takes neither --server nor --nodes-from");
	if (f->exec != NULL && f->json)
		usage_error(subcommand, "--exec and --json exclude each other");
}

/* Whether --max-messages or --idle-exit says to stop now. */
static bool
done(const Follower *f)
{
	if (f->max_messages > 0 && f->handled >= f->max_messages)
		return true;
	return f->idle_exit > 0 &&
		now_seconds() - f->last_message >= f->idle_exit;
}

/*
 * Milliseconds to wait for messages: up to max_ms, but not past the time
 * --idle-exit would end the wait anyway.
 */
static int
wait_ms(const Follower *f, int max_ms)
{
	double		left;

	if (f->idle_exit <= 0)
		return max_ms;
	left = f->idle_exit - (now_seconds() - f->last_message);
	return (int) Max(0, Min(max_ms, left * 1000));
}

/* How many messages to ask for: a batch, or what --max-messages leaves. */
static int
batch_max(const Follower *f)
{
	if (f->max_messages > 0)
		return (int) Min(f->batch_size, f->max_messages - f->handled);
	return f->batch_size;
}

/*
 * Prints one message: its payload, or its JSON object.  Returns false if
 * standard output failed (a closed pipe): the message is not handled.
 */
static bool
print_message(const Follower *f, const PGresult *res, int row)
{
	const char *value = PQgetvalue(res, row, f->json ? COL_JSON : COL_TEXT);

	/* a node's messages in JSON say which node: {"node" : 2, "topic" ... */
	if (f->json && f->node->number >= 0)
		printf("{\"node\" : %d, %s", f->node->number, value + 1);
	else
		fputs(value, stdout);
	fputc('\n', stdout);
	return !ferror(stdout);
}

/* Sets an environment variable for --exec's command, if value is not NULL. */
static void
set_message_env(char **envp, int *n, const char *name, const PGresult *res,
				int row, int col)
{
	if (!PQgetisnull(res, row, col))
		envp[(*n)++] = psprintf("%s=%s", name, PQgetvalue(res, row, col));
}

/* The variables --exec's command gets for a message. */
static const char *const message_variables[] = {
	"MQ_GROUP", "MQ_NODE", "MQ_TOPIC", "MQ_PARTITION", "MQ_OFFSET",
	"MQ_EPOCH", "MQ_ID", "MQ_KEY", "MQ_TAG", "MQ_HEADERS"
};

/*
 * The environment of --exec's command for one message: mqctl's, less any
 * of the message variables, then those the message has.  Built before
 * fork(): the child of a process that may run threads (the openings of
 * connections) may only call async-signal-safe functions.  Sets *own to
 * the index of the first entry allocated here.
 */
static char **
message_environment(const Follower *f, const PGresult *res, int row,
					int *own)
{
	int			total = 0;
	int			n = 0;
	char	  **envp;

	for (char **e = environ; *e != NULL; e++)
		total++;
	envp = pg_malloc((total + lengthof(message_variables) + 1) * sizeof(char *));
	for (char **e = environ; *e != NULL; e++)
	{
		bool		ours = false;

		for (size_t i = 0; i < lengthof(message_variables) && !ours; i++)
		{
			size_t		len = strlen(message_variables[i]);

			ours = strncmp(*e, message_variables[i], len) == 0 &&
				(*e)[len] == '=';
		}
		if (!ours)
			envp[n++] = *e;
	}
	*own = n;
	envp[n++] = psprintf("MQ_GROUP=%s", f->group);
	if (f->node->number >= 0)
		envp[n++] = psprintf("MQ_NODE=%d", f->node->number);
	set_message_env(envp, &n, "MQ_TOPIC", res, row, COL_TOPIC);
	set_message_env(envp, &n, "MQ_PARTITION", res, row, COL_PARTITION);
	set_message_env(envp, &n, "MQ_OFFSET", res, row, COL_OFFSET);
	set_message_env(envp, &n, "MQ_EPOCH", res, row, COL_EPOCH);
	set_message_env(envp, &n, "MQ_ID", res, row, COL_ID);
	set_message_env(envp, &n, "MQ_KEY", res, row, COL_KEY);
	set_message_env(envp, &n, "MQ_TAG", res, row, COL_TAG);
	set_message_env(envp, &n, "MQ_HEADERS", res, row, COL_HEADERS);
	envp[n] = NULL;
	return envp;
}

/*
 * Runs --exec's command for one message with /bin/sh -c, the payload on
 * its standard input (the raw bytes of a bytea payload, else the text in
 * the client encoding).  Returns the command's wait status.
 */
static int
run_command(const Follower *f, const PGresult *res, int row)
{
	int			pipefd[2];
	pid_t		pid;
	int			status;
	unsigned char *raw = NULL;
	const char *payload;
	size_t		len;
	int			own;
	char	  **envp = message_environment(f, res, row, &own);

	fflush(stdout);
	fflush(stderr);
	if (pipe(pipefd) < 0 || (pid = fork()) < 0)
	{
		pg_log_error("could not start the command: %m");
		mqctl_exit(EXIT_SQL_ERROR);
	}
	if (pid == 0)
	{
		dup2(pipefd[0], STDIN_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		pqsignal(SIGPIPE, SIG_DFL);
		execle("/bin/sh", "sh", "-c", f->exec, (char *) NULL, envp);
		_exit(127);
	}
	close(pipefd[0]);
	for (int i = own; envp[i] != NULL; i++)
		pfree(envp[i]);
	pfree(envp);

	if (!PQgetisnull(res, row, COL_RAW))
	{
		raw = PQunescapeBytea((const unsigned char *)
							  PQgetvalue(res, row, COL_RAW), &len);
		payload = (const char *) raw;
	}
	else
	{
		payload = PQgetvalue(res, row, COL_TEXT);
		len = strlen(payload);
	}
	/* a command that does not read all its input gets to ignore it */
	while (len > 0)
	{
		ssize_t		n = write(pipefd[1], payload, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		payload += n;
		len -= n;
	}
	close(pipefd[1]);
	if (raw != NULL)
		PQfreemem(raw);

	while (waitpid(pid, &status, 0) < 0)
	{
		if (errno != EINTR)
		{
			pg_log_error("could not wait for the command: %m");
			mqctl_exit(EXIT_SQL_ERROR);
		}
	}
	return status;
}

/*
 * Runs one statement of a consume round.  Returns its result, or NULL if
 * the connection was lost or, with several servers, if the group or topic
 * is not defined on this node (f->undefined is set, and the caller
 * sets the node aside).  Exits with EXIT_SQL_ERROR on any other error, and on an
 * undefined group or topic if it is undefined on every node (the open
 * transaction dies with the connection, so nothing handled in it is
 * committed).
 */
static PGresult *
round_query(Follower *f, const char *sql, int nparams,
			const char *const *params)
{
	PGconn	   *conn = f->node->conn;
	PGresult   *res = exec_query(conn, sql, nparams, params);
	const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	bool		everywhere = true;

	if (query_succeeded(res))
		return res;
	if (f->nnodes > 1 && sqlstate != NULL &&
		strcmp(sqlstate, "42704") == 0)
	{
		for (int i = 0; i < f->nnodes; i++)
			everywhere &= &f->nodes[i] == f->node || f->nodes[i].absent;
		if (!everywhere)
		{
			/* said once, until the node has the group and topic again */
			if (!f->node->absent)
				pg_log_warning("node %d: %s; consuming the other nodes",
							   f->node->number,
							   PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
			f->undefined = true;
			PQclear(res);
			return NULL;
		}
	}
	report_error(conn, res, NULL);
	PQclear(res);
	if (!connection_lost(conn))
		exit_after_failure(conn);
	return NULL;
}

/*
 * Fills the parameters of mq.ack and mq.nack for a message: group, topic,
 * partition, offset.
 */
static void
message_params(const Follower *f, const PGresult *msgs, int row,
			   const char *params[4])
{
	params[0] = f->group;
	params[1] = PQgetvalue(msgs, row, COL_TOPIC);
	params[2] = PQgetvalue(msgs, row, COL_PARTITION);
	params[3] = PQgetvalue(msgs, row, COL_OFFSET);
}

/*
 * One round of consume: the batches fetched in its transaction (from the
 * retry topic, then from the topic) and what became of their messages.
 */
typedef struct Round
{
	PGresult   *batches[2];
	int			nbatches;
	int			done[2];		/* rows of each batch gone through */
	bool		cut_short;		/* a stop came before the end */
	bool		nacked;			/* a message was nacked */
	bool		lost;			/* the connection was lost */

	/*
	 * Rows nacked in place (ordered subscriptions): the position of their
	 * partition went back to them, and the later rows of the partition are
	 * left for the next round, to keep the order.
	 */
	const PGresult **rewound_batch;
	int		   *rewound_row;
	int			nrewound;
} Round;

/* Whether a row belongs to a partition whose message was nacked in place. */
static bool
was_rewound(const Round *r, const PGresult *msgs, int row)
{
	for (int i = 0; i < r->nrewound; i++)
	{
		const PGresult *other = r->rewound_batch[i];
		int			orow = r->rewound_row[i];

		if (strcmp(PQgetvalue(msgs, row, COL_TOPIC),
				   PQgetvalue(other, orow, COL_TOPIC)) == 0 &&
			strcmp(PQgetvalue(msgs, row, COL_PARTITION),
				   PQgetvalue(other, orow, COL_PARTITION)) == 0)
			return true;
	}
	return false;
}

/*
 * Sends mq.nack for a message whose command failed, saying so on stderr,
 * and notes a message nacked in place.  Returns false if the connection
 * was lost.
 */
static bool
nack(Follower *f, Round *r, const PGresult *msgs, int row, int status)
{
	const char *params[4];
	char	   *reason = wait_result_to_str(status);
	PGresult   *res;

	message_params(f, msgs, row, params);
	res = round_query(f, NACK_SQL, 4, params);
	if (res == NULL)
	{
		pg_free(reason);
		return false;
	}
	if (f->node->number >= 0)
		pg_log_warning("message %s[%s]@%s on node %d: %s; nacked: %s",
					   params[1], params[2], params[3], f->node->number,
					   reason, PQgetvalue(res, 0, 0));
	else
		pg_log_warning("message %s[%s]@%s: %s; nacked: %s",
					   params[1], params[2], params[3], reason,
					   PQgetvalue(res, 0, 0));
	if (strcmp(PQgetvalue(res, 0, 0), "in_place") == 0)
	{
		r->rewound_batch[r->nrewound] = msgs;
		r->rewound_row[r->nrewound++] = row;
	}
	r->nacked = true;
	pg_free(reason);
	PQclear(res);
	return true;
}

/*
 * Handles the messages of one batch of the round, in order, until all are
 * handled or a stop was requested.  Sets r->done[b] to the number of rows
 * gone through (handled, or passed over in a partition nacked in place).
 */
static void
handle_messages(Follower *f, Round *r, int b)
{
	const PGresult *msgs = r->batches[b];
	int			n;

	for (n = 0; n < PQntuples(msgs) && !r->lost; n++)
	{
		if (stop_requested)
			break;
		if (was_rewound(r, msgs, n))
			continue;
		if (f->exec == NULL)
		{
			if (!print_message(f, msgs, n))
				break;
		}
		else
		{
			int			status = run_command(f, msgs, n);

			/* Ctrl-C killed the command too: leave the message for later */
			if (status != 0 && stop_requested)
				break;
			if (status != 0 && !nack(f, r, msgs, n, status))
				r->lost = true;
		}
		f->handled++;
		f->last_message = now_seconds();
	}
	r->done[b] = n;
	r->cut_short = n < PQntuples(msgs);
}

/*
 * Commits, for a round cut short, the positions past the messages of a
 * batch that were handled: mq.ack of the last one of each partition (the
 * rows of a partition come together, in offset order).  Partitions nacked
 * in place are left where mq.nack put them.  Returns false if the
 * connection was lost.
 */
static bool
ack_handled(Follower *f, const Round *r, int b)
{
	const PGresult *msgs = r->batches[b];
	int			done = r->done[b];

	for (int i = 0; i < done; i++)
	{
		const char *params[4];
		PGresult   *res;

		message_params(f, msgs, i, params);
		if (was_rewound(r, msgs, i) ||
			(i + 1 < done &&
			 strcmp(params[1], PQgetvalue(msgs, i + 1, COL_TOPIC)) == 0 &&
			 strcmp(params[2], PQgetvalue(msgs, i + 1, COL_PARTITION)) == 0))
			continue;
		res = round_query(f, ACK_SQL, 4, params);
		if (res == NULL)
			return false;
		PQclear(res);
	}
	return true;
}

/* LISTENs on the channels of the topics consume reads. */
static void
listen_to_topics(Follower *f)
{
	const char *params[2] = {f->group, f->topic};
	PGresult   *res = run_query(f->node->conn, CHANNELS_SQL, 2, params);

	if (res == NULL)
	{
		if (connection_lost(f->node->conn))
			return;
		exit_after_failure(f->node->conn);
	}
	for (int i = 0; i < PQntuples(res); i++)
		listen_channel(f->node->conn, PQgetvalue(res, i, 0));
	PQclear(res);
}

/*
 * Whether the group reads its retry topic, which mq.nack creates: consume
 * with a topic fetches from both.  Once it does, it is not asked again.
 */
static bool
reads_retry_topic(Follower *f, bool *lost)
{
	const char *params[2] = {f->group, f->retry_topic};
	PGresult   *res;

	if (f->retry_topic == NULL || f->node->retry_subscribed)
		return f->node->retry_subscribed;
	res = round_query(f, SUBSCRIBED_SQL, 2, params);
	if (res == NULL)
		*lost = true;
	else
	{
		f->node->retry_subscribed = PQntuples(res) > 0;
		PQclear(res);
		if (f->node->retry_subscribed)
			listen_to_topics(f);
	}
	return f->node->retry_subscribed;
}

/* Fetches up to max messages of a topic (NULL: all), waiting up to ms. */
static PGresult *
fetch(Follower *f, const char *topic, int max, int ms)
{
	char		max_text[16];
	char		wait_text[32];
	const char *params[4] = {f->group, topic, max_text, wait_text};

	snprintf(max_text, sizeof(max_text), "%d", max);
	snprintf(wait_text, sizeof(wait_text), "%d ms", ms);
	return round_query(f, POLL_SQL, 4, params);
}

/*
 * Fetches the batches of a round: the retry topic's first (they are older),
 * then the topic's, waiting briefly in the server if there is nothing.
 * Returns false if the connection was lost.
 */
static bool
fetch_round(Follower *f, Round *r)
{
	int			max = batch_max(f);
	bool		lost = false;

	if (reads_retry_topic(f, &lost))
	{
		r->batches[r->nbatches] = fetch(f, f->retry_topic, max, 0);
		if (r->batches[r->nbatches] == NULL)
			return false;
		max -= PQntuples(r->batches[r->nbatches++]);
	}
	if (lost)
		return false;
	if (max > 0)
	{
		bool		retries = r->nbatches > 0 && PQntuples(r->batches[0]) > 0;

		r->batches[r->nbatches] = fetch(f, f->topic, max,
										retries || f->nnodes > 1 ? 0 :
										wait_ms(f, POLL_WAIT_MS));
		if (r->batches[r->nbatches] == NULL)
			return false;
		r->nbatches++;
	}
	return true;
}

/*
 * One round of consume: one transaction that fetches a batch, handles it,
 * and commits the positions past what was handled.  Returns how many
 * messages it went through, or -1 if the connection was lost.
 */
static int
consume_round(Follower *f)
{
	Round		r = {0};
	int			total = 0;
	PGresult   *res;

	res = round_query(f, "BEGIN", 0, NULL);
	if (res == NULL)
		return -1;
	PQclear(res);

	r.rewound_batch = pg_malloc(f->batch_size * sizeof(PGresult *));
	r.rewound_row = pg_malloc(f->batch_size * sizeof(int));
	r.lost = !fetch_round(f, &r);
	for (int b = 0; b < r.nbatches && !r.cut_short && !r.lost; b++)
	{
		handle_messages(f, &r, b);
		total += r.done[b];
	}
	if (fflush(stdout) != 0)
	{
		pg_log_error("could not write the messages: %m");
		mqctl_exit(EXIT_SQL_ERROR);
	}

	/*
	 * mq.commit(group) commits past everything fetched (but not past a
	 * message nacked in place); past what was handled only, when a stop cut
	 * the round short.
	 */
	if (!r.lost && !r.cut_short)
	{
		const char *param[1] = {f->group};

		res = round_query(f, COMMIT_SQL, 1, param);
		r.lost = res == NULL;
		PQclear(res);
	}
	for (int b = 0; b < r.nbatches && r.cut_short && !r.lost; b++)
		r.lost = !ack_handled(f, &r, b);
	if (!r.lost)
	{
		res = round_query(f, "COMMIT", 0, NULL);
		r.lost = res == NULL;
		PQclear(res);
	}
	for (int b = 0; b < r.nbatches; b++)
		PQclear(r.batches[b]);
	pg_free(r.rewound_batch);
	pg_free(r.rewound_row);
	if (r.lost)
		return -1;

	/* a first nack may have created the retry topic: LISTEN to it too */
	if (r.nacked)
		listen_to_topics(f);
	return total;
}

/*
 * Closes the lost connection of a node, saying so, and sets when to try to
 * reopen it: after 100 ms, the wait doubling after each failed attempt.
 */
static void
lose_node(Node *node)
{
	PQfinish(node->conn);
	node->conn = NULL;
	node->absent = false;
	if (node->number >= 0)
		pg_log_warning("node %d: connection lost; reconnecting", node->number);
	else
		pg_log_warning("connection lost; reconnecting");
	node->delay_ms = RECONNECT_FIRST_MS;
	node->retry_at = now_seconds() + node->delay_ms / 1000.0;
}

/*
 * Sets a node whose group or topic is not defined aside: its transaction
 * is rolled back, and it is looked at again after the next back-off (from
 * 100 ms, doubling up to 5 s), so that a group or topic defined later is
 * consumed.
 */
static void
set_aside_node(Node *node)
{
	PQclear(exec_query(node->conn, "ROLLBACK", 0, NULL));
	node->delay_ms = node->absent ?
		Min(node->delay_ms * 2, RECONNECT_MAX_MS) : RECONNECT_FIRST_MS;
	node->absent = true;
	node->retry_at = now_seconds() + node->delay_ms / 1000.0;
}

/*
 * A connection being opened for a node, in a thread of its own, so that
 * the other nodes are consumed meanwhile whatever the attempt waits for:
 * a host that never answers, several hosts tried in turn (each for
 * connect_timeout, as libpq does), a name to resolve.  The thread writes a
 * byte to done[1] when conn is there; only then does the main thread read
 * conn (pthread_join orders the two).
 */
typedef struct Opening
{
	pthread_t	thread;
	const char *server;
	PGconn	   *conn;
	int			done[2];		/* a pipe */
} Opening;

static void *
open_in_thread(void *arg)
{
	Opening    *o = arg;

	o->conn = open_node_connection(o->server);
	if (write(o->done[1], "", 1) != 1)
		abort();				/* a pipe of our own: cannot fail */
	return NULL;
}

/*
 * Starts opening a node's connection in a thread; false, said, if no
 * thread can be started.  The thread does not take SIGINT and SIGTERM:
 * they stay the main thread's, which stops while the thread waits.
 */
static bool
start_opening(Node *node)
{
	Opening    *o = pg_malloc0(sizeof(Opening));
	sigset_t	block;
	sigset_t	old;
	int			rc;

	o->server = node->server;
	/* not inherited by --exec's commands */
	if (pipe(o->done) < 0 ||
		fcntl(o->done[0], F_SETFD, FD_CLOEXEC) < 0 ||
		fcntl(o->done[1], F_SETFD, FD_CLOEXEC) < 0)
	{
		pg_log_error("could not create a pipe: %m");
		pg_free(o);
		return false;
	}
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(&o->thread, NULL, open_in_thread, o);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
	{
		pg_log_error("could not start a thread: %s", strerror(rc));
		close(o->done[0]);
		close(o->done[1]);
		pg_free(o);
		return false;
	}
	node->opening = o;
	opening_threads++;
	return true;
}

/* Whether a node's opening has ended. */
static bool
opening_done(const Node *node)
{
	struct pollfd pfd = {node->opening->done[0], POLLIN, 0};

	return poll(&pfd, 1, 0) > 0;
}

/*
 * Ends a node's opening that opening_done() says has ended, and returns
 * the connection it got: open, failed, or NULL if libpq was out of memory.
 */
static PGconn *
finish_opening(Node *node)
{
	Opening    *o = node->opening;
	PGconn	   *conn;

	pthread_join(o->thread, NULL);
	opening_threads--;
	conn = o->conn;
	close(o->done[0]);
	close(o->done[1]);
	pg_free(o);
	node->opening = NULL;
	return conn;
}

/*
 * Sets when a lost node's next connection attempt starts, after one that
 * failed: 100 ms after a first failure, the wait doubling up to 5 s.
 */
static void
back_off(Node *node)
{
	node->delay_ms = node->delay_ms == 0 ? RECONNECT_FIRST_MS :
		Min(node->delay_ms * 2, RECONNECT_MAX_MS);
	node->retry_at = now_seconds() + node->delay_ms / 1000.0;
}

/*
 * Moves a lost node's connection forward without waiting: starts an
 * attempt in a thread once its back-off is over, and takes the connection
 * when the attempt has ended, so that a node slow to answer never holds up
 * the others.  The attempt gives up after the connection string's
 * connect_timeout, or NODE_CONNECT_TIMEOUT seconds, per host.  The first
 * connection to a node checks that mq is installed there (exiting if not,
 * as at the start).  Returns whether the node is connected, LISTENing to
 * its topics.
 */
static bool
reopen_node(Follower *f, Node *node)
{
	PGconn	   *conn;

	if (node->opening == NULL)
	{
		if (now_seconds() < node->retry_at)
			return false;
		if (!start_opening(node))
		{
			back_off(node);
			return false;
		}
	}
	if (!opening_done(node))
		return false;
	conn = finish_opening(node);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		const char *why = conn != NULL ? PQerrorMessage(conn) : "out of memory";

		if (node->number >= 0)
			pg_log_error("node %d: %s", node->number, why);
		else
			pg_log_error("%s", why);
		PQfinish(conn);
		back_off(node);
		return false;
	}
	node->conn = conn;
	if (!node->checked)
		require_mq(node->conn);
	node->checked = true;
	/* after a lost connection or a failed attempt */
	if (node->delay_ms > 0 && node->number >= 0)
		pg_log_info("node %d: reconnected", node->number);
	else if (node->delay_ms > 0)
		pg_log_info("reconnected");
	node->delay_ms = 0;
	f->node = node;
	listen_to_topics(f);
	return true;
}

/*
 * Waits, after a pass over the nodes that found nothing, for a NOTIFY on
 * any connected node or the end of a connection being opened, for ms at
 * most, less if a lost or set-aside node's next attempt comes sooner.
 * Connections lost meanwhile are closed.
 */
static void
wait_for_nodes(Follower *f, int ms)
{
	PGconn	  **conns = pg_malloc(f->nnodes * sizeof(PGconn *));
	struct pollfd *connecting = pg_malloc(f->nnodes * sizeof(struct pollfd));
	int			nconns = 0;
	int			nconnecting = 0;
	double		now = now_seconds();

	for (int i = 0; i < f->nnodes; i++)
	{
		Node	   *node = &f->nodes[i];

		if (node->conn != NULL)
			conns[nconns++] = node->conn;
		else if (node->opening != NULL)
		{
			connecting[nconnecting].fd = node->opening->done[0];
			connecting[nconnecting].events = POLLIN;
			connecting[nconnecting++].revents = 0;
			continue;
		}
		if (node->conn == NULL || node->absent)
			ms = (int) Max(0, Min(ms, (node->retry_at - now) * 1000));
	}
	if (nconns == 0 && nconnecting == 0)
		sleep_ms(ms);
	else if (wait_for_notifications(conns, nconns, connecting, nconnecting,
									ms) < 0)
	{
		for (int i = 0; i < f->nnodes; i++)
			if (f->nodes[i].conn != NULL && connection_lost(f->nodes[i].conn))
				lose_node(&f->nodes[i]);
	}
	pg_free(conns);
	pg_free(connecting);
}

/*
 * Opens the connections to the nodes of a cluster at the start of
 * consume, all at once, and returns as soon as one is open.  The others
 * go on opening, or are reopened on their back-off, while that one is
 * consumed; a node whose first attempt failed is said so once.  Exits with
 * EXIT_CONNECTION if every node's first attempt fails, or if mq is not
 * installed on a node reached, and with 0 if stopped meanwhile.
 */
static void
start_nodes(Follower *f)
{
	bool	   *said = pg_malloc0(f->nnodes * sizeof(bool));

	for (;;)
	{
		int			failed = 0;

		for (int i = 0; i < f->nnodes; i++)
		{
			Node	   *node = &f->nodes[i];

			if (node->conn == NULL && reopen_node(f, node))
			{
				pg_free(said);
				return;
			}
			/* never connected yet: a back-off means an attempt failed */
			if (node->delay_ms > 0)
			{
				if (!said[i])
					pg_log_warning("node %d: unreachable; consuming the other nodes",
								   node->number);
				said[i] = true;
				failed++;
			}
		}
		if (failed == f->nnodes)
		{
			pg_log_error("no node is reachable");
			mqctl_exit(EXIT_CONNECTION);
		}
		if (stop_requested)
			mqctl_exit(0);
		wait_for_nodes(f, IDLE_WAIT_MS);
	}
}

/*
 * consume: on one server, or on every node of a cluster in turn, each
 * node's round committed on that node.  One server must be reachable at
 * the start.  Of several, those that are not, and those lost later, are
 * reopened on their own back-off while the others are consumed; a node
 * without the group or topic is set aside the same way.  Exits with
 * EXIT_CONNECTION if no node is reachable at the start.
 */
int
cmd_consume(int argc, char **argv)
{
	Follower	f = {0};
	const char **servers;

	parse_follower_options("consume", argc, argv, &f);
	if (optind == argc)
		usage_error("consume", "a group name is needed");
	f.group = argv[optind++];
	if (optind < argc)
		f.topic = argv[optind++];
	if (optind < argc)
		usage_error("consume", "too many arguments");
	if (f.topic != NULL)
	{
		f.retry_topic = psprintf("%s.retry", f.group);
		if (strcmp(f.topic, f.retry_topic) == 0)
			f.retry_topic = NULL;
	}

	f.nnodes = cluster_servers("consume", &servers);
	f.nodes = pg_malloc0(Max(f.nnodes, 1) * sizeof(Node));
	if (f.nnodes == 0)
	{
		f.nnodes = 1;
		f.nodes[0].number = -1;
	}
	else
		for (int i = 0; i < f.nnodes; i++)
		{
			f.nodes[i].server = servers[i];
			f.nodes[i].number = i;
		}
	/* a closed standard output or a command not reading fails a write */
	pqsignal(SIGPIPE, SIG_IGN);
	if (f.nnodes == 1)
	{
		f.nodes[0].conn = connect_or_exit(f.nodes[0].server);
		f.nodes[0].checked = true;
		catch_stop_signals();
		f.node = &f.nodes[0];
		listen_to_topics(&f);
	}
	else
	{
		catch_stop_signals();
		start_nodes(&f);
	}
	f.last_message = now_seconds();

	while (!stop_requested && !done(&f))
	{
		/* messages gone through on all nodes in this pass */
		int			found = 0;

		for (int i = 0; i < f.nnodes && !stop_requested && !done(&f); i++)
		{
			Node	   *node = &f.nodes[i];
			int			n;

			if (node->conn == NULL && !reopen_node(&f, node))
				continue;
			if (node->absent && now_seconds() < node->retry_at)
				continue;
			f.node = node;
			f.undefined = false;
			n = consume_round(&f);
			if (n < 0 && f.undefined)
				set_aside_node(node);
			else if (n < 0)
				lose_node(node);
			else
			{
				if (node->absent)
				{
					node->absent = false;
					pg_log_info("node %d: consuming", node->number);
					listen_to_topics(&f);
				}
				found += n;
			}
		}
		if (found == 0 && !done(&f) && !stop_requested)
			wait_for_nodes(&f, wait_ms(&f, IDLE_WAIT_MS));
	}
	for (int i = 0; i < f.nnodes; i++)
		PQfinish(f.nodes[i].conn);
	mqctl_exit(0);
	return 0;
}

/*
 * Reads the new messages of one partition of the topic tail follows, from
 * *next (moved past them) up to the stable offset last seen.  Returns how
 * many it printed, or -1 if the connection was lost.
 */
static int
tail_partition(Follower *f, const char *partition, long long *next,
			   long long stable)
{
	char		from[32];
	char		max[16];
	const char *params[4] = {f->topic, partition, from, max};
	int			limit = TAIL_READ_MAX;
	PGresult   *res;
	int			n;

	if (f->max_messages > 0)
		limit = (int) Min(limit, f->max_messages - f->handled);
	snprintf(from, sizeof(from), "%lld", *next);
	snprintf(max, sizeof(max), "%d", limit);
	res = run_query(f->node->conn, READ_SQL, 4, params);
	if (res == NULL)
	{
		if (connection_lost(f->node->conn))
			return -1;
		exit_after_failure(f->node->conn);
	}
	n = PQntuples(res);
	for (int i = 0; i < n; i++)
	{
		print_message(f, res, i);
		*next = atoll(PQgetvalue(res, i, COL_OFFSET)) + 1;
	}
	/* fewer than asked for: everything below the stable offset was read */
	if (n < limit)
		*next = Max(*next, stable);
	PQclear(res);
	f->handled += n;
	if (n > 0)
		f->last_message = now_seconds();
	return n;
}

/*
 * One pass of tail over the topic's partitions: those whose stable offset
 * moved past what was printed are read.  Partitions added since the last
 * pass start at offset 0.  Returns how many messages it printed, or -1 if
 * the connection was lost.
 */
static int
tail_pass(Follower *f, long long **next, int *npartitions, bool first)
{
	const char *param[1] = {f->topic};
	PGresult   *res = run_query(f->node->conn, OFFSETS_SQL, 1, param);
	int			printed = 0;

	if (res == NULL)
	{
		if (connection_lost(f->node->conn))
			return -1;
		exit_after_failure(f->node->conn);
	}
	if (PQntuples(res) > *npartitions)
	{
		*next = pg_realloc(*next, PQntuples(res) * sizeof(long long));
		for (int p = *npartitions; p < PQntuples(res); p++)
			(*next)[p] = first ? atoll(PQgetvalue(res, p, 1)) : 0;
		*npartitions = PQntuples(res);
	}
	for (int p = 0; p < *npartitions && !done(f); p++)
	{
		long long	stable = atoll(PQgetvalue(res, p, 1));
		int			n;

		if (stable <= (*next)[p])
			continue;
		n = tail_partition(f, PQgetvalue(res, p, 0), &(*next)[p], stable);
		if (n < 0)
		{
			printed = -1;
			break;
		}
		printed += n;
	}
	PQclear(res);
	fflush(stdout);
	return printed;
}

int
cmd_tail(int argc, char **argv)
{
	Follower	f = {0};
	Node		node = {.number = -1};
	long long  *next = NULL;
	int			npartitions = 0;
	const char *param[1];
	PGresult   *res;
	bool		first = true;

	parse_follower_options("tail", argc, argv, &f);
	if (optind == argc)
		usage_error("tail", "a topic name is needed");
	f.topic = param[0] = argv[optind++];
	if (optind < argc)
		usage_error("tail", "too many arguments");

	f.node = &node;
	f.node->conn = connect_or_exit(NULL);
	catch_stop_signals();
	f.last_message = now_seconds();
	for (;;)
	{
		int			printed;

		/* LISTEN first, so that no commit after the first pass is missed */
		res = query_or_exit(f.node->conn, TOPIC_CHANNEL_SQL, 1, param);
		if (PQntuples(res) == 1)
			listen_channel(f.node->conn, PQgetvalue(res, 0, 0));
		PQclear(res);

		while ((printed = tail_pass(&f, &next, &npartitions, first)) >= 0)
		{
			first = false;
			if (stop_requested || done(&f))
				break;
			if (printed == 0 &&
				wait_for_notification(f.node->conn, wait_ms(&f, IDLE_WAIT_MS)) < 0)
				break;
		}
		if (stop_requested || done(&f))
			break;
		f.node->conn = reconnect(f.node->conn);
		if (f.node->conn == NULL)
			return 0;
	}
	PQfinish(f.node->conn);
	return 0;
}
