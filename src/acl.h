/*-------------------------------------------------------------------------
 *
 * acl.h
 *	  Privileges on topics and consumer groups.
 *
 * Copyright (c) 2026, mq developers
 *
 * IDENTIFICATION
 *	  src/acl.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef MQ_ACL_H
#define MQ_ACL_H

/* What an object's privileges are about. */
typedef enum MqObjectKind
{
	MQ_OBJECT_TOPIC,
	MQ_OBJECT_GROUP
} MqObjectKind;

/* Privileges, as bits of a mask. */
#define MQ_PRIV_PRODUCE		0x1 /* topics: send, prepare, delayed messages */
#define MQ_PRIV_CONSUME		0x2 /* topics: read; groups: consume as it */
#define MQ_PRIV_MANAGE		0x4 /* alter, roll, drop; groups: subscribe */
#define MQ_PRIV_ALL			0x7

extern int	mq_acl_mask(MqObjectKind kind, const char *name, Oid roleid,
						bool *exists);
extern void mq_acl_check(MqObjectKind kind, const char *name, int privileges);
extern char *mq_acl_caller_name(void);
extern void mq_acl_changed(void);

/* From mq.c's transaction callback and shared memory hooks. */
extern bool mq_acl_xact_pending(void);
extern void mq_acl_subxact_abort(void);
extern void mq_acl_xact_end(bool commit);
extern void mq_acl_shmem_request(void);
extern void mq_acl_shmem_startup(void);

#endif							/* MQ_ACL_H */
