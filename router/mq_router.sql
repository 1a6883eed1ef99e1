/*
 * mq_router.sql
 *		The router of a cluster of mq servers: a database without mq that
 *		exposes sends, lookups, topics and lag of the whole cluster through
 *		PL/Proxy (docs/scale-out.md).
 *
 * Install it with psql in the router database, after PL/Proxy and the
 * cluster's definition:
 *
 *	CREATE EXTENSION plproxy;
 *	CREATE SERVER mq_cluster FOREIGN DATA WRAPPER plproxy
 *		OPTIONS (p0 'host=mq0 dbname=app', p1 'host=mq1 dbname=app',
 *				 p2 'host=mq2 dbname=app', p3 'host=mq0 dbname=app');
 *	CREATE USER MAPPING FOR PUBLIC SERVER mq_cluster OPTIONS (user 'producer');
 *	\i mq_router.sql
 *
 * PL/Proxy calls the cluster's databases "partitions"; here they are nodes,
 * numbered from 0 as their options p0, p1, ... are, and "partition" means a
 * topic's partition.  PL/Proxy 2.10 (Debian bookworm's) wants a power of 2
 * of them and has no disable_hashing option for SQL/MED clusters, so the
 * list is padded by repeating node 0's connection string: the nodes are the
 * options whose connection string no earlier option has, and the router
 * addresses only them (RUN ON takes a node's number, which is its own hash
 * below the padded count).
 *
 * Placement.  A topic of P partitions over N nodes puts partition p on
 * node p % N as that node's local partition p / N; each node's topic has
 * the partitions placed on it, and nodes past the P-th have none.  Growing a
 * topic's partitions then only appends local partitions on each node, as
 * mq.alter_topic does, and never moves one.  A keyed message's partition is
 * Kafka's, mq.partition_for(key, P), computed here by mq_router.partition_for
 * (the same murmur2, in SQL, since the router has no mq): all messages of a
 * key go to one local partition of one node, in the order they are sent.
 *
 * Every node call is a transaction of its own on that node (PL/Proxy runs
 * remote queries in autocommit mode): a send through the router is
 * committed when the call returns, whatever the router's transaction does.
 */

CREATE SCHEMA mq_router;

-- The topics the router created, with their placement: partition p of a
-- topic is on node p % nodes, as its local partition p / nodes.  A topic
-- is recorded before its nodes create it, and is complete once they all
-- have: until then only mq_router.create_topic uses it.
CREATE TABLE mq_router.topic (
	name		text PRIMARY KEY,
	partitions	integer NOT NULL CHECK (partitions BETWEEN 1 AND 100000),
	nodes		integer NOT NULL CHECK (nodes >= 1),
	created_at	timestamptz NOT NULL DEFAULT now(),
	complete	boolean NOT NULL DEFAULT false
);

-- The cluster's nodes, from the options of the server mq_cluster
-- (p<n> or partition_<n>, as PL/Proxy reads them), less the padding that
-- repeats an earlier node's connection string.
CREATE VIEW mq_router.nodes AS
SELECT o.node, o.connstr
  FROM (SELECT substring(x.option_name FROM '[0-9]+$')::integer AS node,
			   x.option_value AS connstr
		  FROM pg_catalog.pg_foreign_server s,
			   LATERAL pg_catalog.pg_options_to_table(s.srvoptions) x
		 WHERE s.srvname = 'mq_cluster'
		   AND x.option_name ~ '^(p|partition_)[0-9]+$') o
 WHERE o.node OPERATOR(pg_catalog.=)
	   (SELECT min(substring(y.option_name FROM '[0-9]+$')::integer)
		  FROM pg_catalog.pg_foreign_server s,
			   LATERAL pg_catalog.pg_options_to_table(s.srvoptions) y
		 WHERE s.srvname = 'mq_cluster'
		   AND y.option_name ~ '^(p|partition_)[0-9]+$'
		   AND y.option_value OPERATOR(pg_catalog.=) o.connstr);

-- A message as mq's lookups return it, with the node it was found on.
CREATE TYPE mq_router.message AS (
	partition	integer,
	"offset"	bigint,
	id			uuid,
	key			text,
	tag			text,
	headers		jsonb,
	payload_type text,
	payload_json json,
	payload_text text,
	payload_bytes bytea,
	produced_at timestamptz,
	node		integer
);

/*
 * mq_router.mul32
 *		a * 0x5bd1e995 modulo 2^32, for a in [0, 2^32): murmur2's multiply
 *		in 64-bit arithmetic that cannot overflow (the constant's two 16-bit
 *		halves, 23505 and 59797, are multiplied separately).
 */
CREATE FUNCTION mq_router.mul32(a bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ((a * 59797) + (((a * 23505) & 65535) << 16)) & 4294967295;

/*
 * mq_router.murmur2
 *		Kafka's murmur2 of the bytes (Utils.murmur2), as an unsigned 32-bit
 *		value; mq's src/partitioner.c is the same function in C.
 */
CREATE FUNCTION mq_router.murmur2(data bytea) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
	len		integer := pg_catalog.length(data);
	tail	integer := len - len % 4;
	h		bigint := 2538058380 # len;		-- 0x9747b28c
	k		bigint;
	i		integer := 0;
BEGIN
	WHILE i < tail LOOP
		k := (pg_catalog.get_byte(data, i)::bigint
			  | (pg_catalog.get_byte(data, i + 1)::bigint << 8)
			  | (pg_catalog.get_byte(data, i + 2)::bigint << 16)
			  | (pg_catalog.get_byte(data, i + 3)::bigint << 24));
		k := mq_router.mul32(k);
		k := k # (k >> 24);
		k := mq_router.mul32(k);
		h := mq_router.mul32(h) # k;
		i := i + 4;
	END LOOP;
	IF len % 4 = 3 THEN
		h := h # (pg_catalog.get_byte(data, tail + 2)::bigint << 16);
	END IF;
	IF len % 4 >= 2 THEN
		h := h # (pg_catalog.get_byte(data, tail + 1)::bigint << 8);
	END IF;
	IF len % 4 >= 1 THEN
		h := mq_router.mul32(h # pg_catalog.get_byte(data, tail));
	END IF;
	h := h # (h >> 13);
	h := mq_router.mul32(h);
	RETURN h # (h >> 15);
END
$$;

/*
 * mq_router.partition_for
 *		mq.partition_for: the partition Kafka's default partitioner picks
 *		for key among partitions, from the key's bytes in the database
 *		encoding (so router and nodes must share an encoding).
 */
CREATE FUNCTION mq_router.partition_for(key text, partitions integer)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
	IF partitions < 1 THEN
		RAISE EXCEPTION 'number of partitions must be at least 1'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN ((mq_router.murmur2(pg_catalog.convert_to(key,
				pg_catalog.getdatabaseencoding())) & 2147483647)
			% partitions)::integer;
END
$$;

/*
 * The helpers below read the router's table and the cluster's definition
 * for the functions a producer calls: they run as their owner, so that
 * EXECUTE on the router's functions, USAGE on its schema and on the server
 * mq_cluster are all a producer needs (docs/scale-out.md).
 */

/*
 * mq_router.placement
 *		The router's row for a topic; 42704 if the router did not create it,
 *		55000 if its creation is not complete.
 */
CREATE FUNCTION mq_router.placement(topic text) RETURNS mq_router.topic
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t			mq_router.topic;
BEGIN
	SELECT * INTO t FROM mq_router.topic r WHERE r.name OPERATOR(pg_catalog.=) topic;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'topic "%" does not exist in the cluster', topic
			USING ERRCODE = 'undefined_object',
			HINT = 'The router knows the topics created by mq_router.create_topic, listed in mq_router.topic.';
	END IF;
	IF NOT t.complete THEN
		RAISE EXCEPTION 'topic "%" is not created on every node', topic
			USING ERRCODE = 'object_not_in_prerequisite_state',
			HINT = 'Call mq_router.create_topic again with the same partitions to complete it.';
	END IF;
	RETURN t;
END
$$;

/*
 * mq_router.placed
 *		The router's complete topics, for topics() and lag().
 */
CREATE FUNCTION mq_router.placed() RETURNS SETOF mq_router.topic
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT * FROM mq_router.topic t WHERE t.complete;
END;

/*
 * mq_router.all_nodes
 *		The numbers of the cluster's nodes, for the calls run on all of them.
 */
CREATE FUNCTION mq_router.all_nodes() RETURNS integer[]
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
RETURN (SELECT pg_catalog.array_agg(n.node ORDER BY n.node) FROM mq_router.nodes n);

/*
 * mq_router.holders
 *		The numbers of the nodes holding a topic's partitions: 0 .. least(
 *		partitions, nodes) - 1.
 */
CREATE FUNCTION mq_router.holders(t mq_router.topic) RETURNS integer[]
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
RETURN ARRAY(SELECT pg_catalog.generate_series(0, least(t.partitions, t.nodes) - 1));

/*
 * mq_router.unavailable
 *		Called with an error a node call to the given nodes raised: if
 *		PL/Proxy could not reach a node (its message for a connection that
 *		fails to open), raises 08006 naming the node, or the nodes of a call
 *		to several, where PL/Proxy does not say which one failed, with
 *		PL/Proxy's message as detail.  Returns for other errors, which the
 *		caller re-raises as they are: the node ran the query and it failed,
 *		with mq's own SQLSTATE.
 */
CREATE FUNCTION mq_router.unavailable(nodes integer[], state text, message text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	list		text := (SELECT string_agg(DISTINCT n::text, ', ')
						   FROM unnest(nodes) n);
BEGIN
	IF message !~ '^PL/Proxy function [^:]*: \[[^]]*\] (PQconnectStart|PQconnectPoll|connect timeout)' THEN
		RETURN;
	END IF;
	IF list ~ ',' THEN
		RAISE EXCEPTION 'one of mq nodes % is unavailable', list
			USING ERRCODE = 'connection_failure', DETAIL = message,
			HINT = format('This call needs nodes %s (mq_router.nodes); PL/Proxy does not say which one failed.', list);
	END IF;
	RAISE EXCEPTION 'mq node % is unavailable', list
		USING ERRCODE = 'connection_failure',
		DETAIL = format('Node %s (%s): %s', list,
				(SELECT n.connstr FROM mq_router.nodes n
				  WHERE n.node OPERATOR(pg_catalog.=) nodes[1]),
				message),
		HINT = 'Messages whose partitions are on other nodes can still be sent.';
END
$$;

-- ---------------------------------------------------------------------
-- Node calls (PL/Proxy).  Argument names start with i_ so that PL/Proxy's
-- substitution of argument names in the SELECT leaves mq's named
-- parameters alone.  Each returns local partitions; the callers above
-- turn them into the topic's partitions.
-- ---------------------------------------------------------------------

-- The partitions of the node's topic of that name, NULL if it has none.
CREATE FUNCTION mq_router.node_topic_partitions(i_node integer, i_name text,
	OUT partitions integer)
LANGUAGE plproxy AS $$
	CLUSTER 'mq_cluster';
	RUN ON i_node;
	SELECT (SELECT t.partitions FROM mq.topics t WHERE t.name = i_name::text)
		   AS partitions;
$$;

CREATE FUNCTION mq_router.node_create_topic(i_node integer, i_name text,
	i_partitions integer, OUT topic_id integer)
LANGUAGE plproxy AS $$
	CLUSTER 'mq_cluster';
	RUN ON i_node;
	SELECT mq.create_topic(i_name::text, i_partitions::integer) AS topic_id;
$$;

CREATE FUNCTION mq_router.node_send(i_node integer, i_topic text,
	i_payload text, i_key text, i_local integer,
	OUT id uuid, OUT partition integer, OUT duplicate boolean)
LANGUAGE plproxy AS $$
	CLUSTER 'mq_cluster';
	RUN ON i_node;
	SELECT s.id, s.partition, s.duplicate
	  FROM mq.send(i_topic::text, i_payload::text, key => i_key::text,
				   partition => i_local::integer) s;
$$;

CREATE FUNCTION mq_router.node_send(i_node integer, i_topic text,
	i_payload jsonb, i_key text, i_local integer,
	OUT id uuid, OUT partition integer, OUT duplicate boolean)
LANGUAGE plproxy AS $$
	CLUSTER 'mq_cluster';
	RUN ON i_node;
	SELECT s.id, s.partition, s.duplicate
	  FROM mq.send(i_topic::text, i_payload::jsonb, key => i_key::text,
				   partition => i_local::integer) s;
$$;

-- One call for a whole batch: SPLIT hands each node the elements placed on
-- it, and the nodes run in parallel, each in one transaction that sends
-- its elements in their order.
CREATE FUNCTION mq_router.node_send_batch(i_nodes integer[], i_topic text,
	i_payloads text[], i_keys text[], i_locals integer[], i_ords integer[])
RETURNS TABLE (ord integer, node integer, id uuid, partition integer,
			   duplicate boolean)
LANGUAGE plproxy AS $$
	CLUSTER 'mq_cluster';
	SPLIT i_nodes, i_payloads, i_keys, i_locals, i_ords;
	RUN ON i_nodes;
	SELECT u.ord, (i_nodes::integer[])[1] AS node, s.id, s.partition, s.duplicate
	  FROM unnest(i_payloads::text[], i_keys::text[], i_locals::integer[],
				  i_ords::integer[]) WITH ORDINALITY AS u(payload, key, lp, ord, n)
		   CROSS JOIN LATERAL mq.send(i_topic::text, u.payload, key => u.key,
									  partition => u.lp) s
	 ORDER BY u.n;
$$;

CREATE FUNCTION mq_router.node_send_batch(i_nodes integer[], i_topic text,
	i_payloads jsonb[], i_keys text[], i_locals integer[], i_ords integer[])
RETURNS TABLE (ord integer, node integer, id uuid, partition integer,
			   duplicate boolean)
LANGUAGE plproxy AS $$
	CLUSTER 'mq_cluster';
	SPLIT i_nodes, i_payloads, i_keys, i_locals, i_ords;
	RUN ON i_nodes;
	SELECT u.ord, (i_nodes::integer[])[1] AS node, s.id, s.partition, s.duplicate
	  FROM unnest(i_payloads::jsonb[], i_keys::text[], i_locals::integer[],
				  i_ords::integer[]) WITH ORDINALITY AS u(payload, key, lp, ord, n)
		   CROSS JOIN LATERAL mq.send(i_topic::text, u.payload, key => u.key,
									  partition => u.lp) s
	 ORDER BY u.n;
$$;

CREATE FUNCTION mq_router.node_get(i_node integer, i_topic text,
	i_local integer, i_offset bigint)
RETURNS SETOF mq_router.message
LANGUAGE plproxy AS $$
	CLUSTER 'mq_cluster';
	RUN ON i_node;
	SELECT m.partition, m."offset", m.id, m.key, m.tag, m.headers,
		   m.payload_type, m.payload_json, m.payload_text, m.payload_bytes,
		   m.produced_at, i_node::integer AS node
	  FROM mq.get(i_topic::text, i_local::integer, i_offset::bigint) m;
$$;

-- mq.get_by_key would hash the key over the node's own partition count:
-- read the local partition the router placed the key on instead.
CREATE FUNCTION mq_router.node_get_by_key(i_node integer, i_topic text,
	i_local integer, i_key text, i_max integer)
RETURNS SETOF mq_router.message
LANGUAGE plproxy AS $$
	CLUSTER 'mq_cluster';
	RUN ON i_node;
	SELECT m.partition, m."offset", m.id, m.key, m.tag, m.headers,
		   m.payload_type, m.payload_json, m.payload_text, m.payload_bytes,
		   m.produced_at, i_node::integer AS node
	  FROM mq.messages(i_topic::text, i_local::integer) m
	 WHERE m.key = i_key::text
	 ORDER BY m."offset" DESC
	 LIMIT i_max::integer;
$$;

-- The calls below run on several nodes: i_nodes lists them and SPLIT
-- gives each node its own number, so that rows can say where they are from.
CREATE FUNCTION mq_router.node_get_by_id(i_nodes integer[], i_topic text,
	i_id uuid)
RETURNS SETOF mq_router.message
LANGUAGE plproxy AS $$
	CLUSTER 'mq_cluster';
	SPLIT i_nodes;
	RUN ON i_nodes;
	SELECT m.partition, m."offset", m.id, m.key, m.tag, m.headers,
		   m.payload_type, m.payload_json, m.payload_text, m.payload_bytes,
		   m.produced_at, (i_nodes::integer[])[1] AS node
	  FROM mq.get_by_id(i_topic::text, i_id::uuid) m;
$$;

CREATE FUNCTION mq_router.node_get_by_time(i_nodes integer[], i_topic text,
	i_from timestamptz, i_to timestamptz, i_max integer)
RETURNS SETOF mq_router.message
LANGUAGE plproxy AS $$
	CLUSTER 'mq_cluster';
	SPLIT i_nodes;
	RUN ON i_nodes;
	SELECT m.partition, m."offset", m.id, m.key, m.tag, m.headers,
		   m.payload_type, m.payload_json, m.payload_text, m.payload_bytes,
		   m.produced_at, (i_nodes::integer[])[1] AS node
	  FROM mq.get_by_time(i_topic::text, i_from::timestamptz,
						  i_to::timestamptz, i_max::integer) m;
$$;

CREATE FUNCTION mq_router.node_topics(i_nodes integer[])
RETURNS TABLE (node integer, name text, partitions integer, segments bigint,
			   size_bytes bigint)
LANGUAGE plproxy AS $$
	CLUSTER 'mq_cluster';
	SPLIT i_nodes;
	RUN ON i_nodes;
	SELECT (i_nodes::integer[])[1] AS node, t.name, t.partitions,
		   t.segments::bigint AS segments, t.size_bytes::bigint AS size_bytes
	  FROM mq.topics t;
$$;

CREATE FUNCTION mq_router.node_lag(i_nodes integer[])
RETURNS TABLE (node integer, "group" text, topic text, partition integer,
			   member_id text, committed_offset bigint, end_offset bigint, lag bigint)
LANGUAGE plproxy AS $$
	CLUSTER 'mq_cluster';
	SPLIT i_nodes;
	RUN ON i_nodes;
	SELECT (i_nodes::integer[])[1] AS node, l."group", l.topic, l.partition,
		   l.member_id, l.committed_offset, l.end_offset, l.lag
	  FROM mq.lag l;
$$;

-- ---------------------------------------------------------------------
-- The router's functions: mq's, for the whole cluster.
-- ---------------------------------------------------------------------

/*
 * mq_router.creating
 *		The router's row for a topic that mq_router.create_topic recorded and
 *		did not complete (a retry), or NULL for a new topic.  42710 if the
 *		topic is complete, or being created with other partitions.
 */
CREATE FUNCTION mq_router.creating(name text, partitions integer)
RETURNS mq_router.topic
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t			mq_router.topic;
BEGIN
	SELECT * INTO t FROM mq_router.topic r WHERE r.name OPERATOR(pg_catalog.=) creating.name;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	IF t.complete THEN
		RAISE EXCEPTION 'topic "%" already exists in the cluster', name
			USING ERRCODE = 'duplicate_object';
	END IF;
	IF t.partitions <> partitions THEN
		RAISE EXCEPTION 'topic "%" is being created with % partitions', name, t.partitions
			USING ERRCODE = 'duplicate_object',
			HINT = 'Complete its creation by calling mq_router.create_topic with the same partitions.';
	END IF;
	RETURN t;
END
$$;

/*
 * mq_router.record_creation, mq_router.complete_creation
 *		Record a topic that mq_router.create_topic is about to create on its
 *		nodes, and mark it complete once they all have.
 */
CREATE FUNCTION mq_router.record_creation(name text, partitions integer,
	nodes integer)
RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	INSERT INTO mq_router.topic (name, partitions, nodes)
		VALUES (name, partitions, nodes);
END;

CREATE FUNCTION mq_router.complete_creation(name text) RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	UPDATE mq_router.topic SET complete = true
	 WHERE topic.name OPERATOR(pg_catalog.=) complete_creation.name;
END;

/*
 * mq_router.create_topic
 *		Creates the topic on every node that gets partitions (the first
 *		least(partitions, nodes) nodes), each with its share, and records its
 *		placement.  A node that already has a topic of that name is refused
 *		(42710 naming it) before anything is created, unless this is a retry
 *		of a creation the router recorded and did not complete, and the node
 *		has its share: then the node is left as it is.
 *
 *		A procedure, because the router's record must survive a node's
 *		failure: it is committed before the nodes create their shares, each
 *		in a transaction of its own there, and marked complete when they all
 *		have.  Until then sends and lookups refuse the topic.  CALL it
 *		outside a transaction block.
 */
CREATE PROCEDURE mq_router.create_topic(name text, partitions integer DEFAULT 1)
LANGUAGE plpgsql AS $$
DECLARE
	t			mq_router.topic;
	retry		boolean;
	existing	integer[];
	node		integer;
	share		integer;
	message		text;
	state		text;
BEGIN
	IF name IS NULL OR partitions IS NULL THEN
		RAISE EXCEPTION 'topic name and partitions must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	t := mq_router.creating(name, partitions);
	retry := t.name IS NOT NULL;
	IF NOT retry THEN
		t.name := name;
		t.partitions := partitions;
		t.nodes := cardinality(mq_router.all_nodes());
		IF t.nodes IS NULL THEN
			RAISE EXCEPTION 'the cluster has no nodes'
				USING ERRCODE = 'object_not_in_prerequisite_state',
				HINT = 'Define the server mq_cluster with options p0, p1, ... (docs/scale-out.md).';
		END IF;
	END IF;
	FOREACH node IN ARRAY mq_router.holders(t) LOOP
		share := (t.partitions - node + t.nodes - 1) / t.nodes;
		BEGIN
			existing[node + 1] := mq_router.node_topic_partitions(node, name);
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
			PERFORM mq_router.unavailable(ARRAY[node], state, message);
			RAISE;
		END;
		IF existing[node + 1] IS NOT NULL
			AND (NOT retry OR existing[node + 1] <> share) THEN
			RAISE EXCEPTION 'topic "%" already exists on mq node %', name, node
				USING ERRCODE = 'duplicate_object',
				DETAIL = format('Node %s has it with %s partitions; the router did not create it.',
								node, existing[node + 1]),
				HINT = 'Drop it on the node, or choose another name.';
		END IF;
	END LOOP;
	IF NOT retry THEN
		PERFORM mq_router.record_creation(name, partitions, t.nodes);
	END IF;
	COMMIT;
	FOREACH node IN ARRAY mq_router.holders(t) LOOP
		CONTINUE WHEN existing[node + 1] IS NOT NULL;
		BEGIN
			PERFORM mq_router.node_create_topic(node, name,
				(t.partitions - node + t.nodes - 1) / t.nodes);
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
			PERFORM mq_router.unavailable(ARRAY[node], state, message);
			RAISE;
		END;
	END LOOP;
	PERFORM mq_router.complete_creation(name);
END
$$;

/*
 * mq_router.route
 *		Where a message of topic with key goes: its partition, the node that
 *		holds it, and the partition's number there.  A message without key
 *		goes to a node drawn at random among those holding partitions, and
 *		that node picks the partition (partition and local are NULL).
 */
CREATE FUNCTION mq_router.route(topic text, key text,
	OUT partition integer, OUT node integer, OUT local integer,
	OUT nodes integer)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	t			mq_router.topic := mq_router.placement(topic);
BEGIN
	nodes := t.nodes;
	IF key IS NULL THEN
		node := floor(random() * least(t.partitions, t.nodes))::integer;
	ELSE
		partition := mq_router.partition_for(key, t.partitions);
		node := partition % t.nodes;
		local := partition / t.nodes;
	END IF;
END
$$;

/*
 * mq_router.send
 *		mq.send on the node holding the message's partition, committed there
 *		when it returns; partition is the topic's partition.  08006 names
 *		the node if it cannot be reached.
 */
CREATE FUNCTION mq_router.send(topic text, payload text, key text DEFAULT NULL,
	OUT id uuid, OUT partition integer, OUT duplicate boolean)
LANGUAGE plpgsql AS $$
DECLARE
	r			record := mq_router.route(topic, key);
	message		text;
	state		text;
BEGIN
	SELECT s.id, s.partition * r.nodes + r.node, s.duplicate
	  INTO id, partition, duplicate
	  FROM mq_router.node_send(r.node, topic, payload, key, r.local) s;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
	PERFORM mq_router.unavailable(ARRAY[r.node], state, message);
	RAISE;
END
$$;

CREATE FUNCTION mq_router.send(topic text, payload jsonb, key text DEFAULT NULL,
	OUT id uuid, OUT partition integer, OUT duplicate boolean)
LANGUAGE plpgsql AS $$
DECLARE
	r			record := mq_router.route(topic, key);
	message		text;
	state		text;
BEGIN
	SELECT s.id, s.partition * r.nodes + r.node, s.duplicate
	  INTO id, partition, duplicate
	  FROM mq_router.node_send(r.node, topic, payload, key, r.local) s;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
	PERFORM mq_router.unavailable(ARRAY[r.node], state, message);
	RAISE;
END
$$;

/*
 * mq_router.batch_route
 *		mq_router.route for each element of a batch, as the arrays
 *		mq_router.node_send_batch splits: node, local partition, position,
 *		and keys (NULLs when there are none).  Refuses what mq.send_batch
 *		refuses: a NULL payload (22004), keys of another length (22023), a
 *		multi-dimensional array (2202E).
 */
CREATE FUNCTION mq_router.batch_route(topic text, payloads text[], keys text[],
	OUT node integer[], OUT local integer[], OUT ord integer[],
	OUT key_list text[], OUT nodes integer)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_variable
DECLARE
	t			mq_router.topic := mq_router.placement(topic);
	any_node	integer := floor(random() * least(t.partitions, t.nodes))::integer;
BEGIN
	IF payloads IS NULL OR array_position(payloads, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'payloads must not be NULL or hold NULL elements'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF array_ndims(payloads) > 1 OR array_ndims(keys) > 1 THEN
		RAISE EXCEPTION 'multi-dimensional arrays are not accepted'
			USING ERRCODE = 'array_subscript_error';
	END IF;
	IF keys IS NOT NULL
		AND cardinality(keys) <> cardinality(payloads) THEN
		RAISE EXCEPTION 'keys must have as many elements as payloads'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	nodes := t.nodes;
	SELECT array_agg(CASE WHEN u.k IS NULL THEN any_node
						  ELSE h.p % t.nodes
					 END ORDER BY u.i),
		   array_agg(h.p / t.nodes ORDER BY u.i),
		   array_agg(u.i::integer ORDER BY u.i),
		   array_agg(u.k ORDER BY u.i)
	  INTO node, local, ord, key_list
	  FROM unnest(payloads, keys) WITH ORDINALITY AS u(p, k, i)
	 CROSS JOIN LATERAL
		   (SELECT mq_router.partition_for(u.k, t.partitions) AS p) h;
END
$$;

/*
 * mq_router.send_batch
 *		mq.send_batch over the cluster: each element goes where mq_router.send
 *		would send it (the keyless ones all to one node drawn at random), in
 *		one call that runs on the nodes in parallel, each node's elements in
 *		one transaction there.  Nodes commit independently: if one fails, the
 *		others' elements may be committed.  Returns one row per element, in
 *		order.
 */
CREATE FUNCTION mq_router.send_batch(topic text, payloads text[],
	keys text[] DEFAULT NULL)
RETURNS TABLE (id uuid, partition integer, duplicate boolean)
LANGUAGE plpgsql AS $$
DECLARE
	b			record := mq_router.batch_route(topic, payloads, keys);
	message		text;
	state		text;
BEGIN
	IF b.ord IS NULL THEN
		RETURN;
	END IF;
	RETURN QUERY
		SELECT s.id, s.partition * b.nodes + s.node, s.duplicate
		  FROM mq_router.node_send_batch(b.node, topic, payloads, b.key_list,
										 b.local, b.ord) s
		 ORDER BY s.ord;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
	PERFORM mq_router.unavailable(b.node, state, message);
	RAISE;
END
$$;

CREATE FUNCTION mq_router.send_batch(topic text, payloads jsonb[],
	keys text[] DEFAULT NULL)
RETURNS TABLE (id uuid, partition integer, duplicate boolean)
LANGUAGE plpgsql AS $$
DECLARE
	b			record := mq_router.batch_route(topic, payloads::text[], keys);
	message		text;
	state		text;
BEGIN
	IF b.ord IS NULL THEN
		RETURN;
	END IF;
	RETURN QUERY
		SELECT s.id, s.partition * b.nodes + s.node, s.duplicate
		  FROM mq_router.node_send_batch(b.node, topic, payloads, b.key_list,
										 b.local, b.ord) s
		 ORDER BY s.ord;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
	PERFORM mq_router.unavailable(b.node, state, message);
	RAISE;
END
$$;

/*
 * Lookups: mq.get, mq.get_by_key, mq.get_by_id and mq.get_by_time over the
 * cluster, with the topic's partitions and the node each message is on.
 * get and get_by_key ask the node holding the partition; get_by_key reads
 * that partition whole (mq.messages), newest first.  get_by_id and
 * get_by_time ask every node holding partitions of the topic.
 */
CREATE FUNCTION mq_router.get(topic text, partition integer, "offset" bigint)
RETURNS SETOF mq_router.message
LANGUAGE plpgsql AS $$
DECLARE
	t			mq_router.topic := mq_router.placement(topic);
	holder		integer := partition % t.nodes;
	message		text;
	state		text;
BEGIN
	IF partition IS NULL THEN
		RAISE EXCEPTION 'partition must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF partition < 0 OR partition >= t.partitions THEN
		RAISE EXCEPTION 'partition % of topic "%" does not exist', partition, topic
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN QUERY
		SELECT m.partition * t.nodes + holder, m."offset", m.id, m.key, m.tag,
			   m.headers, m.payload_type, m.payload_json, m.payload_text,
			   m.payload_bytes, m.produced_at, m.node
		  FROM mq_router.node_get(holder, topic, partition / t.nodes, "offset") m;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
	PERFORM mq_router.unavailable(ARRAY[holder], state, message);
	RAISE;
END
$$;

CREATE FUNCTION mq_router.get_by_key(topic text, key text, max integer DEFAULT 10)
RETURNS SETOF mq_router.message
LANGUAGE plpgsql AS $$
DECLARE
	r			record := mq_router.route(topic, key);
	message		text;
	state		text;
BEGIN
	IF key IS NULL THEN
		RAISE EXCEPTION 'key must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	RETURN QUERY
		SELECT r.partition, m."offset", m.id, m.key, m.tag, m.headers,
			   m.payload_type, m.payload_json, m.payload_text, m.payload_bytes,
			   m.produced_at, m.node
		  FROM mq_router.node_get_by_key(r.node, topic, r.local, key, max) m;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
	PERFORM mq_router.unavailable(ARRAY[r.node], state, message);
	RAISE;
END
$$;

CREATE FUNCTION mq_router.get_by_id(topic text, id uuid)
RETURNS SETOF mq_router.message
LANGUAGE plpgsql AS $$
DECLARE
	t			mq_router.topic := mq_router.placement(topic);
	message		text;
	state		text;
BEGIN
	RETURN QUERY
		SELECT m.partition * t.nodes + m.node, m."offset", m.id, m.key, m.tag,
			   m.headers, m.payload_type, m.payload_json, m.payload_text,
			   m.payload_bytes, m.produced_at, m.node
		  FROM mq_router.node_get_by_id(mq_router.holders(t), topic, id) m;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
	PERFORM mq_router.unavailable(mq_router.holders(t), state, message);
	RAISE;
END
$$;

-- Up to max messages in [from_time, to_time) from each node, the oldest
-- max of them overall.
CREATE FUNCTION mq_router.get_by_time(topic text, from_time timestamptz,
	to_time timestamptz, max integer DEFAULT 1000)
RETURNS SETOF mq_router.message
LANGUAGE plpgsql AS $$
DECLARE
	t			mq_router.topic := mq_router.placement(topic);
	message		text;
	state		text;
BEGIN
	RETURN QUERY
		SELECT m.partition * t.nodes + m.node, m."offset", m.id, m.key, m.tag,
			   m.headers, m.payload_type, m.payload_json, m.payload_text,
			   m.payload_bytes, m.produced_at, m.node
		  FROM mq_router.node_get_by_time(mq_router.holders(t), topic,
										  from_time, to_time, max) m
		 ORDER BY m.produced_at, m.node, m.partition, m."offset"
		 LIMIT max;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
	PERFORM mq_router.unavailable(mq_router.holders(t), state, message);
	RAISE;
END
$$;

/*
 * mq_router.topics
 *		mq.topics summed over the nodes: per topic, its partitions, the
 *		nodes holding some, and its segments and size on all of them.
 *		Topics the router did not create are listed too (placed is false).
 */
CREATE FUNCTION mq_router.topics()
RETURNS TABLE (name text, partitions integer, nodes integer, segments bigint,
			   size_bytes bigint, placed boolean)
LANGUAGE plpgsql AS $$
DECLARE
	message		text;
	state		text;
BEGIN
	RETURN QUERY
		SELECT n.name, sum(n.partitions)::integer, count(*)::integer,
			   sum(n.segments)::bigint, sum(n.size_bytes)::bigint,
			   EXISTS (SELECT FROM mq_router.placed() r
						WHERE r.name OPERATOR(pg_catalog.=) n.name)
		  FROM mq_router.node_topics(mq_router.all_nodes()) n
		 GROUP BY n.name
		 ORDER BY n.name;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
	PERFORM mq_router.unavailable(mq_router.all_nodes(), state, message);
	RAISE;
END
$$;

/*
 * mq_router.lag
 *		mq.lag of every node, with the topic's partitions: one row per
 *		position, as mq.lag, and the node holding it.  Positions of topics the
 *		router did not create keep their nodes' partition numbers.
 */
CREATE FUNCTION mq_router.lag()
RETURNS TABLE ("group" text, topic text, partition integer, member_id text,
			   committed_offset bigint, end_offset bigint, lag bigint,
			   node integer)
LANGUAGE plpgsql AS $$
DECLARE
	message		text;
	state		text;
BEGIN
	RETURN QUERY
		SELECT l."group", l.topic,
			   coalesce(l.partition * r.nodes + l.node, l.partition),
			   l.member_id, l.committed_offset, l.end_offset, l.lag, l.node
		  FROM mq_router.node_lag(mq_router.all_nodes()) l
		  LEFT JOIN mq_router.placed() r ON r.name OPERATOR(pg_catalog.=) l.topic
		 ORDER BY 1, 2, 3, 4;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
	PERFORM mq_router.unavailable(mq_router.all_nodes(), state, message);
	RAISE;
END
$$;

-- Nothing is executable by PUBLIC until granted, as in mq.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA mq_router FROM PUBLIC;
