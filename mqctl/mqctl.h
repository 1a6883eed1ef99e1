/*-------------------------------------------------------------------------
 *
 * mqctl.h
 *	  Declarations shared by the files of mqctl, mq's command-line client.
 *
 * mqctl.c parses the program's options and dispatches to a subcommand;
 * common.c holds what every subcommand needs (the connection, queries that
 * report server errors, aligned tables, waiting for notifications);
 * topics.c, groups.c, produce.c and consume.c implement the subcommands.
 *
 * A subcommand opens its connection once its arguments are known, from the
 * connection options every subcommand takes (CONNECTION_OPTIONS); consume
 * and lag open one per server of a cluster (SERVER_OPTIONS) instead.  Every query goes through exec_query(), which
 * passes user input as parameters only; run_query() over it reports the
 * errors for callers that do nothing else with them.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  mqctl/mqctl.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQCTL_H
#define MQCTL_H

#include <poll.h>
#include <signal.h>

#include "libpq-fe.h"

/* Exit statuses, documented in docs/mqctl.md for scripts to rely on. */
#define EXIT_SQL_ERROR		1	/* the server refused a command */
#define EXIT_USAGE			2	/* bad options or arguments */
#define EXIT_CONNECTION		3	/* could not connect, or no mq there */

/*
 * The connection options of every subcommand, as psql's: the short ones
 * for its getopt_long string and the long ones for its option table, which
 * common_option() handles and help_connection_options() describes.
 */
#define CONNECTION_SHORT_OPTIONS "d:h:p:U:"
#define CONNECTION_OPTIONS \
	{"dbname", required_argument, NULL, 'd'}, \
	{"host", required_argument, NULL, 'h'}, \
	{"port", required_argument, NULL, 'p'}, \
	{"username", required_argument, NULL, 'U'}

/*
 * The options of the subcommands that work on several servers (consume,
 * lag), which common_option() and cluster_servers() handle and
 * help_server_options() describes: --server is repeated, once per server.
 */
#define OPT_NODES_FROM		1000
#define SERVER_SHORT_OPTIONS "S:"
#define SERVER_OPTIONS \
	{"server", required_argument, NULL, 'S'}, \
	{"nodes-from", required_argument, NULL, OPT_NODES_FROM}

/* Reconnection back-off: from 100 ms, doubling, to 5 s. */
#define RECONNECT_FIRST_MS	100
#define RECONNECT_MAX_MS	5000

/* Set by SIGINT and SIGTERM once catch_stop_signals() was called. */
extern volatile sig_atomic_t stop_requested;

/* Subcommands: each returns the program's exit status. */
extern int	cmd_topics(int argc, char **argv);
extern int	cmd_delayed(int argc, char **argv);
extern int	cmd_half(int argc, char **argv);
extern int	cmd_groups(int argc, char **argv);
extern int	cmd_lag(int argc, char **argv);
extern int	cmd_dlq(int argc, char **argv);
extern int	cmd_produce(int argc, char **argv);
extern int	cmd_consume(int argc, char **argv);
extern int	cmd_tail(int argc, char **argv);

/* Their --help texts. */
extern void help_topics(void);
extern void help_delayed(void);
extern void help_half(void);
extern void help_groups(void);
extern void help_lag(void);
extern void help_dlq(void);
extern void help_produce(void);
extern void help_consume(void);
extern void help_tail(void);

/* common.c: connections */
extern PGconn *try_connect(const char *server);
extern PGconn *open_connection(const char *server,
							   const char *connect_timeout);

/*
 * The connect_timeout (seconds) of a cluster node's connection unless its
 * connection string or PGCONNECT_TIMEOUT says: a node that never answers
 * must not hold up the others for ever.
 */
#define NODE_CONNECT_TIMEOUT	"10"
extern PGconn *open_node_connection(const char *server);
extern PGconn *connect_or_exit(const char *server);
extern void require_mq(PGconn *conn);
extern PGconn *reconnect(PGconn *conn);
extern bool connection_lost(PGconn *conn);
extern void exit_after_failure(PGconn *conn) pg_attribute_noreturn();
extern void mqctl_exit(int status) pg_attribute_noreturn();
extern int	opening_threads;

/* common.c: queries */
extern PGresult *exec_query(PGconn *conn, const char *sql,
							int nparams, const char *const *params);
extern bool query_succeeded(const PGresult *res);
extern void report_error(PGconn *conn, const PGresult *res,
						 const char *where);
extern PGresult *run_query(PGconn *conn, const char *sql,
						   int nparams, const char *const *params);
extern PGresult *query_or_exit(PGconn *conn, const char *sql,
							   int nparams, const char *const *params);
extern void listen_channel(PGconn *conn, const char *channel);
extern int	wait_for_notifications(PGconn *const *conns, int nconns,
								   const struct pollfd *other, int nother,
								   int timeout_ms);
extern int	wait_for_notification(PGconn *conn, int timeout_ms);
extern void print_table(PGconn *conn, const PGresult *res, FILE *out);

/* common.c: options and signals */
extern void usage_error(const char *subcommand, const char *fmt,...)
			pg_attribute_printf(2, 3) pg_attribute_noreturn();
extern int	parse_int_option(const char *subcommand, const char *option,
							 const char *value, int min, int max);
extern double parse_seconds_option(const char *subcommand, const char *option,
								   const char *value);
extern void common_option(const char *subcommand, int c, const char *arg);
extern void help_connection_options(void);
extern int	cluster_servers(const char *subcommand, const char ***list);
extern void help_server_options(void);
extern void catch_stop_signals(void);
extern void sleep_ms(int ms);
extern double now_seconds(void);

#endif							/* MQCTL_H */
