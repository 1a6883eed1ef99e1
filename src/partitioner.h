/*-------------------------------------------------------------------------
 *
 * partitioner.h
 *	  Choosing a message's partition: Kafka's default partitioner.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/partitioner.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_PARTITIONER_H
#define MQ_PARTITIONER_H

extern int32 mq_partitioner_murmur2(const char *data, int len);
extern int32 mq_partitioner_key(const char *key, int len, int32 partitions);

#endif							/* MQ_PARTITIONER_H */
