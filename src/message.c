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
}
