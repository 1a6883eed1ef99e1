/*-------------------------------------------------------------------------
 *
 * produce.h
 *	  Sending messages: the per-transaction buffer and commit-time offsets.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/produce.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_PRODUCE_H
#define MQ_PRODUCE_H

#include "fmgr.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#include "message.h"
#include "topic.h"

extern void mq_produce_send_checks(FunctionCallInfo fcinfo, MqTopicInfo *topic);
extern bytea *mq_produce_payload(Datum payload, Oid type, char *payload_type);
extern void mq_produce_check_message(const MqTopicInfo *topic,
									 const MqMessage *m);
extern void mq_produce_new_id(pg_uuid_t *id);
extern void mq_produce_buffer(const MqTopicInfo *topic, const MqMessage *m);
extern void mq_produce_flush(void);

/* From mq.c's transaction callbacks. */
extern bool mq_produce_xact_pending(void);
extern void mq_produce_subxact_end(bool commit, SubTransactionId mysubid,
								   SubTransactionId parentsubid);
extern void mq_produce_xact_end(bool commit);

/* From the database worker. */
extern int	mq_produce_purge_dedup(void);

#endif							/* MQ_PRODUCE_H */
