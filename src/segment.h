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
#include "utils/relcache.h"

#include "codec.h"
#include "topic.h"

/* Columns of a segment table: one row per record batch. */
enum
{
	SEG_PARTITION,
	SEG_BASE_OFFSET,
	SEG_RECORD_COUNT,
	SEG_FIRST_AT,
	SEG_LAST_AT,
	SEG_RECORDS,
	SEG_NATTS
};

/* What a reader does with each record; returns false to stop. */
typedef bool (*MqRecordVisitor) (const MqRecord *rec, void *arg);

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
extern bool mq_segment_visit_rows(MqRecordVisitor visit, void *arg);

/* Direct reads and writes of a segment locked by the caller: no SPI. */
extern void mq_segment_check_layout(Relation rel);
extern void mq_segment_read(Oid relid, int32 partition, int64 from,
							int64 bound, MqRecordVisitor visit, void *arg);
extern void mq_segment_read_newest(Oid relid, int32 partition,
								   MqRecordVisitor visit, void *arg);
extern Oid	mq_segment_create(int32 topic_id, int32 segment_no);
extern void mq_segment_set_storage(const char *table,
								   MqCompression compression);
extern void mq_segment_for_each(int32 topic_id, const char *command);
extern int64 mq_segment_log_start(const MqTopicInfo *topic, int32 partition);
extern int64 mq_segment_offset_at_time(const MqTopicInfo *topic,
									   int32 partition, TimestampTz at);

/* These connect to SPI themselves. */
extern int32 mq_segment_roll(const char *name, bool nowait);
extern int	mq_segment_roll_due(void);
extern int	mq_segment_retention_pass(void);

#endif							/* MQ_SEGMENT_H */
