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
 * The server refuses a batch as a whole and does not say which element of
 * the array was wrong.  When the error is one a single message can cause
 * (invalid JSON, a byte sequence invalid in the encoding, a message over
 * mq.max_message_size), produce finds its line by trying the statement
 * again on halves of the batch, in transactions it rolls back, and names
 * the file and line in the error.
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
 * A batch that only the options can make the server refuse: one message
 * whose payload is {} (as text, or as an empty JSON object).
 */
#define HARMLESS_PAYLOADS	"{\"{}\"}"

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
	const char *input;			/* the file's name, or "stdin" */
	const char *params[7];		/* as numbered in SEND_JSON_SQL */
	PQExpBuffer batch;			/* payloads of the batch, an array literal */
	int			batch_lines;
	long	   *line_numbers;	/* the input line of each payload */
	size_t	   *ends;			/* batch->len after each payload */
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
	printf("  -P, --partition=N      send to partition N instead of by key\n");
	printf("  -b, --batch-size=N     messages per transaction (default %d)\n",
		   DEFAULT_BATCH_SIZE);
	printf("  -?, --help             show this help, then exit\n");
	help_connection_options();
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

/* Runs the statement that sends the payloads, an array literal. */
static PGresult *
send_payloads(Producer *p, const char *payloads)
{
	p->params[1] = payloads;
	if (p->json)
		return exec_query(p->conn, SEND_JSON_SQL, 7, p->params);
	return exec_query(p->conn, SEND_TEXT_SQL, 6, p->params);
}

/* Runs a command of a trial, saying only whether it succeeded. */
static bool
trial_command(PGconn *conn, const char *sql)
{
	PGresult   *res = exec_query(conn, sql, 0, NULL);
	bool		succeeded = query_succeeded(res);

	PQclear(res);
	return succeeded;
}

/*
 * Whether the server accepts a batch of the payloads (an array literal),
 * tried in a transaction that is rolled back.  The transaction's send
 * buffer is as large as can be, so that the messages stay in it and are
 * dropped with it: nothing is written, no offset is taken.
 */
static bool
accepted(Producer *p, const char *payloads)
{
	bool		ok = false;

	if (!trial_command(p->conn, "BEGIN"))
		return false;
	if (trial_command(p->conn, "SET LOCAL mq.send_buffer_limit = '1GB'"))
	{
		PGresult   *res = send_payloads(p, payloads);

		ok = query_succeeded(res);
		PQclear(res);
	}
	(void) trial_command(p->conn, "ROLLBACK");
	return ok;
}

/*
 * Finds the payload the server refused the batch for, if its error is one
 * a single message can cause: a data exception (class 22: invalid JSON, an
 * invalid byte sequence...) or a limit (54000: mq.max_message_size, the
 * length of a key).  Such an error does not depend on the other messages
 * of the batch: the range holding the first refused payload is halved
 * until one is left, trying its first half alone with accepted(), so that
 * the search sends about as many messages as the batch has.  Returns the
 * payload's index in the batch, or -1 if the error is not a payload's or
 * the connection was lost.
 */
static int
find_refused_payload(Producer *p, const PGresult *failed)
{
	const char *sqlstate = PQresultErrorField(failed, PG_DIAG_SQLSTATE);
	PQExpBuffer range;
	int			from = 0;		/* the first refused payload is from here */
	int			to = p->batch_lines;	/* to before here */

	if (sqlstate == NULL ||
		(strncmp(sqlstate, "22", 2) != 0 && strcmp(sqlstate, "54000") != 0))
		return -1;
	/* the same error for any payload (a bad --partition): not a line's */
	if (!accepted(p, HARMLESS_PAYLOADS))
		return -1;
	range = createPQExpBuffer();
	while (to - from > 1)
	{
		int			mid = from + (to - from) / 2;

		/* payload i is after the '{' or the ',' at ends[i - 1] */
		size_t		start = from == 0 ? 1 : p->ends[from - 1] + 1;

		resetPQExpBuffer(range);
		appendPQExpBufferChar(range, '{');
		appendBinaryPQExpBuffer(range, p->batch->data + start,
								p->ends[mid - 1] - start);
		appendPQExpBufferChar(range, '}');
		if (accepted(p, range->data))
			from = mid;
		else if (connection_lost(p->conn))
			break;
		else
			to = mid;
	}
	destroyPQExpBuffer(range);
	return connection_lost(p->conn) ? -1 : from;
}

/*
 * Says, once the error was reported, that the batch being read or sent was
 * not sent and how many messages were sent before it.
 */
static void
report_batch_lost(Producer *p)
{
	show_progress(p, true);
	pg_log_info("the batch from line %ld was not sent; %ld messages were sent before it",
				p->line_numbers[0], p->sent);
}

/*
 * Sends the batch in one mq.send_batch call and starts a new one.  Exits if
 * the server refuses it, naming the line it was refused for if there is
 * one, and saying how much was sent before.
 */
static void
send_batch(Producer *p)
{
	PGresult   *res;

	if (p->batch_lines == 0)
		return;
	appendPQExpBufferChar(p->batch, '}');
	res = send_payloads(p, p->batch->data);
	if (!query_succeeded(res))
	{
		int			refused = -1;
		char	   *where = NULL;

		if (!connection_lost(p->conn))
			refused = find_refused_payload(p, res);
		if (refused >= 0)
			where = psprintf("%s:%ld", p->input, p->line_numbers[refused]);
		report_error(p->conn, res, where);
		report_batch_lost(p);
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
		{"partition", required_argument, NULL, 'P'},
		{"batch-size", required_argument, NULL, 'b'},
		CONNECTION_OPTIONS,
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
	while ((c = getopt_long(argc, argv,
							"f:jk:K:t:H:P:b:" CONNECTION_SHORT_OPTIONS,
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
			case 'P':
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
	p.input = file != NULL ? file : "stdin";

	p.conn = connect_or_exit(NULL);
	p.batch = createPQExpBuffer();
	appendPQExpBufferChar(p.batch, '{');
	p.line_numbers = pg_malloc(batch_size * sizeof(long));
	p.ends = pg_malloc(batch_size * sizeof(size_t));
	p.started = now_seconds();
	p.progress = isatty(fileno(stderr));

	while ((len = getline(&line, &size, in)) != -1)
	{
		lines++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (p.json && strspn(line, " \t") == (size_t) len)
			continue;
		p.line_numbers[p.batch_lines] = lines;
		/* a payload is a C string in the array literal: it ends at a zero */
		if (strlen(line) != (size_t) len)
		{
			pg_log_error("%s:%ld: line contains a zero byte", p.input, lines);
			report_batch_lost(&p);
			PQfinish(p.conn);
			exit(EXIT_SQL_ERROR);
		}
		append_array_element(p.batch, line);
		p.ends[p.batch_lines] = p.batch->len;
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
