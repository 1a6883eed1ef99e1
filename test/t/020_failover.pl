# Failover to a synchronous standby under load.  A primary with a
# synchronous standby (synchronous_commit = on) runs producers, each
# sending one message in a business transaction that also inserts into
# "sent", and consumers that store what they fetch in "consumed" and
# commit the group's position in the same transaction.  A delayed message,
# a pending retry and a half message with a registered checker wait.  The
# primary's postmaster is killed (SIGKILL) during the load, the standby,
# which had loaded the topic before (mq.partitions), is promoted, and new
# producers and consumers run there until the topic is drained.  Then the
# history: every message whose COMMIT returned is stored and consumed once;
# messages and business rows are the same set; no (partition, offset) is
# used twice; offsets sent on the new primary are past every earlier one;
# committed positions carried over; and the new primary's worker releases
# the delayed message, delivers the retry and resolves the half message by
# check-back.  mq's clock is moved (mq.test_clock) so nothing sleeps for
# the delays.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mq'
synchronous_commit = on
});
$primary->start;
$primary->safe_psql('postgres', q{
CREATE EXTENSION mq;
CREATE TABLE sent (id text PRIMARY KEY);
-- no unique key: a message consumed twice shows as two rows
CREATE TABLE consumed (id text, topic_offset bigint, partition integer);
SELECT mq.create_topic('load', partitions => 4);
SELECT mq.subscribe('g', 'load', start => 'earliest');

SELECT mq.create_topic('later');
SELECT mq.subscribe('d', 'later', start => 'earliest');
SELECT mq.create_topic('jobs');
SELECT mq.subscribe('r', 'jobs', start => 'earliest');
SELECT mq.create_topic('orders');
SELECT mq.subscribe('h', 'orders', start => 'earliest');
CREATE TABLE payments (id text PRIMARY KEY, paid boolean);
CREATE FUNCTION payment_checker(m mq.half_messages) RETURNS text
LANGUAGE sql SET search_path = public AS $$
    SELECT CASE (SELECT paid FROM payments WHERE id = m.key)
           WHEN true THEN 'commit' WHEN false THEN 'rollback' ELSE 'unknown' END
$$;
SELECT mq.register_checker('payments', 'payment_checker(mq.half_messages)');
});

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
# The walreceiver's application_name is the node's cluster_name.
$primary->append_conf('postgresql.conf', "synchronous_standby_names = 'standby'");
$primary->reload;
$primary->poll_query_until('postgres', q{
SELECT sync_state = 'sync' FROM pg_stat_replication WHERE application_name = 'standby'})
  or die 'the standby did not become synchronous';

# Timed work pending before the kill, due in an hour on mq's clock: a
# delayed message, a retry (nacked and committed past), and a half message
# whose local transaction committed but whose producer never said so.
$primary->safe_psql('postgres', q{
SELECT partition FROM mq.send('later', 'later-1'::text, delay => '1 h');
SELECT partition FROM mq.send('jobs', 'job-a'::text, key => 'a');
});
$primary->safe_psql('postgres', q{
BEGIN;
SELECT count(*) FROM mq.fetch('r', 'jobs');
SELECT mq.nack('r', 'jobs', 0, 0, delay => '1 h');
SELECT mq.commit('r');
COMMIT;
});
my $handle = $primary->safe_psql('postgres', q{
SELECT mq.prepare('orders', 'pay p1'::text, 'payments', key => 'p1', check_after => '1 h')});
$primary->safe_psql('postgres', "INSERT INTO payments VALUES ('p1', true)");
is($primary->safe_psql('postgres', q{
SELECT string_agg(topic || '=' || pending, ' ' ORDER BY topic) FROM mq.delayed}),
	'later=1 r.retry=1', 'before the kill, a delayed message and a retry wait');
is($primary->safe_psql('postgres', "SELECT state FROM mq.half_messages WHERE handle = '$handle'"),
	'prepared', 'and a half message waits for its check-back');

# A producer: each business transaction inserts its ids into "sent" and
# sends them, one message with mq.send, or with $batch a batch of that many
# to one partition; the ids are logged once COMMIT returned (acknowledged).
sub start_producer
{
	my ($node, $name, $iterations, $batch) = @_;
	my $script = "$PostgreSQL::Test::Utils::tmp_check/$name.sql";
	open(my $fh, '>', $script) or die "cannot write $script: $!";
	for my $i (1 .. $iterations)
	{
		if ($batch)
		{
			my @ids = map { "'$name-$i-$_'" } 1 .. $batch;
			my $array = 'ARRAY[' . join(',', @ids) . ']';
			my $partition = $i % 4;
			print $fh "BEGIN;\nINSERT INTO sent SELECT unnest($array);\n";
			print $fh "SELECT count(*) FROM mq.send_batch('load', $array, partition => $partition) \\gset\n";
			print $fh "COMMIT;\n\\echo acked ", join(' ', map { s/'//gr } @ids), "\n";
			next;
		}
		my $key = $i % 7;
		print $fh "BEGIN;\nINSERT INTO sent VALUES ('$name-$i');\n";
		print $fh "SELECT partition FROM mq.send('load', '$name-$i'::text, key => 'k$key') \\gset\n";
		print $fh "COMMIT;\n\\echo acked $name-$i\n";
	}
	close($fh);
	my $log = "$PostgreSQL::Test::Utils::tmp_check/$name.log";
	return IPC::Run::start(
		[
			'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
			'-d', $node->connstr('postgres') . " application_name=$name",
			'-f', $script
		],
		'>', $log, '2>', "$log.err");
}

# A consumer: each transaction polls a batch, stores it in "consumed" and
# commits the group's positions; the ids are logged once COMMIT returned.
sub start_consumer
{
	my ($node, $name, $iterations) = @_;
	my $script = "$PostgreSQL::Test::Utils::tmp_check/$name.sql";
	open(my $fh, '>', $script) or die "cannot write $script: $!";
	for my $i (1 .. $iterations)
	{
		print $fh qq{BEGIN;
WITH c AS (
    INSERT INTO consumed
    SELECT payload_text, "offset", partition
      FROM mq.poll('g', 'load', max => 50, wait => '100 ms')
    RETURNING id)
SELECT coalesce(string_agg(id, ' '), '') AS ids FROM c \\gset
SELECT mq.commit('g') \\gset
COMMIT;
\\echo consumed :ids
};
	}
	close($fh);
	my $log = "$PostgreSQL::Test::Utils::tmp_check/$name.log";
	return IPC::Run::start(
		[
			'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
			'-d', $node->connstr('postgres') . " application_name=$name",
			'-f', $script
		],
		'>', $log, '2>', "$log.err");
}

# What a client logged: ids after "acked" or "consumed", with their count.
sub logged
{
	my ($word, @names) = @_;
	my %ids;
	for my $name (@names)
	{
		my $log = slurp_file("$PostgreSQL::Test::Utils::tmp_check/$name.log");
		while ($log =~ /^$word (.*)$/mg)
		{
			$ids{$_}++ for split ' ', $1;
		}
	}
	return \%ids;
}

my $iterations = 5000;
my @phase1 = map { start_producer($primary, "p$_", $iterations) } 1 .. 2;
push @phase1, start_producer($primary, 'p3', $iterations, 20);
push @phase1, map { start_consumer($primary, "c$_", $iterations) } 1 .. 2;

# The standby describes the topic during the load, which loads it into its
# shared memory, then the primary hands out offsets past the high marks the
# standby loaded (the case of commit c3a3a4c).
$primary->poll_query_until('postgres', 'SELECT count(*) >= 200 FROM sent')
  or die 'the producers did not get going';
my $marks = $standby->safe_psql('postgres', q{
SELECT string_agg(format('(%s, %s)', partition, high_mark), ',')
  FROM mq.partitions WHERE topic = 'load'});
is(scalar(() = $marks =~ /\(/g), 4, 'the standby describes (and so loads) the topic during the load');
$primary->poll_query_until('postgres', qq{
SELECT bool_or(p.end_offset > m.high_mark) AND (SELECT count(*) >= 200 FROM consumed)
  FROM mq.partitions p JOIN (VALUES $marks) m(partition, high_mark) USING (partition)
 WHERE p.topic = 'load'})
  or die 'the load did not go past the high marks the standby loaded';

$primary->kill9;
$_->finish for @phase1;
my $acked = logged('acked', 'p1', 'p2', 'p3');
my $consumed_before = logged('consumed', 'c1', 'c2');
cmp_ok(scalar(keys %$acked), '>', 1000, scalar(keys %$acked) . ' sends were acknowledged before the kill');
cmp_ok(scalar(keys %$acked), '<', 22 * $iterations, 'and the kill interrupted the producers');
cmp_ok(scalar(keys %$consumed_before), '>', 0,
	scalar(keys %$consumed_before) . ' messages were consumed in committed transactions before the kill');

$standby->promote;
$standby->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM mq.worker_status() WHERE database = 'postgres' AND state = 'running'")
  or die 'the worker did not start after promotion';

# What the old primary left: offsets and positions.
my %max_before;
for my $line (split /\n/, $standby->safe_psql('postgres', q{
SELECT partition, max("offset") FROM mq.messages('load') GROUP BY partition}))
{
	my ($p, $o) = split /\|/, $line;
	$max_before{$p} = $o;
}
is($standby->safe_psql('postgres', q{
SELECT count(*) FROM (SELECT partition, max(topic_offset) AS o FROM consumed GROUP BY partition) c
  JOIN mq.lag l ON l."group" = 'g' AND l.topic = 'load' AND l.partition = c.partition
 WHERE l.committed_offset <= c.o}),
	'0', 'every committed position carried over, past what its transaction consumed');
my $stored = $standby->safe_psql('postgres', 'SELECT string_agg(id, \' \') FROM consumed');
my %stored_consumed = map { $_ => 1 } split ' ', $stored;
is(scalar(grep { !$stored_consumed{$_} } keys %$consumed_before), 0,
	'every consumption whose COMMIT returned is on the new primary');

# The load goes on against the new primary, then the topic is drained.
my @phase2 = map { start_producer($standby, "q$_", 200) } 1 .. 2;
push @phase2, start_consumer($standby, 'c3', 100);
is(scalar(grep { !$_->finish } @phase2), 0,
	'producers and consumers run to the end on the new primary (no send hits a used offset)');
my $drained = 0;
for (1 .. 1000)
{
	my $n = $standby->safe_psql('postgres', q{
BEGIN;
WITH c AS (
    INSERT INTO consumed
    SELECT payload_text, "offset", partition FROM mq.fetch('g', 'load', max => 500)
    RETURNING 1)
SELECT count(*) FROM c;
SELECT mq.commit('g');
COMMIT;});
	if ((split /\n/, $n)[0] eq '0')
	{
		$drained = 1;
		last;
	}
}
ok($drained, 'the new primary drained the topic');
my $acked2 = logged('acked', 'q1', 'q2');
is(scalar(keys %$acked2), 400, 'every send on the new primary was acknowledged');

# The history.
my %messages;
my ($reused, $not_past) = (0, 0);
my %slot;
for my $line (split /\n/, $standby->safe_psql('postgres', q{
SELECT partition, "offset", payload_text FROM mq.messages('load')}))
{
	my ($p, $o, $id) = split /\|/, $line;
	$reused++ if $slot{"$p/$o"}++;
	$messages{$id}++;
	$not_past++ if $id =~ /^q/ && $o <= ($max_before{$p} // -1);
}
is($reused, 0, 'no (partition, offset) holds two messages');
is($not_past, 0, 'offsets sent on the new primary are past those of the old one');
is(scalar(grep { $messages{$_} != 1 } keys %messages), 0, 'no message is stored twice');
is(scalar(grep { !$messages{$_} } (keys %$acked, keys %$acked2)), 0,
	'every acknowledged message is in the topic');
is($standby->safe_psql('postgres', q{
SELECT count(*) FROM sent s FULL JOIN (SELECT payload_text AS id FROM mq.messages('load')) m USING (id)
 WHERE s.id IS NULL OR m.id IS NULL}),
	'0', 'the messages are exactly the business rows ("sent") that committed');
is($standby->safe_psql('postgres', q{
SELECT count(*) FROM (SELECT id FROM consumed GROUP BY id HAVING count(*) > 1) d}),
	'0', 'no message was consumed twice');
is($standby->safe_psql('postgres', q{
SELECT count(*) FROM (SELECT partition, topic_offset FROM consumed
                      GROUP BY partition, topic_offset HAVING count(DISTINCT id) > 1) d}),
	'0', 'no offset was consumed as two different messages');
is($standby->safe_psql('postgres', q{
SELECT count(*) FROM sent s FULL JOIN consumed c USING (id) WHERE s.id IS NULL OR c.id IS NULL}),
	'0', 'every message was consumed');

# The new primary's worker does the timed work the old one left.
is($standby->safe_psql('postgres', q{
SELECT string_agg(topic || '=' || pending, ' ' ORDER BY topic) FROM mq.delayed}),
	'later=1 r.retry=1', 'the delayed message and the retry still wait');
$standby->safe_psql('postgres', "SET mq.test_clock = on; SELECT mq.advance_clock('2 hours')");
ok($standby->poll_query_until('postgres', q{
SELECT NOT EXISTS (SELECT 1 FROM mq.delayed)}),
	'the new primary releases them when due');
is($standby->safe_psql('postgres', "SELECT string_agg(payload_text, ',') FROM mq.fetch('d', 'later')"),
	'later-1', 'the delayed message is delivered once');
is($standby->safe_psql('postgres', q{
SELECT string_agg(payload_text || ' attempt ' || (headers ->> 'mq.attempt'), ',')
  FROM mq.fetch('r')}),
	'job-a attempt 1', 'the retry is delivered');
ok($standby->poll_query_until('postgres', qq{
SELECT state = 'committed' AND resolved_by = 'checker' FROM mq.half_messages WHERE handle = '$handle'}),
	'check-back on the new primary commits the half message');
is($standby->safe_psql('postgres', "SELECT id = '$handle' FROM mq.fetch('h', 'orders')"),
	't', 'and it is delivered with its handle as id');

$standby->stop;
done_testing();
