/*-------------------------------------------------------------------------
 *
 * position.c
 *	  A consumer group's positions: the claims and leases of this session,
 *	  and mq.commit, mq.ack, mq.commit(group), mq.seek and the lag's oldest
 *	  unconsumed time.
 *
 * A position (mq.position) is the next offset a group (or, in broadcasting
 * mode, a member of it) reads in a partition.  A fetch (fetch.c) claims a
 * partition by locking its position row with SKIP LOCKED; what then
 * happens to the position depends on the fetch mode:
 *
 * - In a transaction block, the lock is the claim: it lasts until the
 *   transaction ends, so no other consumer of the group gets the same
 *   messages meanwhile.  mq.commit, mq.ack or mq.commit(group) records the
 *   position in the same transaction: exactly-once for effects in this
 *   database.  A rollback releases the claim, and the messages come again.
 * - With auto_commit => true, the fetch leases the partitions it read
 *   (lease columns of the position, for mq.auto_commit_timeout) and the
 *   next auto-commit fetch of the same session and group commits them
 *   first: at-least-once.  A consumer that dies loses its lease when it
 *   times out, and its last batch is delivered again.
 * - Otherwise, outside a transaction block, the fetch commits the position
 *   past what it returns before returning it: at-most-once.
 *
 * Claims follow subtransactions: a claim made or moved in a subtransaction
 * that rolls back goes back to where it was (undo points).
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/position.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "group.h"
#include "metrics.h"
#include "offsets.h"
#include "position.h"
#include "query.h"
#include "segment.h"
#include "settings.h"
#include "subscription.h"
#include "topic.h"

PG_FUNCTION_INFO_V1(mq_commit);
PG_FUNCTION_INFO_V1(mq_ack);
PG_FUNCTION_INFO_V1(mq_commit_fetched);
PG_FUNCTION_INFO_V1(mq_commit_consumer);
PG_FUNCTION_INFO_V1(mq_seek);
PG_FUNCTION_INFO_V1(mq_seek_position);
PG_FUNCTION_INFO_V1(mq_seek_time);
PG_FUNCTION_INFO_V1(mq_first_unconsumed_at);
/* The first four parameters of the position queries: its key. */
#define POSITION_KEY \
	" WHERE group_id = $1 AND topic_id = $2 AND partition = $3" \
	" AND member_id = $4"


/*
 * A partition this session read from: claimed by a row lock in the current
 * transaction (xact_claims), or leased by an auto-commit fetch (the
 * session batch).
 */
typedef struct Claim
{
	char		group_name[MQ_NAME_MAX + 1];
	int32		group_id;
	int32		topic_id;
	int32		partition;
	char		member_id[MQ_NAME_MAX + 1]; /* '' in clustering mode */
	int64		next;			/* just past what was handed out */
	SubTransactionId subid;		/* subtransaction that made the claim */
	List	   *undo;			/* UndoPoints, innermost last */
	int64		rewound;		/* where mq.nack sent next back, or -1 */
} Claim;

/*
 * Where next was when a subtransaction below the claim's first moved it:
 * if that subtransaction rolls back, next goes back there.  A claim's undo
 * points have increasing subtransaction ids, one per level at most.
 */
typedef struct UndoPoint
{
	SubTransactionId subid;
	int64		next;
	int64		rewound;
} UndoPoint;

/* Claims of the current transaction, in TopTransactionContext. */
static List *xact_claims = NIL;

/* Leases of this session's last auto-commit fetches, in TopMemoryContext. */
static List *session_batch = NIL;

/* What session_batch becomes if the current transaction commits. */
static List *next_session_batch = NIL;
static bool session_batch_pending = false;

/*
 * mq_position_lease_owner
 *		Who holds an auto-commit fetch's leases.  Without a consumer id,
 *		this session: its process id and start time, so that a later session
 *		with the same pid differs, and the session remembers its last batch.
 *		With one, the consumer, wherever its next fetch runs (behind a
 *		transaction pooler, any server session): a 63-bit hash of the
 *		current role and the id, made negative so that it never equals a
 *		session's, and the last batch is the positions it leases.  The role
 *		is in the hash so that another role's fetches and commits, which may
 *		not read the same topics, cannot take or acknowledge the leases.
 */
int64
mq_position_lease_owner(const char *consumer_id)
{
	Oid			role = GetUserId();

	if (consumer_id == NULL)
		return ((int64) MyProcPid << 32) | (uint32) MyStartTimestamp;
	return (int64) (hash_bytes_extended((const unsigned char *) consumer_id,
										strlen(consumer_id), (uint64) role) |
					UINT64CONST(0x8000000000000000));
}

/*
 * mq_position_consumer_arg
 *		Argument argno as a consumer id, or NULL if the argument is null.
 */
const char *
mq_position_consumer_arg(FunctionCallInfo fcinfo, int argno)
{
	char	   *consumer;
	size_t		len;

	if (PG_ARGISNULL(argno))
		return NULL;
	consumer = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	len = strlen(consumer);
	if (len == 0 || len > MQ_NAME_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid consumer id \"%s\"", consumer),
				 errdetail("A consumer id has 1 to %d bytes.", MQ_NAME_MAX)));
	return consumer;
}

static Claim *
find_claim(List *claims, int32 group_id, int32 topic_id, int32 partition,
		   const char *member_id)
{
	ListCell   *lc;

	foreach(lc, claims)
	{
		Claim	   *c = lfirst(lc);

		if (c->group_id == group_id && c->topic_id == topic_id &&
			c->partition == partition && strcmp(c->member_id, member_id) == 0)
			return c;
	}
	return NULL;
}

/*
 * mq_position_claimed
 *		Where this transaction's claim on a position has got to (the next
 *		offset it hands out), or -1 if it holds no claim there.
 */
int64
mq_position_claimed(int32 group_id, int32 topic_id, int32 partition,
					const char *member_id)
{
	Claim	   *c = find_claim(xact_claims, group_id, topic_id, partition,
							   member_id);

	return c != NULL ? c->next : -1;
}

/*
 * position_key_args
 *		The first four arguments of the position queries below: group,
 *		topic, partition, member.
 */
static void
position_key_args(Datum *args, int32 group_id, int32 topic_id,
				  int32 partition, const char *member_id)
{
	args[0] = Int32GetDatum(group_id);
	args[1] = Int32GetDatum(topic_id);
	args[2] = Int32GetDatum(partition);
	args[3] = CStringGetTextDatum(member_id);
}

/*
 * The offsets an UPDATE of a position to $5 moves it forward: its RETURNING
 * clause.  The subquery runs with the UPDATE's snapshot, so it reads the
 * row as it was before the UPDATE.
 */
#define RETURNING_ADVANCE \
	" RETURNING GREATEST($5 - (SELECT next_offset FROM mq.position" \
	POSITION_KEY "), 0)"

/*
 * count_advance
 *		Count what the position UPDATE just run moved forward (its
 *		RETURNING_ADVANCE) as acknowledged.
 */
static void
count_advance(int32 group_id, int32 topic_id)
{
	bool		isnull;
	int64		advance;

	if (SPI_processed == 0)
		return;
	advance = DatumGetInt64(mq_query_value(0, 1, &isnull));
	if (!isnull)
		mq_metrics_count(topic_id, group_id, MQ_METRIC_ACKNOWLEDGED, advance,
						 0);
}

/*
 * set_position
 *		Commit a position (in the current transaction) and drop any lease on
 *		it.  Returns false if the position does not exist.
 */
static bool
set_position(int32 group_id, int32 topic_id, int32 partition,
			 const char *member_id, int64 next)
{
	Oid			types[5] = {INT4OID, INT4OID, INT4OID, TEXTOID, INT8OID};
	Datum		args[5];

	position_key_args(args, group_id, topic_id, partition, member_id);
	args[4] = Int64GetDatum(next);
	if (mq_query("UPDATE mq.position SET next_offset = $5, committed_at = now(),"
				 " lease_owner = NULL, lease_to = NULL, lease_until = NULL,"
				 " attempts = CASE WHEN next_offset = $5 THEN attempts ELSE 0 END"
				 POSITION_KEY RETURNING_ADVANCE,
				 5, types, args, NULL, false) == 0)
		return false;
	count_advance(group_id, topic_id);
	return true;
}

/*
 * commit_consumer_leases
 *		Commit the positions of a group a consumer (by id) leases: those of
 *		its last auto-commit fetch, wherever it ran.  A position another
 *		transaction holds is skipped, not waited for: the lease expired and
 *		another consumer took it.
 */
static int
commit_consumer_leases(int32 group_id, int64 lease_owner)
{
	Oid			types[2] = {INT4OID, INT8OID};
	Datum		args[2];
	uint64		n;
	uint64		i;

	args[0] = Int32GetDatum(group_id);
	args[1] = Int64GetDatum(lease_owner);
	n = mq_query("WITH o AS (SELECT ctid, next_offset, lease_to FROM mq.position"
				 "  WHERE group_id = $1 AND lease_owner = $2"
				 "  FOR UPDATE SKIP LOCKED)"
				 " UPDATE mq.position p SET next_offset = o.lease_to,"
				 " committed_at = now(), lease_owner = NULL,"
				 " lease_to = NULL, lease_until = NULL,"
				 " attempts = CASE WHEN o.next_offset = o.lease_to"
				 "  THEN p.attempts ELSE 0 END"
				 " FROM o WHERE p.ctid = o.ctid"
				 " RETURNING p.topic_id, GREATEST(o.lease_to - o.next_offset, 0)",
				 2, types, args, NULL, false);
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		mq_metrics_count(DatumGetInt32(mq_query_value(i, 1, &isnull)),
						 group_id, MQ_METRIC_ACKNOWLEDGED,
						 DatumGetInt64(mq_query_value(i, 2, &isnull)), 0);
	}
	SPI_freetuptable(SPI_tuptable);
	return (int) n;
}

/*
 * mq_position_commit_leases
 *		Commit the positions lease_owner leased for a group in its last
 *		auto-commit fetch, unless the lease was lost meanwhile (it timed out
 *		and another consumer took the partition, or a seek or commit
 *		replaced it): those messages are then delivered again.  For this
 *		session, removes them from the session batch if the transaction
 *		commits.  Returns how many were committed.
 */
int
mq_position_commit_leases(int32 group_id, int64 lease_owner)
{
	ListCell   *lc;
	MemoryContext old;
	int			committed = 0;
	List	   *keep = NIL;

	if (lease_owner < 0)
		return commit_consumer_leases(group_id, lease_owner);

	old = MemoryContextSwitchTo(TopTransactionContext);
	foreach(lc, session_batch_pending ? next_session_batch : session_batch)
	{
		Claim	   *c = lfirst(lc);

		if (c->group_id != group_id)
		{
			Claim	   *copy = palloc(sizeof(Claim));

			memcpy(copy, c, sizeof(Claim));
			keep = lappend(keep, copy);
			continue;
		}
		{
			Oid			types[6] = {INT4OID, INT4OID, INT4OID, TEXTOID, INT8OID, INT8OID};
			Datum		args[6];

			position_key_args(args, c->group_id, c->topic_id, c->partition,
							  c->member_id);
			args[4] = Int64GetDatum(c->next);
			args[5] = Int64GetDatum(lease_owner);
			MemoryContextSwitchTo(old);

			/*
			 * A position locked by another transaction is not ours any more
			 * (our lease expired and it was taken): skip it, do not wait.
			 */
			committed += mq_query("UPDATE mq.position SET next_offset = $5,"
								  " committed_at = now(), lease_owner = NULL,"
								  " lease_to = NULL, lease_until = NULL,"
								  " attempts = CASE WHEN next_offset = $5"
								  "  THEN attempts ELSE 0 END"
								  " WHERE ctid = (SELECT ctid FROM mq.position"
								  POSITION_KEY
								  " AND lease_owner = $6 AND lease_to = $5"
								  " FOR UPDATE SKIP LOCKED)" RETURNING_ADVANCE,
								  6, types, args, NULL, false);
			count_advance(c->group_id, c->topic_id);
			MemoryContextSwitchTo(TopTransactionContext);
		}
	}
	next_session_batch = keep;
	session_batch_pending = true;
	MemoryContextSwitchTo(old);
	return committed;
}

/*
 * mq_position_claim
 *		Lock the group's position in a partition, unless another transaction
 *		holds it or someone other than lease_owner leases it.  Returns false
 *		if it could not; else sets *next to the position.
 */
bool
mq_position_claim(const MqGroupInfo *group, int32 topic_id, int32 partition,
				  const char *pos_member, int64 lease_owner, int64 *next)
{
	Oid			types[5] = {INT4OID, INT4OID, INT4OID, TEXTOID, INT8OID};
	Datum		args[5];
	bool		isnull;

	position_key_args(args, group->group_id, topic_id, partition,
					  pos_member);
	args[4] = Int64GetDatum(lease_owner);
	if (mq_query("SELECT next_offset FROM mq.position" POSITION_KEY
				 " AND (lease_until IS NULL OR lease_until <= clock_timestamp()"
				 "      OR lease_owner = $5)"
				 " FOR UPDATE SKIP LOCKED", 5, types, args, NULL, false) == 0)
	{
		SPI_freetuptable(SPI_tuptable);
		return false;
	}
	*next = DatumGetInt64(mq_query_value(0, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	return true;
}

/*
 * new_claim
 *		A claim of group on a partition, in TopTransactionContext.
 */
static Claim *
new_claim(const MqGroupInfo *group, int32 topic_id, int32 partition,
		  const char *pos_member)
{
	Claim	   *c = MemoryContextAllocZero(TopTransactionContext, sizeof(Claim));

	strlcpy(c->group_name, group->name, sizeof(c->group_name));
	c->group_id = group->group_id;
	c->topic_id = topic_id;
	c->partition = partition;
	strlcpy(c->member_id, pos_member, sizeof(c->member_id));
	c->rewound = -1;
	return c;
}

/*
 * move_claim
 *		The claim's next offset is about to change in subtransaction subid:
 *		if that is below the claim's own, keep an undo point so that its
 *		rollback puts next back.
 */
static void
move_claim(Claim *c, SubTransactionId subid)
{
	if (subid != c->subid &&
		(c->undo == NIL || ((UndoPoint *) llast(c->undo))->subid != subid))
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
		UndoPoint  *u = palloc(sizeof(UndoPoint));

		u->subid = subid;
		u->next = c->next;
		u->rewound = c->rewound;
		c->undo = lappend(c->undo, u);
		MemoryContextSwitchTo(old);
	}
}

/*
 * mq_position_record_read
 *		After a fetch read a partition up to scanned_to (returned messages
 *		of it), do what the fetch mode says with the group's position (of
 *		member pos_member, '' in clustering mode); an auto-commit fetch
 *		leases it to lease_owner.
 */
void
mq_position_record_read(const MqGroupInfo *group, MqFetchMode mode,
						int32 topic_id, int32 partition,
						const char *pos_member, int64 lease_owner,
						int64 scanned_to, int32 returned)
{
	SubTransactionId subid = GetCurrentSubTransactionId();
	MemoryContext old;
	Claim	   *c;

	switch (mode)
	{
		case MQ_FETCH_TRANSACTIONAL:
			c = find_claim(xact_claims, group->group_id, topic_id, partition,
						   pos_member);
			if (c == NULL)
			{
				c = new_claim(group, topic_id, partition, pos_member);
				c->subid = subid;
				old = MemoryContextSwitchTo(TopTransactionContext);
				xact_claims = lappend(xact_claims, c);
				MemoryContextSwitchTo(old);
			}
			else
				move_claim(c, subid);
			c->next = scanned_to;
			c->rewound = -1;
			break;

		case MQ_FETCH_AUTO_COMMIT:
			if (returned == 0)
			{
				/* only filtered-out messages: nothing to deliver again */
				set_position(group->group_id, topic_id, partition,
							 pos_member, scanned_to);
			}
			else
			{
				Oid			types[6] = {INT4OID, INT4OID, INT4OID, TEXTOID, INT8OID, INT8OID};
				Datum		args[6];

				position_key_args(args, group->group_id, topic_id, partition,
								  pos_member);
				args[4] = Int64GetDatum(scanned_to);
				args[5] = Int64GetDatum(lease_owner);
				mq_query(psprintf("UPDATE mq.position SET lease_owner = $6,"
								  " lease_to = $5,"
								  " lease_until = clock_timestamp() + interval '%d ms'"
								  POSITION_KEY, mq_auto_commit_timeout),
						 6, types, args, NULL, false);
				if (lease_owner < 0)
					break;		/* a consumer's: its leases are its batch */
				c = new_claim(group, topic_id, partition, pos_member);
				c->next = scanned_to;
				old = MemoryContextSwitchTo(TopTransactionContext);
				next_session_batch = lappend(next_session_batch, c);
				session_batch_pending = true;
				MemoryContextSwitchTo(old);
			}
			break;

		case MQ_FETCH_AT_MOST_ONCE:
			set_position(group->group_id, topic_id, partition, pos_member,
						 scanned_to);
			break;
	}
}

/*
 * position_target
 *		Common checks of commit, ack and seek: the group (fenced if a member
 *		and generation are given), the topic, the subscription, the member
 *		for broadcasting.  Returns the member id of the positions ('' in
 *		clustering mode).  The caller is connected to SPI.
 */
static const char *
position_target(FunctionCallInfo fcinfo, MqGroupInfo *group,
				MqTopicInfo *topic, int arg_member, int arg_generation,
				bool *shared)
{
	char	   *group_name = mq_group_access_arg(fcinfo, 0, MQ_PRIV_CONSUME);
	char	   *member_id = mq_group_member_arg(fcinfo, arg_member);
	bool		has_generation = arg_generation >= 0 &&
	!PG_ARGISNULL(arg_generation);
	MqSubscriptionMode mode;

	if (has_generation && member_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("generation needs a member_id")));
	mq_topic_get(mq_topic_name_arg(fcinfo, 1), topic);
	mq_topic_check_access(topic, MQ_ACCESS_READ);
	mq_group_get(group_name, group);
	mq_group_check_member(group, member_id,
						  has_generation ? PG_GETARG_INT64(arg_generation) :
						  group->generation);
	mode = mq_group_subscription_mode(group, topic);
	if (shared != NULL)
		*shared = (mode == MQ_MODE_SHARED);
	if (mode == MQ_MODE_SHARED && shared != NULL)
		return "";
	if (mode == MQ_MODE_SHARED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("consumer group \"%s\" reads topic \"%s\" in shared mode: messages are settled by receipt",
						group->name, topic->name),
				 errhint("Use mq.ack(receipt) and mq.nack(receipt).")));
	if (mode == MQ_MODE_BROADCASTING)
	{
		if (member_id == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("consumer group \"%s\" reads topic \"%s\" in broadcasting mode: positions belong to members",
							group->name, topic->name),
					 errhint("Pass the member_id.")));
		return member_id;
	}
	return "";
}

/*
 * mq_position_target
 *		position_target() for other subsystems (mq.nack).
 */
const char *
mq_position_target(FunctionCallInfo fcinfo, MqGroupInfo *group,
				   MqTopicInfo *topic, int arg_member, int arg_generation)
{
	return position_target(fcinfo, group, topic, arg_member, arg_generation,
						   NULL);
}

/*
 * mq_position_rewind
 *		A consumer of an ordered subscription handed back the message at
 *		offset (mq.nack): the claim this transaction holds on the
 *		partition, if any, goes back to it, so that mq.commit(group) does
 *		not commit past it.  Returns -1 if this transaction holds no claim
 *		on the partition, 0 if an earlier nack in it already sent the claim
 *		back to offset or before (the message comes again anyway, and the
 *		caller must not move the position forward to it), 1 if the claim
 *		went back now (or, if !apply, would go back: nothing is changed).
 *		The caller moves the position itself.
 */
int
mq_position_rewind(int32 group_id, int32 topic_id, int32 partition,
				   const char *member_id, int64 offset, bool apply)
{
	Claim	   *c = find_claim(xact_claims, group_id, topic_id, partition,
							   member_id);

	if (c == NULL)
		return -1;
	if (c->rewound >= 0 && c->rewound <= offset)
		return 0;
	if (!apply)
		return 1;
	move_claim(c, GetCurrentSubTransactionId());
	if (c->next > offset)
		c->next = offset;
	c->rewound = offset;
	return 1;
}

static void
forget_claim(int32 group_id, int32 topic_id, int32 partition,
			 const char *member_id)
{
	Claim	   *c = find_claim(xact_claims, group_id, topic_id, partition,
							   member_id);

	if (c != NULL)
		xact_claims = list_delete_ptr(xact_claims, c);
}

/*
 * commit_offset
 *		mq.commit and mq.ack: set the position of a partition to next.
 */
static void
commit_offset(FunctionCallInfo fcinfo, int64 next)
{
	MqGroupInfo group;
	MqTopicInfo topic;
	const char *member_id;
	int32		partition;
	int64		stable;

	SPI_connect();
	member_id = position_target(fcinfo, &group, &topic, 4, 5, NULL);
	partition = PG_GETARG_INT32(2);
	mq_topic_check_partition(&topic, partition);
	stable = mq_topic_stable_offset(&topic, partition);
	if (next < 0 || next > stable)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("offset %lld is out of range for partition %d of topic \"%s\"",
						(long long) next, partition, topic.name),
				 errdetail("A position is between 0 and the stable offset, %lld: messages above it may still commit.",
						   (long long) stable)));
	if (!set_position(group.group_id, topic.topic_id, partition, member_id,
					  next))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("member \"%s\" of consumer group \"%s\" has no position in topic \"%s\"",
						member_id, group.name, topic.name),
				 errhint("Call mq.join again.")));
	SPI_finish();
}

static void
check_commit_args(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("partition and offset must not be null")));
}

/*
 * mq_commit
 *		SQL: mq.commit(group, topic, partition, next_offset, member_id,
 *		generation): the next offset the group will consume there, recorded
 *		in the current transaction.
 */
Datum
mq_commit(PG_FUNCTION_ARGS)
{
	check_commit_args(fcinfo);
	commit_offset(fcinfo, PG_GETARG_INT64(3));
	PG_RETURN_VOID();
}

/*
 * mq_ack
 *		SQL: mq.ack(group, topic, partition, offset, ...): commit the
 *		position just past a message.
 */
Datum
mq_ack(PG_FUNCTION_ARGS)
{
	check_commit_args(fcinfo);
	if (PG_GETARG_INT64(3) < 0 || PG_GETARG_INT64(3) == PG_INT64_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("offset %lld is out of range", (long long) PG_GETARG_INT64(3))));
	commit_offset(fcinfo, PG_GETARG_INT64(3) + 1);
	PG_RETURN_VOID();
}

/*
 * mq_commit_fetched
 *		SQL: mq.commit(group) commits, for every partition this session
 *		fetched from for the group in the current transaction (or leased in
 *		its last auto-commit fetch), the position just past what was
 *		fetched.  Returns how many positions it committed.
 */
Datum
mq_commit_fetched(PG_FUNCTION_ARGS)
{
	char	   *group_name = mq_group_access_arg(fcinfo, 0, MQ_PRIV_CONSUME);
	MqGroupInfo group;
	ListCell   *lc;
	int			committed = 0;

	SPI_connect();

	/*
	 * The claims and leases know their group: look it up only when there are
	 * none, to report a group that does not exist.
	 */
	group.group_id = 0;
	foreach(lc, xact_claims)
	{
		Claim	   *c = lfirst(lc);

		if (strcmp(c->group_name, group_name) != 0)
			continue;
		group.group_id = c->group_id;
		if (set_position(c->group_id, c->topic_id, c->partition, c->member_id,
						 c->next))
			committed++;
	}
	foreach(lc, session_batch_pending ? next_session_batch : session_batch)
	{
		Claim	   *c = lfirst(lc);

		if (strcmp(c->group_name, group_name) == 0)
			group.group_id = c->group_id;
	}
	if (group.group_id == 0)
		mq_group_get(group_name, &group);
	else
		committed += mq_position_commit_leases(group.group_id,
											   mq_position_lease_owner(NULL));
	SPI_finish();
	PG_RETURN_INT32(committed);
}

/*
 * mq_commit_consumer
 *		SQL: mq.commit(group, consumer_id) commits the positions the
 *		consumer's last auto-commit fetch of the group leased, from any
 *		session.  Returns how many.
 */
Datum
mq_commit_consumer(PG_FUNCTION_ARGS)
{
	char	   *group_name = mq_group_access_arg(fcinfo, 0, MQ_PRIV_CONSUME);
	const char *consumer_id = mq_position_consumer_arg(fcinfo, 1);
	MqGroupInfo group;
	int			committed;

	if (consumer_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("consumer_id must not be null")));
	SPI_connect();
	mq_group_get(group_name, &group);
	committed = mq_position_commit_leases(group.group_id,
										  mq_position_lease_owner(consumer_id));
	SPI_finish();
	PG_RETURN_INT32(committed);
}

/*
 * reset_shared
 *		A seek of a shared subscription: the partition's acknowledged
 *		offsets go with its old floor, and the subscription's windows start
 *		again from the positions (share.c), so every lease and receipt of it
 *		is void.  The subscription gets a new incarnation; the acks of its
 *		other partitions are carried over to it.
 */
static void
reset_shared(int32 group_id, int32 topic_id, int32 partition)
{
	Oid			types[5] = {INT4OID, INT4OID, INT4OID, TIMESTAMPTZOID,
	TIMESTAMPTZOID};
	Datum		args[5];
	bool		isnull;

	args[0] = Int32GetDatum(group_id);
	args[1] = Int32GetDatum(topic_id);
	args[2] = Int32GetDatum(partition);
	mq_subscription_changed();
	mq_query("UPDATE mq.position SET acked = '{}'"
			 " WHERE group_id = $1 AND topic_id = $2 AND partition = $3"
			 " AND member_id = ''", 3, types, args, NULL, false);
	mq_query("DELETE FROM mq.share_ack"
			 " WHERE group_id = $1 AND topic_id = $2 AND partition = $3",
			 3, types, args, NULL, false);
	if (mq_query("SELECT share_reset_at FROM mq.subscription"
				 " WHERE group_id = $1 AND topic_id = $2 AND $3 IS NOT NULL"
				 " FOR UPDATE",
				 3, types, args, NULL, false) == 0)
		return;
	args[3] = mq_query_value(0, 1, &isnull);
	/* later than the one it replaces, whatever the clock does */
	mq_query("UPDATE mq.subscription"
			 " SET share_reset_at = GREATEST(pg_catalog.clock_timestamp(),"
			 "  $4 OPERATOR(pg_catalog.+) '1 microsecond')"
			 " WHERE group_id = $1 AND topic_id = $2 AND $3 IS NOT NULL"
			 " RETURNING share_reset_at",
			 4, types, args, NULL, false);
	args[4] = mq_query_value(0, 1, &isnull);

	/*
	 * The other partitions' acks of the incarnation it replaces hold for the
	 * new one; those of earlier ones stay void.
	 */
	mq_query("UPDATE mq.share_ack SET incarnation = $5"
			 " WHERE group_id = $1 AND topic_id = $2 AND partition <> $3"
			 " AND incarnation = $4",
			 5, types, args, NULL, false);
}

/*
 * seek_partition
 *		Set a position to offset, clamped to the log start with a notice;
 *		an offset past the end offset is an error.  In a shared mode the
 *		position is the ack floor (reset_shared).  Returns the position set.
 */
static int64
seek_partition(const MqGroupInfo *group, const MqTopicInfo *topic,
			   int32 partition, const char *member_id, int64 offset,
			   bool shared)
{
	int64		log_start = mq_segment_log_start(topic, partition);
	int64		stable = mq_topic_stable_offset(topic, partition);

	if (offset > stable || offset < 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("offset %lld is out of range for partition %d of topic \"%s\"",
						(long long) offset, partition, topic->name),
				 errdetail("A position is between 0 and the stable offset, %lld: messages above it may still commit.",
						   (long long) stable)));
	if (offset < log_start)
	{
		ereport(NOTICE,
				(errmsg("offset %lld of partition %d of topic \"%s\" was removed by retention; seeking to the log start, %lld",
						(long long) offset, partition, topic->name,
						(long long) log_start)));
		offset = log_start;
	}
	if (!set_position(group->group_id, topic->topic_id, partition, member_id,
					  offset))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("member \"%s\" of consumer group \"%s\" has no position in topic \"%s\"",
						member_id, group->name, topic->name),
				 errhint("Call mq.join again.")));
	forget_claim(group->group_id, topic->topic_id, partition, member_id);
	if (shared)
		reset_shared(group->group_id, topic->topic_id, partition);
	return offset;
}

/*
 * mq_seek
 *		SQL: mq.seek(group, topic, partition, offset, member_id).
 */
Datum
mq_seek(PG_FUNCTION_ARGS)
{
	MqGroupInfo group;
	MqTopicInfo topic;
	const char *member_id;
	int32		partition;
	int64		offset;
	bool		shared;

	if (PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("partition and offset must not be null")));
	SPI_connect();
	member_id = position_target(fcinfo, &group, &topic, 4, -1, &shared);
	partition = PG_GETARG_INT32(2);
	mq_topic_check_partition(&topic, partition);
	offset = seek_partition(&group, &topic, partition, member_id,
							PG_GETARG_INT64(3), shared);
	SPI_finish();
	PG_RETURN_INT64(offset);
}

/* Where mq.seek moves every partition's position to. */
typedef enum SeekTarget
{
	SEEK_EARLIEST,				/* the log start */
	SEEK_LATEST,				/* the stable offset */
	SEEK_TIME					/* the first message at or after a time */
} SeekTarget;

/*
 * seek_all
 *		mq.seek over every partition: to the log start (earliest), to the
 *		stable offset (latest), or to a time.
 */
static Datum
seek_all(FunctionCallInfo fcinfo, SeekTarget how, TimestampTz at)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MqGroupInfo group;
	MqTopicInfo topic;
	const char *member_id;
	int32		p;
	bool		shared;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	member_id = position_target(fcinfo, &group, &topic, 3, -1, &shared);
	for (p = 0; p < topic.partitions; p++)
	{
		int64		offset;
		Datum		values[2];
		bool		nulls[2] = {false, false};

		switch (how)
		{
			case SEEK_EARLIEST:
				offset = mq_segment_log_start(&topic, p);
				break;
			case SEEK_LATEST:
				offset = mq_topic_stable_offset(&topic, p);
				break;
			default:
				offset = mq_segment_offset_at_time(&topic, p, at);
				break;
		}
		offset = seek_partition(&group, &topic, p, member_id, offset, shared);
		values[0] = Int32GetDatum(p);
		values[1] = Int64GetDatum(offset);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}

/*
 * mq_seek_position
 *		SQL: mq.seek(group, topic, 'earliest' | 'latest', member_id).
 */
Datum
mq_seek_position(PG_FUNCTION_ARGS)
{
	char	   *position;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("position must not be null")));
	position = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (strcmp(position, "earliest") != 0 && strcmp(position, "latest") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid position \"%s\"", position),
				 errhint("Use 'earliest', 'latest', an offset or a timestamptz.")));
	return seek_all(fcinfo,
					strcmp(position, "earliest") == 0 ? SEEK_EARLIEST : SEEK_LATEST,
					0);
}

/*
 * mq_seek_time
 *		SQL: mq.seek(group, topic, at timestamptz, member_id): every
 *		partition to its first message produced at or after at, through
 *		the BRIN index on produced_at.
 */
Datum
mq_seek_time(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("at must not be null")));
	return seek_all(fcinfo, SEEK_TIME, PG_GETARG_TIMESTAMPTZ(2));
}

/*
 * visit_first
 *		Keep the offset and time of the first record, and stop.
 */
static bool
visit_first(const MqRecord *rec, void *arg)
{
	MqRecord   *first = arg;

	first->offset = rec->offset;
	first->produced_at = rec->produced_at;
	return false;
}

/*
 * mq_first_unconsumed_at
 *		SQL: mq.first_unconsumed_at(topic, partition, from_offset): when the
 *		first committed message at or after from_offset, below the stable
 *		offset, was produced; NULL if there is none.  One primary-key probe
 *		per segment, newest segments last.
 */
Datum
mq_first_unconsumed_at(PG_FUNCTION_ARGS)
{
	MqTopicInfo topic;
	int32		partition = PG_GETARG_INT32(1);
	int64		from = PG_GETARG_INT64(2);
	int64		stable;
	MqSegmentScan scan;
	Oid			relid;
	const char *segment;
	MqRecord	first = {.offset = -1};

	mq_topic_get(mq_topic_name_arg(fcinfo, 0), &topic);
	mq_topic_check_access(&topic, MQ_ACCESS_DESCRIBE);
	mq_topic_check_partition(&topic, partition);
	if (!mq_offsets_stable(topic.topic_id, partition, &stable, NULL) ||
		from >= stable)
		PG_RETURN_NULL();

	SPI_connect();
	mq_segment_scan_begin(&scan, topic.topic_id, false);
	while (first.offset < 0 && mq_segment_scan_next(&scan, &relid, &segment))
		mq_segment_read(relid, partition, from, stable, visit_first, &first);
	mq_segment_scan_end(&scan);
	SPI_finish();
	if (first.offset < 0)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(first.produced_at);
}

/*
 * mq_position_subxact_end
 *		A subtransaction ended.  If it committed, its claims and undo points
 *		pass to its parent (an undo point the parent already has wins, being
 *		older).  If it rolled back, so did its row locks: forget the claims
 *		it made, and put the others back where they were when it (or a
 *		subtransaction of it) first moved them.
 */
void
mq_position_subxact_end(bool commit, SubTransactionId mysubid,
						SubTransactionId parentsubid)
{
	ListCell   *lc;

	foreach(lc, xact_claims)
	{
		Claim	   *c = lfirst(lc);

		if (commit)
		{
			UndoPoint  *top = c->undo ? llast(c->undo) : NULL;

			if (c->subid == mysubid)
				c->subid = parentsubid;
			if (top != NULL && top->subid == mysubid)
			{
				UndoPoint  *below = list_length(c->undo) > 1 ?
				list_nth(c->undo, list_length(c->undo) - 2) : NULL;

				if (c->subid == parentsubid ||
					(below != NULL && below->subid == parentsubid))
					c->undo = list_delete_last(c->undo);
				else
					top->subid = parentsubid;
			}
		}
		else if (c->subid >= mysubid)
			xact_claims = foreach_delete_current(xact_claims, lc);
		else
		{
			int			i;

			for (i = 0; i < list_length(c->undo); i++)
			{
				UndoPoint  *u = list_nth(c->undo, i);

				if (u->subid >= mysubid)
				{
					c->next = u->next;
					c->rewound = u->rewound;
					c->undo = list_truncate(c->undo, i);
					break;
				}
			}
		}
	}
}

/*
 * mq_position_xact_pending
 *		Whether the transaction holds fetch state that PREPARE TRANSACTION
 *		would orphan: claims made by a fetch, or a change to the session's
 *		auto-commit batch.
 */
bool
mq_position_xact_pending(void)
{
	return xact_claims != NIL || session_batch_pending;
}

/*
 * mq_position_xact_end
 *		The transaction ended: its claims went with it; if it committed, the
 *		session batch is what its auto-commit fetches made it.
 */
void
mq_position_xact_end(bool commit)
{
	if (commit && session_batch_pending)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		List	   *batch = NIL;
		ListCell   *lc;

		foreach(lc, next_session_batch)
		{
			Claim	   *c = palloc(sizeof(Claim));

			memcpy(c, lfirst(lc), sizeof(Claim));
			batch = lappend(batch, c);
		}
		list_free_deep(session_batch);
		session_batch = batch;
		MemoryContextSwitchTo(old);
	}
	xact_claims = NIL;
	next_session_batch = NIL;
	session_batch_pending = false;
}
