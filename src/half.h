/*-------------------------------------------------------------------------
 *
 * half.h
 *	  Half messages (transactional messages) and their check-back.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/half.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_HALF_H
#define MQ_HALF_H

#include "datatype/timestamp.h"

/* Half messages checked back per worker transaction, at most. */
#define MQ_CHECK_BATCH		100

/* The check-back backlog is counted up to this many. */
#define MQ_BACKLOG_COUNT_MAX	100000

/* From the database worker. */
extern int64 mq_half_check_due(TimestampTz now, int64 *backlog);
extern TimestampTz mq_half_next_check(TimestampTz after, bool *stuck);
extern int	mq_half_purge_resolved(void);

#endif							/* MQ_HALF_H */
