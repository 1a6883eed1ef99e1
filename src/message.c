/*-------------------------------------------------------------------------
 *
 * message.c
 *	  Reading an MqMessage out of a query's result row.
 *
 * The delayed store, the half-message store and mq.read return a
 * message's columns in different orders; this is the one place that
 * turns such a row into an MqMessage, nulls and payload types included.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/message.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "message.h"

/*
 * column_or_null
 *		Column col of tup, detoasted, or NULL if it is null.  packed allows
 *		a short varlena header (text and bytea; not jsonb, whose functions
 *		need the full header).
 */
static Pointer
column_or_null(HeapTuple tup, TupleDesc desc, int col, bool packed)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	if (isnull)
		return NULL;
	return DatumGetPointer(packed ? PG_DETOAST_DATUM_PACKED(d) :
						   PG_DETOAST_DATUM(d));
}

/*
 * mq_message_from_row
 *		Fill *m from the columns cols of a query's result row.  The pointers
 *		point into the row (or a detoasted copy in the current memory
 *		context).
 */
void
mq_message_from_row(HeapTuple tup, TupleDesc desc,
					const MqMessageColumns *cols, MqMessage *m)
{
	bool		isnull;
	Datum		d;

	memset(m, 0, sizeof(MqMessage));
	if (cols->id > 0)
		m->id = *DatumGetUUIDP(SPI_getbinval(tup, desc, cols->id, &isnull));
	m->partition = -1;
	if (cols->partition > 0)
	{
		d = SPI_getbinval(tup, desc, cols->partition, &isnull);
		if (!isnull)
			m->partition = DatumGetInt32(d);
	}
	if (SPI_gettypeid(desc, cols->payload_type) == CHAROID)
		m->payload_type = DatumGetChar(SPI_getbinval(tup, desc,
													 cols->payload_type,
													 &isnull));
	else
	{
		char	   *type = SPI_getvalue(tup, desc, cols->payload_type);

		m->payload_type = type[0] == 't' ? MQ_PAYLOAD_TEXT :
			type[0] == 'j' ? MQ_PAYLOAD_JSONB : MQ_PAYLOAD_BYTEA;
	}
	m->key = (text *) column_or_null(tup, desc, cols->key, true);
	m->tag = (text *) column_or_null(tup, desc, cols->tag, true);
	m->headers = (Jsonb *) column_or_null(tup, desc, cols->headers, false);
	m->payload = (bytea *) column_or_null(tup, desc, cols->payload, true);
	if (cols->delivered)
	{
		/* the same bytes in the column of their type (mq_payload_columns) */
		if (m->payload == NULL)
			m->payload = (bytea *) column_or_null(tup, desc, cols->payload + 1,
												  true);
		if (m->payload == NULL)
			m->payload = (bytea *) column_or_null(tup, desc, cols->payload + 2,
												  true);
	}
}

/*
 * mq_payload_names_init
 *		The payload_type values of result rows, made once.
 */
void
mq_payload_names_init(MqPayloadNames *names)
{
	names->names[0] = CStringGetTextDatum("jsonb");
	names->names[1] = CStringGetTextDatum("text");
	names->names[2] = CStringGetTextDatum("bytea");
}

/*
 * mq_payload_columns
 *		Fill the MQ_PAYLOAD_COLUMNS payload columns of a result row from m.
 *		The stored bytes serve as they are: a JSON message's bytes are its
 *		text form, a valid json datum, so no message is parsed or copied
 *		here.
 */
void
mq_payload_columns(const MqMessage *m, const MqPayloadNames *names,
				   Datum *values, bool *nulls)
{
	int			which = m->payload_type == MQ_PAYLOAD_JSONB ? 0 :
	m->payload_type == MQ_PAYLOAD_TEXT ? 1 : 2;
	int			i;

	values[0] = names->names[which];
	nulls[0] = false;
	for (i = 0; i < 3; i++)
	{
		values[1 + i] = (i == which) ? PointerGetDatum(m->payload) : (Datum) 0;
		nulls[1 + i] = (i != which);
	}
}
