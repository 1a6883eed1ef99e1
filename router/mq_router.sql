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
 * Placement.  mq_router.partition says where each partition of a topic
 * is: on which node, as which of that node's local partitions.  A topic's
 * partitions are placed in order, each on the node that has the fewest of
 * the topic's partitions (the lowest-numbered one on a tie), as the next of
 * that node's local partitions.  At creation that is round robin, partition
 * p on node p % N as its local partition p / N; growing the topic appends
 * local partitions on the nodes, as mq.alter_topic does, and gives nodes
 * added since the topic was created the larger share of the new partitions.
 * No partition ever moves.  A keyed message's partition is Kafka's,
 * mq.partition_for(key, P), computed here by mq_router.partition_for (the
 * same murmur2, in SQL, since the router has no mq): all messages of a key
 * go to one local partition of one node, in the order they are sent, until
 * the topic grows.
 *
 * Every node call is a transaction of its own on that node (PL/Proxy runs
 * remote queries in autocommit mode): a send through the router is
 * committed when the call returns, whatever the router's transaction does.
 */

CREATE SCHEMA mq_router;

-- The topics the router created.  partitions is the number a key hashes
-- over (mq.partition_for(key, partitions)), the partitions that are routed;
-- state says what the router is doing with the topic:
--   creating	recorded, its nodes creating their shares: not routed
--   complete	routed
--   growing	partitions being added on the nodes (the rows of
--				mq_router.partition from partitions on): routed over the
--				partitions it had
--   dropping	being dropped on its nodes: not routed
-- A state is committed before the nodes are called, so that a call that
-- fails on a node is completed by calling again.
CREATE TABLE mq_router.topic (
	name		text PRIMARY KEY,
	partitions	integer NOT NULL CHECK (partitions BETWEEN 1 AND 100000),
	state		text NOT NULL DEFAULT 'creating'
				CHECK (state IN ('creating', 'complete', 'growing', 'dropping')),
	created_at	timestamptz NOT NULL DEFAULT now()
);

-- Where a topic's partitions are: partition of topic is node's local
-- partition local.  Rows are added when a topic is created or grows, and
-- removed with the topic; a row never changes.
CREATE TABLE mq_router.partition (
	topic		text NOT NULL REFERENCES mq_router.topic ON DELETE CASCADE,
	partition	integer NOT NULL CHECK (partition >= 0),
	node		integer NOT NULL CHECK (node >= 0),
	local		integer NOT NULL CHECK (local >= 0),
	PRIMARY KEY (topic, partition),
	UNIQUE (topic, node, local)
);

-- The subscriptions made through the router (mq_router.subscribe): on
-- every node holding the topic, and given to the nodes a growth gives the
-- topic, so that no group misses the messages of partitions added there.
CREATE TABLE mq_router.subscription (
	"group"		text NOT NULL,
	topic		text NOT NULL REFERENCES mq_router.topic ON DELETE CASCADE,
	mode		text NOT NULL,
	tags		text,
	filter		text,
	ordered		boolean NOT NULL,
	max_retries	integer NOT NULL,
	PRIMARY KEY ("group", topic)
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
	epoch		integer,
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
 *		The router's row for a topic that is routed (complete, or growing);
 *		42704 if the router did not create it, 55000 if it is being created
 *		or dropped.
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
	IF t.state OPERATOR(pg_catalog.=) 'creating' THEN
		RAISE EXCEPTION 'topic "%" is not created on every node', topic
			USING ERRCODE = 'object_not_in_prerequisite_state',
			HINT = 'Call mq_router.create_topic again with the same partitions to complete it.';
	END IF;
	IF t.state OPERATOR(pg_catalog.=) 'dropping' THEN
		RAISE EXCEPTION 'topic "%" is being dropped', topic
			USING ERRCODE = 'object_not_in_prerequisite_state',
			HINT = 'Call mq_router.drop_topic again to complete the drop.';
	END IF;
	RETURN t;
END
$$;

/*
 * mq_router.layout
 *		The rows of mq_router.partition of a topic: its partitions placed,
 *		those being added by a growth included.
 */
CREATE FUNCTION mq_router.layout(topic text) RETURNS SETOF mq_router.partition
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT * FROM mq_router.partition p
	 WHERE p.topic OPERATOR(pg_catalog.=) layout.topic;
END;

/*
 * mq_router.placed
 *		The rows of mq_router.partition of the routed topics, for topics()
 *		and lag().
 */
CREATE FUNCTION mq_router.placed() RETURNS SETOF mq_router.partition
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT p.* FROM mq_router.partition p
	  JOIN mq_router.topic t ON t.name OPERATOR(pg_catalog.=) p.topic
	 WHERE t.state OPERATOR(pg_catalog.=) ANY (ARRAY['complete', 'growing']);
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
 *		The numbers of the nodes holding a topic's routed partitions, for
 *		the lookups that ask all of them.
 */
CREATE FUNCTION mq_router.holders(topic text) RETURNS integer[]
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
RETURN (SELECT pg_catalog.array_agg(DISTINCT p.node ORDER BY p.node)
		  FROM mq_router.partition p
		  JOIN mq_router.topic t ON t.name OPERATOR(pg_catalog.=) p.topic
		 WHERE p.topic OPERATOR(pg_catalog.=) holders.topic
		   AND p.partition OPERATOR(pg_catalog.<) t.partitions);

/*
 * mq_router.shares
 *		Per node holding partitions of a topic: how many of its routed
 *		partitions (routed) and of all its placed partitions (placed) are
 *		there, that is the partitions the node's topic has before and after
 *		a growth.  At creation both are the node's share.
 */
CREATE FUNCTION mq_router.shares(topic text)
RETURNS TABLE (node integer, routed integer, placed integer)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT p.node,
		   count(*) FILTER (WHERE p.partition OPERATOR(pg_catalog.<) t.partitions),
		   count(*)
	  FROM mq_router.partition p
	  JOIN mq_router.topic t ON t.name OPERATOR(pg_catalog.=) p.topic
	 WHERE p.topic OPERATOR(pg_catalog.=) shares.topic
	 GROUP BY p.node
	 ORDER BY p.node;
END;

/*
 * mq_router.place
 *		Places a topic's partitions from the first not yet placed to
 *		partitions - 1 (mq_router.partition): each on the node of the
 *		cluster that has the fewest of the topic's partitions, the
 *		lowest-numbered on a tie, as that node's next local partition.
 *		55000 if the cluster has no nodes.  Called by the helpers that record
 *		a creation or a growth, as their owner.
 */
CREATE FUNCTION mq_router.place(topic text, partitions integer) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	nodes		integer[] := mq_router.all_nodes();
	counts		integer[];
	new_nodes	integer[];
	new_locals	integer[];
	next_part	integer;
	best		integer;
	i			integer;
BEGIN
	IF nodes IS NULL THEN
		RAISE EXCEPTION 'the cluster has no nodes'
			USING ERRCODE = 'object_not_in_prerequisite_state',
			HINT = 'Define the server mq_cluster with options p0, p1, ... (docs/scale-out.md).';
	END IF;
	SELECT array_agg((SELECT count(*) FROM mq_router.partition p
					   WHERE p.topic OPERATOR(pg_catalog.=) place.topic
						 AND p.node OPERATOR(pg_catalog.=) u.n)::integer
					 ORDER BY u.o)
	  INTO counts
	  FROM unnest(nodes) WITH ORDINALITY AS u(n, o);
	SELECT count(*) INTO next_part FROM mq_router.partition p
	 WHERE p.topic OPERATOR(pg_catalog.=) place.topic;
	FOR part IN next_part .. partitions - 1 LOOP
		best := 1;
		FOR i IN 2 .. cardinality(nodes) LOOP
			IF counts[i] < counts[best] THEN
				best := i;
			END IF;
		END LOOP;
		new_nodes := new_nodes || nodes[best];
		new_locals := new_locals || counts[best];
		counts[best] := counts[best] + 1;
	END LOOP;
	INSERT INTO mq_router.partition (topic, partition, node, local)
	SELECT topic, next_part + u.o::integer - 1, u.n, u.l
	  FROM unnest(new_nodes, new_locals) WITH ORDINALITY AS u(n, l, o);
END
$$;

/*
 * mq_router.unreachable
 *		Whether message, the text of an error a PL/Proxy call raised, says
 *		that a connection to a node could not be opened (PQconnectStart,
 *		PQconnectPoll, a connect timeout): the node did nothing.  A
 *		connection that broke during the call (PQconsumeInput, ...) is not
 *		this: the node may have done the work, a send may be stored.
 */
CREATE FUNCTION mq_router.unreachable(message text) RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN message OPERATOR(pg_catalog.~)
	'^PL/Proxy function [^:]*: (\[[^]]*\] (PQconnectStart|PQconnectPoll|connect timeout)|connect timeout)';

/*
 * mq_router.connection_failed
 *		Whether message, the text of an error a PL/Proxy call raised, says
 *		that a connection to a node could not be opened or broke during the
 *		call: one of PL/Proxy's libpq calls failed, or timed out.  Errors of
 *		a node that ran the query say REMOTE.  For the calls that only read,
 *		which can ask again.
 */
CREATE FUNCTION mq_router.connection_failed(message text) RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
RETURN message OPERATOR(pg_catalog.~)
	'^PL/Proxy function [^:]*: (\[[^]]*\] (PQ[A-Za-z]+|connect timeout)|connect timeout|query timeout)';

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
	IF NOT mq_router.unreachable(message) THEN
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

CREATE FUNCTION mq_router.node_alter_topic(i_node integer, i_name text,
	i_partitions integer, OUT partitions integer)
LANGUAGE plproxy AS $$
	CLUSTER 'mq_cluster';
	RUN ON i_node;
	SELECT i_partitions::integer AS partitions
	  FROM mq.alter_topic(i_name::text, partitions => i_partitions::integer);
$$;

-- if_exists: a retry finds the topic dropped on the nodes that did it.
CREATE FUNCTION mq_router.node_drop_topic(i_node integer, i_name text,
	OUT dropped boolean)
LANGUAGE plproxy AS $$
	CLUSTER 'mq_cluster';
	RUN ON i_node;
	SELECT mq.drop_topic(i_name::text, if_exists => true) AS dropped;
$$;

CREATE FUNCTION mq_router.node_subscribe(i_node integer, i_group text,
	i_topic text, i_start text, i_mode text, i_tags text, i_filter text,
	i_ordered boolean, i_max_retries integer, OUT subscribed boolean)
LANGUAGE plproxy AS $$
	CLUSTER 'mq_cluster';
	RUN ON i_node;
	SELECT mq.subscribe(i_group::text, i_topic::text, start => i_start::text,
						mode => i_mode::text, tags => i_tags::text,
						filter => i_filter::text, ordered => i_ordered::boolean,
						max_retries => i_max_retries::integer) AS subscribed;
$$;

CREATE FUNCTION mq_router.node_unsubscribe(i_node integer, i_group text,
	i_topic text, OUT unsubscribed boolean)
LANGUAGE plproxy AS $$
	CLUSTER 'mq_cluster';
	RUN ON i_node;
	-- false where the node does not have it (a subscription that failed
	-- there, an unsubscribe retried)
	SELECT coalesce((SELECT mq.unsubscribe(s."group", s.topic)
					   FROM mq.subscriptions s
					  WHERE s."group" = i_group::text AND s.topic = i_topic::text),
					false) AS unsubscribed;
$$;

CREATE FUNCTION mq_router.node_send(i_node integer, i_topic text,
	i_payload text, i_key text, i_local integer, i_tag text, i_headers jsonb,
	i_dedup_id text, i_delay interval, i_deliver_at timestamptz,
	i_delay_level integer,
	OUT id uuid, OUT partition integer, OUT duplicate boolean)
LANGUAGE plproxy AS $$
	CLUSTER 'mq_cluster';
	RUN ON i_node;
	SELECT s.id, s.partition, s.duplicate
	  FROM mq.send(i_topic::text, i_payload::text, key => i_key::text,
				   tag => i_tag::text, headers => i_headers::jsonb,
				   partition => i_local::integer,
				   dedup_id => i_dedup_id::text, delay => i_delay::interval,
				   deliver_at => i_deliver_at::timestamptz,
				   delay_level => i_delay_level::integer) s;
$$;

CREATE FUNCTION mq_router.node_send(i_node integer, i_topic text,
	i_payload jsonb, i_key text, i_local integer, i_tag text, i_headers jsonb,
	i_dedup_id text, i_delay interval, i_deliver_at timestamptz,
	i_delay_level integer,
	OUT id uuid, OUT partition integer, OUT duplicate boolean)
LANGUAGE plproxy AS $$
	CLUSTER 'mq_cluster';
	RUN ON i_node;
	SELECT s.id, s.partition, s.duplicate
	  FROM mq.send(i_topic::text, i_payload::jsonb, key => i_key::text,
				   tag => i_tag::text, headers => i_headers::jsonb,
				   partition => i_local::integer,
				   dedup_id => i_dedup_id::text, delay => i_delay::interval,
				   deliver_at => i_deliver_at::timestamptz,
				   delay_level => i_delay_level::integer) s;
$$;

-- One call for a whole batch: SPLIT hands each node the elements placed on
-- it, and the nodes run in parallel, each in one transaction that sends
-- its elements in their order.
CREATE FUNCTION mq_router.node_send_batch(i_nodes integer[], i_topic text,
	i_payloads text[], i_keys text[], i_locals integer[], i_ords integer[],
	i_tags text[], i_headers jsonb[], i_dedup_ids text[])
RETURNS TABLE (ord integer, node integer, id uuid, partition integer,
			   duplicate boolean)
LANGUAGE plproxy AS $$
	CLUSTER 'mq_cluster';
	SPLIT i_nodes, i_payloads, i_keys, i_locals, i_ords, i_tags, i_headers,
		i_dedup_ids;
	RUN ON i_nodes;
	SELECT u.ord, (i_nodes::integer[])[1] AS node, s.id, s.partition, s.duplicate
	  FROM unnest(i_payloads::text[], i_keys::text[], i_locals::integer[],
				  i_ords::integer[], i_tags::text[], i_headers::jsonb[],
				  i_dedup_ids::text[])
		   WITH ORDINALITY AS u(payload, key, lp, ord, tag, headers, dedup_id, n)
		   CROSS JOIN LATERAL mq.send(i_topic::text, u.payload, key => u.key,
									  tag => u.tag, headers => u.headers,
									  partition => u.lp,
									  dedup_id => u.dedup_id) s
	 ORDER BY u.n;
$$;

CREATE FUNCTION mq_router.node_send_batch(i_nodes integer[], i_topic text,
	i_payloads jsonb[], i_keys text[], i_locals integer[], i_ords integer[],
	i_tags text[], i_headers jsonb[], i_dedup_ids text[])
RETURNS TABLE (ord integer, node integer, id uuid, partition integer,
			   duplicate boolean)
LANGUAGE plproxy AS $$
	CLUSTER 'mq_cluster';
	SPLIT i_nodes, i_payloads, i_keys, i_locals, i_ords, i_tags, i_headers,
		i_dedup_ids;
	RUN ON i_nodes;
	SELECT u.ord, (i_nodes::integer[])[1] AS node, s.id, s.partition, s.duplicate
	  FROM unnest(i_payloads::jsonb[], i_keys::text[], i_locals::integer[],
				  i_ords::integer[], i_tags::text[], i_headers::jsonb[],
				  i_dedup_ids::text[])
		   WITH ORDINALITY AS u(payload, key, lp, ord, tag, headers, dedup_id, n)
		   CROSS JOIN LATERAL mq.send(i_topic::text, u.payload, key => u.key,
									  tag => u.tag, headers => u.headers,
									  partition => u.lp,
									  dedup_id => u.dedup_id) s
	 ORDER BY u.n;
$$;

CREATE FUNCTION mq_router.node_get(i_node integer, i_topic text,
	i_local integer, i_offset bigint)
RETURNS SETOF mq_router.message
LANGUAGE plproxy AS $$
	CLUSTER 'mq_cluster';
	RUN ON i_node;
	SELECT m.partition, m."offset", m.epoch, m.id, m.key, m.tag, m.headers,
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
	SELECT m.partition, m."offset", m.epoch, m.id, m.key, m.tag, m.headers,
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
	SELECT m.partition, m."offset", m.epoch, m.id, m.key, m.tag, m.headers,
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
	SELECT m.partition, m."offset", m.epoch, m.id, m.key, m.tag, m.headers,
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

CREATE FUNCTION mq_router.node_partitions(i_nodes integer[])
RETURNS TABLE (node integer, topic text, partition integer,
			   log_start_offset bigint, end_offset bigint, stable_offset bigint,
			   messages_estimate bigint)
LANGUAGE plproxy AS $$
	CLUSTER 'mq_cluster';
	SPLIT i_nodes;
	RUN ON i_nodes;
	SELECT (i_nodes::integer[])[1] AS node, p.topic, p.partition,
		   p.log_start_offset, p.end_offset, p.stable_offset,
		   p.messages_estimate
	  FROM mq.partitions p;
$$;

-- Whether the node answers; whether all of them do.
CREATE FUNCTION mq_router.node_ping(i_node integer) RETURNS boolean
LANGUAGE plproxy AS $$
	CLUSTER 'mq_cluster';
	RUN ON i_node;
	SELECT true;
$$;

CREATE FUNCTION mq_router.node_ping_all(i_nodes integer[]) RETURNS SETOF boolean
LANGUAGE plproxy AS $$
	CLUSTER 'mq_cluster';
	SPLIT i_nodes;
	RUN ON i_nodes;
	SELECT true;
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
 * mq_router.reachable
 *		Of nodes, those that answer, asked one by one: for the calls on
 *		every node (topics, lag, partitions) once one of them could not be
 *		reached, since PL/Proxy does not say which.  Errors other than an
 *		unreachable node are raised.
 */
CREATE FUNCTION mq_router.reachable(nodes integer[]) RETURNS integer[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n			integer;
	up			integer[] := '{}';
	message		text;
BEGIN
	FOREACH n IN ARRAY nodes LOOP
		BEGIN
			PERFORM mq_router.node_ping(n);
			up := up || n;
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS message = MESSAGE_TEXT;
			IF NOT mq_router.connection_failed(message) THEN
				RAISE;
			END IF;
		END;
	END LOOP;
	RETURN up;
END
$$;

/*
 * mq_router.answering
 *		The nodes of the cluster that answer (up) and those that do not
 *		(down), for the calls on every node: all of them are asked at once,
 *		and each in turn only if one did not answer, since PL/Proxy does not
 *		say which.  Errors other than an unreachable node are raised.
 */
CREATE FUNCTION mq_router.answering(OUT up integer[], OUT down integer[])
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	asked		integer[] := mq_router.all_nodes();
	message		text;
BEGIN
	BEGIN
		IF cardinality(asked) > 0 THEN
			PERFORM mq_router.node_ping_all(asked);
		END IF;
		up := coalesce(asked, '{}');
		down := '{}';
		RETURN;
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS message = MESSAGE_TEXT;
		IF NOT mq_router.connection_failed(message) THEN
			RAISE;
		END IF;
	END;
	up := mq_router.reachable(asked);
	down := ARRAY(SELECT unnest(asked) EXCEPT SELECT unnest(up) ORDER BY 1);
END
$$;

/*
 * mq_router.partitions_on
 *		The partitions of a node's topic of that name, NULL if the node has
 *		no such topic; 08006 naming the node if it cannot be reached.
 */
CREATE FUNCTION mq_router.partitions_on(node integer, name text)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	message		text;
	state		text;
BEGIN
	RETURN mq_router.node_topic_partitions(node, name);
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
	PERFORM mq_router.unavailable(ARRAY[node], state, message);
	RAISE;
END
$$;

/*
 * mq_router.creating
 *		Whether a call of mq_router.create_topic is a retry of a creation it
 *		recorded and did not complete (true) or a new topic (false).  42710
 *		if the topic exists, or is being created with other partitions.
 */
CREATE FUNCTION mq_router.creating(name text, partitions integer)
RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t			mq_router.topic;
BEGIN
	SELECT * INTO t FROM mq_router.topic r WHERE r.name OPERATOR(pg_catalog.=) creating.name;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	IF t.state OPERATOR(pg_catalog.<>) 'creating' THEN
		RAISE EXCEPTION 'topic "%" already exists in the cluster', name
			USING ERRCODE = 'duplicate_object';
	END IF;
	IF t.partitions <> partitions THEN
		RAISE EXCEPTION 'topic "%" is being created with % partitions', name, t.partitions
			USING ERRCODE = 'duplicate_object',
			HINT = 'Complete its creation by calling mq_router.create_topic with the same partitions.';
	END IF;
	RETURN true;
END
$$;

/*
 * mq_router.record_creation, mq_router.complete_creation
 *		Record a topic that mq_router.create_topic is about to create on its
 *		nodes, with its partitions placed, and mark it complete once they all
 *		have.
 */
CREATE FUNCTION mq_router.record_creation(name text, partitions integer)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	INSERT INTO mq_router.topic (name, partitions) VALUES (name, partitions);
	PERFORM mq_router.place(name, partitions);
END
$$;

CREATE FUNCTION mq_router.complete_creation(name text) RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	UPDATE mq_router.topic SET state = 'complete'
	 WHERE topic.name OPERATOR(pg_catalog.=) complete_creation.name
	   AND topic.state OPERATOR(pg_catalog.=) 'creating';
END;

/*
 * mq_router.create_topic
 *		Creates the topic on the nodes that get partitions, each with its
 *		share, and records its placement.  A node that already has a topic
 *		of that name is refused (42710 naming it) before anything is
 *		created, unless this is a retry of a creation the router recorded and
 *		did not complete, and the node has its share: then the node is left
 *		as it is.
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
	retry		boolean;
	s			record;
	existing	integer;
	missing		integer[];
	shares		integer[];
	i			integer;
	message		text;
	state		text;
BEGIN
	IF name IS NULL OR partitions IS NULL THEN
		RAISE EXCEPTION 'topic name and partitions must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	retry := mq_router.creating(name, partitions);
	IF NOT retry THEN
		PERFORM mq_router.record_creation(name, partitions);
	END IF;
	FOR s IN SELECT * FROM mq_router.shares(name) LOOP
		existing := mq_router.partitions_on(s.node, name);
		IF existing IS NOT NULL AND (NOT retry OR existing <> s.placed) THEN
			RAISE EXCEPTION 'topic "%" already exists on mq node %', name, s.node
				USING ERRCODE = 'duplicate_object',
				DETAIL = format('Node %s has it with %s partitions; the router did not create it.',
								s.node, existing),
				HINT = 'Drop it on the node, or choose another name.';
		END IF;
		IF existing IS NULL THEN
			missing := array_append(missing, s.node);
			shares := array_append(shares, s.placed);
		END IF;
	END LOOP;
	COMMIT;
	FOR i IN 1 .. coalesce(cardinality(missing), 0) LOOP
		BEGIN
			PERFORM mq_router.node_create_topic(missing[i], name, shares[i]);
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
			PERFORM mq_router.unavailable(ARRAY[missing[i]], state, message);
			RAISE;
		END;
	END LOOP;
	PERFORM mq_router.complete_creation(name);
END
$$;

/*
 * mq_router.growing
 *		What a call of mq_router.alter_topic has to do: for a complete topic
 *		of fewer partitions, records its growth (state growing, the new
 *		partitions placed) and returns 'recorded'; for a growth to the same
 *		partitions that a call recorded and did not complete, returns
 *		'retry'; for a complete topic of that many partitions, 'none'.
 *		42704 if the router did not create the topic, 55000 if it is being
 *		created or dropped, or grown to other partitions, 22023 for fewer
 *		partitions than it has (as mq.alter_topic) or more than a topic can
 *		have.
 */
CREATE FUNCTION mq_router.growing(name text, partitions integer)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t			mq_router.topic;
	placed		integer;
BEGIN
	PERFORM FROM mq_router.topic r WHERE r.name OPERATOR(pg_catalog.=) growing.name
	   FOR UPDATE;
	t := mq_router.placement(name);
	SELECT count(*) INTO placed FROM mq_router.partition p
	 WHERE p.topic OPERATOR(pg_catalog.=) growing.name;
	IF t.state OPERATOR(pg_catalog.=) 'growing' THEN
		IF placed <> partitions THEN
			RAISE EXCEPTION 'topic "%" is being grown to % partitions', name, placed
				USING ERRCODE = 'object_not_in_prerequisite_state',
				HINT = format('Complete its growth by calling mq_router.alter_topic with %s partitions.', placed);
		END IF;
		RETURN 'retry';
	END IF;
	IF partitions < t.partitions THEN
		RAISE EXCEPTION 'cannot reduce the partitions of topic "%" from % to %',
			name, t.partitions, partitions
			USING ERRCODE = 'invalid_parameter_value',
			DETAIL = 'Partitions can only be added: messages and offsets live in them.';
	END IF;
	IF partitions = t.partitions THEN
		RETURN 'none';
	END IF;
	IF partitions > 100000 THEN
		RAISE EXCEPTION 'topic "%" cannot have % partitions', name, partitions
			USING ERRCODE = 'invalid_parameter_value',
			DETAIL = 'A topic has 1 to 100000 partitions.';
	END IF;
	UPDATE mq_router.topic r SET state = 'growing'
	 WHERE r.name OPERATOR(pg_catalog.=) growing.name;
	PERFORM mq_router.place(name, partitions);
	RETURN 'recorded';
END
$$;

CREATE FUNCTION mq_router.complete_growth(name text) RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	UPDATE mq_router.topic
	   SET partitions = (SELECT count(*) FROM mq_router.partition p
						  WHERE p.topic OPERATOR(pg_catalog.=) complete_growth.name),
		   state = 'complete'
	 WHERE topic.name OPERATOR(pg_catalog.=) complete_growth.name
	   AND topic.state OPERATOR(pg_catalog.=) 'growing';
END;

/*
 * mq_router.alter_topic
 *		Grows a topic to partitions: the new partitions are placed as
 *		mq_router.place says, and each node that gets some grows its topic
 *		(mq.alter_topic), or creates it if it had none of the topic's
 *		partitions.  Keys hash over the new count once the growth is
 *		complete, so a key's messages may go to another partition from then
 *		on, as with mq.alter_topic on one server.  Fewer partitions than the
 *		topic has are refused (22023).
 *
 *		Before recording the growth, every node that gets partitions is asked
 *		what it has: a node that has the topic without the router having
 *		placed partitions there is refused (42710), one whose topic has other
 *		partitions than the router placed (changed on the node) too (55000).
 *		The growth is committed (state growing) before the nodes are called,
 *		each in a transaction of its own there; until they all have, keys
 *		hash over the partitions the topic had, and a call again with the
 *		same partitions completes it.  CALL it outside a transaction block.
 */
CREATE PROCEDURE mq_router.alter_topic(name text, partitions integer)
LANGUAGE plpgsql AS $$
DECLARE
	step		text;
	s			record;
	sub			record;
	existing	integer;
	nodes		integer[];
	had			integer[];
	shares		integer[];
	i			integer;
	message		text;
	state		text;
BEGIN
	IF name IS NULL OR partitions IS NULL THEN
		RAISE EXCEPTION 'topic name and partitions must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	step := mq_router.growing(name, partitions);
	IF step = 'none' THEN
		RETURN;
	END IF;
	FOR s IN SELECT * FROM mq_router.shares(name) r WHERE r.routed < r.placed LOOP
		existing := mq_router.partitions_on(s.node, name);
		IF existing IS DISTINCT FROM nullif(s.routed, 0)
			AND NOT (step = 'retry' AND existing = s.placed) THEN
			IF s.routed = 0 THEN
				RAISE EXCEPTION 'topic "%" already exists on mq node %', name, s.node
					USING ERRCODE = 'duplicate_object',
					DETAIL = format('Node %s has it with %s partitions; the router did not create it there.',
									s.node, existing),
					HINT = 'Drop it on the node, or grow the topic to another number of partitions.';
			END IF;
			RAISE EXCEPTION 'topic "%" has % partitions on mq node %, not the % the router placed there',
				name, coalesce(existing, 0), s.node, s.routed
				USING ERRCODE = 'object_not_in_prerequisite_state',
				HINT = 'The topic was changed on the node: the router cannot grow it there.';
		END IF;
		nodes := array_append(nodes, s.node);
		had := array_append(had, existing);
		shares := array_append(shares, s.placed);
	END LOOP;
	COMMIT;
	FOR i IN 1 .. coalesce(cardinality(nodes), 0) LOOP
		BEGIN
			IF had[i] IS NULL THEN
				PERFORM mq_router.node_create_topic(nodes[i], name, shares[i]);
			ELSIF had[i] < shares[i] THEN
				PERFORM mq_router.node_alter_topic(nodes[i], name, shares[i]);
			END IF;
			-- from the start where the node's topic is new; elsewhere a
			-- group it has keeps its positions, and one it lacks starts at
			-- the end, which is offset 0 of the partitions not routed yet
			FOR sub IN SELECT * FROM mq_router.subscriptions_of(name) LOOP
				PERFORM mq_router.node_subscribe(nodes[i], sub."group", name,
					CASE WHEN had[i] IS NULL THEN 'earliest' ELSE 'latest' END,
					sub.mode, sub.tags, sub.filter, sub.ordered,
					sub.max_retries);
			END LOOP;
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
			PERFORM mq_router.unavailable(ARRAY[nodes[i]], state, message);
			RAISE;
		END;
	END LOOP;
	PERFORM mq_router.complete_growth(name);
END
$$;

/*
 * mq_router.record_drop, mq_router.forget_topic
 *		Mark a topic as being dropped (state dropping), so that nothing is
 *		routed to it any more, returning the nodes holding its partitions;
 *		and forget it once they have all dropped it.  42704 if the router did
 *		not create it, 55000 if it is being grown.  A creation that did not
 *		complete can be dropped: the nodes that created their share drop it.
 */
CREATE FUNCTION mq_router.record_drop(name text) RETURNS integer[]
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t			mq_router.topic;
BEGIN
	SELECT * INTO t FROM mq_router.topic r WHERE r.name OPERATOR(pg_catalog.=) record_drop.name
	   FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'topic "%" does not exist in the cluster', name
			USING ERRCODE = 'undefined_object',
			HINT = 'The router knows the topics created by mq_router.create_topic, listed in mq_router.topic.';
	END IF;
	IF t.state OPERATOR(pg_catalog.=) 'growing' THEN
		RAISE EXCEPTION 'topic "%" is being grown', name
			USING ERRCODE = 'object_not_in_prerequisite_state',
			HINT = 'Complete it by calling mq_router.alter_topic again, then drop it.';
	END IF;
	UPDATE mq_router.topic r SET state = 'dropping'
	 WHERE r.name OPERATOR(pg_catalog.=) record_drop.name;
	RETURN (SELECT array_agg(DISTINCT p.node ORDER BY p.node) FROM mq_router.partition p
			 WHERE p.topic OPERATOR(pg_catalog.=) record_drop.name);
END
$$;

CREATE FUNCTION mq_router.forget_topic(name text) RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	DELETE FROM mq_router.topic
	 WHERE topic.name OPERATOR(pg_catalog.=) forget_topic.name
	   AND topic.state OPERATOR(pg_catalog.=) 'dropping';
END;

/*
 * mq_router.drop_topic
 *		Drops the topic on every node holding its partitions (mq.drop_topic,
 *		its messages and its groups' positions there), and then forgets it.
 *		Sends and lookups refuse the topic from the start.  A procedure, as
 *		create_topic: the drop is committed (state dropping) before the nodes
 *		are called, each in a transaction of its own there, so that a call
 *		again completes a drop a node failed.  CALL it outside a
 *		transaction block.
 */
CREATE PROCEDURE mq_router.drop_topic(name text)
LANGUAGE plpgsql AS $$
DECLARE
	nodes		integer[];
	node		integer;
	message		text;
	state		text;
BEGIN
	IF name IS NULL THEN
		RAISE EXCEPTION 'topic name must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	nodes := mq_router.record_drop(name);
	COMMIT;
	FOREACH node IN ARRAY nodes LOOP
		BEGIN
			PERFORM mq_router.node_drop_topic(node, name);
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
			PERFORM mq_router.unavailable(ARRAY[node], state, message);
			RAISE;
		END;
	END LOOP;
	PERFORM mq_router.forget_topic(name);
END
$$;

/*
 * mq_router.route
 *		Where a message of topic with key goes: its partition, the node that
 *		holds it, and the partition's number there.  A message without key
 *		goes to the partition its dedup_id hashes to, so that a send retried
 *		with it reaches the node that can tell it is a duplicate, and one
 *		without either to a partition drawn at random, so that each node
 *		gets keyless messages in proportion to its share.  Only the topic's
 *		routed partitions are chosen: not those a growth is adding.
 */
CREATE FUNCTION mq_router.route(topic text, key text, dedup_id text,
	OUT partition integer, OUT node integer, OUT local integer)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t			mq_router.topic := mq_router.placement(topic);
BEGIN
	IF key IS NULL AND dedup_id IS NULL THEN
		partition := floor(random() * t.partitions)::integer;
	ELSE
		partition := mq_router.partition_for(coalesce(key, dedup_id),
											 t.partitions);
	END IF;
	SELECT p.node, p.local INTO node, local
	  FROM mq_router.partition p
	 WHERE p.topic OPERATOR(pg_catalog.=) route.topic
	   AND p.partition OPERATOR(pg_catalog.=) route.partition;
END
$$;

/*
 * mq_router.send
 *		mq.send on the node holding the message's partition, committed there
 *		when it returns, with the same tag, headers, dedup_id and delay
 *		(delay, deliver_at or delay_level);
 *		partition is the topic's partition.  08006 names the node if it
 *		cannot be reached.
 */
CREATE FUNCTION mq_router.send(topic text, payload text, key text DEFAULT NULL,
	tag text DEFAULT NULL, headers jsonb DEFAULT NULL,
	dedup_id text DEFAULT NULL, delay interval DEFAULT NULL,
	deliver_at timestamptz DEFAULT NULL, delay_level integer DEFAULT NULL,
	OUT id uuid, OUT partition integer, OUT duplicate boolean)
LANGUAGE plpgsql AS $$
DECLARE
	r			record := mq_router.route(topic, key, dedup_id);
	message		text;
	state		text;
BEGIN
	SELECT s.id, r.partition, s.duplicate
	  INTO id, partition, duplicate
	  FROM mq_router.node_send(r.node, topic, payload, key, r.local, tag,
							   headers, dedup_id, delay, deliver_at,
							   delay_level) s;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
	PERFORM mq_router.unavailable(ARRAY[r.node], state, message);
	RAISE;
END
$$;

CREATE FUNCTION mq_router.send(topic text, payload jsonb, key text DEFAULT NULL,
	tag text DEFAULT NULL, headers jsonb DEFAULT NULL,
	dedup_id text DEFAULT NULL, delay interval DEFAULT NULL,
	deliver_at timestamptz DEFAULT NULL, delay_level integer DEFAULT NULL,
	OUT id uuid, OUT partition integer, OUT duplicate boolean)
LANGUAGE plpgsql AS $$
DECLARE
	r			record := mq_router.route(topic, key, dedup_id);
	message		text;
	state		text;
BEGIN
	SELECT s.id, r.partition, s.duplicate
	  INTO id, partition, duplicate
	  FROM mq_router.node_send(r.node, topic, payload, key, r.local, tag,
							   headers, dedup_id, delay, deliver_at,
							   delay_level) s;
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
 *		and keys, tags, headers and dedup_ids (NULLs when there are none),
 *		and each element's partition.  An element without key goes to the
 *		partition its dedup_id hashes to, as in mq_router.route; those
 *		without either all go to one partition drawn at random, as mq's
 *		keyless messages of one transaction go to one partition.  Refuses
 *		what mq.send_batch refuses: a NULL payload (22004), keys, tags,
 *		headers or dedup_ids of another length (22023), a multi-dimensional
 *		array (2202E).
 */
CREATE FUNCTION mq_router.batch_route(topic text, payloads text[], keys text[],
	tags text[], headers jsonb[], dedup_ids text[],
	OUT node integer[], OUT local integer[], OUT ord integer[],
	OUT key_list text[], OUT tag_list text[], OUT headers_list jsonb[],
	OUT dedup_id_list text[], OUT partition integer[])
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
	t			mq_router.topic := mq_router.placement(topic);
	keyless		integer := floor(random() * t.partitions)::integer;
BEGIN
	IF payloads IS NULL OR array_position(payloads, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'payloads must not be NULL or hold NULL elements'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF array_ndims(payloads) > 1 OR array_ndims(keys) > 1
		OR array_ndims(tags) > 1 OR array_ndims(headers) > 1
		OR array_ndims(dedup_ids) > 1 THEN
		RAISE EXCEPTION 'multi-dimensional arrays are not accepted'
			USING ERRCODE = 'array_subscript_error';
	END IF;
	IF cardinality(keys) <> cardinality(payloads)
		OR cardinality(tags) <> cardinality(payloads)
		OR cardinality(headers) <> cardinality(payloads)
		OR cardinality(dedup_ids) <> cardinality(payloads) THEN
		RAISE EXCEPTION 'keys, tags, headers and dedup_ids must have as many elements as payloads'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT array_agg(u.i::integer ORDER BY u.i),
		   array_agg(u.k ORDER BY u.i),
		   array_agg(u.tg ORDER BY u.i),
		   array_agg(u.h ORDER BY u.i),
		   array_agg(u.d ORDER BY u.i),
		   array_agg(CASE WHEN u.k IS NULL AND u.d IS NULL THEN keyless
						  ELSE mq_router.partition_for(coalesce(u.k, u.d),
													   t.partitions)
					 END ORDER BY u.i)
	  INTO ord, key_list, tag_list, headers_list, dedup_id_list, partition
	  FROM unnest(payloads, keys, tags, headers, dedup_ids)
		   WITH ORDINALITY AS u(p, k, tg, h, d, i);
	-- the placement apart, so that each key is hashed once, not once per
	-- row it is joined with
	SELECT array_agg(pl.node ORDER BY x.i), array_agg(pl.local ORDER BY x.i)
	  INTO node, local
	  FROM unnest(partition) WITH ORDINALITY AS x(p, i)
	  JOIN mq_router.partition pl
		ON pl.topic OPERATOR(pg_catalog.=) t.name
	   AND pl.partition OPERATOR(pg_catalog.=) x.p;
END
$$;

/*
 * mq_router.send_batch
 *		mq.send_batch over the cluster: each element goes where mq_router.send
 *		would send it (those without key or dedup_id all to one partition
 *		drawn at random), in one call that runs on the nodes in parallel, each node's
 *		elements in one transaction there.  Nodes commit independently: if
 *		one fails, the others' elements may be committed.  Returns one row
 *		per element, in order.
 */
CREATE FUNCTION mq_router.send_batch(topic text, payloads text[],
	keys text[] DEFAULT NULL, tags text[] DEFAULT NULL,
	headers jsonb[] DEFAULT NULL, dedup_ids text[] DEFAULT NULL)
RETURNS TABLE (id uuid, partition integer, duplicate boolean)
LANGUAGE plpgsql AS $$
DECLARE
	b			record := mq_router.batch_route(topic, payloads, keys, tags,
												headers, dedup_ids);
	message		text;
	state		text;
BEGIN
	IF b.ord IS NULL THEN
		RETURN;
	END IF;
	RETURN QUERY
		SELECT s.id, b.partition[s.ord], s.duplicate
		  FROM mq_router.node_send_batch(b.node, topic, payloads, b.key_list,
										 b.local, b.ord, b.tag_list,
										 b.headers_list, b.dedup_id_list) s
		 ORDER BY s.ord;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
	PERFORM mq_router.unavailable(b.node, state, message);
	RAISE;
END
$$;

CREATE FUNCTION mq_router.send_batch(topic text, payloads jsonb[],
	keys text[] DEFAULT NULL, tags text[] DEFAULT NULL,
	headers jsonb[] DEFAULT NULL, dedup_ids text[] DEFAULT NULL)
RETURNS TABLE (id uuid, partition integer, duplicate boolean)
LANGUAGE plpgsql AS $$
DECLARE
	b			record := mq_router.batch_route(topic, payloads::text[], keys, tags,
												headers, dedup_ids);
	message		text;
	state		text;
BEGIN
	IF b.ord IS NULL THEN
		RETURN;
	END IF;
	RETURN QUERY
		SELECT s.id, b.partition[s.ord], s.duplicate
		  FROM mq_router.node_send_batch(b.node, topic, payloads, b.key_list,
										 b.local, b.ord, b.tag_list,
										 b.headers_list, b.dedup_id_list) s
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
 * get_by_time ask every node holding routed partitions of the topic, and
 * name each message's partition from mq_router.partition.
 */
CREATE FUNCTION mq_router.get(topic text, partition integer, "offset" bigint)
RETURNS SETOF mq_router.message
LANGUAGE plpgsql AS $$
DECLARE
	t			mq_router.topic := mq_router.placement(topic);
	p			mq_router.partition;
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
	SELECT * INTO p FROM mq_router.layout(topic) l
	 WHERE l.partition OPERATOR(pg_catalog.=) get.partition;
	RETURN QUERY
		SELECT get.partition, m."offset", m.epoch, m.id, m.key, m.tag,
			   m.headers, m.payload_type, m.payload_json, m.payload_text,
			   m.payload_bytes, m.produced_at, m.node
		  FROM mq_router.node_get(p.node, topic, p.local, "offset") m;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
	PERFORM mq_router.unavailable(ARRAY[p.node], state, message);
	RAISE;
END
$$;

CREATE FUNCTION mq_router.get_by_key(topic text, key text, max integer DEFAULT 10)
RETURNS SETOF mq_router.message
LANGUAGE plpgsql AS $$
DECLARE
	r			record := mq_router.route(topic, key, NULL);
	message		text;
	state		text;
BEGIN
	IF key IS NULL THEN
		RAISE EXCEPTION 'key must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	RETURN QUERY
		SELECT r.partition, m."offset", m.epoch, m.id, m.key, m.tag, m.headers,
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
	holders		integer[] := mq_router.holders(topic);
	message		text;
	state		text;
BEGIN
	RETURN QUERY
		SELECT l.partition, m."offset", m.epoch, m.id, m.key, m.tag,
			   m.headers, m.payload_type, m.payload_json, m.payload_text,
			   m.payload_bytes, m.produced_at, m.node
		  FROM mq_router.node_get_by_id(holders, topic, id) m
		  JOIN mq_router.layout(topic) l
			ON l.node OPERATOR(pg_catalog.=) m.node
		   AND l.local OPERATOR(pg_catalog.=) m.partition;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
	PERFORM mq_router.unavailable(holders, state, message);
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
	holders		integer[] := mq_router.holders(topic);
	message		text;
	state		text;
BEGIN
	RETURN QUERY
		SELECT l.partition, m."offset", m.epoch, m.id, m.key, m.tag,
			   m.headers, m.payload_type, m.payload_json, m.payload_text,
			   m.payload_bytes, m.produced_at, m.node
		  FROM mq_router.node_get_by_time(holders, topic,
										  from_time, to_time, max) m
		  JOIN mq_router.layout(topic) l
			ON l.node OPERATOR(pg_catalog.=) m.node
		   AND l.local OPERATOR(pg_catalog.=) m.partition
		 ORDER BY m.produced_at, m.node, m.partition, m."offset"
		 LIMIT max;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
	PERFORM mq_router.unavailable(holders, state, message);
	RAISE;
END
$$;

/*
 * mq_router.subscriptions_of
 *		The subscriptions made through the router to a topic.
 */
CREATE FUNCTION mq_router.subscriptions_of(topic text)
RETURNS SETOF mq_router.subscription
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
	SELECT * FROM mq_router.subscription s
	 WHERE s.topic OPERATOR(pg_catalog.=) subscriptions_of.topic;
END;

/*
 * mq_router.record_subscription
 *		Records a subscription of group to a complete topic (or forgets it,
 *		with forget), and returns the nodes holding the topic.  42704 if the
 *		router did not create the topic, 55000 if it is being created,
 *		grown or dropped: the topic's row stays locked until the caller's
 *		transaction ends, so that a growth starts before the subscription
 *		or after it is recorded, and subscribes the nodes it adds.
 */
CREATE FUNCTION mq_router.record_subscription("group" text, topic text,
	mode text, tags text, filter text, ordered boolean, max_retries integer,
	forget boolean DEFAULT false)
RETURNS integer[]
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t			mq_router.topic;
BEGIN
	PERFORM FROM mq_router.topic r
	 WHERE r.name OPERATOR(pg_catalog.=) record_subscription.topic FOR SHARE;
	t := mq_router.placement(topic);
	IF t.state OPERATOR(pg_catalog.<>) 'complete' THEN
		RAISE EXCEPTION 'topic "%" is being grown', topic
			USING ERRCODE = 'object_not_in_prerequisite_state',
			HINT = 'Call mq_router.alter_topic again to complete the growth first.';
	END IF;
	IF forget THEN
		DELETE FROM mq_router.subscription s
		 WHERE s."group" OPERATOR(pg_catalog.=) record_subscription."group"
		   AND s.topic OPERATOR(pg_catalog.=) record_subscription.topic;
	ELSE
		INSERT INTO mq_router.subscription AS s
			VALUES ("group", topic, mode, tags, filter, ordered, max_retries)
		ON CONFLICT ON CONSTRAINT subscription_pkey DO UPDATE
			SET mode = excluded.mode, tags = excluded.tags,
				filter = excluded.filter, ordered = excluded.ordered,
				max_retries = excluded.max_retries;
	END IF;
	RETURN mq_router.holders(topic);
END
$$;

/*
 * mq_router.subscribe
 *		mq.subscribe on every node holding the topic, with the same
 *		arguments, recorded so that mq_router.alter_topic subscribes the
 *		nodes it gives the topic (from their start).  A procedure, as
 *		create_topic: the record is committed before the nodes are called,
 *		so that a growth after it subscribes the nodes it adds even if a
 *		node fails here.  Each node commits its subscription when called: if
 *		one fails (08006 naming it), the others keep theirs and a call again
 *		completes it, since subscribing again keeps the positions.  Refused
 *		while the topic grows (55000).  CALL it outside a transaction block.
 */
CREATE PROCEDURE mq_router.subscribe("group" text, topic text,
	start text DEFAULT 'latest', mode text DEFAULT 'clustering',
	tags text DEFAULT NULL, filter text DEFAULT NULL,
	ordered boolean DEFAULT false, max_retries integer DEFAULT 16)
LANGUAGE plpgsql AS $$
DECLARE
	holders		integer[];
	n			integer;
	message		text;
	state		text;
BEGIN
	IF "group" IS NULL OR topic IS NULL THEN
		RAISE EXCEPTION 'group and topic must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	holders := mq_router.record_subscription("group", topic, mode, tags,
											 filter, ordered, max_retries);
	COMMIT;
	FOREACH n IN ARRAY holders LOOP
		BEGIN
			PERFORM mq_router.node_subscribe(n, "group", topic, start, mode,
											 tags, filter, ordered, max_retries);
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
			PERFORM mq_router.unavailable(ARRAY[n], state, message);
			RAISE;
		END;
	END LOOP;
END
$$;

/*
 * mq_router.unsubscribe
 *		Forgets the router's record of a subscription, then mq.unsubscribe
 *		on every node holding the topic that has it.  A procedure, as
 *		subscribe: a node that fails (08006 naming it) keeps its
 *		subscription until a call again removes it, and no growth adds the
 *		group meanwhile.  CALL it outside a transaction block.
 */
CREATE PROCEDURE mq_router.unsubscribe("group" text, topic text)
LANGUAGE plpgsql AS $$
DECLARE
	holders		integer[];
	n			integer;
	message		text;
	state		text;
BEGIN
	IF "group" IS NULL OR topic IS NULL THEN
		RAISE EXCEPTION 'group and topic must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	holders := mq_router.record_subscription("group", topic, NULL, NULL, NULL,
											 NULL, NULL, forget => true);
	COMMIT;
	FOREACH n IN ARRAY holders LOOP
		BEGIN
			PERFORM mq_router.node_unsubscribe(n, "group", topic);
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
			PERFORM mq_router.unavailable(ARRAY[n], state, message);
			RAISE;
		END;
	END LOOP;
END
$$;

-- topics(), lag() and partitions() ask the nodes that answer
-- (mq_router.answering) in one PL/Proxy call, and report the others as
-- unavailable.

/*
 * mq_router.topics_of
 *		topics() from the nodes up, the nodes down reported unavailable.
 */
CREATE FUNCTION mq_router.topics_of(up integer[], down integer[])
RETURNS TABLE (name text, partitions integer, nodes integer, segments bigint,
			   size_bytes bigint, placed boolean, unavailable_nodes integer[])
LANGUAGE sql
SET search_path = pg_catalog, pg_temp AS $$
	WITH found AS (
		SELECT n.name, sum(n.partitions)::integer AS partitions,
			   count(*)::integer AS nodes, sum(n.segments)::bigint AS segments,
			   sum(n.size_bytes)::bigint AS size_bytes
		  FROM mq_router.node_topics(up) n
		 WHERE cardinality(up) > 0		-- no call at all when no node answers
		 GROUP BY n.name),
	placed AS (
		SELECT p.topic, array_agg(DISTINCT p.node) AS holders
		  FROM mq_router.placed() p
		 GROUP BY p.topic)
	SELECT coalesce(f.name, p.topic), coalesce(f.partitions, 0),
		   coalesce(f.nodes, 0), f.segments, f.size_bytes, p.topic IS NOT NULL,
		   ARRAY(SELECT d FROM unnest(down) d
				  WHERE p.topic IS NULL OR d = ANY (p.holders) ORDER BY d)
	  FROM found f
	  FULL JOIN placed p ON p.topic = f.name
	 ORDER BY 1;
$$;

/*
 * mq_router.topics
 *		mq.topics summed over the nodes: per topic, its partitions, the
 *		nodes holding some, and its segments and size on all of them, from
 *		the nodes that answer.  unavailable_nodes lists those that did not
 *		and hold partitions of the topic (any node that did not, for a topic
 *		the router did not place).  Topics the router did not create, or is
 *		creating or dropping, are listed too (placed is false).
 */
CREATE FUNCTION mq_router.topics()
RETURNS TABLE (name text, partitions integer, nodes integer, segments bigint,
			   size_bytes bigint, placed boolean, unavailable_nodes integer[])
LANGUAGE plpgsql AS $$
DECLARE
	n			record := mq_router.answering();
	message		text;
	state		text;
BEGIN
	RETURN QUERY SELECT * FROM mq_router.topics_of(n.up, n.down);
EXCEPTION WHEN OTHERS THEN
	-- a node stopped since it answered
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
	PERFORM mq_router.unavailable(n.up, state, message);
	RAISE;
END
$$;

/*
 * mq_router.lag_of
 *		lag() from the nodes up, the partitions placed on the nodes down
 *		reported unavailable.
 */
CREATE FUNCTION mq_router.lag_of(up integer[], down integer[])
RETURNS TABLE ("group" text, topic text, partition integer, member_id text,
			   committed_offset bigint, end_offset bigint, lag bigint,
			   node integer, available boolean)
LANGUAGE sql
SET search_path = pg_catalog, pg_temp AS $$
	SELECT l."group", l.topic, coalesce(r.partition, l.partition),
		   l.member_id, l.committed_offset, l.end_offset, l.lag, l.node, true
	  FROM mq_router.node_lag(up) l
	  LEFT JOIN mq_router.placed() r
		ON r.topic = l.topic AND r.node = l.node AND r.local = l.partition
	 WHERE cardinality(up) > 0			-- no call at all when no node answers
	UNION ALL
	SELECT NULL, r.topic, r.partition, NULL, NULL, NULL, NULL, r.node, false
	  FROM mq_router.placed() r
	 WHERE r.node = ANY (down)
	 ORDER BY 1, 2, 3, 4;
$$;

/*
 * mq_router.lag
 *		mq.lag of every node that answers, with the topic's partitions: one
 *		row per position, as mq.lag, and the node holding it.  Positions of
 *		topics the router did not create keep their nodes' partition
 *		numbers.  Each partition the router placed on a node that does not
 *		answer is one row with available false, its group and offsets NULL:
 *		what is unknown, not a lag of 0.
 */
CREATE FUNCTION mq_router.lag()
RETURNS TABLE ("group" text, topic text, partition integer, member_id text,
			   committed_offset bigint, end_offset bigint, lag bigint,
			   node integer, available boolean)
LANGUAGE plpgsql AS $$
DECLARE
	n			record := mq_router.answering();
	message		text;
	state		text;
BEGIN
	RETURN QUERY SELECT * FROM mq_router.lag_of(n.up, n.down);
EXCEPTION WHEN OTHERS THEN
	-- a node stopped since it answered
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
	PERFORM mq_router.unavailable(n.up, state, message);
	RAISE;
END
$$;

/*
 * mq_router.partitions_of
 *		partitions() from the nodes up.
 */
CREATE FUNCTION mq_router.partitions_of(up integer[])
RETURNS TABLE (topic text, partition integer, node integer,
			   local_partition integer, available boolean,
			   log_start_offset bigint, end_offset bigint,
			   stable_offset bigint, messages_estimate bigint)
LANGUAGE sql
SET search_path = pg_catalog, pg_temp AS $$
	SELECT r.topic, r.partition, r.node, r.local, r.node = ANY (up),
		   n.log_start_offset, n.end_offset, n.stable_offset,
		   n.messages_estimate
	  FROM mq_router.placed() r
	  LEFT JOIN (SELECT * FROM mq_router.node_partitions(up)
				  WHERE cardinality(up) > 0) n	-- no call when no node answers
		ON n.topic = r.topic AND n.node = r.node AND n.partition = r.local
	 ORDER BY 1, 2;
$$;

/*
 * mq_router.partitions
 *		Every partition of the topics the router placed, as mq.partitions
 *		shows it on its node: the node, its number there, and its offsets;
 *		available is false, and the offsets NULL, for a node that does not
 *		answer.
 */
CREATE FUNCTION mq_router.partitions()
RETURNS TABLE (topic text, partition integer, node integer,
			   local_partition integer, available boolean,
			   log_start_offset bigint, end_offset bigint,
			   stable_offset bigint, messages_estimate bigint)
LANGUAGE plpgsql AS $$
DECLARE
	n			record := mq_router.answering();
	message		text;
	state		text;
BEGIN
	RETURN QUERY SELECT * FROM mq_router.partitions_of(n.up);
EXCEPTION WHEN OTHERS THEN
	-- a node stopped since it answered
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
	PERFORM mq_router.unavailable(n.up, state, message);
	RAISE;
END
$$;

/*
 * mq_router.grant_producer
 *		Lets role send, look messages up and read topics(), lag() and
 *		partitions() through the router, and nothing else: EXECUTE on those
 *		functions and on the helpers they call, USAGE on the schema and on
 *		the server mq_cluster.  Creating, growing and dropping topics and
 *		subscribing groups stay with the roles granted every routine.  Runs
 *		as the router's owner, who must own mq_cluster (or be a superuser).
 */
CREATE FUNCTION mq_router.grant_producer(role text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	f			regprocedure;
BEGIN
	IF role IS NULL THEN
		RAISE EXCEPTION 'role must not be NULL'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	EXECUTE format('GRANT USAGE ON SCHEMA mq_router TO %I', role);
	EXECUTE format('GRANT USAGE ON FOREIGN SERVER mq_cluster TO %I', role);
	FOR f IN
		SELECT p.oid::regprocedure FROM pg_proc p
		 WHERE p.pronamespace OPERATOR(pg_catalog.=) 'mq_router'::regnamespace
		   AND p.proname OPERATOR(pg_catalog.=) ANY (ARRAY[
			   -- what producers call
			   'send', 'send_batch', 'get', 'get_by_key', 'get_by_id',
			   'get_by_time', 'topics', 'lag', 'partitions', 'partition_for',
			   -- what those call, as the caller
			   'route', 'batch_route', 'placement', 'layout', 'placed',
			   'holders', 'all_nodes', 'unavailable', 'unreachable',
			   'connection_failed', 'reachable', 'answering', 'topics_of', 'lag_of',
			   'partitions_of', 'murmur2', 'mul32', 'node_send',
			   'node_send_batch', 'node_get', 'node_get_by_key',
			   'node_get_by_id', 'node_get_by_time', 'node_topics',
			   'node_lag', 'node_partitions', 'node_ping', 'node_ping_all'])
	LOOP
		EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO %I', f, role);
	END LOOP;
END
$$;

-- Nothing is executable by PUBLIC until granted, as in mq: functions and
-- procedures alike (ALL FUNCTIONS does not include procedures).
REVOKE ALL ON ALL ROUTINES IN SCHEMA mq_router FROM PUBLIC;
