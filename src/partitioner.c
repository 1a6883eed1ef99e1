/*-------------------------------------------------------------------------
 *
 * partitioner.c
 *	  Kafka's default partitioner, so that a key lands on the same
 *	  partition number in mq as in Kafka.
 *
 * Kafka hashes the key's bytes with its 32-bit murmur2 variant (seed
 * 0x9747b28c, little-endian 4-byte blocks, the tail mixed in from the last
 * byte down), clears the sign bit and takes the result modulo the number
 * of partitions.  mq keys are text: their bytes in the server encoding are
 * hashed, which for UTF-8 is what a Java producer sends for the same
 * string.  Keyless messages are placed by produce.c.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/partitioner.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "partitioner.h"

PG_FUNCTION_INFO_V1(mq_partition_for);

/*
 * mq_partitioner_murmur2
 *		Kafka's murmur2 hash of len bytes (Utils.murmur2 in the Java client).
 */
int32
mq_partitioner_murmur2(const char *data, int len)
{
	const uint32 m = 0x5bd1e995;
	const int	r = 24;
	const unsigned char *bytes = (const unsigned char *) data;
	uint32		h = 0x9747b28c ^ (uint32) len;
	int			nblocks = len / 4;
	int			i;

	for (i = 0; i < nblocks; i++)
	{
		const unsigned char *b = bytes + i * 4;
		uint32		k = (uint32) b[0] | ((uint32) b[1] << 8) |
		((uint32) b[2] << 16) | ((uint32) b[3] << 24);

		k *= m;
		k ^= k >> r;
		k *= m;
		h *= m;
		h ^= k;
	}

	switch (len % 4)
	{
		case 3:
			h ^= (uint32) bytes[nblocks * 4 + 2] << 16;
			/* FALLTHROUGH */
		case 2:
			h ^= (uint32) bytes[nblocks * 4 + 1] << 8;
			/* FALLTHROUGH */
		case 1:
			h ^= (uint32) bytes[nblocks * 4];
			h *= m;
	}

	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;

	return (int32) h;
}

/*
 * mq_partitioner_key
 *		The partition Kafka's default partitioner gives a key.
 */
int32
mq_partitioner_key(const char *key, int len, int32 partitions)
{
	Assert(partitions > 0);
	return (int32) (((uint32) mq_partitioner_murmur2(key, len) & 0x7fffffff) % (uint32) partitions);
}

/*
 * mq_partition_for
 *		SQL: mq.partition_for(key text, partitions integer) returns integer.
 */
Datum
mq_partition_for(PG_FUNCTION_ARGS)
{
	text	   *key = PG_GETARG_TEXT_PP(0);
	int32		partitions = PG_GETARG_INT32(1);

	if (partitions < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("number of partitions must be at least 1")));

	PG_RETURN_INT32(mq_partitioner_key(VARDATA_ANY(key),
									   VARSIZE_ANY_EXHDR(key), partitions));
}
