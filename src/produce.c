/*-------------------------------------------------------------------------
 *
 * produce.c
 *	  mq.send: messages buffered in the transaction, offsets assigned at
 *	  commit.
 *
 * mq.send checks its arguments, picks the partition, gives the message a
 * time-ordered id (UUIDv7) and appends it to a buffer in the transaction's
 * memory.  Nothing is written and no offset exists yet.  At PRE_COMMIT
 * (mq_produce_flush), for each partition with buffered messages, the
 * backend
 *
 *	1. locks the topic's segment table and checks the topic still exists;
 *	2. under the partition's LWLock reserves a contiguous range of offsets
 *	   and registers it in the partition's in-flight ring, moving the
 *	   durable high mark ahead first if the range would pass it;
 *	3. writes them as record batches (codec.c), one heap tuple and one
 *	   primary-key entry each, directly (no SPI, no triggers).
 *
 * The COMMIT or ABORT callback (mq_produce_xact_end), which runs once the
 * outcome is visible to everyone, marks the ranges done and wakes the
 * partition's waiters.  The stable offset is the start of the oldest range
 * still in flight, or the next offset: everything below it is committed or
 * aborted for good, so a reader that reads strictly below it, with a
 * snapshot taken after reading it, never misses a message that commits
 * later.  The barrier spans only the commit itself, so a long transaction
 * that has sent but not committed holds nobody back.
 *
 * A buffer larger than mq.send_buffer_limit is flushed early (steps 1 to 3
 * at once); its ranges then stay in flight, holding the stable offset, until
 * the transaction ends.  Messages buffered in a subtransaction that rolls
 * back are discarded; rows it flushed early are aborted with it.
 *
 * Offsets, the in-flight ring and the durable high mark are offsets.c's.
 * This file is a little over a thousand lines because the send variants,
 * deduplication and the commit-time write path all work on the one
 * per-transaction buffer, which stays private to it.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/produce.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "common/pg_prng.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "pgstat.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "codec.h"
#include "delay.h"
#include "offsets.h"
#include "message.h"
#include "metrics.h"
#include "partitioner.h"
#include "produce.h"
#include "query.h"
#include "segment.h"
#include "settings.h"
#include "topic.h"

/* Longest message key, in bytes. */
#define MQ_KEY_MAX			1024

/* Longest deduplication id, in bytes. */
#define MQ_DEDUP_ID_MAX		1024

/* A message waiting for its transaction's commit. */
typedef struct MqPending
{
	uint64		seq;			/* send order within the transaction */
	SubTransactionId subid;		/* subtransaction that sent it */
	const char *topic;			/* topic name (shared by a call's messages) */
	int32		topic_id;
	int32		partition;
	pg_uuid_t	id;
	TimestampTz produced_at;
	char		payload_type;	/* MQ_PAYLOAD_* */
	text	   *key;			/* NULL if none */
	text	   *tag;
	Jsonb	   *headers;
	bytea	   *payload;		/* the payload's bytes */
	Size		size;
} MqPending;

/* Keyless messages of a topic stick to one partition per transaction. */
typedef struct MqSticky
{
	int32		topic_id;
	int32		partition;
} MqSticky;

/* Per-transaction state, all in send_context (under TopTransactionContext). */
static MemoryContext send_context = NULL;
static List *pending = NIL;		/* MqPending, in send order */
static Size pending_bytes = 0;
static uint64 pending_seq = 0;
static List *sticky = NIL;		/* MqSticky */

/* mq_produce_flush is writing the buffer's messages. */
static bool writing = false;

/* Round-robin counter for keyless messages, per backend. */
static uint32 round_robin = 0;

/* UUIDv7 state: last millisecond and counter, per backend. */
static int64 uuid_last_ms = 0;
static uint32 uuid_counter = 0;

PG_FUNCTION_INFO_V1(mq_send_text);
PG_FUNCTION_INFO_V1(mq_send_jsonb);
PG_FUNCTION_INFO_V1(mq_send_json);
PG_FUNCTION_INFO_V1(mq_send_bytea);
PG_FUNCTION_INFO_V1(mq_send_batch_text);
PG_FUNCTION_INFO_V1(mq_send_batch_jsonb);
PG_FUNCTION_INFO_V1(mq_send_batch_json);
PG_FUNCTION_INFO_V1(mq_send_batch_bytea);

/*
 * make_uuidv7
 *		A UUID version 7 (RFC 9562): 48 bits of Unix time in milliseconds,
 *		then a 12-bit counter that keeps ids of one backend increasing
 *		within a millisecond, then 62 random bits from the backend's PRNG
 *		(seeded from a strong source at backend start): ids need to be
 *		unique and ordered, not unguessable.
 */
static void
make_uuidv7(pg_uuid_t *uuid, TimestampTz now)
{
	int64		ms = now / 1000 + (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;
	uint64		rand;
	int			i;

	/* a new millisecond, or the clock went back by more than a second */
	if (ms > uuid_last_ms || uuid_last_ms - ms > 1000)
	{
		uuid_last_ms = ms;
		uuid_counter = (uint32) pg_prng_uint64(&pg_global_prng_state) & 0x7ff;
	}
	else
	{
		ms = uuid_last_ms;
		if (++uuid_counter > 0xfff)
		{
			/* counter exhausted: borrow the next millisecond */
			uuid_last_ms = ++ms;
			uuid_counter = 0;
		}
	}

	rand = pg_prng_uint64(&pg_global_prng_state);
	for (i = 0; i < 8; i++)
		uuid->data[8 + i] = (unsigned char) (rand >> (8 * i));
	for (i = 0; i < 6; i++)
		uuid->data[i] = (unsigned char) (ms >> (40 - 8 * i));
	uuid->data[6] = 0x70 | ((uuid_counter >> 8) & 0x0f);
	uuid->data[7] = uuid_counter & 0xff;
	uuid->data[8] = (uuid->data[8] & 0x3f) | 0x80;
}

/*
 * ensure_send_context
 *		The memory context of this transaction's buffer.
 */
static MemoryContext
ensure_send_context(void)
{
	if (send_context == NULL)
		send_context = AllocSetContextCreate(TopTransactionContext,
											 "mq send buffer",
											 ALLOCSET_DEFAULT_SIZES);
	return send_context;
}

/*
 * mq_produce_check_message
 *		Refuse a message that could not be stored: a payload over
 *		mq.max_message_size, or a key too long to index.
 */
void
mq_produce_check_message(const MqTopicInfo *topic, const MqMessage *m)
{
	Size		size = VARSIZE_ANY_EXHDR(m->payload);

	/* the whole message counts: a 10 MB tag or headers is no smaller */
	if (m->key != NULL)
		size += VARSIZE_ANY_EXHDR(m->key);
	if (m->tag != NULL)
		size += VARSIZE_ANY_EXHDR(m->tag);
	if (m->headers != NULL)
		size += VARSIZE_ANY_EXHDR(m->headers);
	if (size > (Size) mq_max_message_size * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("message of %zu bytes for topic \"%s\" exceeds mq.max_message_size (%d kB)",
						size, topic->name, mq_max_message_size),
				 errdetail("A message's size is that of its payload, key, tag and headers.")));
	if (m->key != NULL && VARSIZE_ANY_EXHDR(m->key) > MQ_KEY_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("message key of %zu bytes for topic \"%s\" exceeds %d bytes",
						(Size) VARSIZE_ANY_EXHDR(m->key), topic->name, MQ_KEY_MAX)));
}

/*
 * choose_partition
 *		The explicit partition if given (>= 0), else the key's partition
 *		under Kafka's default partitioner, else the partition this
 *		transaction already uses for keyless messages of the topic, else
 *		the next one round robin.
 */
static int32
choose_partition(const MqTopicInfo *topic, int32 partition, text *key)
{
	ListCell   *lc;
	MqSticky   *s;
	MemoryContext oldcxt;

	if (partition >= 0)
		return partition;
	if (key != NULL)
		return mq_partitioner_key(VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key),
								  topic->partitions);

	foreach(lc, sticky)
	{
		s = lfirst(lc);
		if (s->topic_id == topic->topic_id && s->partition < topic->partitions)
			return s->partition;
	}
	oldcxt = MemoryContextSwitchTo(ensure_send_context());
	s = palloc(sizeof(MqSticky));
	s->topic_id = topic->topic_id;
	s->partition = (int32) (round_robin++ % (uint32) topic->partitions);
	sticky = lappend(sticky, s);
	MemoryContextSwitchTo(oldcxt);
	return s->partition;
}

/*
 * mq_produce_send_checks
 *		What every send checks before buffering: a writable transaction,
 *		the topic (loaded if needed) and the caller's access to it.
 */
void
mq_produce_send_checks(FunctionCallInfo fcinfo, MqTopicInfo *topic)
{
	char	   *name = mq_topic_name_arg(fcinfo, 0);

	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot send to topic \"%s\" in a read-only transaction",
						name)));
	mq_topic_get(name, topic);
	mq_topic_check_access(topic, MQ_ACCESS_SEND);
}

/*
 * partition_arg
 *		Argument argno as an explicit partition of topic, or -1 if NULL.
 */
static int32
partition_arg(FunctionCallInfo fcinfo, int argno, const MqTopicInfo *topic)
{
	int32		partition;

	if (PG_ARGISNULL(argno))
		return -1;
	partition = PG_GETARG_INT32(argno);
	mq_topic_check_partition(topic, partition);
	return partition;
}

/*
 * buffer_message
 *		Append a copy of message m to the transaction's buffer, produced at
 *		now.  topic_name is a copy of the topic's name in the buffer's
 *		memory, shared by the messages of one call; m->partition is -1 to
 *		let choose_partition() decide.  The caller has run
 *		mq_produce_send_checks() and mq_produce_check_message().  Returns
 *		the buffered message, which an early flush may free: copy what is
 *		needed from it first.
 */
static MqPending *
buffer_message(const MqTopicInfo *topic, const char *topic_name,
			   TimestampTz now, const MqMessage *m)
{
	MqPending  *msg;
	MemoryContext oldcxt;

	if (writing)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot send to topic \"%s\" while mq writes a transaction's messages",
						topic->name),
				 errdetail("The send came from code that writing messages runs, such as an index expression on a segment.")));
	oldcxt = MemoryContextSwitchTo(ensure_send_context());
	msg = palloc0(sizeof(MqPending));
	msg->seq = pending_seq++;
	msg->subid = GetCurrentSubTransactionId();
	msg->topic = topic_name;
	msg->topic_id = topic->topic_id;
	msg->partition = choose_partition(topic, m->partition, m->key);
	msg->produced_at = now;
	msg->id = m->id;
	msg->payload_type = m->payload_type;
	msg->key = m->key ?
		(text *) PG_DETOAST_DATUM_COPY(PointerGetDatum(m->key)) : NULL;
	msg->tag = m->tag ?
		(text *) PG_DETOAST_DATUM_COPY(PointerGetDatum(m->tag)) : NULL;
	msg->headers = m->headers ?
		(Jsonb *) PG_DETOAST_DATUM_COPY(PointerGetDatum(m->headers)) : NULL;
	msg->payload = (bytea *) PG_DETOAST_DATUM_COPY(PointerGetDatum(m->payload));
	msg->size = VARSIZE(msg->payload) +
		(msg->key ? VARSIZE(msg->key) : 0) +
		(msg->tag ? VARSIZE(msg->tag) : 0) +
		(msg->headers ? VARSIZE(msg->headers) : 0) + sizeof(MqPending);
	pending = lappend(pending, msg);
	pending_bytes += msg->size;
	MemoryContextSwitchTo(oldcxt);

	return msg;
}

/*
 * flush_if_full
 *		Write the buffer early once it passes mq.send_buffer_limit.
 */
static void
flush_if_full(void)
{
	if ((Size) mq_send_buffer_limit * 1024 < pending_bytes)
		mq_produce_flush();
}

/*
 * json_depth_within
 *		Whether the brackets of s (len bytes) nest at most max deep, strings
 *		skipped.  Checked before parsing so that a deeply nested text (which
 *		the recursive JSON parser would refuse with "stack depth limit
 *		exceeded") stays a text payload instead of failing the send.
 */
static bool
json_depth_within(const char *s, int len, int max)
{
	int			depth = 0;
	bool		in_string = false;
	int			i;

	for (i = 0; i < len; i++)
	{
		char		c = s[i];

		if (in_string)
		{
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		}
		else if (c == '"')
			in_string = true;
		else if (c == '{' || c == '[')
		{
			if (++depth > max)
				return false;
		}
		else if (c == '}' || c == ']')
			depth--;
	}
	return true;
}

/*
 * is_json_document
 *		Whether a text payload is a whole JSON object or array.  Drivers send
 *		a JSON document as an untyped parameter (psycopg2's Json, a
 *		node-postgres object) and PostgreSQL resolves it to the text
 *		variant of mq.send, so a text payload that is a JSON document is
 *		taken for one.  Scalars stay text: 42 or "ok" are as likely plain
 *		strings, and so does a text nested deeper than MQ_JSON_TEXT_DEPTH or
 *		larger than a message may be (the size check refuses it later).
 *		Validation only: no value is built.
 */
static bool
is_json_document(text *payload)
{
	char	   *s = VARDATA_ANY(payload);
	int			len = VARSIZE_ANY_EXHDR(payload);
	int			i = 0;
	JsonLexContext *lex;
	bool		valid;

	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
					   s[i] == '\r'))
		i++;
	if (i == len || (s[i] != '{' && s[i] != '[') ||
		len > mq_max_message_size * 1024 ||
		!json_depth_within(s + i, len - i, MQ_JSON_TEXT_DEPTH))
		return false;

	/*
	 * With its escapes decoded, so that what jsonb refuses (\u0000, a lone
	 * surrogate) stays text: a JSON message casts to jsonb.
	 */
	lex = makeJsonLexContextCstringLen(s, len, GetDatabaseEncoding(), true);
	valid = (pg_parse_json(lex, &nullSemAction) == JSON_SUCCESS);
	if (lex->strval != NULL)
	{
		pfree(lex->strval->data);
		pfree(lex->strval);
	}
	pfree(lex);
	return valid;
}

/*
 * mq_produce_payload
 *		A payload datum of SQL type type (text, json, jsonb or bytea) as the
 *		bytes to store, and in *payload_type how consumers get it.  JSON is
 *		stored as its text (jsonb's text form, json's own), so that it is
 *		delivered as json without being parsed again; a text payload that is
 *		a JSON document is JSON (is_json_document says why).
 */
bytea *
mq_produce_payload(Datum payload, Oid type, char *payload_type)
{
	bytea	   *bytes;

	switch (type)
	{
		case JSONBOID:
			{
				Jsonb	   *jb = DatumGetJsonbP(payload);

				*payload_type = MQ_PAYLOAD_JSONB;
				return (bytea *) cstring_to_text(JsonbToCString(NULL, &jb->root,
																VARSIZE(jb)));
			}
		case JSONOID:
			*payload_type = MQ_PAYLOAD_JSONB;
			return (bytea *) PG_DETOAST_DATUM_PACKED(payload);
		case TEXTOID:
			bytes = (bytea *) PG_DETOAST_DATUM_PACKED(payload);
			*payload_type = is_json_document((text *) bytes) ?
				MQ_PAYLOAD_JSONB : MQ_PAYLOAD_TEXT;
			return bytes;
		default:
			Assert(type == BYTEAOID);
			*payload_type = MQ_PAYLOAD_BYTEA;
			return (bytea *) PG_DETOAST_DATUM_PACKED(payload);
	}
}

/*
 * check_dedup
 *		Record dedup_id for this topic in mq.dedup, in the current
 *		transaction, with the message's id and partition.  If a send with
 *		the same dedup_id is already recorded and not expired (committed,
 *		or committed by a transaction this one waited for), returns false
 *		and sets *id and *partition to that send's.
 *
 * An expired entry is deleted first, by key; the insert then waits only
 * for a concurrent insert of the same id (ON CONFLICT DO NOTHING), and a
 * duplicate takes no row lock.  Expiry counts from this statement, not
 * from the start of the transaction.  Every name is schema-qualified: this
 * runs with the caller's search_path.
 */
static bool
check_dedup(const MqTopicInfo *topic, text *dedup_id, pg_uuid_t *id,
			int32 *partition)
{
	Oid			types[4] = {INT4OID, TEXTOID, UUIDOID, INT4OID};
	Datum		args[4];
	bool		isnull;
	bool		fresh;

	if (VARSIZE_ANY_EXHDR(dedup_id) == 0 ||
		VARSIZE_ANY_EXHDR(dedup_id) > MQ_DEDUP_ID_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dedup_id must have 1 to %d bytes", MQ_DEDUP_ID_MAX)));

	args[0] = Int32GetDatum(topic->topic_id);
	args[1] = PointerGetDatum(dedup_id);
	args[2] = UUIDPGetDatum(id);
	args[3] = Int32GetDatum(*partition);

	SPI_connect();
	mq_query_once("DELETE FROM mq.dedup"
				  " WHERE topic_id OPERATOR(pg_catalog.=) $1"
				  " AND dedup_id OPERATOR(pg_catalog.=) $2"
				  " AND expires_at OPERATOR(pg_catalog.<) pg_catalog.clock_timestamp()",
				  2, types, args, NULL, false, 0);
	mq_query_once("INSERT INTO mq.dedup"
				  " (topic_id, dedup_id, id, partition, expires_at)"
				  " SELECT $1, $2, $3, $4,"
				  "  pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) t.dedup_window"
				  " FROM mq.topic t WHERE t.topic_id OPERATOR(pg_catalog.=) $1"
				  " ON CONFLICT (topic_id, dedup_id) DO NOTHING"
				  " RETURNING true",
				  4, types, args, NULL, false, 0);
	fresh = (SPI_processed > 0);
	if (!fresh)
	{
		mq_query_once("SELECT id, partition FROM mq.dedup"
					  " WHERE topic_id OPERATOR(pg_catalog.=) $1"
					  " AND dedup_id OPERATOR(pg_catalog.=) $2",
					  2, types, args, NULL, false, 1);
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("topic \"%s\" was dropped", topic->name)));
		*id = *DatumGetUUIDP(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
		*partition = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
												 SPI_tuptable->tupdesc, 2,
												 &isnull));
	}
	SPI_finish();
	return fresh;
}

/*
 * send_one
 *		The body of the three mq.send variants.  With a dedup_id already
 *		seen within the topic's dedup window, nothing is sent: the result
 *		is the earlier send's id and partition, flagged duplicate.
 */
static Datum
send_one(FunctionCallInfo fcinfo, Oid payload_sqltype)
{
	MqTopicInfo topic;
	pg_uuid_t	id;
	int32		partition;
	bool		duplicate = false;
	TimestampTz now = GetCurrentTimestamp();
	text	   *key = PG_ARGISNULL(2) ? NULL : PG_GETARG_TEXT_PP(2);
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {0};

	TimestampTz due;
	char		payload_type;
	bytea	   *payload;

	mq_produce_send_checks(fcinfo, &topic);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("message payload must not be null")));
	payload = mq_produce_payload(PG_GETARG_DATUM(1), payload_sqltype,
								 &payload_type);

	/* delay, deliver_at or delay_level: store it until it is due */
	if (mq_delay_arg(fcinfo, 7, topic.name, &due))
	{
		MqMessage	m = {
			.payload_type = payload_type,
			.key = key,
			.tag = PG_ARGISNULL(3) ? NULL : PG_GETARG_TEXT_PP(3),
			.headers = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4),
			.payload = payload
		};

		if (!PG_ARGISNULL(6))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("a delayed message to topic \"%s\" cannot have a dedup_id",
							topic.name)));
		mq_produce_check_message(&topic, &m);
		partition = partition_arg(fcinfo, 5, &topic);
		make_uuidv7(&id, now);
		m.id = id;
		m.partition = partition;
		mq_delay_store(&topic, &m, due);
		values[0] = UUIDPGetDatum(&id);
		values[1] = Int32GetDatum(partition);
		nulls[1] = (partition < 0);
		values[2] = BoolGetDatum(false);
		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		tupdesc = BlessTupleDesc(tupdesc);
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
	}

	partition = choose_partition(&topic, partition_arg(fcinfo, 5, &topic), key);
	make_uuidv7(&id, now);
	if (!PG_ARGISNULL(6))
		duplicate = !check_dedup(&topic, PG_GETARG_TEXT_PP(6), &id, &partition);

	if (!duplicate)
	{
		MqMessage	m = {
			.id = id,
			.partition = partition,
			.payload_type = payload_type,
			.key = key,
			.tag = PG_ARGISNULL(3) ? NULL : PG_GETARG_TEXT_PP(3),
			.headers = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4),
			.payload = payload
		};

		mq_produce_check_message(&topic, &m);
		buffer_message(&topic,
					   MemoryContextStrdup(ensure_send_context(), topic.name),
					   now, &m);
		flush_if_full();
	}

	values[0] = UUIDPGetDatum(&id);
	values[1] = Int32GetDatum(partition);
	values[2] = BoolGetDatum(duplicate);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * mq_produce_purge_dedup
 *		Delete expired deduplication entries of this database, up to
 *		MQ_PURGE_BATCH a pass, skipping rows a sender holds.  If mq.dedup
 *		cannot be locked at once (someone holds a strong lock on it), the pass
 *		is skipped rather than wait.  Called by the database worker inside a
 *		transaction with a snapshot and a search_path of pg_catalog only.
 *		Returns how many it deleted.
 */
int
mq_produce_purge_dedup(void)
{
	Oid			relid = get_relname_relid("dedup", get_namespace_oid("mq", false));
	int			purged;

	if (!OidIsValid(relid) || !ConditionalLockRelationOid(relid, RowExclusiveLock))
		return 0;
	SPI_connect();
	mq_query_once("DELETE FROM mq.dedup WHERE ctid OPERATOR(pg_catalog.=) ANY (ARRAY("
				  " SELECT ctid FROM mq.dedup"
				  "  WHERE expires_at OPERATOR(pg_catalog.<) pg_catalog.clock_timestamp()"
				  "  LIMIT " CppAsString2(MQ_PURGE_BATCH) " FOR UPDATE SKIP LOCKED))", 0, NULL, NULL, NULL, false, 0);
	purged = (int) SPI_processed;
	SPI_finish();
	return purged;
}

/* SQL: mq.send(topic, payload text, ...) */
Datum
mq_send_text(PG_FUNCTION_ARGS)
{
	return send_one(fcinfo, TEXTOID);
}

/* SQL: mq.send(topic, payload jsonb, ...); stored as its text form */
Datum
mq_send_jsonb(PG_FUNCTION_ARGS)
{
	return send_one(fcinfo, JSONBOID);
}

/* SQL: mq.send(topic, payload json, ...) */
Datum
mq_send_json(PG_FUNCTION_ARGS)
{
	return send_one(fcinfo, JSONOID);
}

/* SQL: mq.send(topic, payload bytea, ...) */
Datum
mq_send_bytea(PG_FUNCTION_ARGS)
{
	return send_one(fcinfo, BYTEAOID);
}

/*
 * mq_produce_new_id
 *		A new message id (UUIDv7) for now.
 */
void
mq_produce_new_id(pg_uuid_t *id)
{
	make_uuidv7(id, GetCurrentTimestamp());
}

/*
 * mq_produce_buffer
 *		Send a message that mq itself produces (a delayed message released, a
 *		retry, a dead letter, a half message committed) as part of the current
 *		transaction, with its id. m->partition is -1 (or a partition the topic
 *		no longer has) to choose it by key, or for keyless messages round
 *		robin: a worker's transaction releases many messages, which must not
 *		all stick to one partition.  No access check: the caller decides who
 *		may do this.  Nor a size check: the message passed it when it was first
 *		sent, and a setting changed since must not keep it stuck in a store.
 */
void
mq_produce_buffer(const MqTopicInfo *topic, const MqMessage *m)
{
	MqMessage	copy = *m;

	if (copy.partition >= topic->partitions)
		copy.partition = -1;
	if (copy.partition < 0 && copy.key == NULL)
		copy.partition = (int32) (round_robin++ % (uint32) topic->partitions);
	buffer_message(topic,
				   MemoryContextStrdup(ensure_send_context(), topic->name),
				   GetCurrentTimestamp(), &copy);
	flush_if_full();
}

/*
 * array_arg
 *		Argument argno as a one-dimensional array of elements of type
 *		elemtype, or NULL; NULL elements stay NULL.  If n >= 0 the array
 *		must have n elements; *count_out, if given, gets the count.
 */
static Datum *
array_arg(FunctionCallInfo fcinfo, int argno, Oid elemtype, const char *what,
		  int n, bool **nulls, int *count_out)
{
	ArrayType  *arr;
	Datum	   *elems;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			count;

	*nulls = NULL;
	if (PG_ARGISNULL(argno))
		return NULL;
	arr = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", what)));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(arr, elemtype, typlen, typbyval, typalign,
					  &elems, nulls, &count);
	if (n >= 0 && count != n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s has %d elements, payloads has %d", what, count, n)));
	if (count_out != NULL)
		*count_out = count;
	return elems;
}

/*
 * send_batch
 *		The body of the three mq.send_batch variants: one message per
 *		element of payloads, with the element of the same position in
 *		keys, tags, headers and dedup_ids when those are given.  Returns
 *		each message's id, partition and whether it was a duplicate (then
 *		not sent again), in order.
 */
static Datum
send_batch(FunctionCallInfo fcinfo, Oid payload_elemtype)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MqTopicInfo topic;
	int32		partition;
	Datum	   *payloads;
	Datum	   *keys;
	Datum	   *tags;
	Datum	   *headers;
	Datum	   *dedup_ids;
	bool	   *payload_nulls;
	bool	   *key_nulls;
	bool	   *tag_nulls;
	bool	   *header_nulls;
	bool	   *dedup_nulls;
	char	   *topic_name;
	TimestampTz now;
	int			n;
	int			i;

	mq_produce_send_checks(fcinfo, &topic);
	partition = partition_arg(fcinfo, 5, &topic);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("payloads must not be null")));
	payloads = array_arg(fcinfo, 1, payload_elemtype, "payloads", -1,
						 &payload_nulls, &n);
	keys = array_arg(fcinfo, 2, TEXTOID, "keys", n, &key_nulls, NULL);
	tags = array_arg(fcinfo, 3, TEXTOID, "tags", n, &tag_nulls, NULL);
	headers = array_arg(fcinfo, 4, JSONBOID, "headers", n, &header_nulls, NULL);
	dedup_ids = array_arg(fcinfo, 6, TEXTOID, "dedup_ids", n, &dedup_nulls, NULL);
	topic_name = MemoryContextStrdup(ensure_send_context(), topic.name);
	now = GetCurrentTimestamp();

	InitMaterializedSRF(fcinfo, 0);

	for (i = 0; i < n; i++)
	{
		text	   *key = (keys && !key_nulls[i]) ? DatumGetTextPP(keys[i]) : NULL;
		pg_uuid_t	id;
		int32		p;
		bool		duplicate = false;
		Datum		values[3];
		bool		nulls[3] = {0};

		if (payload_nulls && payload_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("payload %d of the batch is null", i + 1)));

		p = choose_partition(&topic, partition, key);
		make_uuidv7(&id, now);
		if (dedup_ids && !dedup_nulls[i])
			duplicate = !check_dedup(&topic, DatumGetTextPP(dedup_ids[i]),
									 &id, &p);
		if (!duplicate)
		{
			char		payload_type;
			bytea	   *payload = mq_produce_payload(payloads[i],
													 payload_elemtype,
													 &payload_type);
			MqMessage	m = {
				.id = id,
				.partition = p,
				.payload_type = payload_type,
				.key = key,
				.tag = (tags && !tag_nulls[i]) ? DatumGetTextPP(tags[i]) : NULL,
				.headers = (headers && !header_nulls[i]) ?
				DatumGetJsonbP(headers[i]) : NULL,
				.payload = payload
			};

			mq_produce_check_message(&topic, &m);
			buffer_message(&topic, topic_name, now, &m);
			flush_if_full();
		}

		values[0] = UUIDPGetDatum(&id);
		values[1] = Int32GetDatum(p);
		values[2] = BoolGetDatum(duplicate);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}

	return (Datum) 0;
}

/* SQL: mq.send_batch(topic, payloads text[], ...) */
Datum
mq_send_batch_text(PG_FUNCTION_ARGS)
{
	return send_batch(fcinfo, TEXTOID);
}

/* SQL: mq.send_batch(topic, payloads jsonb[], ...) */
Datum
mq_send_batch_jsonb(PG_FUNCTION_ARGS)
{
	return send_batch(fcinfo, JSONBOID);
}

/* SQL: mq.send_batch(topic, payloads json[], ...) */
Datum
mq_send_batch_json(PG_FUNCTION_ARGS)
{
	return send_batch(fcinfo, JSONOID);
}

/* SQL: mq.send_batch(topic, payloads bytea[], ...) */
Datum
mq_send_batch_bytea(PG_FUNCTION_ARGS)
{
	return send_batch(fcinfo, BYTEAOID);
}


/*
 * insert_batches
 *		Write msgs[0..n-1], all of one partition, with offsets start, start
 *		+ 1, ..., into the segment table rel as record batches (codec.c):
 *		a batch is cut when it passes MQ_BATCH_MAX_BYTES.  Each batch is one
 *		heap tuple and one primary-key entry, written through the executor's
 *		helpers but with no plan, no triggers and no SPI.
 */
static void
insert_batches(Relation rel, MqPending **msgs, int n, int64 start,
			   MqCompression compression)
{
	EState	   *estate = CreateExecutorState();
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	CommandId	cid = GetCurrentCommandId(true);
	TupleTableSlot *slot;
	MemoryContext batch_context;
	MemoryContext oldcxt;
	int			i = 0;

	InitResultRelInfo(rri, rel, 1, NULL, 0);
	ExecOpenIndices(rri, false);
	slot = ExecInitExtraTupleSlot(estate, RelationGetDescr(rel),
								  &TTSOpsVirtual);
	batch_context = AllocSetContextCreate(CurrentMemoryContext,
										  "mq record batch",
										  ALLOCSET_DEFAULT_SIZES);

	while (i < n)
	{
		MqBatchWriter w;
		int			first = i;

		oldcxt = MemoryContextSwitchTo(batch_context);
		mq_codec_begin(&w, mq_offsets_epoch());
		while (i < n && (w.count == 0 || w.buf.len < MQ_BATCH_MAX_BYTES))
		{
			MqPending  *p = msgs[i++];
			MqMessage	m = {
				.id = p->id,
				.partition = p->partition,
				.payload_type = p->payload_type,
				.key = p->key,
				.tag = p->tag,
				.headers = p->headers,
				.payload = p->payload
			};

			mq_codec_add(&w, &m, p->produced_at);
		}

		ExecClearTuple(slot);
		memset(slot->tts_isnull, 0, sizeof(bool) * SEG_NATTS);
		slot->tts_values[SEG_PARTITION] = Int32GetDatum(msgs[first]->partition);
		slot->tts_values[SEG_BASE_OFFSET] = Int64GetDatum(start + first);
		slot->tts_values[SEG_RECORD_COUNT] = Int32GetDatum(w.count);
		slot->tts_values[SEG_FIRST_AT] = TimestampTzGetDatum(w.first_at);
		slot->tts_values[SEG_LAST_AT] = TimestampTzGetDatum(w.last_at);
		slot->tts_values[SEG_RECORDS] = mq_codec_finish(&w, compression);
		ExecStoreVirtualTuple(slot);

		table_tuple_insert(rel, slot, cid, 0, NULL);
		ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL);
		ResetPerTupleExprContext(estate);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(batch_context);
	}

	MemoryContextDelete(batch_context);
	ExecCloseIndices(rri);
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
}

static int
pending_cmp(const ListCell *a, const ListCell *b)
{
	const MqPending *x = lfirst(a);
	const MqPending *y = lfirst(b);

	if (x->topic_id != y->topic_id)
		return x->topic_id < y->topic_id ? -1 : 1;
	if (x->partition != y->partition)
		return x->partition < y->partition ? -1 : 1;
	return x->seq < y->seq ? -1 : (x->seq > y->seq ? 1 : 0);
}

/*
 * flush_topic
 *		Assign offsets to and insert msgs[0..n-1], all of one topic, sorted
 *		by partition then send order.
 */
static void
flush_topic(MqPending **msgs, int n)
{
	MqTopicInfo topic;
	Relation	rel;
	Relation	marks = NULL;
	int			i;
	int			j;
	int64		bytes = 0;
	Oid			save_userid;
	int			save_sec_context;
	bool		pushed;

	/*
	 * Lock the active segment, then make sure the topic is the one the
	 * messages were sent to and the segment is still its active one: dropping
	 * the topic or rolling the segment needs a lock that conflicts with ours,
	 * and updates the directory entry before releasing it.  If a roll
	 * committed meanwhile, lock the new segment and check again; so every
	 * offset reserved below lands in the segment that is active while it is,
	 * and a segment's offsets all precede the next one's.
	 */
	for (;;)
	{
		Oid			locked;

		if (!mq_topic_find(msgs[0]->topic, &topic) ||
			topic.topic_id != msgs[0]->topic_id)
			goto dropped;
		locked = topic.segment_relid;
		LockRelationOid(locked, RowExclusiveLock);
		if (!mq_topic_find(msgs[0]->topic, &topic) ||
			topic.topic_id != msgs[0]->topic_id)
			goto dropped;
		if (topic.segment_relid == locked)
			break;
	}
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(topic.segment_relid)))
		goto dropped;
	rel = table_open(topic.segment_relid, NoLock);
	mq_segment_check_layout(rel);

	/*
	 * Insert as the segment's owner, in a security-restricted operation, as
	 * VACUUM does: index expressions a topic owner may have added to the
	 * segment then never run with the rights of whoever commits (the database
	 * worker is a superuser).  They also get a snapshot, which the commit
	 * path has not.
	 */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(rel->rd_rel->relowner,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	pushed = !ActiveSnapshotSet();
	if (pushed)
		PushActiveSnapshot(GetTransactionSnapshot());

	for (i = 0; i < n; i = j)
	{
		int64		start;

		for (j = i + 1; j < n && msgs[j]->partition == msgs[i]->partition; j++)
			;
		start = mq_offsets_reserve(&marks, topic.topic_id, msgs[i]->partition,
								   j - i);
		if (start < 0)
			goto dropped;
		insert_batches(rel, msgs + i, j - i, start, topic.compression);
	}
	for (i = 0; i < n; i++)
		bytes += VARSIZE_ANY_EXHDR(msgs[i]->payload);
	mq_metrics_count(topic.topic_id, 0, MQ_METRIC_PRODUCED, n, bytes);

	if (pushed)
		PopActiveSnapshot();
	SetUserIdAndSecContext(save_userid, save_sec_context);
	if (marks != NULL)
		table_close(marks, NoLock);
	table_close(rel, NoLock);
	return;

dropped:
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("topic \"%s\" was dropped before the sending transaction committed",
					msgs[0]->topic)));
}

/*
 * overlaps
 *		Whether a message of a shares its topic and partition with one of b.
 */
static bool
overlaps(List *a, List *b)
{
	ListCell   *la;
	ListCell   *lb;

	foreach(la, a)
	{
		MqPending  *x = lfirst(la);

		foreach(lb, b)
		{
			MqPending  *y = lfirst(lb);

			if (x->topic_id == y->topic_id && x->partition == y->partition)
				return true;
		}
	}
	return false;
}

/*
 * mq_produce_flush
 *		Give the buffered messages their offsets and write them.  Called at
 *		PRE_COMMIT, from mq.send when the buffer passes mq.send_buffer_limit,
 *		and by the database worker at the end of each job, so that a write
 *		that fails fails the job's subtransaction, not the worker's commit.
 *		Inside a subtransaction only that
 *		subtransaction's messages are written (their rows then share its
 *		fate), and only if no older buffered message shares a partition
 *		with them; the others wait for their own level.
 */
void
mq_produce_flush(void)
{
	SubTransactionId current = GetCurrentSubTransactionId();
	bool		top = (GetCurrentTransactionNestLevel() == 1);
	List	   *flush = NIL;
	List	   *keep = NIL;
	ListCell   *lc;
	MqPending **msgs;
	int			n;
	int			i;
	int			j;
	MemoryContext oldcxt;

	if (pending == NIL)
		return;

	oldcxt = MemoryContextSwitchTo(ensure_send_context());
	foreach(lc, pending)
	{
		MqPending  *msg = lfirst(lc);

		if (top || msg->subid == current)
			flush = lappend(flush, msg);
		else
			keep = lappend(keep, msg);
	}

	/*
	 * Inside a subtransaction, writing its messages before older buffered
	 * messages of the same partition would give them lower offsets than
	 * messages sent before them: wait for the top level then.
	 */
	if (!top && overlaps(flush, keep))
	{
		list_free(flush);
		list_free(keep);
		MemoryContextSwitchTo(oldcxt);
		return;
	}

	list_free(pending);
	pending = keep;
	pending_bytes = 0;
	foreach(lc, keep)
		pending_bytes += ((MqPending *) lfirst(lc))->size;

	list_sort(flush, pending_cmp);
	n = list_length(flush);
	msgs = palloc(sizeof(MqPending *) * n);
	i = 0;
	foreach(lc, flush)
		msgs[i++] = lfirst(lc);
	MemoryContextSwitchTo(oldcxt);

	/*
	 * Writing runs code a segment's owner may have added (index expressions):
	 * a send from there would land in the buffer after it was taken, and be
	 * lost, so it is refused (buffer_message) while this runs.
	 */
	writing = true;
	PG_TRY();
	{
		for (i = 0; i < n; i = j)
		{
			for (j = i + 1; j < n && msgs[j]->topic_id == msgs[i]->topic_id; j++)
				;
			flush_topic(msgs + i, j - i);
		}
	}
	PG_FINALLY();
	{
		writing = false;
	}
	PG_END_TRY();

	for (i = 0; i < n; i++)
	{
		pfree(msgs[i]->payload);
		pfree(msgs[i]);
	}
	/* topic names stay until the transaction's end: pending ones share them */
	pfree(msgs);
	list_free(flush);
}

/*
 * mq_produce_xact_pending
 *		Whether this transaction has sent messages (refuses PREPARE).
 */
bool
mq_produce_xact_pending(void)
{
	return pending != NIL || mq_offsets_xact_pending();
}

/*
 * mq_produce_subxact_end
 *		A subtransaction ended: a committed one's messages now belong to its
 *		parent; an aborted one's are discarded.
 */
void
mq_produce_subxact_end(bool commit, SubTransactionId mysubid,
					   SubTransactionId parentsubid)
{
	ListCell   *lc;

	foreach(lc, pending)
	{
		MqPending  *msg = lfirst(lc);

		if (msg->subid != mysubid)
			continue;
		if (commit)
			msg->subid = parentsubid;
		else
		{
			pending_bytes -= msg->size;
			pending = foreach_delete_current(pending, lc);
		}
	}
}

/*
 * mq_produce_xact_end
 *		The transaction ended and its outcome is visible: release its
 *		offset ranges (offsets.c) and forget its buffer.  Runs in the COMMIT
 *		and ABORT callbacks, so it must not fail.
 */
void
mq_produce_xact_end(bool commit)
{
	mq_offsets_xact_end();

	/* all of it lived in TopTransactionContext, which is going away */
	pending = NIL;
	sticky = NIL;
	pending_bytes = 0;
	send_context = NULL;
}
