/*-------------------------------------------------------------------------
 *
 * retry.h
 *	  Retries with back-off and dead letters: mq.nack and mq.replay_dlq.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/retry.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_RETRY_H
#define MQ_RETRY_H

#include "group.h"
#include "message.h"
#include "topic.h"

/* Suffixes of a group's retry and dead-letter topics. */
#define MQ_RETRY_SUFFIX		".retry"
#define MQ_DLQ_SUFFIX		".dlq"

extern void mq_retry_dead_letter(const MqGroupInfo *group, const MqMessage *m,
								 int32 attempts, const MqTopicInfo *topic,
								 int32 partition, int64 offset);

#endif							/* MQ_RETRY_H */
