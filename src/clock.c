/*-------------------------------------------------------------------------
 *
 * clock.c
 *	  mq's clock: the time against which delays, back-off and check-backs
 *	  are due.
 *
 * mq_clock_now() is the system clock plus an offset in shared memory that is
 * zero unless tests move it forward with mq.advance_clock() (allowed only with
 * mq.test_clock = on), so that tests check delays, back-off and check-back
 * schedules without sleeping.  The offset only grows; it is a single atomic
 * and needs no lock.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/clock.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "clock.h"
#include "database.h"
#include "settings.h"

/* Microseconds added to the system clock; only grows.  Shared memory. */
static pg_atomic_uint64 *clock_offset = NULL;

PG_FUNCTION_INFO_V1(mq_clock);
PG_FUNCTION_INFO_V1(mq_advance_clock);
/* FUNCINFO */

/*
 * mq_clock_now
 *		mq's clock: the system clock, moved forward by mq.advance_clock().
 */
TimestampTz
mq_clock_now(void)
{
	return GetCurrentTimestamp() +
		(int64) pg_atomic_read_u64(clock_offset);
}

/*
 * mq_due_after
 *		now plus interval iv, an argument called what: refuses months, a
 *		negative interval, and one beyond mq.max_delay (checked before the
 *		arithmetic, so that it cannot overflow).
 */
TimestampTz
mq_due_after(TimestampTz now, Interval *iv, const char *what)
{
	if (iv->month != 0 || iv->day < 0 || iv->time < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a positive interval without months", what)));
	if (iv->day > mq_max_delay / SECS_PER_DAY + 1 ||
		iv->time + (int64) iv->day * USECS_PER_DAY >
		(int64) mq_max_delay * USECS_PER_SEC)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s exceeds mq.max_delay (%d s)", what, mq_max_delay)));
	return now + iv->time + (int64) iv->day * USECS_PER_DAY;
}

/*
 * mq_clock
 *		SQL: mq.clock() is mq's clock: the time against which delays,
 *		back-off and check-backs are due.
 */
Datum
mq_clock(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(mq_clock_now());
}

/*
 * mq_advance_clock
 *		SQL: mq.advance_clock(by interval) moves mq's clock forward for the
 *		whole server, wakes the database workers, and returns the new time.
 *		For tests: refused unless mq.test_clock is on.
 */
Datum
mq_advance_clock(PG_FUNCTION_ARGS)
{
	Interval   *by;
	int64		usecs;

	if (!mq_test_clock)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("mq.advance_clock() requires mq.test_clock to be on"),
				 errhint("mq.test_clock is meant for tests: it lets a superuser move the clock of delays and check-backs forward.")));
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("by must not be null")));
	by = PG_GETARG_INTERVAL_P(0);
	if (by->month != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("by must not have months")));
	usecs = by->time + (int64) by->day * USECS_PER_DAY;
	if (usecs < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("mq's clock cannot go back")));
	pg_atomic_fetch_add_u64(clock_offset, (uint64) usecs);
	mq_database_wake_all();
	PG_RETURN_TIMESTAMPTZ(mq_clock_now());
}

/*
 * mq_clock_shmem_request
 *		Reserve the clock's offset.  Called from mq.c's shmem_request_hook.
 */
void
mq_clock_shmem_request(void)
{
	RequestAddinShmemSpace(CACHELINEALIGN(sizeof(pg_atomic_uint64)));
}

/*
 * mq_clock_shmem_startup
 *		Create the clock's offset, or attach to it.  Called from mq.c's
 *		shmem_startup_hook with AddinShmemInitLock held.
 */
void
mq_clock_shmem_startup(void)
{
	bool		found;

	clock_offset = ShmemInitStruct("mq clock", sizeof(pg_atomic_uint64),
								   &found);
	if (!found)
		pg_atomic_init_u64(clock_offset, 0);
}
