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

#include "fmgr.h"

#include "group.h"

extern const char *mq_position_target(FunctionCallInfo fcinfo,
									  MqGroupInfo *group, MqTopicInfo *topic,
									  int arg_member, int arg_generation);
extern int	mq_fetch_rewind(int32 group_id, int32 topic_id, int32 partition,
							const char *member_id, int64 offset, bool apply);

extern void mq_fetch_subxact_end(bool commit, SubTransactionId mysubid,
								 SubTransactionId parentsubid);
extern bool mq_fetch_xact_pending(void);
extern void mq_fetch_subscriptions_changed(void);
extern bool mq_fetch_subscriptions_pending(void);
extern void mq_fetch_xact_end(bool commit);

#endif							/* MQ_FETCH_H */
