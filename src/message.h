/*-------------------------------------------------------------------------
 *
 * message.h
 *	  A message as it travels between mq's files: sent, stored for later,
 *	  released, retried, sent to a dead-letter topic, committed from a
 *	  half message.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/message.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_MESSAGE_H
#define MQ_MESSAGE_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#include "settings.h"

/*
 * A message's content and identity; its topic travels beside it.  The
 * pointers may point into a query's result or a function's arguments:
 * whoever keeps a message copies them (the send buffer does).
 */
typedef struct MqMessage
{
	pg_uuid_t	id;
	int32		partition;		/* -1: chosen when it is sent */
	char		payload_type;	/* MQ_PAYLOAD_* */
	text	   *key;			/* NULL if none */
	text	   *tag;			/* NULL if none */
	Jsonb	   *headers;		/* NULL if none */
	bytea	   *payload;		/* the payload's bytes */
} MqMessage;

/*
 * Where a query's result row has a message's columns, numbered from 1 as SPI
 * does; 0 for a column the query does not return (id: left zero for the caller
 * to set; partition: the message gets -1).  The payload type column may be
 * "char" (the stores' column) or text ('text', 'jsonb', 'bytea', as mq.read
 * returns it).  payload is the stores' bytea column or, with delivered, the
 * first of a delivered row's payload_json, payload_text and payload_bytes
 * (MQ_PAYLOAD_COLUMNS), whichever is not null.
 */
typedef struct MqMessageColumns
{
	int			id;
	int			partition;
	int			payload_type;
	int			key;
	int			tag;
	int			headers;
	int			payload;
	bool		delivered;
} MqMessageColumns;

extern void mq_message_from_row(HeapTuple tup, TupleDesc desc,
								const MqMessageColumns *cols, MqMessage *m);

/*
 * The columns a delivered message's payload fills in a result row:
 * payload_type ('text', 'jsonb' or 'bytea'), then payload_json (json),
 * payload_text (text) and payload_bytes (bytea), of which only the one of
 * the message's type is not null.  The type names are made once per call
 * (mq_payload_names_init).
 */
#define MQ_PAYLOAD_COLUMNS	4

typedef struct MqPayloadNames
{
	Datum		names[3];		/* jsonb, text, bytea: the columns' order */
} MqPayloadNames;

extern void mq_payload_names_init(MqPayloadNames *names);
extern void mq_payload_columns(const MqMessage *m, const MqPayloadNames *names,
							   Datum *values, bool *nulls);

#endif							/* MQ_MESSAGE_H */
