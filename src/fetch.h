/*-------------------------------------------------------------------------
 *
 * fetch.h
 *	  Consuming as a group: mq.fetch and mq.poll, and the subscription
 *	  filters that shared subscriptions (share.c) use too.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/fetch.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_FETCH_H
#define MQ_FETCH_H

#include "fmgr.h"

/* A subscription's filters, ready to test messages against. */
typedef struct MessageFilter
{
	bool		any_tag;		/* no tag filter */
	Datum	   *tags;
	int			ntags;
	bool		any_headers;	/* no jsonpath filter */
	FmgrInfo	match;			/* jsonb @@ jsonpath */
	FmgrInfo	exists;			/* jsonb @? jsonpath */
	Datum		path;
	Datum		no_headers;		/* '{}', what a message without headers is */
} MessageFilter;

extern void mq_fetch_filter_init(MessageFilter *f, Datum tags, bool tags_null,
								 Datum filter, bool filter_null);
extern bool mq_fetch_filter_passes(MessageFilter *f, Datum tag, bool tag_null,
								   Datum headers, bool headers_null);

extern Datum mq_fetch(PG_FUNCTION_ARGS);
extern Datum mq_poll(PG_FUNCTION_ARGS);

#endif							/* MQ_FETCH_H */
