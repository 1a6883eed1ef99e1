/*-------------------------------------------------------------------------
 *
 * codec.h
 *	  The binary layout of a record batch: the messages one transaction
 *	  commits to one partition, packed in one value and compressed.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/codec.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_CODEC_H
#define MQ_CODEC_H

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"

#include "message.h"

/* How a topic compresses its batches (mq.topic.compression). */
typedef enum MqCompression
{
	MQ_COMPRESSION_NONE,
	MQ_COMPRESSION_PGLZ,
	MQ_COMPRESSION_LZ4
} MqCompression;

/*
 * A batch is cut when its records pass this many bytes, before
 * compression: one heap tuple per batch, and one that a page can mostly
 * hold once compressed.
 */
#define MQ_BATCH_MAX_BYTES	(64 * 1024)

/* One record of a batch, as a reader sees it. */
typedef struct MqRecord
{
	int64		offset;
	uint32		epoch;			/* the batch's: its writer's server life */
	TimestampTz produced_at;
	MqMessage	msg;			/* msg.partition is the batch's */
} MqRecord;

/* A batch being encoded. */
typedef struct MqBatchWriter
{
	StringInfoData buf;			/* the header, then the records */
	int32		count;
	uint32		epoch;			/* its writer's server life */
	TimestampTz base_at;		/* produced_at of the first record */
	TimestampTz first_at;		/* the earliest produced_at */
	TimestampTz last_at;		/* the latest produced_at */
} MqBatchWriter;

/* A batch being decoded. */
typedef struct MqBatchReader
{
	struct varlena *value;		/* the batch, decompressed */
	bool		copied;			/* value was detoasted into a copy */
	const char *pos;
	const char *end;
	int32		partition;
	int64		next_offset;	/* offset of the next record */
	int32		left;			/* records not read yet */
	uint32		epoch;			/* its writer's server life */
	TimestampTz base_at;		/* produced_at of the first record */
} MqBatchReader;

extern MqCompression mq_codec_compression(const char *name);
extern const char *mq_codec_compression_name(MqCompression c);

extern void mq_codec_begin(MqBatchWriter *w, uint32 epoch);
extern void mq_codec_add(MqBatchWriter *w, const MqMessage *m,
						 TimestampTz produced_at);
extern Datum mq_codec_finish(MqBatchWriter *w, MqCompression compression);

extern void mq_codec_open(MqBatchReader *r, Datum value, bool isnull,
						  int32 partition, int64 base_offset, int32 count);
extern bool mq_codec_next(MqBatchReader *r, MqRecord *rec);
extern void mq_codec_close(MqBatchReader *r);

#endif							/* MQ_CODEC_H */
