/*-------------------------------------------------------------------------
 *
 * txn.h
 *	  Half messages (transactional messages) and their check-back.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/txn.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_TXN_H
#define MQ_TXN_H

#include "datatype/timestamp.h"

/* Half messages checked back per worker transaction, at most. */
#define MQ_CHECK_BATCH		100

/* From the database worker. */
extern int64 mq_txn_check_due(TimestampTz now, int64 *backlog);
extern TimestampTz mq_txn_next_check(TimestampTz after, bool *stuck);
extern int	mq_txn_purge_resolved(void);

#endif							/* MQ_TXN_H */
