# The worker rolls segments by age and by size, and messages stay readable
# across segments.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('segments');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mq'
mq.worker_naptime = '100ms'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION mq');
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM mq.worker_status() WHERE database = 'postgres' AND state = 'running'")
  or die 'no worker';

# By age: an old, non-empty segment is rolled.
$node->safe_psql('postgres', "SELECT mq.create_topic('aged', segment_age => interval '1 second')");
sleep(2);
is($node->safe_psql('postgres', "SELECT segments FROM mq.topics WHERE name = 'aged'"),
	'1', 'an empty segment is not rolled however old');
$node->safe_psql('postgres', "SELECT partition FROM mq.send('aged', 'first'::text)");
ok($node->poll_query_until('postgres', "SELECT segments >= 2 FROM mq.topics WHERE name = 'aged'"),
	'a non-empty segment older than segment_age is rolled');
$node->safe_psql('postgres', "SELECT partition FROM mq.send('aged', 'second'::text)");
is($node->safe_psql('postgres',
		"SELECT string_agg(payload_text, ',' ORDER BY \"offset\") FROM mq.read('aged', 0)"),
	'first,second', 'messages are read across segments, in order');
is($node->safe_psql('postgres', qq{
SELECT count(*) FROM mq.segment s JOIN mq.topic t USING (topic_id), LATERAL (
    SELECT pg_relation_size(s.relid) AS size) z
 WHERE t.name = 'aged' AND s.segment_no = (SELECT max(segment_no) FROM mq.segment WHERE topic_id = t.topic_id)
   AND z.size > 0}), '1', 'the new message went to the new segment');

# By size: past segment_bytes the active segment is rolled.
$node->safe_psql('postgres',
	"SELECT mq.create_topic('big', segment_bytes => 1048576, segment_age => interval '1 day')");
$node->safe_psql('postgres',
	"SELECT count(*) FROM mq.send_batch('big', ARRAY(SELECT (SELECT string_agg(md5(g::text || x::text), '') FROM generate_series(1, 40) x) FROM generate_series(1, 1000) g))");
ok($node->poll_query_until('postgres', "SELECT segments >= 2 FROM mq.topics WHERE name = 'big'"),
	'a segment past segment_bytes is rolled');
is($node->safe_psql('postgres', "SELECT count(*) FROM mq.read('big', 0, 0, 100000)"),
	'1000', 'every message is still readable');

# Producers keep working while segments roll under them.
$node->safe_psql('postgres', "SELECT mq.alter_topic('aged', segment_age => interval '200 milliseconds')");
for my $i (1 .. 30)
{
	$node->safe_psql('postgres', "SELECT partition FROM mq.send('aged', 'm$i'::text)");
	select(undef, undef, undef, 0.05);
}
cmp_ok($node->safe_psql('postgres', "SELECT segments FROM mq.topics WHERE name = 'aged'"),
	'>', 2, 'segments rolled during the sends');
is($node->safe_psql('postgres', "SELECT count(*) FROM mq.read('aged', 0, 0, 100000)"),
	'32', 'no message lost across the rolls');

# Dropping the topic drops every segment.
$node->safe_psql('postgres', "SELECT mq.drop_topic('aged')");
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_class WHERE relnamespace = 'mq'::regnamespace AND relname ~ '^seg_' AND NOT EXISTS (SELECT FROM mq.segment s WHERE s.relid = pg_class.oid) AND relkind = 'r'"),
	'0', 'no segment table is left behind');

# DDL holding one of mq's tables while it waits for another never
# deadlocks with the worker: the worker takes the locks its jobs need
# without waiting, and skips a pass when DDL holds them.  (Before, its
# pass held mq.dedup and waited for mq.topic.)
$node->safe_psql('postgres', "ALTER SYSTEM SET mq.worker_naptime = '10ms'");
$node->reload;
my $log_offset = -s $node->logfile;
my ($ret, $out, $err) = $node->psql('postgres', q{
BEGIN;
LOCK TABLE mq.topic IN ACCESS EXCLUSIVE MODE;
SELECT pg_sleep(0.5);
LOCK TABLE mq.dedup IN ACCESS EXCLUSIVE MODE;
COMMIT;
});
is($ret, 0, 'a transaction locking mq.topic, then mq.dedup, completes');
ok(!$node->log_contains(qr/deadlock detected/, $log_offset),
	'no deadlock between it and the worker');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM mq.worker_status() WHERE database = 'postgres' AND state = 'running' AND restarts = 0"),
	'and the worker was not disturbed');

$node->stop;
done_testing();
