/*-------------------------------------------------------------------------
 *
 * delay.h
 *	  Delayed messages: the store of messages not yet due.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/delay.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_DELAY_H
#define MQ_DELAY_H

#include "fmgr.h"
#include "datatype/timestamp.h"
#include "utils/timestamp.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#include "message.h"
#include "topic.h"

/*
 * What the database worker does with a due message it takes from the
 * store (see mq_delay_take_due): topic is its name; m->partition is -1 if
 * it is to be chosen on release.
 */
typedef void (*MqDelayRelease) (const char *topic, const MqMessage *m,
								void *arg);

/* RocketMQ's delay levels: 1 s to 2 h. */
#define MQ_DELAY_LEVELS		18

/*
 * Releases of one delayed message that may fail before it is parked; the
 * n-th failure puts it off by 2^(n-1) seconds.
 */
#define MQ_RELEASE_ATTEMPTS	5

extern int64 mq_delay_level_usecs(int level);

extern bool mq_delay_arg(FunctionCallInfo fcinfo, int argno,
						 const char *topic, TimestampTz *due);
extern void mq_delay_store(const MqTopicInfo *topic, const MqMessage *m,
						   TimestampTz due);
extern void mq_delay_schedule_at(TimestampTz due);

/* From mq.c's transaction callback. */
extern void mq_delay_xact_end(bool commit);

/* From the database worker. */
extern int	mq_delay_take_due(TimestampTz now, int limit,
							  MqDelayRelease release, void *arg);
extern TimestampTz mq_delay_next_due(TimestampTz after);
extern bool mq_delay_release_failed(const pg_uuid_t *id, const char *error,
									TimestampTz now);

#endif							/* MQ_DELAY_H */
