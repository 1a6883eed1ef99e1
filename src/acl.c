/*-------------------------------------------------------------------------
 *
 * acl.c
 *	  Privileges on topics and consumer groups: who may produce to,
 *	  consume from and manage a topic, and consume as or manage a group.
 *
 * A topic or a group has an owner (mq.topic.owner, mq.consumer_group.owner:
 * the role that created it) and grants (mq.topic_privilege,
 * mq.group_privilege), made by the owner with mq.grant_topic() and
 * mq.grant_group().  Roles are stored by name, so that pg_dump restores them
 * into another cluster whatever the roles' OIDs there; a grant to a role
 * that no longer exists grants nothing.  'public' stands for every role.
 *
 * A role holds a privilege if it is a superuser, has the privileges of the
 * owner's role (is the owner, or a member of it that inherits), or has the
 * privileges of a grantee that was granted it.  Consuming as a group also
 * gives consume on the group's own retry and dead-letter topics
 * ("<group>.retry", "<group>.dlq", owned by the group's owner), whose
 * messages came from topics the group reads.
 *
 * Every call into a topic or group checks here: the masks are kept per
 * backend, keyed by object and role, and dropped when a generation counter
 * in shared memory moves (bumped when a transaction that granted, revoked,
 * changed an owner or created or dropped a topic or group commits: a
 * backend that read the counter before reading the grants never keeps a
 * mask older than its counter) and when roles or memberships change (a
 * syscache callback).  mq's functions do their table work as the
 * extension's owner (query.c), so these checks, and EXECUTE on the
 * functions, are the whole of access control.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/acl.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/formatting.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "acl.h"
#include "query.h"
#include "settings.h"

PG_FUNCTION_INFO_V1(mq_grant_topic);
PG_FUNCTION_INFO_V1(mq_revoke_topic);
PG_FUNCTION_INFO_V1(mq_grant_group);
PG_FUNCTION_INFO_V1(mq_revoke_group);
PG_FUNCTION_INFO_V1(mq_has_topic_privilege);
PG_FUNCTION_INFO_V1(mq_has_group_privilege);
PG_FUNCTION_INFO_V1(mq_alter_topic_owner);
PG_FUNCTION_INFO_V1(mq_alter_group_owner);

/* A kept mask: what role may do with an object. */
typedef struct AclKey
{
	MqObjectKind kind;
	Oid			roleid;
	char		name[MQ_NAME_MAX + 1];
} AclKey;

typedef struct AclEntry
{
	AclKey		key;
	int			mask;
} AclEntry;

static HTAB *acl_cache = NULL;
static uint64 cache_generation = 0;
static bool callbacks_registered = false;

/* Bumped when grants, owners or the set of objects change.  Shared. */
static pg_atomic_uint64 *acl_generation = NULL;

/* This transaction changed grants, owners or objects. */
static bool xact_changed = false;

static const struct
{
	const char *name;
	int			bit;
}			privilege_names[] = {
	{"produce", MQ_PRIV_PRODUCE},
	{"consume", MQ_PRIV_CONSUME},
	{"manage", MQ_PRIV_MANAGE},
};

static const char *
kind_name(MqObjectKind kind)
{
	return kind == MQ_OBJECT_TOPIC ? "topic" : "consumer group";
}

/* Privileges that exist for objects of a kind. */
static int
kind_privileges(MqObjectKind kind)
{
	return kind == MQ_OBJECT_TOPIC ? MQ_PRIV_ALL :
		(MQ_PRIV_CONSUME | MQ_PRIV_MANAGE);
}

static void
forget_all(Datum arg, int cacheid, uint32 hashvalue)
{
	if (acl_cache != NULL)
	{
		hash_destroy(acl_cache);
		acl_cache = NULL;
	}
}

/*
 * ensure_cache
 *		The cache of masks, empty if the generation moved since it was
 *		filled.  The generation is read before anything is looked up.
 */
static HTAB *
ensure_cache(void)
{
	uint64		generation = pg_atomic_read_u64(acl_generation);

	if (!callbacks_registered)
	{
		CacheRegisterSyscacheCallback(AUTHOID, forget_all, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, forget_all, (Datum) 0);
		callbacks_registered = true;
	}
	if (acl_cache != NULL && generation != cache_generation)
		forget_all((Datum) 0, 0, 0);
	if (acl_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(AclKey);
		ctl.entrysize = sizeof(AclEntry);
		ctl.hcxt = CacheMemoryContext;
		acl_cache = hash_create("mq privileges", 64, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		cache_generation = generation;
	}
	return acl_cache;
}

/* Whether roleid has the privileges of the role named name ('public'). */
static bool
holds(Oid roleid, const char *name)
{
	Oid			role;

	if (strcmp(name, "public") == 0)
		return true;
	role = get_role_oid(name, true);
	return OidIsValid(role) && has_privs_of_role(roleid, role);
}

/*
 * load_mask
 *		Read an object's owner and grants and work out roleid's mask.  Sets
 *		*exists, and *owner (if not NULL) to the owner's name.
 */
static int
load_mask(MqObjectKind kind, const char *name, Oid roleid, bool *exists,
		  char **owner)
{
	Oid			type = TEXTOID;
	Datum		arg = CStringGetTextDatum(name);
	MemoryContext caller = CurrentMemoryContext;
	uint64		n;
	uint64		i;
	int			mask = 0;
	bool		isnull;

	/*
	 * With the latest snapshot, not the caller's: a grant, revoke or new
	 * object committed since the caller's snapshot (REPEATABLE READ, or a
	 * long statement) must count, as the generation it read says.
	 */
	SPI_connect();
	n = mq_query_latest(kind == MQ_OBJECT_TOPIC ?
						"SELECT o.owner, p.grantee, p.privilege FROM mq.topic o"
						" LEFT JOIN mq.topic_privilege p USING (topic_id)"
						" WHERE o.name OPERATOR(pg_catalog.=) $1" :
						"SELECT o.owner, p.grantee, p.privilege FROM mq.consumer_group o"
						" LEFT JOIN mq.group_privilege p USING (group_id)"
						" WHERE o.name OPERATOR(pg_catalog.=) $1",
						1, &type, &arg, NULL);
	*exists = (n > 0);
	if (owner != NULL)
		*owner = n == 0 ? NULL :
			MemoryContextStrdup(caller,
								TextDatumGetCString(mq_query_value(0, 1, &isnull)));
	if (n > 0 && holds(roleid, TextDatumGetCString(mq_query_value(0, 1, &isnull))))
		mask = MQ_PRIV_ALL;
	for (i = 0; i < n && mask != MQ_PRIV_ALL; i++)
	{
		Datum		grantee = mq_query_value(i, 2, &isnull);
		char	   *privilege;
		size_t		j;

		if (isnull || !holds(roleid, TextDatumGetCString(grantee)))
			continue;
		privilege = TextDatumGetCString(mq_query_value(i, 3, &isnull));
		for (j = 0; j < lengthof(privilege_names); j++)
			if (strcmp(privilege, privilege_names[j].name) == 0)
				mask |= privilege_names[j].bit;
	}
	SPI_finish();
	return mask & kind_privileges(kind);
}

/*
 * group_of
 *		If topic is a group's retry or dead-letter topic ("<group>.retry",
 *		"<group>.dlq"), the group's name; else NULL.
 */
static char *
group_of(const char *topic)
{
	size_t		len = strlen(topic);
	static const char *const suffixes[] = {".retry", ".dlq"};
	size_t		i;

	for (i = 0; i < lengthof(suffixes); i++)
	{
		size_t		slen = strlen(suffixes[i]);

		if (len > slen && strcmp(topic + len - slen, suffixes[i]) == 0)
			return pnstrdup(topic, len - slen);
	}
	return NULL;
}

/*
 * mq_acl_mask
 *		The privileges (MQ_PRIV_*) roleid holds on the topic or group named
 *		name.  *exists is set to whether the object exists (its mask is 0
 *		if not).
 */
int
mq_acl_mask(MqObjectKind kind, const char *name, Oid roleid, bool *exists)
{
	HTAB	   *cache = ensure_cache();
	AclKey		key;
	AclEntry   *entry;
	bool		found;
	int			mask;
	char	   *owner;
	uint64		generation;

	/* no object has a longer name: none by that name exists */
	if (strlen(name) > MQ_NAME_MAX)
	{
		*exists = false;
		return 0;
	}
	memset(&key, 0, sizeof(key));
	key.kind = kind;
	key.roleid = roleid;
	strlcpy(key.name, name, sizeof(key.name));
	entry = hash_search(cache, &key, HASH_FIND, NULL);
	if (entry != NULL)
	{
		*exists = true;
		return entry->mask;
	}

	generation = cache_generation;
	mask = load_mask(kind, name, roleid, exists, &owner);
	if (!*exists)
		return 0;
	if (superuser_arg(roleid))
		mask = kind_privileges(kind);
	else if (kind == MQ_OBJECT_TOPIC && (mask & MQ_PRIV_CONSUME) == 0)
	{
		char	   *group = group_of(name);
		char	   *group_owner;
		bool		group_exists;

		/*
		 * Only the group's own topic: one its owner owns.  Anyone may create
		 * a group named after another team's "x.dlq" topic.
		 */
		if (group != NULL &&
			(load_mask(MQ_OBJECT_GROUP, group, roleid, &group_exists,
					   &group_owner) & MQ_PRIV_CONSUME) != 0 &&
			strcmp(group_owner, owner) == 0)
			mask |= MQ_PRIV_CONSUME;
	}

	/*
	 * Keep it only if nothing changed while the grants were read: a change
	 * committed meanwhile may or may not be in what was read.
	 */
	cache = ensure_cache();
	if (cache_generation == generation)
	{
		entry = hash_search(cache, &key, HASH_ENTER, &found);
		entry->mask = mask;
	}
	return mask;
}

/*
 * mq_acl_check
 *		Refuse the current user the use of a topic or group unless it holds
 *		one of privileges on it.  An object that does not exist passes: the
 *		caller reports it as it does now.
 */
void
mq_acl_check(MqObjectKind kind, const char *name, int privileges)
{
	bool		exists;
	int			mask = mq_acl_mask(kind, name, GetUserId(), &exists);
	StringInfoData needed;
	size_t		i;

	if (!exists || (mask & privileges) != 0)
		return;
	initStringInfo(&needed);
	if ((privileges & kind_privileges(kind)) == kind_privileges(kind))
		appendStringInfoString(&needed, "some privilege");
	else
		for (i = 0; i < lengthof(privilege_names); i++)
			if (privileges & privilege_names[i].bit)
				appendStringInfo(&needed, "%sthe %s privilege",
								 needed.len > 0 ? " or " : "",
								 privilege_names[i].name);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for %s \"%s\"", kind_name(kind), name),
			 errdetail("This needs %s on it.", needed.data),
			 errhint("The %s's owner grants it with mq.grant_%s().",
					 kind_name(kind),
					 kind == MQ_OBJECT_TOPIC ? "topic" : "group")));
}

/*
 * mq_acl_caller_name
 *		The current user's name, to record as the owner of what it creates.
 */
char *
mq_acl_caller_name(void)
{
	return GetUserNameFromId(GetUserId(), false);
}

/*
 * mq_acl_changed
 *		This transaction changed grants or owners, or created or dropped a
 *		topic or group: every backend's masks go when it commits.
 */
void
mq_acl_changed(void)
{
	xact_changed = true;
	forget_all((Datum) 0, 0, 0);
}

/*
 * mq_acl_xact_pending
 *		Whether this transaction changed privileges (refuses PREPARE: the
 *		generation could not move at COMMIT PREPARED).
 */
bool
mq_acl_xact_pending(void)
{
	return xact_changed;
}

/*
 * mq_acl_subxact_abort
 *		A subtransaction rolled back: what it granted or revoked is undone,
 *		so this backend's masks, which may have seen it, go.
 */
void
mq_acl_subxact_abort(void)
{
	if (xact_changed)
		forget_all((Datum) 0, 0, 0);
}

/*
 * mq_acl_xact_end
 *		Transaction end: after a commit that changed privileges, move the
 *		generation; after any end, forget this backend's masks, which may
 *		have seen the transaction's own changes.  Cannot fail.
 */
void
mq_acl_xact_end(bool commit)
{
	if (!xact_changed)
		return;
	if (commit)
		pg_atomic_fetch_add_u64(acl_generation, 1);
	forget_all((Datum) 0, 0, 0);
	xact_changed = false;
}

/*
 * parse_privileges
 *		A comma-separated list of privilege names ('all' for every one) as
 *		a mask; an error for a name that is not a privilege of kind.
 */
static int
parse_privileges(MqObjectKind kind, const char *list)
{
	char	   *copy = pstrdup(list);
	char	   *item;
	char	   *save;
	int			mask = 0;

	for (item = strtok_r(copy, ",", &save); item != NULL;
		 item = strtok_r(NULL, ",", &save))
	{
		char	   *word = item;
		size_t		len;
		size_t		i;
		bool		known = false;

		while (*word == ' ')
			word++;
		len = strlen(word);
		while (len > 0 && word[len - 1] == ' ')
			word[--len] = '\0';
		word = asc_tolower(word, len);
		if (strcmp(word, "all") == 0)
		{
			mask |= kind_privileges(kind);
			continue;
		}
		for (i = 0; i < lengthof(privilege_names); i++)
			if (strcmp(word, privilege_names[i].name) == 0 &&
				(privilege_names[i].bit & kind_privileges(kind)) != 0)
			{
				mask |= privilege_names[i].bit;
				known = true;
			}
		if (!known)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unrecognized privilege \"%s\" for a %s",
							word, kind_name(kind)),
					 errhint(kind == MQ_OBJECT_TOPIC ?
							 "Topic privileges are produce, consume, manage and all." :
							 "Group privileges are consume, manage and all.")));
	}
	if (mask == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no privilege given")));
	return mask;
}

/*
 * text_arg
 *		Non-null text argument argno, called what.
 */
static char *
text_arg(FunctionCallInfo fcinfo, int argno, const char *what)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/*
 * role_arg
 *		A role named by argument argno: an existing role, else 'public' in
 *		any case, as stored.  A grant needs the role to exist; a revoke
 *		takes any name, so that a dropped role's grants can be revoked.
 */
static char *
role_arg(FunctionCallInfo fcinfo, int argno, bool must_exist)
{
	char	   *name = text_arg(fcinfo, argno, "role");

	if (OidIsValid(get_role_oid(name, true)))
		return name;
	if (pg_strcasecmp(name, "public") == 0)
		return pstrdup("public");
	if (must_exist)
		(void) get_role_oid(name, false);
	return name;
}

/*
 * owner_check
 *		The object must exist, and the current user must have the
 *		privileges of its owner (or be a superuser).  Returns the owner's
 *		name.
 */
static char *
owner_check(MqObjectKind kind, const char *name)
{
	Oid			type = TEXTOID;
	Datum		arg = CStringGetTextDatum(name);
	bool		isnull;
	char	   *owner;

	if (mq_query(kind == MQ_OBJECT_TOPIC ?
				 "SELECT owner FROM mq.topic"
				 " WHERE name OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE" :
				 "SELECT owner FROM mq.consumer_group"
				 " WHERE name OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
				 1, &type, &arg, NULL, false) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%s \"%s\" does not exist", kind_name(kind), name)));
	owner = pstrdup(TextDatumGetCString(mq_query_value(0, 1, &isnull)));
	if (!superuser() && !holds(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of %s \"%s\"", kind_name(kind), name),
				 errdetail("Its owner is role \"%s\".", owner)));
	return owner;
}

/*
 * grant_or_revoke
 *		The body of mq.grant_topic, mq.revoke_topic, mq.grant_group and
 *		mq.revoke_group: (object, privileges, role).  Only the owner grants
 *		and revokes.
 */
static void
grant_or_revoke(FunctionCallInfo fcinfo, MqObjectKind kind, bool grant)
{
	char	   *name = text_arg(fcinfo, 0, kind == MQ_OBJECT_TOPIC ? "topic" : "group");
	int			mask = parse_privileges(kind, text_arg(fcinfo, 1, "privileges"));
	char	   *role = role_arg(fcinfo, 2, grant);
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		args[3];
	size_t		i;

	SPI_connect();
	owner_check(kind, name);
	args[0] = CStringGetTextDatum(name);
	args[1] = CStringGetTextDatum(role);
	for (i = 0; i < lengthof(privilege_names); i++)
	{
		if ((mask & privilege_names[i].bit) == 0)
			continue;
		args[2] = CStringGetTextDatum(privilege_names[i].name);
		if (kind == MQ_OBJECT_TOPIC)
			mq_query(grant ?
					 "INSERT INTO mq.topic_privilege (topic_id, grantee, privilege)"
					 " SELECT topic_id, $2, $3 FROM mq.topic"
					 " WHERE name OPERATOR(pg_catalog.=) $1"
					 " ON CONFLICT DO NOTHING" :
					 "DELETE FROM mq.topic_privilege p USING mq.topic t"
					 " WHERE p.topic_id OPERATOR(pg_catalog.=) t.topic_id"
					 " AND t.name OPERATOR(pg_catalog.=) $1"
					 " AND p.grantee OPERATOR(pg_catalog.=) $2"
					 " AND p.privilege OPERATOR(pg_catalog.=) $3",
					 3, types, args, NULL, false);
		else
			mq_query(grant ?
					 "INSERT INTO mq.group_privilege (group_id, grantee, privilege)"
					 " SELECT group_id, $2, $3 FROM mq.consumer_group"
					 " WHERE name OPERATOR(pg_catalog.=) $1"
					 " ON CONFLICT DO NOTHING" :
					 "DELETE FROM mq.group_privilege p USING mq.consumer_group g"
					 " WHERE p.group_id OPERATOR(pg_catalog.=) g.group_id"
					 " AND g.name OPERATOR(pg_catalog.=) $1"
					 " AND p.grantee OPERATOR(pg_catalog.=) $2"
					 " AND p.privilege OPERATOR(pg_catalog.=) $3",
					 3, types, args, NULL, false);
	}
	SPI_finish();
	mq_acl_changed();
}

Datum
mq_grant_topic(PG_FUNCTION_ARGS)
{
	grant_or_revoke(fcinfo, MQ_OBJECT_TOPIC, true);
	PG_RETURN_VOID();
}

Datum
mq_revoke_topic(PG_FUNCTION_ARGS)
{
	grant_or_revoke(fcinfo, MQ_OBJECT_TOPIC, false);
	PG_RETURN_VOID();
}

Datum
mq_grant_group(PG_FUNCTION_ARGS)
{
	grant_or_revoke(fcinfo, MQ_OBJECT_GROUP, true);
	PG_RETURN_VOID();
}

Datum
mq_revoke_group(PG_FUNCTION_ARGS)
{
	grant_or_revoke(fcinfo, MQ_OBJECT_GROUP, false);
	PG_RETURN_VOID();
}

/*
 * has_privilege
 *		The body of mq.has_topic_privilege and mq.has_group_privilege:
 *		([role,] object, privileges), true if the role (the current user if
 *		not given) holds any of privileges.  NULL for an object or role that
 *		does not exist, as PostgreSQL's has_*_privilege functions do.
 */
static Datum
has_privilege(FunctionCallInfo fcinfo, MqObjectKind kind)
{
	int			argno = PG_NARGS() == 3 ? 1 : 0;
	Oid			roleid = GetUserId();
	char	   *name;
	int			mask;
	bool		exists;

	if (PG_NARGS() == 3)
	{
		char	   *role = text_arg(fcinfo, 0, "role");

		roleid = get_role_oid(role, true);
		if (!OidIsValid(roleid))
			PG_RETURN_NULL();
	}
	name = text_arg(fcinfo, argno, kind == MQ_OBJECT_TOPIC ? "topic" : "group");
	mask = parse_privileges(kind, text_arg(fcinfo, argno + 1, "privileges"));
	if ((mq_acl_mask(kind, name, roleid, &exists) & mask) != 0)
		PG_RETURN_BOOL(true);
	if (!exists)
		PG_RETURN_NULL();
	PG_RETURN_BOOL(false);
}

Datum
mq_has_topic_privilege(PG_FUNCTION_ARGS)
{
	return has_privilege(fcinfo, MQ_OBJECT_TOPIC);
}

Datum
mq_has_group_privilege(PG_FUNCTION_ARGS)
{
	return has_privilege(fcinfo, MQ_OBJECT_GROUP);
}

/*
 * alter_owner
 *		The body of mq.alter_topic_owner and mq.alter_group_owner.  As
 *		ALTER ... OWNER TO: a superuser, or a role with the privileges of
 *		the current owner that is also a member of the new owner.  A
 *		group's retry and dead-letter topics that its owner owned go with
 *		it.
 */
static void
alter_owner(FunctionCallInfo fcinfo, MqObjectKind kind)
{
	char	   *name = text_arg(fcinfo, 0, kind == MQ_OBJECT_TOPIC ? "topic" : "group");
	char	   *owner = text_arg(fcinfo, 1, "owner");
	Oid			ownerid = get_role_oid(owner, false);
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		args[2];
	char	   *old_owner;
	Oid			types3[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		args3[3];

	SPI_connect();
	old_owner = owner_check(kind, name);
	if (!superuser())
		check_is_member_of_role(GetUserId(), ownerid);
	args[0] = CStringGetTextDatum(name);
	args[1] = CStringGetTextDatum(GetUserNameFromId(ownerid, false));
	mq_query(kind == MQ_OBJECT_TOPIC ?
			 "UPDATE mq.topic SET owner = $2 WHERE name OPERATOR(pg_catalog.=) $1" :
			 "UPDATE mq.consumer_group SET owner = $2"
			 " WHERE name OPERATOR(pg_catalog.=) $1",
			 2, types, args, NULL, false);

	/* a group's own retry and dead-letter topics go with it */
	if (kind == MQ_OBJECT_GROUP)
	{
		args3[0] = args[0];
		args3[1] = args[1];
		args3[2] = CStringGetTextDatum(old_owner);
		mq_query("UPDATE mq.topic SET owner = $2"
				 " WHERE owner OPERATOR(pg_catalog.=) $3"
				 " AND name OPERATOR(pg_catalog.=) ANY (ARRAY["
				 "  $1 OPERATOR(pg_catalog.||) '.retry',"
				 "  $1 OPERATOR(pg_catalog.||) '.dlq'])",
				 3, types3, args3, NULL, false);
	}
	SPI_finish();
	mq_acl_changed();
}

Datum
mq_alter_topic_owner(PG_FUNCTION_ARGS)
{
	alter_owner(fcinfo, MQ_OBJECT_TOPIC);
	PG_RETURN_VOID();
}

Datum
mq_alter_group_owner(PG_FUNCTION_ARGS)
{
	alter_owner(fcinfo, MQ_OBJECT_GROUP);
	PG_RETURN_VOID();
}

/*
 * mq_acl_shmem_request
 *		Reserve the generation counter.  Called from mq.c's
 *		shmem_request_hook.
 */
void
mq_acl_shmem_request(void)
{
	RequestAddinShmemSpace(CACHELINEALIGN(sizeof(pg_atomic_uint64)));
}

/*
 * mq_acl_shmem_startup
 *		Create the generation counter, or attach to it.  Called from mq.c's
 *		shmem_startup_hook with AddinShmemInitLock held.
 */
void
mq_acl_shmem_startup(void)
{
	bool		found;

	acl_generation = ShmemInitStruct("mq privileges", sizeof(pg_atomic_uint64),
									 &found);
	if (!found)
		pg_atomic_init_u64(acl_generation, 1);
}
