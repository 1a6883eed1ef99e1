/*-------------------------------------------------------------------------
 *
 * topic.h
 *	  The topic directory, argument checks and the access check.  The
 *	  struct and its lock are private to topic.c.
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

#include "fmgr.h"

#include "codec.h"
#include "settings.h"

/* A copy of a topic's directory entry, safe to keep after the lock. */
typedef struct MqTopicInfo
{
	char		name[MQ_NAME_MAX + 1];
	int32		topic_id;
	int32		partitions;
	Oid			segment_relid;
	MqCompression compression;
} MqTopicInfo;

/* What a caller wants to do with a topic (see mq_topic_check_access). */
typedef enum MqAccess
{
	MQ_ACCESS_SEND,				/* the produce privilege */
	MQ_ACCESS_READ,				/* consume */
	MQ_ACCESS_DESCRIBE,			/* any privilege on the topic */
	MQ_ACCESS_OPERATE			/* produce or manage */
} MqAccess;

extern char *mq_topic_object_name_arg(FunctionCallInfo fcinfo, int argno, const char *kind);
extern char *mq_topic_name_arg(FunctionCallInfo fcinfo, int argno);
extern void mq_topic_get(const char *name, MqTopicInfo *info);
extern bool mq_topic_find(const char *name, MqTopicInfo *info);
extern void mq_topic_check_access(const MqTopicInfo *topic, MqAccess mode);
extern void mq_topic_check_partition(const MqTopicInfo *topic, int32 partition);

extern void mq_topic_undefined(const char *name) pg_attribute_noreturn();
extern void mq_topic_check_version(void);
extern int64 mq_topic_stable_offset(const MqTopicInfo *topic, int32 partition);

/* What topic DDL and rolls changed: the directory follows at their end. */
extern void mq_topic_created(int32 topic_id, const char *name);
extern void mq_topic_dropped(int32 topic_id, const char *name);
extern void mq_topic_rolled(int32 topic_id, const char *name, Oid relid);
extern void mq_topic_compressed(int32 topic_id, const char *name,
								MqCompression compression);
extern void mq_topic_grow(const char *name, int32 topic_id, int32 from,
						  int32 to);

/* From mq.c's hooks and transaction callback. */
extern void mq_topic_extension_dropped(void);
extern bool mq_topic_xact_pending(void);
extern void mq_topic_subxact_end(bool commit, SubTransactionId mysubid,
								 SubTransactionId parentsubid);
extern void mq_topic_xact_end(bool commit);

/* From mq.c's shared memory hooks. */
extern void mq_topic_shmem_request(void);
extern void mq_topic_shmem_startup(void);

#endif							/* MQ_TOPIC_H */
