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

#include "fmgr.h"

#include "topic.h"

typedef struct MqGroupInfo
{
	char		name[MQ_NAME_MAX + 1];
	int32		group_id;
	int64		generation;
} MqGroupInfo;

/*
 * The subscriptions of the groups this session fetches for, kept between
 * fetches so that a fetch reads only the positions.  They stay valid while
 * the shared subscriptions version is the value read before looking them up:
 * a transaction that changes groups, subscriptions or topics bumps it when
 * it commits, after its changes are visible.  A session that makes such a
 * change forgets what it kept at once, and again when its transaction
 * ends.
 */
typedef struct CachedSubscription
{
	int32		topic_id;
	char		topic[MQ_NAME_MAX + 1];
	bool		broadcasting;
	bool		tags_null;
	Datum		tags;			/* text[] */
	bool		filter_null;
	Datum		filter;			/* jsonpath */
} CachedSubscription;

typedef struct CachedGroup
{
	char		name[MQ_NAME_MAX + 1];
	int32		group_id;
	int			nsubs;
	CachedSubscription *subs;	/* in topic name order */
} CachedGroup;

/* All of these run SPI queries: the caller is connected to SPI. */
extern char *mq_group_name_arg(FunctionCallInfo fcinfo, int argno);
extern char *mq_member_arg(FunctionCallInfo fcinfo, int argno);
extern void mq_group_get(const char *name, MqGroupInfo *info);
extern void mq_group_check_member(const MqGroupInfo *group,
								  const char *member_id, int64 generation);
extern char mq_subscription_mode(const MqGroupInfo *group,
								 const MqTopicInfo *topic);
extern void mq_groups_topic_grown(int32 topic_id, int32 from, int32 to);
extern int	mq_groups_worker_pass(void);
extern void mq_group_subscribe_quietly(const char *group, const char *topic);
extern CachedGroup *mq_group_subscriptions(const char *name);

/* The session's kept subscriptions (see CachedGroup). */
extern void mq_group_subscriptions_changed(void);
extern bool mq_group_subscriptions_pending(void);
extern void mq_group_xact_end(bool commit);

/* From mq.c's shared memory hooks. */
extern void mq_group_shmem_request(void);
extern void mq_group_shmem_startup(void);

#endif							/* MQ_GROUP_H */
