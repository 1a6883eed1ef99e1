/*-------------------------------------------------------------------------
 *
 * query.c
 *	  SPI queries with plans kept for the session.
 *
 * The consumer path runs the same few queries on every fetch and commit.
 * Parsing and planning them each time cost more than running them, so
 * mq_query keeps each query's plan (SPI_keepplan) in a session cache keyed
 * by the query text; the plan cache revalidates kept plans when the
 * tables they use change or search_path does.  Texts that name a segment
 * table differ per segment: the cache is emptied when it holds
 * QUERY_CACHE_MAX plans, so that a long session does not keep the plans
 * of segments long gone.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/query.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "query.h"

#define QUERY_CACHE_MAX		256
#define QUERY_KEY_MAX		2048	/* longer texts are not cached */
#define QUERY_MAX_ARGS		16

typedef struct CachedQuery
{
	char		sql[QUERY_KEY_MAX]; /* hash key */
	int			nargs;
	Oid			types[QUERY_MAX_ARGS];
	SPIPlanPtr	plan;
} CachedQuery;

static HTAB *query_cache = NULL;

/*
 * forget_all
 *		Free every kept plan and the cache.
 */
static void
forget_all(void)
{
	HASH_SEQ_STATUS status;
	CachedQuery *entry;

	hash_seq_init(&status, query_cache);
	while ((entry = hash_seq_search(&status)) != NULL)
		SPI_freeplan(entry->plan);
	hash_destroy(query_cache);
	query_cache = NULL;
}

/*
 * cached_plan
 *		The kept plan of sql with these argument types, prepared now if
 *		need be; NULL if the text is too long to cache.
 */
static SPIPlanPtr
cached_plan(const char *sql, int nargs, Oid *types)
{
	CachedQuery *entry;
	bool		found;
	SPIPlanPtr	plan;

	if (strlen(sql) >= QUERY_KEY_MAX || nargs > QUERY_MAX_ARGS)
		return NULL;
	if (query_cache != NULL &&
		hash_get_num_entries(query_cache) >= QUERY_CACHE_MAX)
		forget_all();
	if (query_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = QUERY_KEY_MAX;
		ctl.entrysize = sizeof(CachedQuery);
		ctl.hcxt = TopMemoryContext;
		query_cache = hash_create("mq query cache", 64, &ctl,
								  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}

	entry = hash_search(query_cache, sql, HASH_FIND, NULL);
	if (entry != NULL && entry->nargs == nargs &&
		memcmp(entry->types, types, sizeof(Oid) * nargs) == 0)
		return entry->plan;

	/* prepare before entering, so that a failure leaves no entry */
	plan = SPI_prepare(sql, nargs, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	if (entry != NULL)
		SPI_freeplan(entry->plan);
	entry = hash_search(query_cache, sql, HASH_ENTER, &found);
	entry->nargs = nargs;
	memcpy(entry->types, types, sizeof(Oid) * nargs);
	entry->plan = plan;
	return plan;
}

/*
 * mq_query
 *		Run an SPI query with parameters through its kept plan; nulls as in
 *		SPI_execute_plan (NULL: none).  Raises an error if it fails.
 *		Returns SPI_processed.  The caller is connected to SPI.
 */
uint64
mq_query(const char *sql, int nargs, Oid *types, Datum *values,
		 const char *nulls, bool read_only)
{
	SPIPlanPtr	plan = cached_plan(sql, nargs, types);
	int			rc;

	if (plan != NULL)
		rc = SPI_execute_plan(plan, values, nulls, read_only, 0);
	else
		rc = SPI_execute_with_args(sql, nargs, types, values, nulls,
								   read_only, 0);
	if (rc < 0)
		elog(ERROR, "SPI query failed: %s", SPI_result_code_string(rc));
	return SPI_processed;
}
