/*-------------------------------------------------------------------------
 *
 * segment.h
 *	  Segments: the tables that hold a topic's messages, their roll and
 *	  retention, and the offsets they bound.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/segment.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_SEGMENT_H
#define MQ_SEGMENT_H

#include "datatype/timestamp.h"
#include "executor/spi.h"

#include "topic.h"

/* Columns of a segment table (see mq_segment_create). */
enum
{
	SEG_PARTITION,
	SEG_OFFSET,
	SEG_ID,
	SEG_PRODUCED_AT,
	SEG_PAYLOAD_TYPE,
	SEG_KEY,
	SEG_TAG,
	SEG_HEADERS,
	SEG_PAYLOAD,
	SEG_NATTS
};

/*
 * Reading a topic's segments in order, each locked for reading, skipping
 * those that retention dropped since they were listed.
 */
typedef struct MqSegmentScan
{
	SPITupleTable *segments;	/* the list, from mq.segment */
	uint64		count;
	uint64		next;
} MqSegmentScan;

/* All of these run SPI queries: the caller is connected to SPI. */
extern void mq_segment_scan_begin(MqSegmentScan *scan, int32 topic_id,
								  bool newest_first);
extern bool mq_segment_scan_next(MqSegmentScan *scan, Oid *relid,
								 const char **name);
extern void mq_segment_scan_end(MqSegmentScan *scan);
extern Oid	mq_segment_create(int32 topic_id, int32 segment_no);
extern void mq_segment_for_each(int32 topic_id, const char *command);
extern int64 mq_segment_log_start(const MqTopicInfo *topic, int32 partition);
extern int64 mq_segment_offset_at_time(const MqTopicInfo *topic,
									   int32 partition, TimestampTz at);

/* These connect to SPI themselves. */
extern int32 mq_segment_roll(const char *name, bool nowait);
extern int	mq_segment_roll_due(void);
extern int	mq_segment_retention_pass(void);

#endif							/* MQ_SEGMENT_H */
