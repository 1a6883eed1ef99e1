/*-------------------------------------------------------------------------
 *
 * fetch.h
 *	  Consuming as a group: fetch, poll, commit, seek.
 *
 * Copyright (c) 2026, mq developers
 *
 * src/fetch.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_FETCH_H
#define MQ_FETCH_H

extern void mq_fetch_subxact_end(bool commit, SubTransactionId mysubid,
								 SubTransactionId parentsubid);
extern bool mq_fetch_xact_pending(void);
extern void mq_fetch_xact_end(bool commit);

#endif							/* MQ_FETCH_H */
