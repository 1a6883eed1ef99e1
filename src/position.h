/*-------------------------------------------------------------------------
 *
 * position.h
 *	  A consumer group's positions: claims, leases, commit, seek.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/position.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_POSITION_H
#define MQ_POSITION_H

#include "fmgr.h"

#include "group.h"

/* How a fetch treats the positions it reads from (see position.c). */
typedef enum MqFetchMode
{
	MQ_FETCH_TRANSACTIONAL,		/* claim until the transaction ends */
	MQ_FETCH_AUTO_COMMIT,		/* lease; commit at the next fetch */
	MQ_FETCH_AT_MOST_ONCE		/* commit before returning */
} MqFetchMode;

/* The read path (fetch.c).  The caller is connected to SPI. */
extern int64 mq_position_lease_owner(const char *consumer_id);
extern const char *mq_position_consumer_arg(FunctionCallInfo fcinfo,
											int argno);
extern int64 mq_position_claimed(int32 group_id, int32 topic_id,
								 int32 partition, const char *member_id);
extern bool mq_position_claim(const MqGroupInfo *group, int32 topic_id,
							  int32 partition, const char *pos_member,
							  int64 lease_owner, int64 *next);
extern void mq_position_record_read(const MqGroupInfo *group,
									MqFetchMode mode, int32 topic_id,
									int32 partition, const char *pos_member,
									int64 lease_owner, int64 scanned_to,
									int32 returned);
extern int	mq_position_commit_leases(int32 group_id, int64 lease_owner);

/* Retries (retry.c).  The caller is connected to SPI. */
extern const char *mq_position_target(FunctionCallInfo fcinfo,
									  MqGroupInfo *group, MqTopicInfo *topic,
									  int arg_member, int arg_generation);
extern int	mq_position_rewind(int32 group_id, int32 topic_id,
							   int32 partition, const char *member_id,
							   int64 offset, bool apply);

/* From mq.c's transaction callbacks. */
extern void mq_position_subxact_end(bool commit, SubTransactionId mysubid,
									SubTransactionId parentsubid);
extern bool mq_position_xact_pending(void);
extern void mq_position_xact_end(bool commit);

#endif							/* MQ_POSITION_H */
