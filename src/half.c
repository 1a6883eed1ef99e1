/*-------------------------------------------------------------------------
 *
 * half.c
 *	  Half messages (transactional messages) and their check-back.
 *
 * A half message is for a producer whose local transaction is not in this
 * database: it prepares the message (mq.prepare), runs its transaction
 * elsewhere, and then commits or rolls the message back by its handle
 * (mq.commit_prepared, mq.rollback_prepared), from any session, after any
 * restart.  Until then the message is a row of mq.half_message, invisible
 * to consumers.  Committing it sends it, with the handle as its id, in the
 * committing transaction: the offset is assigned then.
 *
 * If the producer never says, the database worker asks: first check_after
 * (default 6 s) after the prepare, then every mq.check_interval, at most
 * mq.check_max times.  It calls the function registered for the producer
 * group (mq.register_checker), as the role that registered it and with
 * mq.check_timeout as its statement timeout; it answers 'commit',
 * 'rollback' or 'unknown', and an error or a timeout counts as unknown.
 * Without a function it sends a NOTIFY on the channel
 * "mq.check.<producer group>" with the handle as payload, which any live
 * producer of the group answers by calling commit or rollback.  A half
 * message still unresolved after the last check is marked 'unresolved'
 * (view mq.unresolved) and logged as a WARNING: it is never dropped, and
 * commit and rollback still work on it.
 *
 * Resolved half messages are kept for their topic's dedup_window, so that
 * a second commit or rollback of the same handle is answered (false: it
 * was done before) rather than refused.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/half.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "acl.h"
#include "clock.h"
#include "delay.h"
#include "half.h"
#include "message.h"
#include "produce.h"
#include "query.h"
#include "settings.h"
#include "topic.h"

PG_FUNCTION_INFO_V1(mq_prepare_text);
PG_FUNCTION_INFO_V1(mq_prepare_jsonb);
PG_FUNCTION_INFO_V1(mq_prepare_json);
PG_FUNCTION_INFO_V1(mq_prepare_bytea);
PG_FUNCTION_INFO_V1(mq_commit_prepared);
PG_FUNCTION_INFO_V1(mq_rollback_prepared);
PG_FUNCTION_INFO_V1(mq_register_checker);
PG_FUNCTION_INFO_V1(mq_unregister_checker);

/* Longest producer group name: "mq.check.<group>" must fit a channel name. */
#define PRODUCER_GROUP_MAX	(NAMEDATALEN - 1 - 9)

/*
 * Check-back functions called in one worker transaction, at most this long
 * in all (ms), however many are due: the worker's other jobs wait meanwhile.
 */
#define CHECK_BUDGET_MS		1000

/*
 * producer_group_arg
 *		Argument argno as a producer group name, checked.
 */
static char *
producer_group_arg(FunctionCallInfo fcinfo, int argno)
{
	char	   *name;
	const char *c;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("producer group name must not be null")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (name[0] == '\0' || strlen(name) > PRODUCER_GROUP_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("producer group name \"%s\" must have 1 to %d characters",
						name, PRODUCER_GROUP_MAX),
				 errdetail("Check-backs are notified on the channel \"mq.check.<producer group>\", which must fit in %d bytes.",
						   NAMEDATALEN - 1)));
	for (c = name; *c; c++)
		if (!(isalnum((unsigned char) *c) || *c == '.' || *c == '_' || *c == '-'))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_NAME),
					 errmsg("producer group name \"%s\" contains a character other than A-Z, a-z, 0-9, \".\", \"_\" and \"-\"",
							name)));
	return name;
}

/*
 * prepare
 *		The body of the three mq.prepare variants: (topic, payload,
 *		producer_group, key, tag, headers, partition, check_after).
 *		Stores the half message in the current transaction and returns its
 *		handle.
 */
static Datum
prepare(FunctionCallInfo fcinfo, Oid payload_sqltype)
{
	MqTopicInfo topic;
	char	   *group;
	bytea	   *payload;
	char		payload_type;
	text	   *key = PG_ARGISNULL(3) ? NULL : PG_GETARG_TEXT_PP(3);
	int32		partition = -1;
	Interval   *check_after;
	TimestampTz now = mq_clock_now();
	TimestampTz first_check;
	pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));
	Oid			types[11] = {UUIDOID, INT4OID, TEXTOID, INT4OID, CHAROID,
	TEXTOID, TEXTOID, JSONBOID, BYTEAOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[11];
	char		nulls[11] = "           ";

	mq_produce_send_checks(fcinfo, &topic);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("message payload must not be null")));
	group = producer_group_arg(fcinfo, 2);
	payload = mq_produce_payload(PG_GETARG_DATUM(1), payload_sqltype,
								 &payload_type);
	{
		MqMessage	m = {
			.payload = payload,
			.key = key,
			.tag = PG_ARGISNULL(4) ? NULL : PG_GETARG_TEXT_PP(4),
			.headers = PG_ARGISNULL(5) ? NULL : PG_GETARG_JSONB_P(5)
		};

		mq_produce_check_message(&topic, &m);
	}
	if (!PG_ARGISNULL(6))
	{
		partition = PG_GETARG_INT32(6);
		mq_topic_check_partition(&topic, partition);
	}
	if (PG_ARGISNULL(7))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("check_after must not be null")));
	check_after = PG_GETARG_INTERVAL_P(7);
	first_check = mq_due_after(now, check_after, "check_after");

	mq_produce_new_id(id);
	values[0] = UUIDPGetDatum(id);
	values[1] = Int32GetDatum(topic.topic_id);
	values[2] = CStringGetTextDatum(group);
	values[3] = Int32GetDatum(partition);
	nulls[3] = partition < 0 ? 'n' : ' ';
	values[4] = CharGetDatum(payload_type);
	values[5] = PointerGetDatum(key);
	nulls[5] = key == NULL ? 'n' : ' ';
	nulls[6] = PG_ARGISNULL(4) ? 'n' : ' ';
	values[6] = PG_ARGISNULL(4) ? (Datum) 0 : PG_GETARG_DATUM(4);
	nulls[7] = PG_ARGISNULL(5) ? 'n' : ' ';
	values[7] = PG_ARGISNULL(5) ? (Datum) 0 : PG_GETARG_DATUM(5);
	values[8] = PointerGetDatum(payload);
	values[9] = TimestampTzGetDatum(now);
	values[10] = TimestampTzGetDatum(first_check);

	SPI_connect();
	mq_query("INSERT INTO mq.half_message (id, topic_id, producer_group,"
			 " partition, payload_type, key, tag, headers, payload,"
			 " prepared_at, next_check_at)"
			 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
			 11, types, values, nulls, false);
	SPI_finish();
	mq_delay_schedule_at(first_check);
	PG_RETURN_UUID_P(id);
}

/* SQL: mq.prepare(topic, payload text, producer_group, ...) */
Datum
mq_prepare_text(PG_FUNCTION_ARGS)
{
	return prepare(fcinfo, TEXTOID);
}

/* SQL: mq.prepare(topic, payload jsonb, producer_group, ...) */
Datum
mq_prepare_jsonb(PG_FUNCTION_ARGS)
{
	return prepare(fcinfo, JSONBOID);
}

/* SQL: mq.prepare(topic, payload json, producer_group, ...) */
Datum
mq_prepare_json(PG_FUNCTION_ARGS)
{
	return prepare(fcinfo, JSONOID);
}

/* SQL: mq.prepare(topic, payload bytea, producer_group, ...) */
Datum
mq_prepare_bytea(PG_FUNCTION_ARGS)
{
	return prepare(fcinfo, BYTEAOID);
}

/*
 * resolve
 *		Commit (publish) or roll back the half message handle, as who
 *		('producer' or 'checker'), in the current transaction.  Returns
 *		true if this call resolved it, false if it was resolved the same
 *		way before.  The caller is connected to SPI; check_access says
 *		whether the caller needs the right to send to the topic (the worker
 *		does not).
 */
static bool
resolve(Datum handle, bool commit, const char *who, bool check_access)
{
	Oid			types[3] = {UUIDOID, TEXTOID, TEXTOID};
	Datum		args[3];
	const char *state = commit ? "committed" : "rolled_back";
	char	   *found;

	args[0] = handle;
	args[1] = CStringGetTextDatum(state);
	args[2] = CStringGetTextDatum(who);
	if (mq_query("UPDATE mq.half_message h"
				 " SET state = $2, resolved_at = pg_catalog.now(),"
				 " resolved_by = $3, next_check_at = NULL"
				 " WHERE h.id OPERATOR(pg_catalog.=) $1"
				 " AND h.state OPERATOR(pg_catalog.=) ANY"
				 "  ('{prepared,unresolved}'::text[])"
				 " RETURNING (SELECT t.name FROM mq.topic t"
				 "  WHERE t.topic_id OPERATOR(pg_catalog.=) h.topic_id),"
				 " h.partition, h.payload_type, h.key, h.tag, h.headers,"
				 " h.payload",
				 3, types, args, NULL, false) > 0)
	{
		static const MqMessageColumns cols = {
			.partition = 2,.payload_type = 3,.key = 4,.tag = 5,.headers = 6,
			.payload = 7
		};
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MqTopicInfo topic;
		MqMessage	m;

		mq_topic_get(SPI_getvalue(tup, desc, 1), &topic);
		if (check_access)
			mq_topic_check_access(&topic, MQ_ACCESS_SEND);
		if (!commit)
			return true;
		mq_message_from_row(tup, desc, &cols, &m);
		m.id = *DatumGetUUIDP(handle);	/* the handle is the message's id */
		mq_produce_buffer(&topic, &m);
		return true;
	}

	mq_query("SELECT state FROM mq.half_message"
			 " WHERE id OPERATOR(pg_catalog.=) $1", 1, types, args,
			 NULL, false);

	/*
	 * For the worker, a half message resolved meanwhile (by its checker
	 * itself, say) is simply no longer its business.
	 */
	if (!check_access)
		return false;
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("half message %s does not exist",
						DatumGetCString(DirectFunctionCall1(uuid_out, handle))),
				 errhint("Resolved half messages are forgotten after their topic's dedup_window.")));
	found = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (strcmp(found, state) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("half message %s cannot be %s: it was %s",
						DatumGetCString(DirectFunctionCall1(uuid_out, handle)),
						commit ? "committed" : "rolled back",
						strcmp(found, "committed") == 0 ? "committed" : "rolled back")));
	return false;
}

/*
 * resolve_call
 *		The body of mq.commit_prepared and mq.rollback_prepared.
 */
static Datum
resolve_call(FunctionCallInfo fcinfo, bool commit)
{
	bool		done;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("handle must not be null")));
	if (commit && XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot commit a half message in a read-only transaction")));
	SPI_connect();
	done = resolve(PG_GETARG_DATUM(0), commit, "producer", true);
	SPI_finish();
	PG_RETURN_BOOL(done);
}

/*
 * mq_commit_prepared
 *		SQL: mq.commit_prepared(handle) publishes a half message as part of
 *		the current transaction.  Returns false if it was committed before.
 */
Datum
mq_commit_prepared(PG_FUNCTION_ARGS)
{
	return resolve_call(fcinfo, true);
}

/*
 * mq_rollback_prepared
 *		SQL: mq.rollback_prepared(handle) discards a half message.  Returns
 *		false if it was rolled back before.
 */
Datum
mq_rollback_prepared(PG_FUNCTION_ARGS)
{
	return resolve_call(fcinfo, false);
}

/*
 * check_registrant
 *		Refuse to replace or remove the checker of producer group group that
 *		role owner registered, unless the current user is a member of that
 *		role (superusers are), or a superuser if the role no longer exists.
 */
static void
check_registrant(const char *group, const char *owner)
{
	Oid			owner_id = get_role_oid(owner, true);

	if (OidIsValid(owner_id) ? is_member_of_role(GetUserId(), owner_id) :
		superuser())
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("producer group \"%s\" has a checker registered by role \"%s\"",
					group, owner),
			 errhint("Only that role or a member of it can replace or remove it; a superuser if the role no longer exists.")));
}

/*
 * mq_register_checker
 *		SQL: mq.register_checker(producer_group, checker regprocedure) has
 *		the worker call checker(mq.half_messages) to learn the outcome of
 *		the group's unresolved half messages.  It must return text
 *		('commit', 'rollback' or 'unknown').  The worker calls it as the
 *		role that registers it, who must be allowed to execute it.
 */
Datum
mq_register_checker(PG_FUNCTION_ARGS)
{
	char	   *group = producer_group_arg(fcinfo, 0);
	Oid			fn;
	Oid			rowtype;
	HeapTuple	tup;
	Form_pg_proc proc;
	Oid			types[3] = {TEXTOID, OIDOID, TEXTOID};
	Datum		args[3];
	bool		isnull;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("checker must not be null")));
	fn = PG_GETARG_OID(1);
	rowtype = get_rel_type_id(get_relname_relid("half_messages",
												get_namespace_oid(MQ_EXTENSION_NAME, false)));
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", fn);
	proc = (Form_pg_proc) GETSTRUCT(tup);
	if (proc->pronargs != 1 || proc->proargtypes.values[0] != rowtype ||
		proc->prorettype != TEXTOID || proc->proretset ||
		proc->prokind != PROKIND_FUNCTION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_FUNCTION_DEFINITION),
				 errmsg("checker %s of producer group \"%s\" must take one mq.half_messages argument and return text",
						format_procedure(fn), group),
				 errhint("Declare it as FUNCTION f(m mq.half_messages) RETURNS text, returning 'commit', 'rollback' or 'unknown'.")));
	ReleaseSysCache(tup);
	if (pg_proc_aclcheck(fn, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for function %s", format_procedure(fn))));

	args[0] = CStringGetTextDatum(group);
	args[1] = ObjectIdGetDatum(fn);
	args[2] = CStringGetTextDatum(GetUserNameFromId(GetUserId(), false));
	SPI_connect();
	if (mq_query("SELECT owner FROM mq.checker"
				 " WHERE producer_group OPERATOR(pg_catalog.=) $1"
				 " FOR UPDATE",
				 1, types, args, NULL, false) > 0)
		check_registrant(group,
						 TextDatumGetCString(mq_query_value(0, 1, &isnull)));
	mq_query("INSERT INTO mq.checker (producer_group, checker, owner)"
			 " VALUES ($1, $2, $3)"
			 " ON CONFLICT (producer_group) DO UPDATE"
			 " SET checker = excluded.checker, owner = excluded.owner",
			 3, types, args, NULL, false);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * mq_unregister_checker
 *		SQL: mq.unregister_checker(producer_group): check-backs of the group
 *		go back to NOTIFY.  Returns false if it had no checker.
 */
Datum
mq_unregister_checker(PG_FUNCTION_ARGS)
{
	char	   *group = producer_group_arg(fcinfo, 0);
	Oid			type = TEXTOID;
	Datum		arg = CStringGetTextDatum(group);
	bool		found;
	bool		isnull;

	SPI_connect();
	found = mq_query("SELECT owner FROM mq.checker"
					 " WHERE producer_group OPERATOR(pg_catalog.=) $1"
					 " FOR UPDATE",
					 1, &type, &arg, NULL, false) > 0;
	if (found)
	{
		check_registrant(group,
						 TextDatumGetCString(mq_query_value(0, 1, &isnull)));
		mq_query("DELETE FROM mq.checker"
				 " WHERE producer_group OPERATOR(pg_catalog.=) $1",
				 1, &type, &arg, NULL, false);
	}
	SPI_finish();
	PG_RETURN_BOOL(found);
}

/* What a checker says of a half message. */
typedef enum CheckAnswer
{
	CHECK_UNKNOWN,				/* no answer yet, an error or a timeout */
	CHECK_COMMIT,
	CHECK_ROLLBACK
} CheckAnswer;

/*
 * registrant_unfit
 *		A checker that cannot be called because of its registrant: the
 *		answer is unknown, and only an operator can fix it, so say so where
 *		one looks.
 */
static CheckAnswer
registrant_unfit(const char *topic, const char *why)
{
	ereport(WARNING,
			(errmsg("check-back of a half message on topic \"%s\" failed: %s",
					topic, why),
			 errhint("Register the checker again with mq.register_checker, as a role that exists, may execute it and may produce to the topic.")));
	return CHECK_UNKNOWN;
}

/*
 * call_checker
 *		Ask checker fn, as role owner, about half message handle.  Runs in
 *		a subtransaction with mq.check_timeout as statement timeout, so an
 *		error or a timeout only makes the answer 'unknown'; *why gets the
 *		error message then.
 *		The caller is connected to SPI.
 */
static CheckAnswer
call_checker(Oid fn, const char *registrant, const char *topic, Datum handle,
			 char **why)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner resowner = CurrentResourceOwner;
	Oid			type = UUIDOID;
	Oid			save_userid;
	int			save_sec_context;
	Datum		row;
	bool		isnull;
	volatile CheckAnswer answer = CHECK_UNKNOWN;
	Oid			owner = get_role_oid(registrant, true);

	*why = NULL;

	/* the registrant must still exist and still be allowed to run it */
	if (!OidIsValid(owner))
		*why = psprintf("the checker's registrant, role \"%s\", does not exist",
						registrant);
	else if (!SearchSysCacheExists1(PROCOID, ObjectIdGetDatum(fn)))
		*why = psprintf("the checker, function %u, does not exist", fn);
	else if (pg_proc_aclcheck(fn, owner, ACL_EXECUTE) != ACLCHECK_OK)
		*why = psprintf("the checker's registrant, role \"%s\", may not execute function %s",
						registrant, format_procedure(fn));
	if (*why != NULL)
		return registrant_unfit(topic, *why);

	/*
	 * Producer groups are only names: the function sees the message and
	 * decides its fate, so its registrant must be one who may produce to the
	 * message's topic.
	 */
	{
		bool		exists;

		if ((mq_acl_mask(MQ_OBJECT_TOPIC, topic, owner, &exists) &
			 MQ_PRIV_PRODUCE) == 0)
		{
			*why = psprintf("the checker's registrant, role \"%s\", may not produce to topic \"%s\"",
							registrant, topic);
			return registrant_unfit(topic, *why);
		}
	}
	mq_query("SELECT h FROM mq.half_messages h"
			 " WHERE h.handle OPERATOR(pg_catalog.=) $1",
			 1, &type, &handle, NULL, true);
	if (SPI_processed != 1)
		return CHECK_UNKNOWN;
	row = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
						&isnull);

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		Datum		result;
		char	   *said;

		SetUserIdAndSecContext(owner, save_sec_context |
							   SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
		enable_timeout_after(STATEMENT_TIMEOUT, mq_check_timeout);
		result = OidFunctionCall1Coll(fn, InvalidOid, row);
		disable_timeout(STATEMENT_TIMEOUT, false);
		SetUserIdAndSecContext(save_userid, save_sec_context);
		said = TextDatumGetCString(result);
		if (strcmp(said, "commit") == 0)
			answer = CHECK_COMMIT;
		else if (strcmp(said, "rollback") == 0)
			answer = CHECK_ROLLBACK;
		else if (strcmp(said, "unknown") != 0)
			*why = psprintf("checker returned \"%s\"", said);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = resowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		disable_timeout(STATEMENT_TIMEOUT, false);
		SetUserIdAndSecContext(save_userid, save_sec_context);
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = resowner;
		*why = pstrdup(edata->message);
		FreeErrorData(edata);
		answer = CHECK_UNKNOWN;
	}
	PG_END_TRY();
	return answer;
}

/*
 * resolve_checked
 *		Resolve half message handle as its checker answered, in a
 *		subtransaction that also writes the message if committed, so that a
 *		failure (the write, say) leaves it prepared for the next check-back,
 *		with the error in *why, and the other half messages go on.  Returns
 *		whether it was resolved.  The caller is connected to SPI.
 */
static bool
resolve_checked(Datum handle, bool commit, char **why)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner resowner = CurrentResourceOwner;
	volatile bool ok = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		resolve(handle, commit, "checker", false);
		mq_produce_flush();
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = resowner;
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = resowner;
		*why = psprintf("%s failed: %s", commit ? "commit" : "rollback",
						edata->message);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	return ok;
}

/*
 * mq_half_check_due
 *		Check back up to MQ_CHECK_BATCH half messages due at now (mq's clock),
 *		earliest first, for at most CHECK_BUDGET_MS of check-back functions.
 *		Sets *backlog to the checks still due.  Returns how many were checked,
 *		or MQ_CHECK_BATCH if it stopped for lack of time (so that the worker
 *		comes back at once, after its other due work).  Called by the database
 *		worker in a transaction with a snapshot, as the bootstrap superuser.
 */
int64
mq_half_check_due(TimestampTz now, int64 *backlog)
{
	Oid			types[4] = {TIMESTAMPTZOID, UUIDOID, TEXTOID, TIMESTAMPTZOID};
	Datum		args[4];
	uint64		n;
	uint64		i;
	Datum	   *handles;
	char	  **groups;
	char	  **topics;
	Oid		   *checkers;
	char	  **owners;
	int32	   *checks;
	bool		isnull;
	TimestampTz start = GetCurrentTimestamp();

	args[0] = TimestampTzGetDatum(now);
	SPI_connect();
	n = mq_query("SELECT h.id, h.producer_group, c.checker::oid, c.owner,"
				 " h.checks, t.name"
				 " FROM mq.half_message h"
				 " JOIN mq.topic t USING (topic_id)"
				 " LEFT JOIN mq.checker c USING (producer_group)"
				 " WHERE h.state OPERATOR(pg_catalog.=) 'prepared'"
				 " AND h.next_check_at OPERATOR(pg_catalog.<=) $1"
				 " ORDER BY h.next_check_at LIMIT " CppAsString2(MQ_CHECK_BATCH)
				 " FOR UPDATE OF h SKIP LOCKED",
				 1, types, args, NULL, false);
	handles = palloc(sizeof(Datum) * Max(n, 1));
	groups = palloc(sizeof(char *) * Max(n, 1));
	checkers = palloc(sizeof(Oid) * Max(n, 1));
	owners = palloc(sizeof(char *) * Max(n, 1));
	topics = palloc(sizeof(char *) * Max(n, 1));
	checks = palloc(sizeof(int32) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));
		Datum		d;

		*id = *DatumGetUUIDP(SPI_getbinval(tup, desc, 1, &isnull));
		handles[i] = UUIDPGetDatum(id);
		groups[i] = SPI_getvalue(tup, desc, 2);
		d = SPI_getbinval(tup, desc, 3, &isnull);
		checkers[i] = isnull ? InvalidOid : DatumGetObjectId(d);
		owners[i] = SPI_getvalue(tup, desc, 4);
		checks[i] = DatumGetInt32(SPI_getbinval(tup, desc, 5, &isnull));
		topics[i] = SPI_getvalue(tup, desc, 6);
	}

	for (i = 0; i < n; i++)
	{
		char		answer = CHECK_UNKNOWN;
		char	   *why = NULL;
		const char *last;
		char	   *handle_text;

		if (i > 0 && TimestampDifferenceExceeds(start, GetCurrentTimestamp(),
												CHECK_BUDGET_MS))
		{
			n = MQ_CHECK_BATCH;
			break;
		}
		handle_text = DatumGetCString(DirectFunctionCall1(uuid_out, handles[i]));
		CHECK_FOR_INTERRUPTS();
		if (OidIsValid(checkers[i]))
		{
			answer = call_checker(checkers[i], owners[i], topics[i], handles[i],
								  &why);
			last = answer == CHECK_COMMIT ? "commit" :
				answer == CHECK_ROLLBACK ? "rollback" :
				why != NULL ? why : "unknown";
		}
		else
		{
			char		channel[NAMEDATALEN];

			snprintf(channel, sizeof(channel), "mq.check.%s", groups[i]);
			Async_Notify(channel, handle_text);
			last = "notified";
		}

		args[1] = handles[i];
		if (answer != CHECK_UNKNOWN)
		{
			if (resolve_checked(handles[i], answer == CHECK_COMMIT, &why))
			{
				args[2] = CStringGetTextDatum(last);
				mq_query("UPDATE mq.half_message"
						 " SET checks = checks OPERATOR(pg_catalog.+) 1,"
						 " last_check = $3"
						 " WHERE id OPERATOR(pg_catalog.=) $2",
						 4, types, args, NULL, false);
				continue;
			}
			last = why;
		}
		args[2] = CStringGetTextDatum(last);

		args[3] = TimestampTzGetDatum(now + (int64) mq_check_interval * USECS_PER_SEC);
		if (checks[i] + 1 >= mq_check_max)
		{
			mq_query("UPDATE mq.half_message"
					 " SET checks = checks OPERATOR(pg_catalog.+) 1,"
					 " last_check = $3, state = 'unresolved',"
					 " next_check_at = NULL"
					 " WHERE id OPERATOR(pg_catalog.=) $2",
					 4, types, args, NULL, false);
			ereport(WARNING,
					(errmsg("half message %s of producer group \"%s\" is unresolved after %d check-backs",
							handle_text, groups[i], checks[i] + 1),
					 errdetail("Last answer: %s.", last),
					 errhint("It is kept in mq.unresolved; commit or roll it back with mq.commit_prepared() or mq.rollback_prepared().")));
		}
		else
			mq_query("UPDATE mq.half_message"
					 " SET checks = checks OPERATOR(pg_catalog.+) 1,"
					 " last_check = $3, next_check_at = $4"
					 " WHERE id OPERATOR(pg_catalog.=) $2",
					 4, types, args, NULL, false);
	}

	mq_query("SELECT count(*) FROM (SELECT 1 FROM mq.half_message"
			 " WHERE state OPERATOR(pg_catalog.=) 'prepared'"
			 " AND next_check_at OPERATOR(pg_catalog.<=) $1"
			 " LIMIT " CppAsString2(MQ_BACKLOG_COUNT_MAX) ") d",
			 1, types, args, NULL, false);
	*backlog = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return (int64) n;
}

/*
 * mq_half_purge_resolved
 *		Forget half messages resolved longer ago than their topic's
 *		dedup_window (up to 10000 a call).  Returns how many.  Called by the
 *		database worker in a transaction with a snapshot.
 */
int
mq_half_purge_resolved(void)
{
	int			purged;

	SPI_connect();
	purged = (int) mq_query("DELETE FROM mq.half_message WHERE id OPERATOR(pg_catalog.=) ANY (ARRAY("
							" SELECT h.id FROM mq.half_message h JOIN mq.topic t USING (topic_id)"
							"  WHERE h.state OPERATOR(pg_catalog.=) ANY ('{committed,rolled_back}'::text[])"
							"  AND h.resolved_at OPERATOR(pg_catalog.<)"
							"   (pg_catalog.now() OPERATOR(pg_catalog.-) t.dedup_window)"
							"  LIMIT " CppAsString2(MQ_PURGE_BATCH) " FOR UPDATE OF h SKIP LOCKED))",
							0, NULL, NULL, NULL, false);
	SPI_finish();
	return purged;
}

/*
 * mq_half_next_check
 *		When the next check-back after after is due, or DT_NOEND; *stuck
 *		says whether check-backs due at or before after are still waiting
 *		(rows another transaction holds: a producer resolving it).  Reads
 *		with a new snapshot.  Called by the database worker in a
 *		transaction.
 */
TimestampTz
mq_half_next_check(TimestampTz after, bool *stuck)
{
	TimestampTz due = DT_NOEND;
	Oid			type = TIMESTAMPTZOID;
	Datum		arg = TimestampTzGetDatum(after);
	bool		isnull;
	Datum		d;

	SPI_connect();
	mq_query("SELECT (SELECT min(next_check_at) FROM mq.half_message"
			 "         WHERE state OPERATOR(pg_catalog.=) 'prepared'"
			 "         AND next_check_at OPERATOR(pg_catalog.>) $1),"
			 " EXISTS (SELECT 1 FROM mq.half_message"
			 "         WHERE state OPERATOR(pg_catalog.=) 'prepared'"
			 "         AND next_check_at OPERATOR(pg_catalog.<=) $1)",
			 1, &type, &arg, NULL, false);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
					  &isnull);
	if (!isnull)
		due = DatumGetTimestampTz(d);
	*stuck = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 2, &isnull));
	SPI_finish();
	return due;
}
