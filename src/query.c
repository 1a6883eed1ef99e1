/*-------------------------------------------------------------------------
 *
 * query.c
 *	  SPI queries with plans kept for the session.
 *
 * Every query runs as the extension's owner, with search_path pinned
 * (query_begin): callers need no privilege on mq's tables.
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

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "query.h"
#include "settings.h"

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
 * mq_query calls running in this backend: a query may call an mq function
 * that runs mq_query again.  While one runs, no kept plan is freed (the
 * outer one may be executing it).
 */
static int	query_depth = 0;

/*
 * pin_search_path
 *		Run what follows with search_path set to pg_catalog, then pg_temp
 *		(named last, so that it is not searched first), until
 *		AtEOXact_GUC(true, the returned level); an error unwinds it with the
 *		(sub)transaction.  The one hardening rule of mq's SQL: every name
 *		its queries use is schema-qualified (mq.*) or in pg_catalog, so no
 *		function, operator or type the caller's search_path brings in can
 *		stand in for one of them, whatever the query text.
 */
static int
pin_search_path(void)
{
	int			nest = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return nest;
}

/* What query_begin changed, for query_end. */
typedef struct QueryState
{
	int			nest;
	Oid			save_userid;
	int			save_sec_context;
} QueryState;

/*
 * query_begin
 *		Pin search_path, and become the owner of schema mq (the extension's
 *		owner) in a security-restricted operation, until query_end: mq's
 *		functions read and write its tables on their callers' behalf, so
 *		callers need no privilege on any of them (their access is checked
 *		by acl.c), and nothing the caller defined can act with the owner's
 *		rights meanwhile.  An error unwinds both with the (sub)transaction.
 */
static void
query_begin(QueryState *state)
{
	HeapTuple	tup;
	Oid			owner;

	tup = SearchSysCache1(NAMESPACEOID,
						  ObjectIdGetDatum(get_namespace_oid(MQ_EXTENSION_NAME,
															 false)));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for schema %s", MQ_EXTENSION_NAME);
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);

	state->nest = pin_search_path();
	GetUserIdAndSecContext(&state->save_userid, &state->save_sec_context);
	SetUserIdAndSecContext(owner, state->save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
}

static void
query_end(QueryState *state)
{
	SetUserIdAndSecContext(state->save_userid, state->save_sec_context);
	AtEOXact_GUC(true, state->nest);
}

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
	{
		if (query_depth > 1)
			return NULL;		/* an outer query may be running a kept plan */
		forget_all();
	}
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
	if (entry != NULL && query_depth > 1)
		return NULL;			/* its plan may be running in an outer query */

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
 * run_query
 *		Run sql through its kept plan (prepared now if need be), as the
 *		extension's owner with search_path pinned; with the latest snapshot
 *		(read-only) if latest, else the caller's.  Returns SPI_processed.
 */
static uint64
run_query(const char *sql, int nargs, Oid *types, Datum *values,
		  const char *nulls, bool read_only, bool latest)
{
	QueryState	state;
	SPIPlanPtr	plan;
	int			rc = 0;

	query_begin(&state);
	query_depth++;
	PG_TRY();
	{
		plan = cached_plan(sql, nargs, types);
		if (plan == NULL && latest)
		{
			plan = SPI_prepare(sql, nargs, types);
			if (plan == NULL)
				elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
					 SPI_result_code_string(SPI_result));
		}
		if (latest)
			rc = SPI_execute_snapshot(plan, values, nulls, GetLatestSnapshot(),
									  InvalidSnapshot, true, false, 0);
		else if (plan != NULL)
			rc = SPI_execute_plan(plan, values, nulls, read_only, 0);
		else
			rc = SPI_execute_with_args(sql, nargs, types, values, nulls,
									   read_only, 0);
	}
	PG_FINALLY();
	{
		query_depth--;
	}
	PG_END_TRY();
	query_end(&state);
	if (rc < 0)
		elog(ERROR, "SPI query failed: %s", SPI_result_code_string(rc));
	return SPI_processed;
}

/*
 * mq_query
 *		Run an SPI query with parameters through its kept plan, with
 *		search_path pinned (see pin_search_path); nulls as in
 *		SPI_execute_plan (NULL: none).  Raises an error if it fails.
 *		Returns SPI_processed.  The caller is connected to SPI.
 */
uint64
mq_query(const char *sql, int nargs, Oid *types, Datum *values,
		 const char *nulls, bool read_only)
{
	return run_query(sql, nargs, types, values, nulls, read_only, false);
}

/*
 * mq_query_latest
 *		mq_query, read-only, with the latest snapshot rather than the
 *		caller's: for what must count as soon as it commits whatever the
 *		caller's isolation level (privileges).
 */
uint64
mq_query_latest(const char *sql, int nargs, Oid *types, Datum *values,
				const char *nulls)
{
	return run_query(sql, nargs, types, values, nulls, true, true);
}

/*
 * mq_query_once
 *		Run an SQL text built for this call (it names a segment table, or
 *		runs once per transaction) without keeping its plan; arguments as
 *		SPI_execute_with_args.  Raises an error if it fails.  Returns
 *		SPI_processed.  The caller is connected to SPI.
 */
uint64
mq_query_once(const char *sql, int nargs, Oid *types, Datum *values,
			  const char *nulls, bool read_only, long count)
{
	QueryState	state;
	int			nest;
	int			rc;

	query_begin(&state);

	/* DDL creates mq's tables where mq, not the caller, says */
	nest = NewGUCNestLevel();
	(void) set_config_option("default_tablespace", "", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("default_table_access_method", "heap",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true,
							 0, false);
	rc = SPI_execute_with_args(sql, nargs, types, values, nulls, read_only,
							   count);
	AtEOXact_GUC(true, nest);
	query_end(&state);
	if (rc < 0)
		elog(ERROR, "SPI query failed: %s", SPI_result_code_string(rc));
	return SPI_processed;
}

/*
 * mq_query_value
 *		Column col (from 1) of row row of the last query's result.
 */
Datum
mq_query_value(uint64 row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col,
						 isnull);
}

/*
 * mq_query_cursor
 *		Open a cursor on a query that may return more rows than memory
 *		should hold, with search_path pinned while it is planned.  Read it
 *		with mq_query_fetch and close it with SPI_cursor_close.  The caller
 *		is connected to SPI.
 */
Portal
mq_query_cursor(const char *sql, int nargs, Oid *types, Datum *values,
				const char *nulls)
{
	QueryState	state;
	Portal		portal;

	query_begin(&state);
	portal = SPI_cursor_open_with_args(NULL, sql, nargs, types, values, nulls,
									   true, 0);
	query_end(&state);
	return portal;
}

/*
 * mq_query_fetch
 *		The next count rows of a cursor from mq_query_cursor, in
 *		SPI_tuptable.  Returns SPI_processed (0 at the end).
 */
uint64
mq_query_fetch(Portal portal, long count)
{
	SPI_cursor_fetch(portal, true, count);
	return SPI_processed;
}
