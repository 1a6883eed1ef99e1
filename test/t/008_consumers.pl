# Consumer groups under load: three transactional consumers and two
# producers on a 4-partition topic, with one more consumer killed in the
# middle of a transaction.  Afterwards every committed message was applied
# exactly once and per-key order held.  Then: long polling wakes within
# milliseconds of a commit, and the worker expires members that miss their
# session timeout.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('consumers');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mq'
mq.worker_naptime = '100ms'
max_connections = 40
});
$node->start;

$node->safe_psql('postgres', q{
CREATE EXTENSION mq;
SELECT mq.create_topic('orders', partitions => 4);
SELECT mq.subscribe('cart', 'orders', start => 'earliest');
CREATE SEQUENCE gseq;
-- what the producers committed, in the same transactions as the sends
CREATE TABLE produced (seq bigint PRIMARY KEY, key text NOT NULL);
-- what the consumers applied, in the same transactions as their commits
CREATE TABLE applied (n bigserial PRIMARY KEY, msg_id uuid NOT NULL,
                      key text NOT NULL, seq bigint NOT NULL,
                      part integer NOT NULL, off bigint NOT NULL);
});

my $dir = PostgreSQL::Test::Utils::tempdir;
# Each producer client owns its keys, so their sequence numbers increase
# in the order the producer committed them.
PostgreSQL::Test::Utils::append_to_file("$dir/produce.sql", q{
\set k random(1, 8)
BEGIN;
SELECT nextval('gseq') AS seq \gset
INSERT INTO produced VALUES (:seq, 'p' || :client_id || '-' || :k);
SELECT partition FROM mq.send('orders', 'charge'::text,
    key => 'p' || :client_id || '-' || :k,
    headers => jsonb_build_object('seq', :seq));
COMMIT;
});
# The transactional consumer: effects and position in one transaction.
my $consume_sql = q{
BEGIN;
INSERT INTO applied (msg_id, key, seq, part, off)
SELECT id, key, (headers ->> 'seq')::bigint, partition, "offset"
  FROM mq.fetch('cart', max => 20);
SELECT mq.commit('cart');
COMMIT;
};
PostgreSQL::Test::Utils::append_to_file("$dir/consume.sql", $consume_sql);

sub pgbench
{
	my ($script, $clients, $seconds) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'pgbench', '-n', '-h', $node->host, '-p', $node->port,
			'-c', $clients, '-j', $clients, '-T', $seconds,
			'-f', $script, 'postgres'
		],
		'>', \$out, '2>', \$err);
	return ($h, \$out, \$err);
}

my ($producers, $pout, $perr) = pgbench("$dir/produce.sql", 2, 6);

# A fourth consumer claims partitions in a transaction before the others
# start, and dies in it while they run.
usleep(1_000_000);
my $victim = $node->background_psql('postgres');
$victim->query_safe('BEGIN');
my $victim_rows = $victim->query_safe(q{
INSERT INTO applied (msg_id, key, seq, part, off)
SELECT id, key, (headers ->> 'seq')::bigint, partition, "offset"
  FROM mq.fetch('cart', max => 20) RETURNING part});
my %victim_parts = map { $_ => 1 } split /\n/, $victim_rows;
ok(%victim_parts, 'the doomed consumer claimed partitions ' . join(',', sort keys %victim_parts));
my $victim_pid = $victim->query_safe('SELECT pg_backend_pid()');

my ($consumers, $cout, $cerr) = pgbench("$dir/consume.sql", 3, 7);
usleep(2_000_000);
$node->safe_psql('postgres', "SELECT pg_terminate_backend($victim_pid)");
eval { $victim->quit; };

$producers->finish;
$consumers->finish;
like($$pout, qr/number of failed transactions: 0/, 'the producers ran without errors')
  or diag($$perr);
like($$cout, qr/number of failed transactions: 0/, 'the consumers ran without errors')
  or diag($$cerr);

# Drain what is left.
for (my $i = 0; $i < 1000; $i++)
{
	last if $node->safe_psql('postgres',
		"SELECT sum(lag) FROM mq.lag WHERE \"group\" = 'cart'") eq '0';
	$node->safe_psql('postgres', $consume_sql);
}

my $produced = $node->safe_psql('postgres', 'SELECT count(*) FROM produced');
note("$produced messages produced");
cmp_ok($produced, '>', 100, 'the producers sent a fair number of messages');
is($node->safe_psql('postgres', 'SELECT count(*) FROM applied'),
	$produced, 'every committed message was applied');
is($node->safe_psql('postgres', 'SELECT count(DISTINCT msg_id) FROM applied'),
	$produced, 'and none twice');
is($node->safe_psql('postgres',
		'SELECT count(*) FROM produced p LEFT JOIN applied a USING (seq) WHERE a.seq IS NULL'),
	'0', 'the applied messages are exactly the produced ones');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM (
  SELECT seq < lag(seq) OVER (PARTITION BY key ORDER BY n) AS backwards
    FROM applied) x
 WHERE backwards}),
	'0', 'each key was applied in the order it was produced');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM (
  SELECT off <> lag(off) OVER (PARTITION BY part ORDER BY n) + 1 AS gap
    FROM applied) x
 WHERE gap}),
	'0', 'each partition was applied in offset order with no gap');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM mq.lag WHERE \"group\" = 'cart' AND committed_offset <> stable_offset"),
	'0', 'every position is at the stable offset');

# Long polling: a poll that is waiting wakes when a message commits.
$node->safe_psql('postgres', "SELECT mq.subscribe('waiter', 'orders')");
my $poller = $node->background_psql('postgres');
$poller->query_until(qr/polling/, q{
\echo polling
SELECT extract(epoch FROM clock_timestamp()), count(*) FROM mq.poll('waiter', wait => '60 s');
});
usleep(500_000);
my $committed = $node->safe_psql('postgres', q{
SELECT partition FROM mq.send('orders', 'wake up'::text);
SELECT extract(epoch FROM clock_timestamp());
});
$committed = (split /\n/, $committed)[-1];
my $woke = $poller->query_safe('SELECT 1');
my ($returned, $count) = split /\|/, (split /\n/, $woke)[0];
is($count, '1', 'the poll returned the message');
my $latency_ms = ($returned - $committed) * 1000;
cmp_ok($latency_ms, '<', 60_000, 'before its wait was over');
diag(sprintf("long poll woke %.1f ms after the sender's commit returned", $latency_ms));
$poller->quit;

# Auto-commit: a batch is leased, not committed; another consumer skips
# the partition until the lease expires, then gets the same messages
# (at-least-once), and the first consumer's late commit does not count.
$node->safe_psql('postgres', q{
SELECT mq.create_topic('leased');
SELECT mq.subscribe('lease-group', 'leased', start => 'earliest');
SELECT count(*) FROM mq.send_batch('leased', ARRAY['a', 'b', 'c']);
});
my $first = $node->background_psql('postgres');
$first->query_safe("SET mq.auto_commit_timeout = '1s'");
is($first->query_safe(
		"SELECT string_agg(\"offset\"::text, ',') FROM mq.fetch('lease-group', auto_commit => true)"),
	'0,1,2', 'an auto-commit fetch gets the batch');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM mq.fetch('lease-group', auto_commit => true)"),
	'0', 'another consumer skips the leased partition');
usleep(1_200_000);
my $second = $node->background_psql('postgres');
is($second->query_safe(
		"SELECT string_agg(\"offset\"::text, ',') FROM mq.fetch('lease-group', auto_commit => true)"),
	'0,1,2', 'once the lease expired, the batch is delivered again');
is($first->query_safe("SELECT mq.commit('lease-group')"),
	'0', 'the first consumer lost its lease: its commit commits nothing');
is($second->query_safe("SELECT mq.commit('lease-group')"),
	'1', 'the second consumer commits the batch');
is($node->safe_psql('postgres',
		"SELECT committed_offset FROM mq.lag WHERE \"group\" = 'lease-group'"),
	'3', 'and the position is past it');
$first->quit;
$second->quit;

# The worker expires a member that stops sending heartbeats, and the group
# rebalances without it.
$node->safe_psql('postgres', q{
SELECT mq.join('cart', 'steady', session_timeout => '1 hour');
SELECT mq.join('cart', 'flaky', session_timeout => '1 s');
});
my $generation = $node->safe_psql('postgres',
	"SELECT generation FROM mq.groups WHERE \"group\" = 'cart'");
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM mq.members WHERE \"group\" = 'cart'"),
	'the worker expired the member that missed its session timeout');
is($node->safe_psql('postgres', "SELECT member_id, assignment FROM mq.members WHERE \"group\" = 'cart'"),
	'steady|{"orders": [0, 1, 2, 3]}', 'its partitions went to the other member');
cmp_ok($node->safe_psql('postgres', "SELECT generation FROM mq.groups WHERE \"group\" = 'cart'"),
	'>', $generation, 'in a new generation');

$node->stop;
done_testing();
