/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The per-database worker.  Only the postmaster calls it, through the
 *	  entry point the launcher registers; nothing else may include this.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/worker.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_WORKER_H
#define MQ_WORKER_H

extern PGDLLEXPORT void mq_worker_main(Datum main_arg) pg_attribute_noreturn();

#endif							/* MQ_WORKER_H */
