/*-------------------------------------------------------------------------
 *
 * metrics.h
 *	  Counters of committed work per topic and per consumer group, kept in
 *	  shared memory and across clean restarts.  The struct and its locks
 *	  are private to metrics.c, whose header comment gives the lock
 *	  discipline.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/metrics.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_METRICS_H
#define MQ_METRICS_H

/*
 * What a counting point counts, in messages.  PRODUCED and RELEASED are
 * counted per topic (group 0), the others per topic and group; PRODUCED and
 * DELIVERED also count payload bytes.  docs/reference.md (mq.metrics) says
 * exactly what each one counts.
 */
typedef enum MqMetric
{
	MQ_METRIC_PRODUCED,			/* written into the topic's log */
	MQ_METRIC_RELEASED,			/* released from the delayed store */
	MQ_METRIC_DELIVERED,		/* returned by a fetch, poll or receive */
	MQ_METRIC_ACKNOWLEDGED,		/* offsets a position moved forward, or
								 * receipts acknowledged */
	MQ_METRIC_NACKED,			/* handed back by a nack */
	MQ_METRIC_DEAD_LETTERED,	/* sent to the group's dead-letter topic */
	MQ_METRIC_COUNT
} MqMetric;

/* Counting points: backend memory only, added to shared memory at commit. */
extern void mq_metrics_count(int32 topic_id, int32 group_id, MqMetric metric,
							 int64 messages, int64 bytes);

/* From mq.c's hooks and transaction callbacks. */
extern void mq_metrics_shmem_request(void);
extern void mq_metrics_shmem_startup(void);
extern void mq_metrics_xact_end(bool commit);
extern void mq_metrics_subxact_end(bool commit);
extern void mq_metrics_extension_dropped(void);
extern void mq_metrics_database_dropped(Oid dboid);

/* The database worker's job: forget topics and groups that are gone. */
extern int64 mq_metrics_sweep(void);

#endif							/* MQ_METRICS_H */
