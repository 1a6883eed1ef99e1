/*-------------------------------------------------------------------------
 *
 * group.h
 *	  Consumer groups: subscriptions, members and assignments.
 *
 * Copyright (c) 2026, mq developers
 *
 * src/group.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_GROUP_H
#define MQ_GROUP_H

#include "acl.h"
#include "fmgr.h"

#include "topic.h"

/* How a group's consumers share a topic it subscribes to. */
typedef enum MqSubscriptionMode
{
	MQ_MODE_CLUSTERING,			/* consumers compete for partitions */
	MQ_MODE_BROADCASTING,		/* each member reads every partition */
	MQ_MODE_SHARED				/* shared or key_shared: messages leased one
								 * by one (share.c) */
} MqSubscriptionMode;

typedef struct MqGroupInfo
{
	char		name[MQ_NAME_MAX + 1];
	int32		group_id;
	int64		generation;
} MqGroupInfo;


/* All of these run SPI queries: the caller is connected to SPI. */
extern char *mq_group_name_arg(FunctionCallInfo fcinfo, int argno);
extern char *mq_group_access_arg(FunctionCallInfo fcinfo, int argno,
								 int privileges);
extern char *mq_group_member_arg(FunctionCallInfo fcinfo, int argno);
extern void mq_group_get(const char *name, MqGroupInfo *info);
extern void mq_group_check_member(const MqGroupInfo *group,
								  const char *member_id, int64 generation);
extern MqSubscriptionMode mq_group_subscription_mode(const MqGroupInfo *group,
													 const MqTopicInfo *topic);
extern void mq_group_topic_grown(int32 topic_id, int32 from, int32 to);
extern int	mq_group_expire_pass(void);
extern void mq_group_subscribe_quietly(const char *group, const char *topic);

#endif							/* MQ_GROUP_H */
