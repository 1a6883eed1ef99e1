/*-------------------------------------------------------------------------
 *
 * query.h
 *	  SPI queries with plans kept for the session.
 *
 * Copyright (c) 2026, mq developers
 *
 * src/query.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_QUERY_H
#define MQ_QUERY_H

#include "executor/spi.h"

extern uint64 mq_query(const char *sql, int nargs, Oid *types, Datum *values,
					   const char *nulls, bool read_only);
extern uint64 mq_query_latest(const char *sql, int nargs, Oid *types,
							  Datum *values, const char *nulls);
extern uint64 mq_query_once(const char *sql, int nargs, Oid *types,
							Datum *values, const char *nulls, bool read_only,
							long count);
extern Datum mq_query_value(uint64 row, int col, bool *isnull);
extern Portal mq_query_cursor(const char *sql, int nargs, Oid *types,
							  Datum *values, const char *nulls);
extern uint64 mq_query_fetch(Portal portal, long count);

#endif							/* MQ_QUERY_H */
