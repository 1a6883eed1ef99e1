/*-------------------------------------------------------------------------
 *
 * share.h
 *	  Shared and key_shared subscriptions: messages leased one by one to
 *	  competing consumers, acknowledged by receipt.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/share.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_SHARE_H
#define MQ_SHARE_H

#include "access/xact.h"

/* From the database worker: fold committed acks into the ack floors. */
extern int	mq_share_compact(void);

/* From mq.c's transaction callbacks and shared memory hooks. */
extern bool mq_share_xact_pending(void);
extern void mq_share_subxact_end(bool commit, SubTransactionId mysubid,
								 SubTransactionId parentsubid);
extern void mq_share_xact_end(bool commit);
extern void mq_share_shmem_request(void);
extern void mq_share_shmem_startup(void);

#endif							/* MQ_SHARE_H */
