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

/* Suffixes of a group's retry and dead-letter topics. */
#define MQ_RETRY_SUFFIX		".retry"
#define MQ_DLQ_SUFFIX		".dlq"

#endif							/* MQ_RETRY_H */
