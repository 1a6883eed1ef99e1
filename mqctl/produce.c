/*-------------------------------------------------------------------------
 *
 * produce.c
 *	  mqctl produce: send the lines, or JSON lines, of a file to a topic.
 *
 * Lines are sent in batches, one mq.send_batch call (and so one
 * transaction) per batch: a batch is in the topic entirely or not at all.
 * The payloads travel as one array parameter, written in PostgreSQL's
 * array syntax; keys, tags and headers that are the same for every message
 * are spread over the batch by the server (array_fill), and with
 * --key-field the server takes each key from its JSON payload, so that
 * mqctl needs no JSON parser.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  mqctl/produce.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "common/logging.h"
#include "getopt_long.h"
#include "mqctl.h"
#include "pqexpbuffer.h"

#define DEFAULT_BATCH_SIZE	500

/* seconds between two updates of the progress line */
#define PROGRESS_INTERVAL	0.2

/*
 * Parameters of both statements: $1 topic, $2 payloads, $3 key, $4 tag,
 * $5 headers as a text array of names and values, $6 partition, and for
 * JSON $7 the key field.
 */
#define SEND_TEXT_SQL \
	"SELECT count(*)" \
	"  FROM mq.send_batch($1, $2::text[]," \
	"           keys => array_fill($3::text, ARRAY[cardinality($2::text[])])," \
	"           tags => array_fill($4::text, ARRAY[cardinality($2::text[])])," \
	"           headers => array_fill(jsonb_object($5::text[])," \
	"                                 ARRAY[cardinality($2::text[])])," \
	"           partition => $6::integer)"

#define SEND_JSON_SQL \
	"SELECT count(*)" \
	"  FROM (SELECT array_agg(p ORDER BY i) AS payloads," \
	"               array_agg(coalesce(p ->> $7::text, $3::text) ORDER BY i)" \
	"                   AS keys" \
	"          FROM unnest($2::jsonb[]) WITH ORDINALITY AS u (p, i)) m," \
	"       mq.send_batch($1, m.payloads, keys => m.keys," \
	"           tags => array_fill($4::text, ARRAY[cardinality(m.payloads)])," \
	"           headers => array_fill(jsonb_object($5::text[])," \
	"                                 ARRAY[cardinality(m.payloads)])," \
	"           partition => $6::integer)"

/* What produce was asked to do, and how far it got. */
typedef struct Producer
{
	PGconn	   *conn;
	bool		json;
	const char *params[7];		/* as numbered in SEND_JSON_SQL */
	PQExpBuffer batch;			/* payloads of the batch, an array literal */
	int			batch_lines;
	long		first_line;		/* line number of the batch's first line */
	long		sent;
	double		started;
	double		last_progress;
	bool		progress;		/* stderr is a terminal */
} Producer;

void
help_produce(void)
{
	printf("mqctl produce sends each line of its input to a topic as a message.\n\n");
	printf("Usage:\n");
	printf("  mqctl produce TOPIC [OPTION]...\n\n");
	printf("Lines are sent in batches, one transaction each; at the end the number\n"
		   "sent and the rate are printed.  On a terminal, stderr shows the progress.\n\n");
	printf("Options:\n");
	printf("  -f, --file=FILE        read FILE instead of standard input\n");
	printf("  -j, --json             each line is a JSON document, sent as jsonb\n"
		   "                         (blank lines are skipped)\n");
	printf("  -k, --key=KEY          key of every message\n");
	printf("  -K, --key-field=FIELD  with --json: the key is the payload's top-level\n"
		   "                         FIELD (--key where it has none)\n");
	printf("  -t, --tag=TAG          tag of every message\n");
	printf("  -H, --header=NAME=VALUE  a header of every message (repeatable)\n");
	printf("  -p, --partition=N      send to partition N instead of by key\n");
	printf("  -b, --batch-size=N     messages per transaction (default %d)\n",
		   DEFAULT_BATCH_SIZE);
	printf("  -d, --dbname=CONNINFO  database name or connection string\n");
	printf("  -?, --help             show this help, then exit\n");
}

/*
 * Appends a string to an array literal being built in buf ("{" so far, or
 * "{" and elements): quoted, with quotes and backslashes escaped.
 */
static void
append_array_element(PQExpBuffer buf, const char *s)
{
	if (buf->len > 1)
		appendPQExpBufferChar(buf, ',');
	appendPQExpBufferChar(buf, '"');
	for (; *s; s++)
	{
		if (*s == '"' || *s == '\\')
			appendPQExpBufferChar(buf, '\\');
		appendPQExpBufferChar(buf, *s);
	}
	appendPQExpBufferChar(buf, '"');
}

/* Shows how many were sent and the rate, on the terminal's stderr. */
static void
show_progress(Producer *p, bool final)
{
	double		now = now_seconds();

	if (!p->progress ||
		(!final && now - p->last_progress < PROGRESS_INTERVAL))
		return;
	fprintf(stderr, "\r%ld messages sent (%.0f/s)%s", p->sent,
			p->sent / Max(now - p->started, 1e-6), final ? "\n" : "");
	p->last_progress = now;
}

/*
 * Sends the batch in one mq.send_batch call and starts a new one.  Exits if
 * the server refuses it, saying how much was sent before.
 */
static void
send_batch(Producer *p)
{
	PGresult   *res;

	if (p->batch_lines == 0)
		return;
	appendPQExpBufferChar(p->batch, '}');
	p->params[1] = p->batch->data;
	if (p->json)
		res = run_query(p->conn, SEND_JSON_SQL, 7, p->params);
	else
		res = run_query(p->conn, SEND_TEXT_SQL, 6, p->params);
	if (res == NULL)
	{
		show_progress(p, true);
		pg_log_info("the batch from line %ld was not sent; %ld messages were sent before it",
					p->first_line, p->sent);
		exit_after_failure(p->conn);
	}
	p->sent += atol(PQgetvalue(res, 0, 0));
	PQclear(res);

	p->batch_lines = 0;
	resetPQExpBuffer(p->batch);
	appendPQExpBufferChar(p->batch, '{');
	show_progress(p, false);
}

int
cmd_produce(int argc, char **argv)
{
	static const struct option long_options[] = {
		{"file", required_argument, NULL, 'f'},
		{"json", no_argument, NULL, 'j'},
		{"key", required_argument, NULL, 'k'},
		{"key-field", required_argument, NULL, 'K'},
		{"tag", required_argument, NULL, 't'},
		{"header", required_argument, NULL, 'H'},
		{"partition", required_argument, NULL, 'p'},
		{"batch-size", required_argument, NULL, 'b'},
		{"dbname", required_argument, NULL, 'd'},
		{NULL, 0, NULL, 0}
	};
	Producer	p = {0};
	PQExpBuffer headers = createPQExpBuffer();
	int			batch_size = DEFAULT_BATCH_SIZE;
	const char *file = NULL;
	FILE	   *in = stdin;
	char	   *line = NULL;
	size_t		size = 0;
	ssize_t		len;
	long		lines = 0;
	double		elapsed;
	int			c;

	appendPQExpBufferChar(headers, '{');
	while ((c = getopt_long(argc, argv, "f:jk:K:t:H:p:b:d:",
							long_options, NULL)) != -1)
	{
		switch (c)
		{
			case 'f':
				file = optarg;
				break;
			case 'j':
				p.json = true;
				break;
			case 'k':
				p.params[2] = optarg;
				break;
			case 'K':
				p.params[6] = optarg;
				break;
			case 't':
				p.params[3] = optarg;
				break;
			case 'H':
				{
					char	   *eq = strchr(optarg, '=');

					if (eq == NULL || eq == optarg)
						usage_error("produce", "--header needs NAME=VALUE");
					*eq = '\0';
					append_array_element(headers, optarg);
					append_array_element(headers, eq + 1);
					break;
				}
			case 'p':
				parse_int_option("produce", "--partition", optarg, 0, PG_INT32_MAX);
				p.params[5] = optarg;
				break;
			case 'b':
				batch_size = parse_int_option("produce", "--batch-size",
											  optarg, 1, 100000);
				break;
			default:
				common_option("produce", c, optarg);
		}
	}
	if (optind == argc)
		usage_error("produce", "a topic name is needed");
	p.params[0] = argv[optind++];
	if (optind < argc)
		usage_error("produce", "too many arguments");
	if (p.params[6] != NULL && !p.json)
		usage_error("produce", "--key-field needs --json");
	appendPQExpBufferChar(headers, '}');
	if (headers->len > 2)
		p.params[4] = headers->data;

	if (file != NULL && (in = fopen(file, "r")) == NULL)
	{
		pg_log_error("could not open file \"%s\": %m", file);
		exit(EXIT_USAGE);
	}

	p.conn = connect_or_exit();
	p.batch = createPQExpBuffer();
	appendPQExpBufferChar(p.batch, '{');
	p.started = now_seconds();
	p.progress = isatty(fileno(stderr));

	while ((len = getline(&line, &size, in)) != -1)
	{
		lines++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (p.json && strspn(line, " \t") == (size_t) len)
			continue;
		if (p.batch_lines == 0)
			p.first_line = lines;
		append_array_element(p.batch, line);
		if (++p.batch_lines == batch_size)
			send_batch(&p);
	}
	if (ferror(in))
	{
		pg_log_error("could not read %s: %m", file ? file : "standard input");
		exit(EXIT_SQL_ERROR);
	}
	send_batch(&p);
	show_progress(&p, true);

	elapsed = now_seconds() - p.started;
	printf("sent %ld messages to \"%s\" in %.3f s (%.0f messages/s)\n",
		   p.sent, p.params[0], elapsed, p.sent / Max(elapsed, 1e-6));
	free(line);
	PQfinish(p.conn);
	return 0;
}
