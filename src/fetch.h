/*-------------------------------------------------------------------------
 *
 * fetch.h
 *	  Consuming as a group: mq.fetch and mq.poll.  Only SQL calls it.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/fetch.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_FETCH_H
#define MQ_FETCH_H

#include "fmgr.h"

extern Datum mq_fetch(PG_FUNCTION_ARGS);
extern Datum mq_poll(PG_FUNCTION_ARGS);

#endif							/* MQ_FETCH_H */
