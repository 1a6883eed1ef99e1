/*-------------------------------------------------------------------------
 *
 * offsets.h
 *	  Partitions in shared memory: commit-time offsets, the stable offset,
 *	  the durable high mark, and waiting for offsets to move.  The struct
 *	  and its locks are private to offsets.c, whose header comment gives
 *	  the lock discipline.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/offsets.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_OFFSETS_H
#define MQ_OFFSETS_H

#include "lib/stringinfo.h"
#include "storage/condition_variable.h"
#include "utils/relcache.h"

/*
 * What mq.partition_offsets() shows of a partition.  The restart gap
 * [gap_start, gap_end) runs from the end of the stored log to the durable
 * high mark the partition continued from after a restart (empty for a
 * partition created since): it holds no message, and none of its offsets
 * is handed out again.  gap_start is -1 until the log's end has been found
 * (mq_offsets_set_gap).
 */
typedef struct MqPartitionOffsets
{
	int64		end;			/* next offset to assign */
	int64		stable;			/* readers read below it */
	int			inflight;		/* ranges of committing transactions */
	int64		oldest;			/* start of the oldest one, 0 if none */
	int64		gap_start;
	int64		gap_end;
} MqPartitionOffsets;

/* Readers. */
extern bool mq_offsets_stable(int32 topic_id, int32 partition, int64 *stable,
							  int64 *end);
extern bool mq_offsets_read(int32 topic_id, int32 partition,
							MqPartitionOffsets *out);
extern ConditionVariable *mq_offsets_wake_channel(Oid dboid);

/* Where a restart gap starts, once segment.c has found it. */
extern void mq_offsets_set_gap(int32 topic_id, int32 partition,
							   int64 gap_end, int64 gap_start);

/* The producer's commit path (produce.c) and mq.c's transaction callback. */
extern int64 mq_offsets_reserve(Relation *marks, int32 topic_id,
								int32 partition, int n);
extern bool mq_offsets_xact_pending(void);
extern void mq_offsets_xact_end(void);

/* The topic directory (topic.c), holding its lock exclusively. */
extern void mq_offsets_check_room(const char *topic_name, int32 from,
								  int32 to);
extern void mq_offsets_enter(const char *topic_name, int32 topic_id,
							 int32 from, int32 to, const int64 *high_marks);
extern void mq_offsets_forget(Oid dboid, int32 topic_id, int32 from,
							  int32 to);

/* The database worker. */
extern int	mq_offsets_watchdog(void);
extern int	mq_offsets_advanced(int32 topic_id, int32 partitions,
								StringInfo buf, int64 *marks);
extern void mq_offsets_notified(int32 topic_id, int32 partitions,
								const int64 *marks);

/* From mq.c's shared memory hooks. */
/* Epochs are positive SQL integers (mq_offsets_epoch). */
#define MQ_EPOCH_MAX		0x7FFFFFFF

extern uint32 mq_offsets_epoch(void);
extern void mq_offsets_shmem_request(void);
extern void mq_offsets_shmem_startup(void);

#endif							/* MQ_OFFSETS_H */
