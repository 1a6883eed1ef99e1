# Offsets across restarts and crashes: an aborted tail is never reused,
# and after a SIGKILL during heavy sends every acknowledged message is
# readable exactly once and new offsets continue past all earlier ones.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('offsets');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mq'
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION mq');

sub end_offset
{
	my ($topic, $partition) = @_;
	return $node->safe_psql('postgres',
		"SELECT end_offset FROM mq.partitions WHERE topic = '$topic' AND partition = $partition");
}

sub offset_of_send
{
	my ($topic) = @_;
	$node->safe_psql('postgres', "SELECT partition FROM mq.send('$topic', 'probe'::text, partition => 0)");
	return $node->safe_psql('postgres',
		"SELECT max(\"offset\") FROM mq.read('$topic', 0, 0, 100000)");
}

# An aborted tail: the rolled-back transaction wrote early and took
# offsets 3, then it aborted.  After a crash (immediate stop) the next
# offset is past it.
$node->safe_psql('postgres', "SELECT mq.create_topic('tail')");
$node->safe_psql('postgres',
	"SELECT partition FROM generate_series(1, 3) g, LATERAL mq.send('tail', g::text, partition => 0)");
$node->safe_psql('postgres', qq{
SET mq.send_buffer_limit = '64kB';
BEGIN;
SELECT partition FROM mq.send('tail', repeat('x', 100000), partition => 0);
ROLLBACK;
});
is(end_offset('tail', 0), '4', 'the aborted transaction took offset 3');
$node->stop('immediate');
$node->start;
my $after = offset_of_send('tail');
cmp_ok($after, '>', 3, "after a crash the next offset ($after) is past the aborted tail");
is($node->safe_psql('postgres',
		"SELECT string_agg(payload_text, ',' ORDER BY \"offset\") FROM mq.read('tail', 0)"),
	'1,2,3,probe', 'and the log holds exactly the committed messages');

# The same after a clean restart.
$node->restart;
my $after2 = offset_of_send('tail');
cmp_ok($after2, '>', $after, 'offsets keep increasing across a clean restart');

# The restart gap.  After a restart a partition continues from its durable
# high mark, past offsets that were never handed out.  Until something new
# is sent, the views show the log's real end, and lag counts the messages
# a group has not consumed, never that gap: 0 for a group that had
# consumed everything, 5 for one that had not consumed the last 5, 0 for a
# group whose fetch after the restart moved its position into the gap.
# New messages take offsets at or past the mark and count one each.  The
# same after a clean restart and after a crash (immediate stop).
$node->safe_psql('postgres', q{
SELECT mq.create_topic('gap');
SELECT mq.subscribe('gap.done', 'gap', start => 'earliest');
SELECT mq.subscribe('gap.behind', 'gap', start => 'earliest');
SELECT mq.subscribe('gap.shared', 'gap', start => 'earliest', mode => 'shared');
});

sub gap_lag
{
	return $node->safe_psql('postgres', q{
SELECT string_agg("group" || '=' || lag, ' ' ORDER BY "group")
  FROM mq.lag WHERE topic = 'gap'});
}

sub gap_offsets
{
	return $node->safe_psql('postgres', q{
SELECT end_offset, stable_offset, messages_estimate
  FROM mq.partitions WHERE topic = 'gap'});
}

for my $mode ('fast', 'immediate')
{
	# 15 messages: gap.done consumes them all, gap.behind the first 10,
	# gap.shared acknowledges them all.
	$node->safe_psql('postgres', q{
SELECT count(*) FROM mq.send_batch('gap', ARRAY(SELECT g::text FROM generate_series(1, 10) g));
SELECT count(*) FROM mq.fetch('gap.done', 'gap', max => 1000);
SELECT count(*) FROM mq.fetch('gap.behind', 'gap', max => 1000);
SELECT count(*) FROM mq.send_batch('gap', ARRAY(SELECT g::text FROM generate_series(11, 15) g));
SELECT count(*) FROM mq.fetch('gap.done', 'gap', max => 1000);
});
	$node->safe_psql('postgres', q{
DO $$
DECLARE
    n integer;
BEGIN
    LOOP
        SELECT count(mq.ack(r.receipt)) INTO n FROM mq.receive('gap.shared', 100) r;
        EXIT WHEN n = 0;
    END LOOP;
END
$$});
	my ($end, $mark) = split /\|/, $node->safe_psql('postgres', q{
SELECT end_offset, high_mark FROM mq.partitions WHERE topic = 'gap'});
	$node->poll_query_until('postgres', qq{
SELECT committed_offset = $end FROM mq.lag WHERE "group" = 'gap.shared'})
	  or die 'the worker did not fold the acks of gap.shared into its position';
	is(gap_lag(), 'gap.behind=5 gap.done=0 gap.shared=0',
		"$mode: before the restart, gap.behind has 5 messages to consume");

	$node->stop($mode);
	$node->start;

	is(gap_lag(), 'gap.behind=5 gap.done=0 gap.shared=0',
		"$mode: after the restart, lag counts messages, not the gap");
	is($node->safe_psql('postgres', q{
SELECT unacked FROM mq.shared_lag WHERE "group" = 'gap.shared'}),
		'0', "$mode: and so does mq.shared_lag");
	is(gap_offsets(), "$end|$end|$end",
		"$mode: mq.partitions shows the log's real end ($end), not the high mark ($mark)");
	is($node->safe_psql('postgres', q{
SELECT restart_gap_start, restart_gap_end FROM mq.partition_offsets('gap')}),
		"$end|$mark", "$mode: mq.partition_offsets shows the gap [$end, $mark)");
	is($node->safe_psql('postgres', q{
SELECT count(*) FROM mq.fetch('gap.done', 'gap', max => 1000)}),
		'0', "$mode: a fetch finds nothing new");
	is($node->safe_psql('postgres', q{
SELECT committed_offset, lag FROM mq.lag WHERE "group" = 'gap.done'}),
		"$mark|0", "$mode: and moves the position across the gap, with lag 0");

	$node->safe_psql('postgres', q{
SELECT count(*) FROM mq.send_batch('gap', ARRAY['a', 'b', 'c'])});
	is($node->safe_psql('postgres', qq{
SELECT string_agg("offset"::text, ',' ORDER BY "offset") FROM mq.read('gap', 0, $end)}),
		join(',', $mark, $mark + 1, $mark + 2),
		"$mode: three new messages take offsets from the high mark on");
	is(gap_lag(), 'gap.behind=8 gap.done=3 gap.shared=3',
		"$mode: and count 3 in each group's lag");
	is(gap_offsets(), join('|', $mark + 3, $mark + 3, $end + 3),
		"$mode: end and stable offsets are the new end; the estimate leaves the gap out");
}

# Heavy sends from four producers, then SIGKILL of a backend.  Each
# producer prints a message's id only once its COMMIT returned.
$node->safe_psql('postgres', "SELECT mq.create_topic('load', partitions => 4)");
my $iterations = 3000;
my @producers;
for my $p (1 .. 4)
{
	my $script = "$PostgreSQL::Test::Utils::tmp_check/producer$p.sql";
	open(my $fh, '>', $script) or die "cannot write $script: $!";
	for my $i (1 .. $iterations)
	{
		my $key = $i % 7;
		print $fh "BEGIN;\n";
		print $fh "SELECT id FROM mq.send('load', 'p$p-$i'::text, key => 'k$key') \\gset\n";
		print $fh "COMMIT;\n\\echo committed :id\n";
	}
	close($fh);
	my $out = '';
	my $h = IPC::Run::start(
		[
			'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
			'-d', $node->connstr('postgres') . ' application_name=producer',
			'-f', $script
		],
		'>', \$out, '2>', \my $err);
	push @producers, { handle => $h, out => \$out };
}

# Let them run, then kill one producer's backend: the postmaster resets
# every session.
$node->poll_query_until('postgres',
	"SELECT sum(end_offset) > 2000 FROM mq.partitions WHERE topic = 'load'")
  or die 'producers did not get going';
my $victim = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE application_name = 'producer' LIMIT 1");
ok($victim, 'found a producer backend to kill');
kill 'KILL', $victim;
$_->{handle}->finish for @producers;

my %acked;
for my $p (@producers)
{
	$acked{$1} = 1 while ${ $p->{out} } =~ /^committed (\S+)$/mg;
}
my $acked = scalar(keys %acked);
cmp_ok($acked, '>', 0, "$acked sends were acknowledged before the crash");
cmp_ok($acked, '<', 4 * $iterations, 'and the crash interrupted the producers');

$node->poll_query_until('postgres', 'SELECT true') or die 'server did not come back';

# Every partition read in full through mq.read.
my $rows = $node->safe_psql('postgres', qq{
SELECT r.id, p.partition, r."offset"
  FROM generate_series(0, 3) p(partition),
       LATERAL mq.read('load', p.partition, 0, 100000) r
});
my (%seen, %max_offset, $duplicates);
$duplicates = 0;
for my $line (split /\n/, $rows)
{
	my ($id, $partition, $offset) = split /\|/, $line;
	$duplicates++ if $seen{$id}++;
	$max_offset{$partition} = $offset
	  if !defined $max_offset{$partition} || $offset > $max_offset{$partition};
}
is($duplicates, 0, 'no message is stored twice');
is(scalar(grep { !$seen{$_} } keys %acked), 0,
	'every acknowledged message is readable after the crash');

# New sends land past every offset used before the crash.
my $ok = 1;
for my $partition (0 .. 3)
{
	$node->safe_psql('postgres',
		"SELECT partition FROM mq.send('load', 'after'::text, partition => $partition)");
	my $new = $node->safe_psql('postgres',
		"SELECT max(\"offset\") FROM mq.read('load', $partition, 0, 100000)");
	$ok = 0 unless $new > ($max_offset{$partition} // -1);
}
ok($ok, 'new offsets continue past every offset used before the crash');

# The stable offset is not held by anything from before the crash.
is($node->safe_psql('postgres',
		"SELECT count(*) FROM mq.partitions WHERE topic = 'load' AND stable_offset <> end_offset"),
	'0', 'no partition is held by a range from before the crash');

$node->stop;
done_testing();
