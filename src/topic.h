/*-------------------------------------------------------------------------
 *
 * topic.h
 *	  Topics: DDL, the shared-memory topic directory, and the access check.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/topic.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_TOPIC_H
#define MQ_TOPIC_H

#include "shmem.h"

/* A copy of a topic's directory entry, safe to keep after the lock. */
typedef struct MqTopicInfo
{
	char		name[MQ_NAME_MAX + 1];
	int32		topic_id;
	int32		partitions;
	Oid			segment_relid;
} MqTopicInfo;

/* What a caller wants to do with a topic (see mq_check_access). */
typedef enum MqAccess
{
	MQ_ACCESS_SEND,
	MQ_ACCESS_READ
} MqAccess;

/* Columns of a segment table (see create_segment in topic.c). */
enum
{
	SEG_PARTITION,
	SEG_OFFSET,
	SEG_ID,
	SEG_PRODUCED_AT,
	SEG_PAYLOAD_TYPE,
	SEG_KEY,
	SEG_TAG,
	SEG_HEADERS,
	SEG_PAYLOAD,
	SEG_NATTS
};

extern char *mq_name_arg(FunctionCallInfo fcinfo, int argno, const char *kind);
extern char *mq_topic_name_arg(FunctionCallInfo fcinfo, int argno);
extern void mq_topic_get(const char *name, MqTopicInfo *info);
extern bool mq_topic_find(const char *name, MqTopicInfo *info);
extern MqPartition *mq_partition_find(int32 topic_id, int32 partition);
extern void mq_check_access(const MqTopicInfo *topic, MqAccess mode);
extern void mq_check_partition(const MqTopicInfo *topic, int32 partition);

extern int32 mq_topic_roll(const char *name, bool nowait);
extern int	mq_topic_roll_due(void);
extern int	mq_topic_retention_pass(void);
extern Oid	mq_lock_segment(const char *name);

extern void mq_topic_extension_dropped(void);
extern bool mq_topic_xact_pending(void);
extern void mq_topic_subxact_end(bool commit, SubTransactionId mysubid,
								 SubTransactionId parentsubid);
extern void mq_topic_xact_end(bool commit);

#endif							/* MQ_TOPIC_H */
