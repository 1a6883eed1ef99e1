/*-------------------------------------------------------------------------
 *
 * codec.c
 *	  The binary layout of a record batch, its encoding at commit and its
 *	  decoding by every reader.
 *
 * A segment row is a record batch: the messages one transaction commits to
 * one partition (cut at MQ_BATCH_MAX_BYTES), packed in one bytea value.
 * The row's columns say which partition, the base offset and the record
 * count; a record's offset is the base offset plus its position.  This
 * file is the only one that knows the layout of the value:
 *
 *	header (20 bytes)
 *		uint8	version (MQ_BATCH_VERSION)
 *		uint8	unused, 0
 *		uint16	unused, 0
 *		int32	record count
 *		int64	produced_at of the first record
 *		uint32	epoch: the server life that wrote the batch
 *	then each record
 *		uint8	flags: which of key, tag and headers it has
 *		uint8	payload type (MQ_PAYLOAD_*)
 *		varint	produced_at minus the first record's, zigzag-encoded
 *		16 bytes	id
 *		key, tag, headers (if present) and payload: each a varlena with a
 *		4-byte header, aligned to 4 bytes from the start of the value
 *
 * The epoch tells an offset reused after a failover from the one the old
 * primary had written: offsets are reused only by a server whose history
 * left the writer's, which is another server life with another epoch
 * (offsets.c, mq_offsets_epoch; design.md, "Epochs").
 *
 * The fields are whole varlenas, aligned as in a tuple, so a reader hands
 * out pointers into the decoded value with no copy, and a jsonb keeps the
 * alignment its containers need.  The value starts int-aligned: it is a
 * detoasted varlena with a 4-byte header.
 *
 * Compression is PostgreSQL's own: the encoded value is compressed with
 * toast_compress_datum (lz4 or pglz) before the tuple is formed, because
 * TOAST compresses only tuples above about 2 kB on its own.  The result is
 * an ordinary compressed inline datum: a reader's detoast decompresses it,
 * and pg_dump writes it out uncompressed.  A value that does not shrink is
 * stored as it is.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/codec.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/toast_compression.h"
#include "access/toast_internals.h"
#include "fmgr.h"
#include "miscadmin.h"

#include "codec.h"

/* The layout this file writes, and the only one it reads. */
#define MQ_BATCH_VERSION	1

/* Bytes before the first record. */
#define BATCH_HEADER_SIZE	20

/* The fewest bytes a record takes: flags, type, a time, an id, a payload. */
#define MIN_RECORD_SIZE		(2 + 1 + UUID_LEN + VARHDRSZ)

/* Record flags. */
#define RECORD_HAS_KEY		0x01
#define RECORD_HAS_TAG		0x02
#define RECORD_HAS_HEADERS	0x04

static const char *const compression_names[] = {
	[MQ_COMPRESSION_NONE] = "none",
	[MQ_COMPRESSION_PGLZ] = "pglz",
	[MQ_COMPRESSION_LZ4] = "lz4",
};

/*
 * mq_codec_compression
 *		The compression named name, or an error.
 */
MqCompression
mq_codec_compression(const char *name)
{
	size_t		i;

#ifndef USE_LZ4
	if (strcmp(name, "lz4") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("compression \"lz4\" is not supported by this server"),
				 errhint("This PostgreSQL was built without lz4: use 'pglz' or 'none'.")));
#endif
	for (i = 0; i < lengthof(compression_names); i++)
		if (strcmp(name, compression_names[i]) == 0)
			return (MqCompression) i;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid compression \"%s\"", name),
			 errhint("The compressions are 'lz4', 'pglz' and 'none'.")));
	return MQ_COMPRESSION_NONE; /* keep the compiler quiet */
}

/*
 * mq_codec_compression_name
 *		What mq.topic.compression calls c.
 */
const char *
mq_codec_compression_name(MqCompression c)
{
	return compression_names[c];
}

/*
 * append_varint
 *		Append v, zigzag-encoded, 7 bits a byte, low bits first.
 */
static void
append_varint(StringInfo buf, int64 v)
{
	uint64		u = ((uint64) v << 1) ^ (uint64) (v >> 63);

	while (u >= 0x80)
	{
		appendStringInfoChar(buf, (char) ((u & 0x7F) | 0x80));
		u >>= 7;
	}
	appendStringInfoChar(buf, (char) u);
}

/*
 * append_varlena
 *		Append value (a varlena, possibly with a short header, not toasted)
 *		at the next 4-byte boundary, with a 4-byte header.
 */
static void
append_varlena(StringInfo buf, const struct varlena *value)
{
	Size		len = VARSIZE_ANY_EXHDR(value);

	while (buf->len % sizeof(int32) != 0)
		appendStringInfoChar(buf, '\0');
	enlargeStringInfo(buf, VARHDRSZ);
	SET_VARSIZE(buf->data + buf->len, len + VARHDRSZ);
	buf->len += VARHDRSZ;
	appendBinaryStringInfo(buf, VARDATA_ANY(value), len);
}

/*
 * mq_codec_begin
 *		Start an empty batch of epoch, in the current memory context.
 */
void
mq_codec_begin(MqBatchWriter *w, uint32 epoch)
{
	char		header[VARHDRSZ + BATCH_HEADER_SIZE] = {0};

	initStringInfo(&w->buf);
	/* the varlena header, set by mq_codec_finish, then the batch header */
	appendBinaryStringInfo(&w->buf, header, sizeof(header));
	w->count = 0;
	w->epoch = epoch;
	w->base_at = 0;
	w->first_at = 0;
	w->last_at = 0;
}

/*
 * mq_codec_add
 *		Append message m, produced at produced_at, as the next record.  Its
 *		varlenas are detoasted (they come from the send buffer).
 */
void
mq_codec_add(MqBatchWriter *w, const MqMessage *m, TimestampTz produced_at)
{
	uint8		flags = 0;

	if (w->count == 0)
	{
		w->base_at = produced_at;
		w->first_at = produced_at;
		w->last_at = produced_at;
	}
	else if (produced_at > w->last_at)
		w->last_at = produced_at;
	else if (produced_at < w->first_at)
		w->first_at = produced_at;

	if (m->key != NULL)
		flags |= RECORD_HAS_KEY;
	if (m->tag != NULL)
		flags |= RECORD_HAS_TAG;
	if (m->headers != NULL)
		flags |= RECORD_HAS_HEADERS;
	appendStringInfoChar(&w->buf, (char) flags);
	appendStringInfoChar(&w->buf, m->payload_type);
	append_varint(&w->buf, produced_at - w->base_at);
	appendBinaryStringInfo(&w->buf, (const char *) m->id.data,
						   UUID_LEN);
	if (m->key != NULL)
		append_varlena(&w->buf, (struct varlena *) m->key);
	if (m->tag != NULL)
		append_varlena(&w->buf, (struct varlena *) m->tag);
	if (m->headers != NULL)
		append_varlena(&w->buf, (struct varlena *) m->headers);
	append_varlena(&w->buf, (struct varlena *) m->payload);
	w->count++;
}

/*
 * mq_codec_finish
 *		The batch as a datum for the segment's records column: compressed
 *		with compression if that makes it smaller, else as it is.
 */
Datum
mq_codec_finish(MqBatchWriter *w, MqCompression compression)
{
	char	   *data = w->buf.data;
	int64		base_at = w->base_at;
	Datum		compressed;

	SET_VARSIZE(data, w->buf.len);
	data[VARHDRSZ] = MQ_BATCH_VERSION;
	memcpy(data + VARHDRSZ + 4, &w->count, sizeof(int32));
	memcpy(data + VARHDRSZ + 8, &base_at, sizeof(int64));
	memcpy(data + VARHDRSZ + 16, &w->epoch, sizeof(uint32));

	if (compression == MQ_COMPRESSION_NONE)
		return PointerGetDatum(data);
	compressed = toast_compress_datum(PointerGetDatum(data),
									  compression == MQ_COMPRESSION_LZ4 ?
									  TOAST_LZ4_COMPRESSION :
									  TOAST_PGLZ_COMPRESSION);
	if (DatumGetPointer(compressed) == NULL)
		return PointerGetDatum(data);
	pfree(data);
	return compressed;
}

/*
 * corrupted
 *		Report a batch that does not decode.
 */
static void
corrupted(const MqBatchReader *r, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("record batch of partition %d holding offset %lld is corrupted: %s",
					r->partition, (long long) r->next_offset, what)));
}

/*
 * mq_codec_open
 *		Start reading a batch: value is its records column (possibly
 *		compressed or toasted), base_offset and count its other columns.
 */
void
mq_codec_open(MqBatchReader *r, Datum value, bool isnull, int32 partition,
			  int64 base_offset, int32 count)
{
	struct varlena *raw = (struct varlena *) DatumGetPointer(value);
	const char *data;
	int32		header_count;

	r->value = NULL;
	r->copied = false;
	r->partition = partition;
	r->next_offset = base_offset;
	if (isnull)
		corrupted(r, "its records are null");

	r->value = pg_detoast_datum(raw);
	r->copied = (r->value != raw);
	r->left = count;
	data = (const char *) r->value;
	r->end = data + VARSIZE(r->value);
	if (VARSIZE(r->value) < VARHDRSZ + BATCH_HEADER_SIZE)
		corrupted(r, "too short");
	if ((uint8) data[VARHDRSZ] != MQ_BATCH_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("record batch of partition %d at offset %lld has layout version %d, which this version of mq cannot read",
						partition, (long long) base_offset,
						(uint8) data[VARHDRSZ])));
	memcpy(&header_count, data + VARHDRSZ + 4, sizeof(int32));
	if (header_count != count)
		corrupted(r, "its record count does not match its row");
	if (count < 0 ||
		(uint64) count * MIN_RECORD_SIZE > VARSIZE(r->value) - VARHDRSZ)
		corrupted(r, "its record count does not fit its size");
	memcpy(&r->base_at, data + VARHDRSZ + 8, sizeof(int64));
	memcpy(&r->epoch, data + VARHDRSZ + 16, sizeof(uint32));
	r->pos = data + VARHDRSZ + BATCH_HEADER_SIZE;
}

/*
 * read_varint
 *		The zigzag varint at r->pos, moving past it.
 */
static int64
read_varint(MqBatchReader *r)
{
	uint64		u = 0;
	int			shift = 0;

	for (;;)
	{
		uint8		b;

		if (r->pos >= r->end || shift > 63)
			corrupted(r, "a time does not decode");
		b = (uint8) *r->pos++;
		u |= (uint64) (b & 0x7F) << shift;
		if ((b & 0x80) == 0)
			break;
		shift += 7;
	}
	return (int64) (u >> 1) ^ -(int64) (u & 1);
}

/*
 * read_varlena
 *		The varlena at the next 4-byte boundary, moving past it.
 */
static struct varlena *
read_varlena(MqBatchReader *r)
{
	const char *start = (const char *) r->value;
	struct varlena *v;

	while ((r->pos - start) % sizeof(int32) != 0)
		r->pos++;
	if (r->end - r->pos < VARHDRSZ)
		corrupted(r, "a field runs past its end");
	v = (struct varlena *) r->pos;
	if (VARATT_IS_SHORT(v) || VARATT_IS_EXTENDED(v) ||
		VARSIZE(v) < VARHDRSZ || VARSIZE(v) > (Size) (r->end - r->pos))
		corrupted(r, "a field runs past its end");
	r->pos += VARSIZE(v);
	return v;
}

/*
 * valid_jsonb_container
 *		Whether the len bytes at jc form a well-built jsonb container: its
 *		entries' offsets rise and stay inside it, object keys are strings,
 *		and nested containers and numerics are whole.  A batch's bytes come
 *		from a table that its owner can write, and jsonb's functions trust
 *		the offsets they read.
 */
static bool
valid_jsonb_container(const char *jc, uint32 len)
{
	uint32		header;
	uint32		count;
	uint32		nentries;
	const JEntry *children;
	const char *data;
	uint32		dlen;
	uint32		offset = 0;
	uint32		i;

	check_stack_depth();
	if (len < sizeof(uint32))
		return false;
	memcpy(&header, jc, sizeof(uint32));
	count = header & JB_CMASK;
	if ((header & JB_FOBJECT) != 0 && (header & (JB_FARRAY | JB_FSCALAR)) == 0)
		nentries = count * 2;
	else if ((header & JB_FARRAY) != 0 && (header & JB_FOBJECT) == 0 &&
			 ((header & JB_FSCALAR) == 0 || count == 1))
		nentries = count;
	else
		return false;
	if ((uint64) nentries * sizeof(JEntry) > len - sizeof(uint32))
		return false;
	children = (const JEntry *) (jc + sizeof(uint32));
	data = (const char *) (children + nentries);
	dlen = len - sizeof(uint32) - nentries * sizeof(JEntry);

	for (i = 0; i < nentries; i++)
	{
		JEntry		e = children[i];
		uint32		end = JBE_HAS_OFF(e) ? JBE_OFFLENFLD(e) :
		offset + JBE_OFFLENFLD(e);
		uint32		start = INTALIGN(offset);

		if (end < offset || end > dlen)
			return false;
		if ((header & JB_FOBJECT) != 0 && i < count && !JBE_ISSTRING(e))
			return false;
		if (JBE_ISCONTAINER(e))
		{
			if (start > end || !valid_jsonb_container(data + start, end - start))
				return false;
		}
		else if (JBE_ISNUMERIC(e))
		{
			const struct varlena *n = (const struct varlena *) (data + start);

			if (start > end || end - start < VARHDRSZ ||
				!VARATT_IS_4B_U(n) || VARSIZE(n) > end - start ||
				VARSIZE(n) < VARHDRSZ + sizeof(uint16))
				return false;
		}
		else if (!JBE_ISSTRING(e) && end != offset)
			return false;
		offset = end;
	}
	return true;
}

/*
 * mq_codec_next
 *		Decode the next record into *rec; false when there is none.  The
 *		pointers in rec->msg point into the batch, valid until
 *		mq_codec_close.
 */
bool
mq_codec_next(MqBatchReader *r, MqRecord *rec)
{
	uint8		flags;

	if (r->left <= 0)
		return false;
	if (r->end - r->pos < 2)
		corrupted(r, "a record runs past its end");
	flags = (uint8) *r->pos++;
	memset(rec, 0, sizeof(MqRecord));
	rec->offset = r->next_offset;
	rec->epoch = r->epoch;
	rec->msg.partition = r->partition;
	rec->msg.payload_type = *r->pos++;
	rec->produced_at = r->base_at + read_varint(r);
	if (r->end - r->pos < UUID_LEN)
		corrupted(r, "a record runs past its end");
	memcpy(rec->msg.id.data, r->pos, UUID_LEN);
	r->pos += UUID_LEN;
	if (flags & RECORD_HAS_KEY)
		rec->msg.key = (text *) read_varlena(r);
	if (flags & RECORD_HAS_TAG)
		rec->msg.tag = (text *) read_varlena(r);
	if (flags & RECORD_HAS_HEADERS)
	{
		rec->msg.headers = (Jsonb *) read_varlena(r);
		if (!valid_jsonb_container((const char *) &rec->msg.headers->root,
								   VARSIZE(rec->msg.headers) - VARHDRSZ))
			corrupted(r, "its headers are not a valid jsonb value");
	}
	rec->msg.payload = (bytea *) read_varlena(r);
	r->next_offset++;
	r->left--;
	return true;
}

/*
 * mq_codec_close
 *		Free what reading the batch allocated.
 */
void
mq_codec_close(MqBatchReader *r)
{
	if (r->copied)
		pfree(r->value);
	r->value = NULL;
}
