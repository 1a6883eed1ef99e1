/*-------------------------------------------------------------------------
 *
 * launcher.h
 *	  The mq launcher, which starts a worker per database that has mq.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/launcher.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_LAUNCHER_H
#define MQ_LAUNCHER_H

extern void mq_launcher_register(void);

extern PGDLLEXPORT void mq_launcher_main(Datum main_arg) pg_attribute_noreturn();

#endif							/* MQ_LAUNCHER_H */
