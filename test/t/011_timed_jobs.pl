# The worker's timed jobs across restarts and failures: delayed messages
# survive a crash and are released once; a half message whose producer
# died is resolved by check-back; a failing or hanging checker is retried
# and its message ends in mq.unresolved without stopping the worker;
# retries reach the dead-letter topic after exactly max_retries; retention
# drops whole segments, keeps the size bounded in a produce/consume loop
# and never lets an offset be reused.  mq's clock is moved by the tests
# (mq.test_clock), so nothing sleeps for the real delays.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('timed');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mq'
mq.worker_naptime = '200ms'
mq.check_interval = '1s'
mq.check_max = 3
mq.check_timeout = '500ms'
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION mq;
SELECT mq.create_topic('orders', partitions => 2);
SELECT mq.subscribe('timeouts', 'orders', start => 'earliest');
});

sub wait_worker
{
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM mq.worker_status() WHERE database = 'postgres' AND state = 'running'")
	  or die 'the worker did not start';
	return $node->safe_psql('postgres',
		"SELECT pid FROM mq.worker_status() WHERE database = 'postgres'");
}

# advance mq's clock (as a superuser with mq.test_clock on)
sub advance
{
	my ($by) = @_;
	$node->safe_psql('postgres', "SET mq.test_clock = on; SELECT mq.advance_clock('$by')");
}

wait_worker();

# --- Delayed messages survive a crash and are released exactly once.
$node->safe_psql('postgres', q{
SELECT count(*) FROM generate_series(1, 3) g,
    LATERAL mq.send('orders', 'cancel ' || g, key => 'o' || g, delay => '1 hour');
});
$node->stop('immediate');
$node->start;
wait_worker();
is($node->safe_psql('postgres', 'SELECT pending FROM mq.delayed'), '3',
	'pending delayed messages survive a crash');
is($node->safe_psql('postgres', 'SELECT count(*) FROM mq.fetch(\'timeouts\')'), '0',
	'and are not released early');
# the clock offset was in shared memory: it starts again from zero
advance('1 hour');
ok($node->poll_query_until('postgres', 'SELECT NOT EXISTS (SELECT 1 FROM mq.delayed)'),
	'due messages are released after the restart');
$node->restart;
wait_worker();
is($node->safe_psql('postgres',
		"SELECT string_agg(payload_text, ',' ORDER BY key) FROM mq.fetch('timeouts')"),
	'cancel 1,cancel 2,cancel 3', 'each released exactly once, restart included');

# --- Check-back resolves a half message whose producer died.
$node->safe_psql('postgres', q{
CREATE TABLE payments (id text PRIMARY KEY, paid boolean);
CREATE FUNCTION payment_checker(m mq.half_messages) RETURNS text
LANGUAGE sql SET search_path = public AS $$
    SELECT CASE (SELECT paid FROM payments WHERE id = m.key)
           WHEN true THEN 'commit' WHEN false THEN 'rollback' ELSE 'unknown' END
$$;
SELECT mq.register_checker('payments', 'payment_checker(mq.half_messages)');
});
my $producer = $node->background_psql('postgres');
my $handle = $producer->query_safe(
	"SELECT mq.prepare('orders', 'payment p1'::text, 'payments', key => 'p1')");
$handle =~ s/\s+//g;
my $producer_pid = $producer->query_safe('SELECT pg_backend_pid()');
# the local transaction commits, then the producer dies before commit_prepared
$node->safe_psql('postgres', "INSERT INTO payments VALUES ('p1', true)");
$node->safe_psql('postgres', "SELECT pg_terminate_backend($producer_pid)");
eval { $producer->quit };
advance('6 s');
ok($node->poll_query_until('postgres',
		"SELECT state = 'committed' AND resolved_by = 'checker' FROM mq.half_messages WHERE handle = '$handle'"),
	'check-back committed the half message of a dead producer');
is($node->safe_psql('postgres',
		"SELECT id = '$handle' FROM mq.fetch('timeouts')"),
	't', 'and it was published with its handle as id');
is($node->safe_psql('postgres', "SELECT mq.commit_prepared('$handle')"), 'f',
	'a late commit_prepared from the producer is answered, not refused');

# --- A checker that fails, or hangs, counts as unknown: after mq.check_max
# checks the half message is unresolved, with a WARNING, and the worker
# keeps working.
my $worker_pid = wait_worker();
$node->safe_psql('postgres', q{
CREATE FUNCTION broken_checker(m mq.half_messages) RETURNS text
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'order service down'; END $$;
CREATE FUNCTION hanging_checker(m mq.half_messages) RETURNS text
LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(60); RETURN 'commit'; END $$;
SELECT mq.register_checker('broken', 'broken_checker(mq.half_messages)');
SELECT mq.register_checker('hanging', 'hanging_checker(mq.half_messages)');
});
my $broken = $node->safe_psql('postgres',
	"SELECT mq.prepare('orders', 'b'::text, 'broken', check_after => '1 s')");
my $hanging = $node->safe_psql('postgres',
	"SELECT mq.prepare('orders', 'h'::text, 'hanging', check_after => '1 s')");
my $log_offset = -s $node->logfile;
for my $check (1 .. 3)
{
	advance('1 s');
	ok($node->poll_query_until('postgres',
			"SELECT bool_and(checks >= $check) FROM mq.half_messages WHERE handle IN ('$broken', '$hanging')"),
		"check $check of the failing and the hanging checker");
}
is($node->safe_psql('postgres',
		"SELECT string_agg(producer_group || ':' || checks || ':' || last_check, ', ' ORDER BY producer_group) FROM mq.unresolved"),
	'broken:3:order service down, hanging:3:canceling statement due to statement timeout',
	'both end in mq.unresolved after mq.check_max checks');
ok($node->wait_for_log(qr/WARNING:  half message $broken of producer group "broken" is unresolved after 3 check-backs/, $log_offset),
	'with a WARNING');
is(wait_worker(), $worker_pid, 'the worker survived its checkers');
is($node->safe_psql('postgres', "SELECT mq.rollback_prepared('$broken'), mq.commit_prepared('$hanging')"),
	't|t', 'unresolved half messages can still be resolved by hand');
is($node->safe_psql('postgres',
		"SELECT errors FROM mq.worker_jobs() WHERE database = 'postgres' AND job = 'checkback'"),
	'0', 'a checker failure is not a job failure');

# --- Retries reach the dead-letter topic after exactly max_retries.
$node->safe_psql('postgres', q{
SELECT mq.create_topic('jobs');
SELECT mq.subscribe('workers', 'jobs', start => 'earliest', max_retries => 3);
SELECT partition FROM mq.send('jobs', 'poison'::text);
});
my $deliveries = 0;
for my $round (1 .. 6)
{
	my $got = $node->safe_psql('postgres', q{
BEGIN;
SELECT topic || ':' || "offset" || ':' || mq.nack('workers', topic, partition, "offset")
  FROM mq.fetch('workers');
SELECT mq.commit('workers');
COMMIT;
});
	my @lines = grep { /:/ } split /\n/, $got;
	$deliveries += scalar @lines;
	last if grep { /:dlq$/ } @lines;
	advance('2 hours');
	$node->poll_query_until('postgres',
		"SELECT NOT EXISTS (SELECT 1 FROM mq.delayed WHERE topic = 'workers.retry')")
	  or die 'retry not released';
}
is($deliveries, 4, 'a message failing every time is delivered 1 + max_retries times');
is($node->safe_psql('postgres',
		"SELECT origin_topic || ':' || attempts FROM mq.dead_letters('workers')"),
	'jobs:4', 'then it is in the dead-letter topic with its attempts');

# --- Retention: whole segments dropped, size bounded, offsets never reused.
# The payloads are random, so compressed batches are as big as the bytes
# sent.
$node->safe_psql('postgres', q{
SELECT mq.create_topic('stream', retention_bytes => 3000000, segment_age => interval '1 day');
SELECT mq.subscribe('reader', 'stream', start => 'earliest');
SELECT mq.subscribe('sleeper', 'stream', start => 'earliest');
});
my @sizes;
for my $round (1 .. 12)
{
	$node->safe_psql('postgres', q{
SELECT count(*) FROM mq.send_batch('stream',
    ARRAY(SELECT (SELECT string_agg(md5(g || '/' || i || '/' || random()), '')
                    FROM generate_series(1, 32) i)
            FROM generate_series(1, 1000) g));
SELECT count(*) FROM mq.fetch('reader', max => 1000);
SELECT mq.roll_segment('stream');
});
	$node->poll_query_until('postgres', q{
SELECT sum(pg_total_relation_size(s.relid)) FILTER (WHERE s.segment_no < (SELECT max(segment_no) FROM mq.segment WHERE topic_id = t.topic_id))
       < 3000000 + (SELECT max(pg_total_relation_size(relid)) FROM mq.segment)
  FROM mq.segment s JOIN mq.topic t USING (topic_id) WHERE t.name = 'stream'})
	  or die 'retention did not run';
	push @sizes, $node->safe_psql('postgres', q{
SELECT sum(pg_total_relation_size(s.relid)) FROM mq.segment s JOIN mq.topic t USING (topic_id)
 WHERE t.name = 'stream'});
}
cmp_ok($sizes[-1], '<', 6_000_000, "total size stays bounded over 12 rounds of 1000 messages (last $sizes[-1] bytes)");
cmp_ok($sizes[-1], '<=', $sizes[3] * 1.5, 'and does not grow with the rounds');
my ($segments, $log_start) = split /\|/, $node->safe_psql('postgres',
	"SELECT (SELECT segments FROM mq.topics WHERE name = 'stream'), log_start_offset FROM mq.partitions WHERE topic = 'stream'");
cmp_ok($segments, '<', 12, "old segments were dropped ($segments left)");
cmp_ok($log_start, '>', 0, "the log start moved to $log_start");
is($node->safe_psql('postgres',
		"SELECT below_log_start FROM mq.lag WHERE \"group\" = 'sleeper'"),
	't', 'a group left behind is reported below the log start');
is($node->safe_psql('postgres', "SELECT min(\"offset\") = $log_start FROM mq.fetch('sleeper', max => 10)"),
	't', 'and continues from the log start');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_user_tables WHERE relname LIKE 'seg\\_%' AND n_tup_del > 0"),
	'0', 'retention never deletes rows');

# Empty the partition entirely by time: the next offset still follows on.
my $end = $node->safe_psql('postgres', "SELECT end_offset FROM mq.partitions WHERE topic = 'stream'");
$node->safe_psql('postgres', q{
SELECT mq.alter_topic('stream', retention => interval '1 second', unlimited_retention_bytes => true);
SELECT mq.roll_segment('stream');
});
sleep(2);
$node->safe_psql('postgres', "SELECT mq.roll_segment('stream')");
ok($node->poll_query_until('postgres',
		"SELECT log_start_offset = $end FROM mq.partitions WHERE topic = 'stream'"),
	'retention by time dropped every message');
$node->restart;
wait_worker();
$node->safe_psql('postgres', "SELECT partition FROM mq.send('stream', 'after'::text)");
cmp_ok($node->safe_psql('postgres', q{SELECT max("offset") FROM mq.read('stream', 0, 0, 100000)}), '>=', $end,
	'after a restart, an emptied partition does not reuse an offset');

$node->stop;
done_testing();
