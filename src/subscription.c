/*-------------------------------------------------------------------------
 *
 * subscription.c
 *	  The subscriptions a session keeps between fetches, and the shared
 *	  version that tells when they are stale.
 *
 * A fetch needs its group's id and subscriptions (topic, mode, tags,
 * filter).  Looking them up on every fetch cost as much as reading the
 * messages, so a session keeps them (mq_subscription_get) while a version
 * counter in shared memory keeps the value read before the lookup: a
 * transaction that changes groups, subscriptions or topics calls
 * mq_subscription_changed(), and bumps the version when it commits, after
 * its changes are visible.  The session that makes such a change forgets
 * what it kept at once, and again when its transaction ends.  A prepared
 * transaction could not bump the version at COMMIT PREPARED, so PREPARE
 * after such a change is refused (mq.c).  Positions are never kept.
 *
 * The version is a single atomic in shared memory, owned by this file; it
 * needs no lock.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/subscription.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/datum.h"
#include "utils/memutils.h"

#include "query.h"
#include "settings.h"
#include "subscription.h"

/* Kept groups beyond this are all forgotten, to bound the memory. */
#define SUBSCRIPTION_CACHE_MAX	64

static MemoryContext subscription_cxt = NULL;
static List *cached_groups = NIL;	/* CachedGroup */
static uint64 cached_version = 0;
static bool subscriptions_changed = false;

/*
 * Bumped by every committed change to consumer groups, subscriptions or
 * topics (shared memory, no lock: an atomic).
 */
static pg_atomic_uint64 *subscriptions_version = NULL;

/*
 * forget_subscriptions
 *		Empty the session's kept subscriptions.
 */
static void
forget_subscriptions(void)
{
	if (subscription_cxt != NULL)
		MemoryContextReset(subscription_cxt);
	cached_groups = NIL;
	cached_version = 0;
}

/*
 * mq_subscription_changed
 *		The current transaction changes consumer groups, subscriptions or
 *		topics: other sessions must look their subscriptions up again once
 *		it commits, and this one at once.
 */
void
mq_subscription_changed(void)
{
	subscriptions_changed = true;
	forget_subscriptions();
}

/*
 * mq_subscription_version
 *		The subscriptions version: it moves whenever a change to groups,
 *		subscriptions or topics (a drop among them) has committed.
 */
uint64
mq_subscription_version(void)
{
	return pg_atomic_read_u64(subscriptions_version);
}

/*
 * mq_subscription_pending
 *		Whether the current transaction changed subscriptions (which a
 *		prepared transaction could not announce when it commits).
 */
bool
mq_subscription_pending(void)
{
	return subscriptions_changed;
}

/*
 * cached_group
 *		The kept group with that name, or with that id if name is NULL; NULL
 *		if it is not kept.  What was kept is forgotten first if a change
 *		committed since.
 */
static CachedGroup *
cached_group(const char *name, int32 group_id)
{
	uint64		version = pg_atomic_read_u64(subscriptions_version);
	ListCell   *lc;

	if (subscription_cxt == NULL)
		subscription_cxt = AllocSetContextCreate(TopMemoryContext,
												 "mq subscriptions",
												 ALLOCSET_SMALL_SIZES);
	if (version != cached_version ||
		list_length(cached_groups) >= SUBSCRIPTION_CACHE_MAX)
	{
		forget_subscriptions();
		cached_version = version;
	}
	foreach(lc, cached_groups)
	{
		CachedGroup *g = lfirst(lc);

		if (name != NULL ? strcmp(g->name, name) == 0 : g->group_id == group_id)
			return g;
	}
	return NULL;
}

/*
 * mq_subscription_get
 *		The group's id and subscriptions, kept or looked up; NULL if there is
 *		no such group.  The caller is connected to SPI.
 */
CachedGroup *
mq_subscription_get(const char *name)
{
	Oid			type = TEXTOID;
	Datum		arg = CStringGetTextDatum(name);
	CachedGroup *g;
	MemoryContext old;
	uint64		n;
	uint64		i;

	g = cached_group(name, 0);
	if (g != NULL)
		return g;

	/*
	 * With the latest snapshot, not the caller's: what is kept serves the
	 * session's later transactions too, and a REPEATABLE READ snapshot could
	 * be older than the version read above.
	 */
	n = mq_query_latest("SELECT g.group_id, s.topic_id, t.name,"
						" s.mode = 'broadcasting', s.tags, s.filter,"
						" pg_catalog.substr(s.mode, 1, 1), s.max_retries, s.share_reset_at"
						" FROM mq.consumer_group g"
						" LEFT JOIN (mq.subscription s"
						"            JOIN mq.topic t ON t.topic_id = s.topic_id)"
						"  ON s.group_id = g.group_id"
						" WHERE g.name = $1"
						" ORDER BY t.name",
						1, &type, &arg, NULL);
	if (n == 0)
	{
		SPI_freetuptable(SPI_tuptable);
		return NULL;
	}

	old = MemoryContextSwitchTo(subscription_cxt);
	g = palloc0(sizeof(CachedGroup));
	strlcpy(g->name, name, sizeof(g->name));
	g->subs = palloc0(sizeof(CachedSubscription) * n);
	for (i = 0; i < n; i++)
	{
		CachedSubscription *sub = &g->subs[g->nsubs];
		bool		isnull;
		Datum		d;

		g->group_id = DatumGetInt32(mq_query_value(i, 1, &isnull));
		d = mq_query_value(i, 2, &isnull);
		if (isnull)
			continue;			/* a group with no subscription */
		sub->topic_id = DatumGetInt32(d);
		strlcpy(sub->topic, TextDatumGetCString(mq_query_value(i, 3, &isnull)),
				sizeof(sub->topic));
		sub->broadcasting = DatumGetBool(mq_query_value(i, 4, &isnull));
		d = mq_query_value(i, 5, &sub->tags_null);
		if (!sub->tags_null)
			sub->tags = datumCopy(d, false, -1);
		d = mq_query_value(i, 6, &sub->filter_null);
		if (!sub->filter_null)
			sub->filter = datumCopy(d, false, -1);
		sub->mode = TextDatumGetCString(mq_query_value(i, 7, &isnull))[0];
		sub->max_retries = DatumGetInt32(mq_query_value(i, 8, &isnull));
		sub->incarnation = DatumGetTimestampTz(mq_query_value(i, 9, &isnull));
		g->nsubs++;
	}
	cached_groups = lappend(cached_groups, g);
	MemoryContextSwitchTo(old);
	SPI_freetuptable(SPI_tuptable);
	return g;
}

/*
 * mq_subscription_of
 *		The subscription of group group_id to topic topic_id, and in *group
 *		the group, kept or looked up; NULL if there is none.  The caller is
 *		connected to SPI.
 */
CachedSubscription *
mq_subscription_of(int32 group_id, int32 topic_id, CachedGroup **group)
{
	CachedGroup *g = cached_group(NULL, group_id);
	int			i;

	if (g == NULL)
	{
		Oid			type = INT4OID;
		Datum		arg = Int32GetDatum(group_id);
		bool		isnull;

		if (mq_query_latest("SELECT name FROM mq.consumer_group"
							" WHERE group_id OPERATOR(pg_catalog.=) $1",
							1, &type, &arg, NULL) == 0)
			return NULL;
		g = mq_subscription_get(TextDatumGetCString(mq_query_value(0, 1,
																   &isnull)));
		if (g == NULL)
			return NULL;
	}
	*group = g;
	for (i = 0; i < g->nsubs; i++)
		if (g->subs[i].topic_id == topic_id)
			return &g->subs[i];
	return NULL;
}

/*
 * mq_subscription_xact_end
 *		The transaction ended.  Committed changes to subscriptions become
 *		visible now: tell the other sessions.  Either way, what this one
 *		kept may hold uncommitted rows.  Cannot fail.
 */
void
mq_subscription_xact_end(bool commit)
{
	if (subscriptions_changed)
	{
		if (commit)
			pg_atomic_fetch_add_u64(subscriptions_version, 1);
		forget_subscriptions();
		subscriptions_changed = false;
	}
}

/*
 * mq_subscription_shmem_request
 *		Reserve the subscriptions version.  Called from mq.c's
 *		shmem_request_hook.
 */
void
mq_subscription_shmem_request(void)
{
	RequestAddinShmemSpace(CACHELINEALIGN(sizeof(pg_atomic_uint64)));
}

/*
 * mq_subscription_shmem_startup
 *		Create the subscriptions version, or attach to it.  Called from
 *		mq.c's shmem_startup_hook with AddinShmemInitLock held.
 */
void
mq_subscription_shmem_startup(void)
{
	bool		found;

	subscriptions_version = ShmemInitStruct("mq subscriptions version",
											sizeof(pg_atomic_uint64), &found);
	if (!found)
		pg_atomic_init_u64(subscriptions_version, 1);
}
