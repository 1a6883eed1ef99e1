# ALTER EXTENSION mq UPDATE from 0.1 to 0.2 rewrites every segment from
# one row per message into record batches, and nothing a consumer sees
# changes: offsets (holes included), ids, keys, tags, headers, payloads,
# times, group positions, the segments' owner and privileges, the EXECUTE
# grants of the functions the update replaces, delayed messages, half
# messages and their checkers.  The updated database is left as a fresh
# 0.2 install: the extension recorded in pg_catalog, schema mq one of its
# members, so its dump restores and DROP EXTENSION removes the schema.
#
# The 0.1 data is made with SQL in 0.1's schema, as 0.1 laid it out (its
# segment table definition is below): this library cannot run 0.1's write
# path, which is what the update exists for.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mq'
mq.worker_naptime = '100ms'
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION mq VERSION '0.1';
CREATE ROLE app;
CREATE ROLE reader;
GRANT USAGE ON SCHEMA mq TO app, reader;
GRANT EXECUTE ON FUNCTION mq.create_topic(text, integer, interval, bigint, bigint, interval, boolean, interval) TO app;
GRANT EXECUTE ON FUNCTION mq.alter_topic(text, integer, interval, bigint, bigint, interval, boolean, interval, boolean, boolean) TO app;
GRANT EXECUTE ON FUNCTION mq.partition_offsets(text) TO app;
GRANT EXECUTE ON FUNCTION mq.fetch(text, text, integer, integer, boolean, text, bigint) TO app WITH GRANT OPTION;
GRANT EXECUTE ON FUNCTION mq.send(text, jsonb, text, text, jsonb, integer, text, interval, timestamptz, integer) TO app;
});
is($node->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'mq'"),
	'0.1', 'the extension starts at 0.1');
my ($rc, $out, $err) = $node->psql('postgres', "SELECT mq.create_topic('early')");
like($err, qr/extension "mq" is at version 0.1, but its library is version 0.2/,
	'before the update, the library refuses to work on 0.1 objects, saying what to do');

# A topic of two partitions and two segments, as mq 0.1 stored it: one row
# per message; offset 3 of partition 0 is a hole (an aborted producer's).
$node->safe_psql('postgres', q{
INSERT INTO mq.topic (topic_id, name, partitions, retention, segment_bytes,
                      segment_age, notify, dedup_window)
VALUES (nextval('mq.topic_id_seq'), 'old', 2, '7 days', 1073741824, '1 day', true, '1 day');
INSERT INTO mq.partition (topic_id, partition, high_mark)
SELECT topic_id, p, 1000 FROM mq.topic, generate_series(0, 1) p WHERE name = 'old';
DO $$
DECLARE
    t integer := (SELECT topic_id FROM mq.topic WHERE name = 'old');
    s integer;
BEGIN
    FOR s IN 0..1 LOOP
        EXECUTE format($f$CREATE TABLE mq.seg_%s_%s (
            partition integer NOT NULL,
            "offset" bigint NOT NULL,
            id uuid NOT NULL,
            produced_at timestamptz NOT NULL,
            payload_type "char" NOT NULL,
            key text COLLATE "C",
            tag text COLLATE "C",
            headers jsonb,
            payload bytea NOT NULL,
            PRIMARY KEY (partition, "offset"))$f$, t, s);
        EXECUTE format('CREATE INDEX ON mq.seg_%s_%s (key, produced_at) WHERE key IS NOT NULL', t, s);
        EXECUTE format('CREATE INDEX ON mq.seg_%s_%s USING brin (produced_at)', t, s);
        EXECUTE format('INSERT INTO mq.segment (topic_id, segment_no, relid) VALUES (%s, %s, %L)',
                       t, s, format('mq.seg_%s_%s', t, s));
        EXECUTE format('GRANT SELECT ON mq.seg_%s_%s TO reader', t, s);
        EXECUTE format('ALTER TABLE mq.seg_%s_%s OWNER TO app', t, s);
    END LOOP;
    -- segment 0: offsets 0-2 and 4-5 of partition 0 (3 is a hole), 0-1 of
    -- partition 1; segment 1: offsets 6-7 of partition 0.
    EXECUTE format($f$INSERT INTO mq.seg_%s_0
        SELECT p, o, gen_random_uuid(), '2026-01-01'::timestamptz + o * interval '1 s',
               CASE WHEN mod(o, 2) = 0 THEN 't' ELSE 'j' END,
               CASE WHEN o <> 1 THEN 'key' || o END,
               CASE WHEN mod(o, 3) = 0 THEN 'tag' END,
               CASE WHEN o > 0 THEN jsonb_build_object('o', o) END,
               convert_to(CASE WHEN mod(o, 2) = 0 THEN 'text ' || p || '/' || o
                               ELSE jsonb_build_object('p', p, 'o', o)::text END, 'UTF8')
          FROM (VALUES (0, 0), (0, 1), (0, 2), (0, 4), (0, 5), (1, 0), (1, 1)) v(p, o)$f$, t);
    EXECUTE format($f$INSERT INTO mq.seg_%s_1
        SELECT 0, o, gen_random_uuid(), '2026-01-02'::timestamptz + o * interval '1 s',
               't', 'key' || o, NULL, NULL, convert_to('text 0/' || o, 'UTF8')
          FROM generate_series(6, 7) o$f$, t);
END $$;
-- A group that had consumed partition 0 up to offset 2.
INSERT INTO mq.consumer_group (group_id, name) VALUES (nextval('mq.group_id_seq'), 'old.group');
INSERT INTO mq.subscription (group_id, topic_id, mode, ordered, max_retries, start)
SELECT g.group_id, t.topic_id, 'clustering', false, 16, 'earliest'
  FROM mq.consumer_group g, mq.topic t WHERE g.name = 'old.group' AND t.name = 'old';
INSERT INTO mq.position (group_id, topic_id, partition, next_offset)
SELECT g.group_id, t.topic_id, p, CASE p WHEN 0 THEN 2 ELSE 0 END
  FROM mq.consumer_group g, mq.topic t, generate_series(0, 1) p
 WHERE g.name = 'old.group' AND t.name = 'old';
-- A delayed message and a half message, both due in an hour, and the
-- half message's checker as 0.1 registered it (its role by OID).
CREATE FUNCTION public.ok_checker(m mq.half_messages) RETURNS text
    LANGUAGE sql AS $f$ SELECT 'commit' $f$;
INSERT INTO mq.checker (producer_group, checker, owner)
VALUES ('old.producer', 'public.ok_checker(mq.half_messages)', 'app'::regrole);
INSERT INTO mq.half_message (id, topic_id, producer_group, partition, payload_type,
                             payload, prepared_at, next_check_at)
SELECT '00000000-0000-0000-0000-0000000000a1', topic_id, 'old.producer', 1, 't',
       'half', now(), now() + interval '1 hour'
  FROM mq.topic WHERE name = 'old';
INSERT INTO mq.delayed_message (id, topic_id, partition, due_at, payload_type, payload)
SELECT '00000000-0000-0000-0000-0000000000d1', topic_id, 1, now() + interval '1 hour',
       't', 'delayed'
  FROM mq.topic WHERE name = 'old';
});

# What 0.1 holds, read straight from its segments.
my $before = $node->safe_psql('postgres', q{
SELECT string_agg(format('%s/%s %s %s %s %s %s %s %s', partition, "offset", id, key, tag,
                         headers, payload_type, encode(payload, 'escape'), produced_at),
                  E'\n' ORDER BY partition, "offset")
  FROM (SELECT * FROM mq.seg_1_0 UNION ALL SELECT * FROM mq.seg_1_1) m
});

is(($before =~ tr/\n//), 8, 'the 0.1 segments hold nine messages');

$node->safe_psql('postgres', "ALTER EXTENSION mq UPDATE TO '0.2'");
is($node->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'mq'"),
	'0.2', 'the update ran');

# The same messages, now decoded from batches.
my $after = $node->safe_psql('postgres', q{
SELECT string_agg(format('%s/%s %s %s %s %s %s %s %s', partition, "offset", id, key, tag,
                         headers, CASE payload_type WHEN 'text' THEN 't' WHEN 'jsonb' THEN 'j' ELSE 'b' END,
                         encode(coalesce(payload_bytes,
                                         convert_to(coalesce(payload_text, payload_json::text), 'UTF8')),
                                'escape'), produced_at),
                  E'\n' ORDER BY partition, "offset")
  FROM mq.messages('old')
});
is($after, $before, 'every message, field and offset is the same after the update');
is($node->safe_psql('postgres', "SELECT count(*) FROM mq.get('old', 0, 3)"), '0',
	'the hole stays a hole');

is($node->safe_psql('postgres', q{
SELECT string_agg(format('%s:%s+%s', s.segment_no, b.base_offset, b.record_count), ' ' ORDER BY s.segment_no, b.partition, b.base_offset)
  FROM mq.segment s,
       LATERAL (SELECT * FROM mq.seg_1_0 WHERE s.segment_no = 0
                UNION ALL SELECT * FROM mq.seg_1_1 WHERE s.segment_no = 1) b
}), '0:0+3 0:4+2 0:0+2 1:6+2', 'each run of consecutive offsets of a partition became one batch');

is($node->safe_psql('postgres', q{
SELECT count(*) FROM pg_depend d JOIN mq.segment s ON d.objid = s.relid::oid
 WHERE d.classid = 'pg_class'::regclass AND d.deptype = 'e'
}), '0', 'the new segment tables are not members of the extension (pg_dump keeps them)');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM pg_depend d JOIN mq.segment s ON d.objid = s.relid::oid
 WHERE d.classid = 'pg_class'::regclass AND d.deptype = 'n'
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'mq')
}), '2', 'but depend on it');
is($node->safe_psql('postgres', q{
SELECT string_agg((c.relowner = n.nspowner)::text || ':' || has_table_privilege('reader', s.relid, 'SELECT')::text, ',')
  FROM mq.segment s JOIN pg_class c ON c.oid = s.relid JOIN pg_namespace n ON n.oid = c.relnamespace
}), 'true:false,true:false', 'the new segments are the extension owner\'s, without the old table grants');
is($node->safe_psql('postgres', q{
SELECT owner, mq.has_topic_privilege('reader', name, 'produce'), mq.has_topic_privilege('reader', name, 'consume'),
       mq.has_topic_privilege('reader', name, 'manage'), mq.has_topic_privilege('app', name, 'manage')
  FROM mq.topics WHERE name = 'old'
}), 'app|t|t|f|t', 'the old segments\' owner owns the topic, which stays open to every role as in 0.1');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM pg_class WHERE relnamespace = 'mq'::regnamespace AND relname ~ '_v1$'
}), '0', 'the old tables are gone');
is($node->safe_psql('postgres', q{
SELECT has_function_privilege('app', 'mq.create_topic(text, integer, interval, bigint, bigint, interval, boolean, interval, text)', 'EXECUTE')
}), 't', 'EXECUTE on mq.create_topic carries over to its new signature');
is($node->safe_psql('postgres', q{
SELECT has_function_privilege('app', 'mq.alter_topic(text, integer, interval, bigint, bigint, interval, boolean, interval, boolean, boolean, text)', 'EXECUTE')
}), 't', 'and on mq.alter_topic');
is($node->safe_psql('postgres', q{
SELECT has_function_privilege('app', 'mq.partition_offsets(text)', 'EXECUTE')
}), 't', 'and on mq.partition_offsets, which now shows the restart gap');
is($node->safe_psql('postgres', q{
SELECT has_function_privilege('app', 'mq.fetch(text, text, integer, integer, boolean, text, bigint, text)', 'EXECUTE WITH GRANT OPTION'),
       has_function_privilege('app', 'mq.send(text, json, text, text, jsonb, integer, text, interval, timestamptz, integer)', 'EXECUTE'),
       has_function_privilege('reader', 'mq.fetch(text, text, integer, integer, boolean, text, bigint, text)', 'EXECUTE')
}), 't|t|f', 'mq.fetch, made again with its payload columns, keeps its grants (grant option too), and mq.send\'s json variant gets those of its jsonb one');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM pg_init_privs
 WHERE (classoid = 'pg_class'::regclass AND objoid IN (SELECT relid FROM mq.segment))
    OR (classoid = 'pg_proc'::regclass AND initprivs::text LIKE '%app=%')
}), '0', 'grants carried over are the users\' own, not initial privileges of the extension (pg_dump keeps them)');
is($node->safe_psql('postgres', q{
SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE i.indrelid IN (SELECT relid FROM mq.segment) AND i.indisprimary
}), 'seg_1_0_pkey,seg_1_1_pkey', 'the primary keys keep their names');

# The partitions continue from their high mark (1000), past the ends of
# their logs (8 and 2): lag counts up to those ends, hole included.
is($node->safe_psql('postgres', q{
SELECT string_agg(format('%s:%s-%s %s', partition, committed_offset, end_offset, lag), ' ' ORDER BY partition)
  FROM mq.lag WHERE "group" = 'old.group'
}), '0:2-8 6 1:0-2 2', 'lag leaves out the restart gap');

# Consumers continue where they were; producers continue past the high mark.
is($node->safe_psql('postgres', q{
SELECT string_agg("offset"::text, ',' ORDER BY "offset") FROM mq.fetch('old.group', 'old', partition => 0, max => 100)
}), '2,4,5,6,7', 'the group continues at its position, across the hole and the segments');
$node->safe_psql('postgres', "SELECT mq.send('old', 'new'::text, partition => 0)");
cmp_ok($node->safe_psql('postgres', q{
SELECT max("offset") FROM mq.read('old', 0, 0, 100)
}), '>=', 1000, 'a new message takes an offset past the durable high mark');

# The delayed message and the half message survive the update, with the
# checker's role now by name, and fall due as before.
is($node->safe_psql('postgres', q{
SELECT (SELECT owner FROM mq.checker WHERE producer_group = 'old.producer'),
       (SELECT count(*) FROM mq.delayed),
       (SELECT state FROM mq.half_messages)
}), 'app|1|prepared', 'the checker (its role by name), the delayed and the half message are kept');
$node->safe_psql('postgres', q{
SET mq.test_clock = on;
SELECT mq.advance_clock('2 hours');
});
ok($node->poll_query_until('postgres', q{
SELECT string_agg(payload_text, ',' ORDER BY payload_text) = 'delayed,half'
  FROM mq.messages('old', 1) WHERE payload_text IN ('delayed', 'half')
}), 'once due, the delayed message is released and the checker commits the half message');
is($node->safe_psql('postgres', "SELECT resolved_by FROM mq.half_messages"),
	'checker', 'resolved by the checker, run as its role');

# The update leaves the catalogs as a fresh 0.2 install has them: the
# extension recorded in pg_catalog, not depending on schema mq but owning
# it, and no initial privileges on the schema (its grants are the users').
my $extension_state = q{
SELECT e.extnamespace::regnamespace,
       (SELECT string_agg(pg_describe_object(d.refclassid, d.refobjid, 0), ',')
          FROM pg_depend d
         WHERE d.classid = 'pg_extension'::regclass AND d.objid = e.oid),
       (SELECT string_agg(pg_describe_object(d.classid, d.objid, 0), ',')
          FROM pg_depend d
         WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
           AND d.classid = 'pg_namespace'::regclass AND d.deptype = 'e'),
       (SELECT count(*) FROM pg_init_privs i
         WHERE i.classoid = 'pg_namespace'::regclass AND i.objoid = n.oid),
       n.nspowner = e.extowner
  FROM pg_extension e, pg_namespace n
 WHERE e.extname = 'mq' AND n.nspname = 'mq'
};
$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION mq');
is($node->safe_psql('fresh', $extension_state), 'pg_catalog||schema mq|0|t',
	'a fresh install: the extension in pg_catalog, schema mq a member');
is($node->safe_psql('postgres', $extension_state), 'pg_catalog||schema mq|0|t',
	'an updated database: the same');
my $members = q{
SELECT string_agg(m, E'\n' ORDER BY m)
  FROM (SELECT pg_describe_object(classid, objid, objsubid) AS m FROM pg_depend
         WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
           AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'mq')) d
};
is($node->safe_psql('postgres', $members), $node->safe_psql('fresh', $members),
	'with the same members');

# So its dump restores: pg_dump writes CREATE EXTENSION ... WITH SCHEMA
# pg_catalog, which the control file accepts, and the segment tables and
# the grants on schema mq after it.
my $dump = $node->basedir . '/updated.dump';
command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ],
	'pg_dump of the updated database');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump ],
	'its dump restores into a new database');
my $contents = q{
SELECT (SELECT string_agg(format('%s %s', name, partitions), ',' ORDER BY name) FROM mq.topics),
       (SELECT string_agg(format('%s/%s %s %s %s %s', partition, "offset", id, key,
                                 payload_type, coalesce(payload_json::text, payload_text,
                                                        encode(payload_bytes, 'escape'))),
                          ',' ORDER BY partition, "offset")
          FROM mq.messages('old'))
};
is($node->safe_psql('restored', $contents), $node->safe_psql('postgres', $contents),
	'with its topics and messages');
is($node->safe_psql('restored', q{
SELECT has_schema_privilege('app', 'mq', 'USAGE'), has_schema_privilege('reader', 'mq', 'USAGE')
}), 't|t', 'and the grants on schema mq made in 0.1');

# And DROP EXTENSION removes schema mq with the segment tables in it.
$node->safe_psql('postgres', 'DROP EXTENSION mq CASCADE');
is($node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = 'mq'),
       (SELECT count(*) FROM pg_class WHERE relname ~ '^seg_[0-9]+_[0-9]+$')
}), '0|0', 'DROP EXTENSION mq CASCADE in the updated database leaves no schema mq, no segment');
done_testing();
