/*-------------------------------------------------------------------------
 *
 * notify_latency.c
 *	  Latency from a producer's commit to a LISTENing client.
 *
 * notify_latency CONNINFO ITERATIONS MODE
 *
 * MODE "mq": the producer commits mq.send('nl', ...) and the listener waits
 * on channel "mq.nl", which mq's worker notifies.  MODE "plain": the
 * producer commits NOTIFY nl_plain itself (the baseline: PostgreSQL's own
 * NOTIFY, with the notification queue's lock on the producer's commit).
 * Each iteration measures from just before the producer's statement to
 * the notification's arrival, and waits 20 ms before the next so that
 * notifications are not coalesced.  Prints p50, p99 and max in ms.
 *
 * Copyright (c) 2026, mq developers
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "libpq-fe.h"

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static PGconn *
connect_or_die(const char *conninfo)
{
	PGconn	   *conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "connection failed: %s", PQerrorMessage(conn));
		exit(1);
	}
	return conn;
}

static void
exec_or_die(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
		PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(conn));
		exit(1);
	}
	PQclear(res);
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	PGconn	   *listener;
	PGconn	   *producer;
	int			n;
	int			i;
	int			plain;
	double	   *lat;

	if (argc != 4)
	{
		fprintf(stderr, "usage: %s CONNINFO ITERATIONS mq|plain\n", argv[0]);
		return 2;
	}
	n = atoi(argv[2]);
	plain = strcmp(argv[3], "plain") == 0;
	lat = malloc(sizeof(double) * n);
	listener = connect_or_die(argv[1]);
	producer = connect_or_die(argv[1]);
	exec_or_die(listener, plain ? "LISTEN nl_plain" : "LISTEN \"mq.nl\"");

	for (i = 0; i < n; i++)
	{
		double		t0 = now_ms();
		PGnotify   *note = NULL;

		exec_or_die(producer, plain ? "NOTIFY nl_plain, 'x'" :
					"SELECT partition FROM mq.send('nl', 'x'::text)");
		while (note == NULL)
		{
			int			sock = PQsocket(listener);
			fd_set		fds;
			struct timeval tv = {5, 0};

			if (!PQconsumeInput(listener))
			{
				fprintf(stderr, "listener: %s", PQerrorMessage(listener));
				return 1;
			}
			note = PQnotifies(listener);
			if (note != NULL)
				break;
			FD_ZERO(&fds);
			FD_SET(sock, &fds);
			if (select(sock + 1, &fds, NULL, NULL, &tv) <= 0)
			{
				fprintf(stderr, "no notification within 5 s\n");
				return 1;
			}
		}
		lat[i] = now_ms() - t0;
		PQfreemem(note);
		while ((note = PQnotifies(listener)) != NULL)
			PQfreemem(note);
		usleep(20000);
		/* a notification still in flight belongs to this iteration */
		PQconsumeInput(listener);
		while ((note = PQnotifies(listener)) != NULL)
			PQfreemem(note);
	}

	qsort(lat, n, sizeof(double), cmp_double);
	printf("%.2f %.2f %.2f\n", lat[n / 2], lat[(int) (n * 0.99)], lat[n - 1]);
	PQfinish(listener);
	PQfinish(producer);
	return 0;
}
