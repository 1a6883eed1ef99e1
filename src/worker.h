/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The mq launcher and the per-database workers.
 *
 * One launcher (a static background worker connected to no database)
 * starts one worker per database in which the extension is installed.
 * The hooks in mq.c tell this subsystem about the events it cannot see
 * from the catalogs alone: the extension created or dropped, a database
 * created, and utility commands that need a database without other
 * connections.
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

#include "datatype/timestamp.h"

extern void mq_worker_register_launcher(void);

extern PGDLLEXPORT void mq_launcher_main(Datum main_arg) pg_attribute_noreturn();
extern PGDLLEXPORT void mq_worker_main(Datum main_arg) pg_attribute_noreturn();

/* Events reported by mq.c's hooks, inside the transaction that causes them. */
extern void mq_worker_extension_created(void);
extern void mq_worker_extension_dropped(void);
extern void mq_worker_database_created(void);
extern void mq_worker_pause(Oid dboid);

/* Transaction end, from mq.c's single transaction callback. */
extern void mq_worker_notify(void);
extern void mq_worker_wake_at(TimestampTz due);
extern void mq_worker_wake_all(void);
extern bool mq_worker_xact_pending(void);
extern void mq_worker_xact_end(bool commit);

#endif							/* MQ_WORKER_H */
