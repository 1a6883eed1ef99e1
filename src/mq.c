/*-------------------------------------------------------------------------
 *
 * mq.c
 *	  Module entry point: settings, hooks and the transaction callback.
 *
 * mq needs shared memory and a background launcher, so it only works when
 * loaded through shared_preload_libraries; loading it any other way (which
 * is what CREATE EXTENSION does without preload) fails with an error that
 * says so.  _PG_init defines the mq.* settings, reserves the prefix,
 * installs the hooks below and registers the launcher.
 *
 * The hooks only detect events and hand them to the subsystem concerned:
 *
 *	- shmem_request/shmem_startup: each owner of shared state (database.c,
 *	  topic.c, offsets.c, clock.c, acl.c, share.c, subscription.c,
 *	  metrics.c);
 *	- object_access_hook: the extension created or dropped (database.c,
 *	  topic.c, subscription.c, metrics.c), a database created (database.c);
 *	- ProcessUtility_hook: commands that need a database without other
 *	  connections pause that database's worker first (database.c); a
 *	  dropped database's counters go (metrics.c);
 *	- the transaction callback, the only one mq registers: PRE_PREPARE
 *	  refuses transactions holding mq state, COMMIT and ABORT let each
 *	  subsystem settle its bookkeeping (which must not fail).
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/mq.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "acl.h"
#include "clock.h"
#include "database.h"
#include "delay.h"
#include "group.h"
#include "launcher.h"
#include "metrics.h"
#include "offsets.h"
#include "position.h"
#include "produce.h"
#include "settings.h"
#include "share.h"
#include "subscription.h"
#include "topic.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static object_access_hook_type prev_object_access_hook = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;

static void mq_shmem_request_hook(void);
static void mq_shmem_startup_hook(void);
static void mq_object_access(ObjectAccessType access, Oid classId,
							 Oid objectId, int subId, void *arg);
static void mq_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
							  bool readOnlyTree,
							  ProcessUtilityContext context,
							  ParamListInfo params,
							  QueryEnvironment *queryEnv,
							  DestReceiver *dest, QueryCompletion *qc);
static void mq_xact_callback(XactEvent event, void *arg);
static void mq_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
								SubTransactionId parentSubid, void *arg);

/*
 * _PG_init
 *		Module load.  Refuses to load other than at server start.
 */
void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mq must be loaded via shared_preload_libraries"),
				 errhint("Add mq to shared_preload_libraries in postgresql.conf and restart the server.")));

	mq_settings_define();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = mq_shmem_request_hook;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = mq_shmem_startup_hook;
	prev_object_access_hook = object_access_hook;
	object_access_hook = mq_object_access;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = mq_ProcessUtility;

	RegisterXactCallback(mq_xact_callback, NULL);
	RegisterSubXactCallback(mq_subxact_callback, NULL);

	/* pg_upgrade's server must not have workers connecting to databases */
	if (!IsBinaryUpgrade)
		mq_launcher_register();
}

/*
 * mq_shmem_request_hook
 *		Each owner of shared state reserves its memory and locks.
 *		PostgreSQL 15 refuses these requests anywhere but in this hook.
 */
static void
mq_shmem_request_hook(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	mq_database_shmem_request();
	mq_topic_shmem_request();
	mq_offsets_shmem_request();
	mq_clock_shmem_request();
	mq_acl_shmem_request();
	mq_share_shmem_request();
	mq_subscription_shmem_request();
	mq_metrics_shmem_request();
}

/*
 * mq_shmem_startup_hook
 *		Each owner creates its shared state, or attaches to it.  The order
 *		is the order of mq.shmem_usage()'s rows.
 */
static void
mq_shmem_startup_hook(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	mq_database_shmem_startup();
	mq_topic_shmem_startup();
	mq_offsets_shmem_startup();
	mq_clock_shmem_startup();
	mq_acl_shmem_startup();
	mq_share_shmem_startup();
	mq_subscription_shmem_startup();
	mq_metrics_shmem_startup();
	LWLockRelease(AddinShmemInitLock);
}

/*
 * extension_is_mq
 *		Whether extension extoid is mq.  The pg_extension row of an
 *		extension being created is not visible to catalog snapshots until
 *		the next command counter increment, so it is read with SnapshotSelf.
 */
static bool
extension_is_mq(Oid extoid)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		result = false;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true,
							  SnapshotSelf, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		result = strcmp(NameStr(((Form_pg_extension) GETSTRUCT(tup))->extname),
						MQ_EXTENSION_NAME) == 0;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	return result;
}

/*
 * mq_object_access
 *		Report the creation and drop of the mq extension, and the creation
 *		of databases, whatever command caused them (CREATE EXTENSION ...
 *		CASCADE and DROP SCHEMA ... CASCADE included).
 */
static void
mq_object_access(ObjectAccessType access, Oid classId, Oid objectId,
				 int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);

	if (classId == ExtensionRelationId)
	{
		if (access == OAT_POST_CREATE && extension_is_mq(objectId))
			mq_database_extension_created();
		else if (access == OAT_DROP && extension_is_mq(objectId))
		{
			mq_database_extension_dropped();
			mq_topic_extension_dropped();
			mq_subscription_changed();
			mq_metrics_extension_dropped();
		}
	}
	else if (classId == DatabaseRelationId && access == OAT_POST_CREATE)
		mq_database_created();
}

/*
 * database_needing_sole_access
 *		The database that a utility statement requires nobody else to be
 *		connected to, or NULL.
 */
static const char *
database_needing_sole_access(Node *parsetree)
{
	ListCell   *lc;

	switch (nodeTag(parsetree))
	{
		case T_DropdbStmt:
			return ((DropdbStmt *) parsetree)->dbname;

		case T_RenameStmt:
			if (((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
				return ((RenameStmt *) parsetree)->subname;
			break;

		case T_AlterDatabaseStmt:
			foreach(lc, ((AlterDatabaseStmt *) parsetree)->options)
			{
				if (strcmp(((DefElem *) lfirst(lc))->defname, "tablespace") == 0)
					return ((AlterDatabaseStmt *) parsetree)->dbname;
			}
			break;

		case T_CreatedbStmt:
			foreach(lc, ((CreatedbStmt *) parsetree)->options)
			{
				DefElem    *opt = lfirst(lc);

				if (strcmp(opt->defname, "template") == 0 && opt->arg != NULL)
					return defGetString(opt);
			}
			return "template1";

		default:
			break;
	}
	return NULL;
}

/*
 * may_pause
 *		Whether the current user may pause the worker of dboid for
 *		statement: its owner may (only owners can drop, rename or move a
 *		database), and so may anyone copying it when it is a template.
 */
static bool
may_pause(Node *statement, Oid dboid)
{
	HeapTuple	tup;
	bool		is_template;

	if (pg_database_ownercheck(dboid, GetUserId()))
		return true;
	if (!IsA(statement, CreatedbStmt))
		return false;

	tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(dboid));
	if (!HeapTupleIsValid(tup))
		return false;
	is_template = ((Form_pg_database) GETSTRUCT(tup))->datistemplate;
	ReleaseSysCache(tup);
	return is_template;
}

/*
 * mq_ProcessUtility
 *		Pause the mq worker of a database before a command that needs the
 *		database to itself (DROP DATABASE, ALTER DATABASE RENAME or SET
 *		TABLESPACE, CREATE DATABASE from it), so that the worker never makes
 *		such a command fail or hang; after DROP DATABASE, forget the
 *		database's counters.
 */
static void
mq_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
				  bool readOnlyTree, ProcessUtilityContext context,
				  ParamListInfo params, QueryEnvironment *queryEnv,
				  DestReceiver *dest, QueryCompletion *qc)
{
	const char *dbname = database_needing_sole_access(pstmt->utilityStmt);
	Oid			dropped_dboid = InvalidOid;

	if (dbname != NULL)
	{
		Oid			dboid = get_database_oid(dbname, true);

		if (OidIsValid(dboid) && may_pause(pstmt->utilityStmt, dboid))
			mq_database_pause(dboid);
		if (IsA(pstmt->utilityStmt, DropdbStmt))
			dropped_dboid = dboid;
	}

	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);

	/* DROP DATABASE cannot run in a transaction block: it is done */
	if (OidIsValid(dropped_dboid))
		mq_metrics_database_dropped(dropped_dboid);
}

/*
 * mq_xact_callback
 *		mq's single transaction callback.  PRE_COMMIT and PRE_PREPARE may
 *		fail (the transaction then aborts); COMMIT and ABORT run after the
 *		outcome is decided and must not.
 */
static void
mq_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			mq_produce_flush();
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (mq_produce_xact_pending())
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has sent mq messages"),
						 errdetail("Offsets are assigned when the sending transaction commits, in the session that sent.")));
			if (mq_position_xact_pending() || mq_share_xact_pending())
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has fetched, received or settled mq messages"),
						 errdetail("Its claims, leases and acknowledgements belong to this session.")));
			if (mq_database_xact_pending() || mq_topic_xact_pending() ||
				mq_subscription_pending() || mq_acl_xact_pending())
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has changed mq topics, subscriptions or privileges, created or dropped the mq extension, or paused an mq worker")));
			break;
		case XACT_EVENT_PREPARE:
			/* nothing of it is left here (see PRE_PREPARE) */
			mq_produce_xact_end(false);
			mq_position_xact_end(false);
			mq_share_xact_end(false);
			mq_subscription_xact_end(false);
			mq_delay_xact_end(false);
			mq_acl_xact_end(false);
			mq_metrics_xact_end(false);
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			mq_produce_xact_end(true);
			mq_delay_xact_end(true);
			mq_position_xact_end(true);
			mq_share_xact_end(true);
			mq_subscription_xact_end(true);
			mq_topic_xact_end(true);
			mq_acl_xact_end(true);
			mq_database_xact_end(true);
			mq_metrics_xact_end(true);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			mq_produce_xact_end(false);
			mq_delay_xact_end(false);
			mq_position_xact_end(false);
			mq_share_xact_end(false);
			mq_subscription_xact_end(false);
			mq_topic_xact_end(false);
			mq_acl_xact_end(false);
			mq_database_xact_end(false);
			mq_metrics_xact_end(false);
			break;
		default:
			break;
	}
}

/*
 * mq_subxact_callback
 *		A subtransaction ended: its buffered messages and topic changes go
 *		to its parent, or away.
 */
static void
mq_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	switch (event)
	{
		case SUBXACT_EVENT_COMMIT_SUB:
			mq_produce_subxact_end(true, mySubid, parentSubid);
			mq_position_subxact_end(true, mySubid, parentSubid);
			mq_share_subxact_end(true, mySubid, parentSubid);
			mq_topic_subxact_end(true, mySubid, parentSubid);
			mq_metrics_subxact_end(true);
			break;
		case SUBXACT_EVENT_ABORT_SUB:
			mq_acl_subxact_abort();
			mq_produce_subxact_end(false, mySubid, parentSubid);
			mq_position_subxact_end(false, mySubid, parentSubid);
			mq_share_subxact_end(false, mySubid, parentSubid);
			mq_topic_subxact_end(false, mySubid, parentSubid);
			mq_metrics_subxact_end(false);
			break;
		default:
			break;
	}
}
