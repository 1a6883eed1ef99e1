/*-------------------------------------------------------------------------
 *
 * clock.h
 *	  mq's clock, which tests can move forward.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/clock.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_CLOCK_H
#define MQ_CLOCK_H

#include "datatype/timestamp.h"

extern TimestampTz mq_clock_now(void);
extern TimestampTz mq_due_after(TimestampTz now, Interval *iv,
								const char *what);

/* From mq.c's shared memory hooks. */
extern void mq_clock_shmem_request(void);
extern void mq_clock_shmem_startup(void);

#endif							/* MQ_CLOCK_H */
