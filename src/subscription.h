/*-------------------------------------------------------------------------
 *
 * subscription.h
 *	  The subscriptions a session keeps between fetches.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/subscription.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_SUBSCRIPTION_H
#define MQ_SUBSCRIPTION_H

#include "datatype/timestamp.h"

#include "settings.h"

/*
 * The subscriptions of the groups this session fetches for, kept between
 * fetches so that a fetch reads only the positions.  They stay valid while the
 * shared subscriptions version (see subscription.c) is the value read before
 * looking them up: a transaction that changes groups, subscriptions or topics
 * bumps it when it commits, after its changes are visible.  A session that
 * makes such a change forgets what it kept at once, and again when its
 * transaction ends.
 */
typedef struct CachedSubscription
{
	int32		topic_id;
	char		topic[MQ_NAME_MAX + 1];
	bool		broadcasting;
	char		mode;			/* 'c'lustering, 'b'roadcasting, 's'hared,
								 * 'k'ey_shared */
	int32		max_retries;
	TimestampTz incarnation;	/* share_reset_at: a shared subscription's
								 * windows start again when it changes */
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

/* The caller is connected to SPI. */
extern CachedGroup *mq_subscription_get(const char *name);
extern CachedSubscription *mq_subscription_of(int32 group_id, int32 topic_id,
											  CachedGroup **group);

/* Called by every change to groups, subscriptions or topics. */
extern void mq_subscription_changed(void);
extern uint64 mq_subscription_version(void);

/* From mq.c's hooks and transaction callback. */
extern bool mq_subscription_pending(void);
extern void mq_subscription_xact_end(bool commit);
extern void mq_subscription_shmem_request(void);
extern void mq_subscription_shmem_startup(void);

#endif							/* MQ_SUBSCRIPTION_H */
