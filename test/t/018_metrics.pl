# mq.metrics across the worker, restarts and crashes, and through
# postgres_exporter: the worker's releases and the dead letters of a retry
# count; the counters survive a clean restart and start from zero after a
# crash (a backend killed, or an immediate stop); a corrupt file is
# ignored; DROP EXTENSION forgets them; a full directory never fails a
# send; and postgres_exporter, run with docs/postgres_exporter.yaml,
# exposes them with the right values.  mq's clock is moved by the test
# (mq.test_clock), so nothing sleeps for the real delays.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use HTTP::Tiny;
use IPC::Run;
use Time::HiRes qw(usleep);
use File::Basename qw(dirname);
use Cwd qw(abs_path);

my $node = PostgreSQL::Test::Cluster->new('metrics');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mq'
mq.worker_naptime = '100ms'
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION mq;
SELECT mq.create_topic('orders', partitions => 2);
SELECT mq.subscribe('billing', 'orders', start => 'earliest', max_retries => 1);
});

sub wait_worker
{
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM mq.worker_status() WHERE database = 'postgres' AND state = 'running'")
	  or die 'the worker did not start';
}

sub advance
{
	my ($by) = @_;
	$node->safe_psql('postgres', "SET mq.test_clock = on; SELECT mq.advance_clock('$by')");
}

# All rows, as "topic/group: produced released delivered acknowledged
# nacked dead_lettered", one per line.
sub metrics
{
	return $node->safe_psql('postgres', q{
SELECT topic || '/' || coalesce("group", '') || ': ' ||
       concat_ws(' ', produced, released, delivered, acknowledged, nacked, dead_lettered)
  FROM mq.metrics ORDER BY topic, "group" NULLS FIRST});
}

wait_worker();

# --- The worker's releases count, and so do dead letters of a retry.
$node->safe_psql('postgres', q{
SELECT mq.send('orders', 'later', delay => '1 hour');
});
is(metrics(), '', 'a delayed send produces nothing until it is released');
advance('1 hour');
$node->poll_query_until('postgres', 'SELECT NOT EXISTS (SELECT 1 FROM mq.delayed)')
  or die 'the delayed message was not released';
is(metrics(), 'orders/: 1 1 0 0 0 0', 'the release counts as released and produced');

# The group fails the message: a retry, released by the worker into
# billing.retry; it fails again there and max_retries => 1 sends it to the
# dead letters.
$node->safe_psql('postgres', q{
BEGIN;
SELECT mq.nack('billing', topic, partition, "offset") FROM mq.fetch('billing');
SELECT mq.commit('billing');
COMMIT;
});
advance('1 hour');
$node->poll_query_until('postgres', 'SELECT NOT EXISTS (SELECT 1 FROM mq.delayed)')
  or die 'the retry was not released';
is($node->safe_psql('postgres', q{
BEGIN;
SELECT mq.nack('billing', topic, partition, "offset") FROM mq.fetch('billing');
SELECT mq.commit('billing');
COMMIT;
}), "dlq\n1", 'the second failure goes to the dead letters');
my $expected = join("\n",
	'billing.dlq/: 1 0 0 0 0 0',
	'billing.retry/: 1 1 0 0 0 0',
	'billing.retry/billing: 0 0 1 1 1 1',
	'orders/: 1 1 0 0 0 0',
	'orders/billing: 0 0 1 1 1 0');
is(metrics(), $expected, 'retries and dead letters count where they happen');
is($node->safe_psql('postgres',
		"SELECT errors FROM mq.worker_jobs() WHERE database = 'postgres' AND job = 'metrics'"),
	'0', 'the metrics job runs without errors');

# --- A clean restart keeps the counters and their start times.
my $since = $node->safe_psql('postgres',
	"SELECT stats_reset FROM mq.metrics WHERE topic = 'orders' AND \"group\" IS NULL");
$node->restart;
wait_worker();
is(metrics(), $expected, 'the counters survive a clean restart');
is($node->safe_psql('postgres',
		"SELECT stats_reset FROM mq.metrics WHERE topic = 'orders' AND \"group\" IS NULL"),
	$since, 'and so does their start time');
ok(!-e $node->data_dir . '/pg_stat/mq_metrics.stat',
	'the file is removed once read');

# --- A crash starts them from zero: a process killed with SIGKILL (the
# worker, here) makes the postmaster reinitialise shared memory.
$node->safe_psql('postgres', "SELECT mq.send('orders', 'before the crash')");
my $log_offset = -s $node->logfile;
kill 'KILL', $node->safe_psql('postgres',
	"SELECT pid FROM mq.worker_status() WHERE database = 'postgres'");
$node->wait_for_log(qr/all server processes terminated; reinitializing/,
	$log_offset);
$node->poll_query_until('postgres', 'SELECT true') or die 'no restart after the crash';
wait_worker();
is(metrics(), '', 'a crash (a backend killed) starts the counters from zero');
ok(-e $node->data_dir . '/pg_stat' && !-e $node->data_dir . '/pg_stat/mq_metrics.stat',
	'and leaves no file');

# An immediate stop needs crash recovery too: nothing is kept.
$node->safe_psql('postgres', "SELECT mq.send('orders', 'before the stop')");
is(metrics(), 'orders/: 1 0 0 0 0 0', 'counting again after the crash');
$node->stop('immediate');
$node->start;
wait_worker();
is(metrics(), '', 'an immediate stop starts the counters from zero');

# --- A file that is not a valid one is ignored, with a LOG line.
$node->safe_psql('postgres', "SELECT mq.send('orders', 'kept')");
$node->stop;
my $file = $node->data_dir . '/pg_stat/mq_metrics.stat';
ok(-s $file, 'a clean stop writes the file');
{
	open my $fh, '+<', $file or die "open $file: $!";
	binmode $fh;
	seek $fh, 20, 0;
	print $fh "\xff\xff\xff\xff";
	close $fh;
}
$log_offset = -s $node->logfile;
$node->start;
wait_worker();
is(metrics(), '', 'a corrupt file is ignored');
ok($node->log_contains(
		qr/ignoring mq metrics file "pg_stat\/mq_metrics.stat": its checksum does not match/,
		$log_offset),
	'and says so in the log');
ok(!-e $file, 'and removed');

# --- postgres_exporter with docs/postgres_exporter.yaml, connected as a
# role with the grants docs/metrics.md gives it, exposes the counters and
# the lags.
$node->safe_psql('postgres', q{
BEGIN;
SELECT count(*) FROM mq.fetch('billing', max => 1000);
SELECT mq.commit('billing');
COMMIT;
SELECT mq.subscribe('workers', 'orders', mode => 'shared', start => 'latest');
SELECT mq.reset_metrics();
CREATE ROLE mq_exporter LOGIN;
GRANT USAGE ON SCHEMA mq TO mq_exporter;
GRANT SELECT ON mq.metrics, mq.lag, mq.shared_lag TO mq_exporter;
GRANT EXECUTE ON FUNCTION mq.metric_counters(), mq.partition_offsets(text),
    mq.first_unconsumed_at(text, integer, bigint), mq.share_windows()
    TO mq_exporter;
SELECT mq.grant_topic('orders', 'manage', 'mq_exporter');
SELECT mq.grant_group('billing', 'manage', 'mq_exporter');
SELECT mq.grant_group('workers', 'manage', 'mq_exporter');
SELECT mq.send('orders', 'abcd', partition => 0);
SELECT mq.send('orders', 'efghij', partition => 1);
BEGIN;
SELECT count(*) FROM mq.fetch('billing', 'orders', partition => 0);
SELECT mq.commit('billing');
COMMIT;
});
my $yaml = abs_path(dirname(__FILE__) . '/../../docs/postgres_exporter.yaml');
my $exporter_port = PostgreSQL::Test::Cluster::get_free_port();
local $ENV{DATA_SOURCE_NAME} = 'host=' . $node->host . ' port=' . $node->port
  . ' dbname=postgres user=mq_exporter sslmode=disable';
my ($out, $err) = ('', '');
my $exporter = IPC::Run::start(
	[
		'prometheus-postgres-exporter', "--extend.query-path=$yaml",
		"--web.listen-address=127.0.0.1:$exporter_port",
		'--disable-default-metrics', '--disable-settings-metrics',
		'--no-collector.database', '--no-collector.bgwriter'
	],
	'>', \$out, '2>', \$err);
my $scrape = '';
for (1 .. 100)
{
	my $r = HTTP::Tiny->new(timeout => 5)
	  ->get("http://127.0.0.1:$exporter_port/metrics");
	if ($r->{success} && $r->{content} =~ /^mq_topic_/m)
	{
		$scrape = $r->{content};
		last;
	}
	usleep(100_000);
}
$exporter->kill_kill;
note "exporter stderr: $err" if $scrape eq '';

sub sample
{
	my ($name, %labels) = @_;
	for my $line (split /\n/, $scrape)
	{
		next unless $line =~ /^\Q$name\E(?:\{([^}]*)\})? (\S+)$/;
		my ($l, $v) = ($1, $2);
		my %got = map { /^(\w+)="(.*)"$/ ? ($1, $2) : () } split /,/, $l // "";
		next if grep { ($got{$_} // '') ne $labels{$_} } keys %labels;
		return $v + 0;
	}
	return undef;
}
is(sample('pg_exporter_user_queries_load_error'), 0,
	'the exporter loads the queries file');
is(sample('pg_exporter_last_scrape_error'), 0, 'and runs every query');
is(sample('mq_topic_produced_messages_total', topic => 'orders'), 2,
	'produced messages');
is(sample('mq_topic_produced_bytes_total', topic => 'orders'), 10,
	'produced bytes');
is(sample('mq_topic_released_messages_total', topic => 'orders'), 0,
	'released messages');
is(sample('mq_group_delivered_messages_total', topic => 'orders', group => 'billing'),
	1, 'delivered messages');
is(sample('mq_group_delivered_bytes_total', topic => 'orders', group => 'billing'),
	4, 'delivered bytes');
is(sample('mq_group_acknowledged_messages_total', topic => 'orders', group => 'billing'),
	1, 'acknowledged messages');
is(sample('mq_group_nacked_messages_total', topic => 'orders', group => 'billing'),
	0, 'nacked messages');
is(sample('mq_group_dead_lettered_messages_total', topic => 'orders', group => 'billing'),
	0, 'dead-lettered messages');
ok(sample('mq_group_stats_reset_timestamp_seconds', topic => 'orders', group => 'billing') > 0,
	'start time of the counters');
is(sample('mq_lag_messages', group => 'billing', topic => 'orders', partition => '1'),
	1, 'lag of a group');
ok(sample('mq_lag_oldest_unconsumed_age_seconds', group => 'billing', topic => 'orders',
		partition => '1') > 0,
	'age of its oldest unconsumed message');
is(sample('mq_shared_lag_unacked', group => 'workers', topic => 'orders', partition => '1'),
	1, 'unacknowledged messages of a shared group');
is(sample('mq_shared_lag_in_flight', group => 'workers', topic => 'orders', partition => '1'),
	0, 'in flight in a shared group');

# --- DROP EXTENSION forgets the database's counters: ids start again.
$node->safe_psql('postgres', q{
DROP EXTENSION mq CASCADE;
CREATE EXTENSION mq;
SELECT mq.create_topic('fresh');
});
is($node->safe_psql('postgres', 'SELECT count(*) FROM mq.metric_counters()'),
	'0', 'DROP EXTENSION forgets the counters of its topics and groups');

# --- A full directory counts into nothing, says so once, and never fails
# a send.
$node->append_conf('postgresql.conf', 'mq.max_metrics = 16');
$node->restart;
wait_worker();
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', q{
SELECT mq.create_topic('full.' || g) FROM generate_series(1, 20) g;
});
for my $g (1 .. 20)
{
	$node->safe_psql('postgres', "SELECT mq.send('full.$g', 'x')");
}
is($node->safe_psql('postgres',
		"SELECT count(*) FROM mq.metrics WHERE topic LIKE 'full.%'"),
	'16', 'a full directory keeps the rows it has');
is($node->safe_psql('postgres',
		"SELECT used || '/' || capacity FROM mq.shmem_usage() WHERE area = 'metrics'"),
	'16/16', 'mq.shmem_usage() shows it full');
is($node->safe_psql('postgres', "SELECT count(*) FROM mq.messages('full.20')"),
	'1', 'and the sends past it are written');
my $log = slurp_file($node->logfile, $log_offset);
my $lines = () = $log =~ /all 16 mq metrics slots are in use/g;
is($lines, 1, 'the log says so once');

$node->stop;
done_testing();
