# Consumers of a cluster: mqctl consume and lag over three mq nodes, given
# with --server or read from the router's node list (--nodes-from).  A group
# is the same group on each node, each node's positions committed there: it
# drains the whole cluster exactly once when nothing fails, and lag sums
# each group's positions over the nodes.  A node stopped mid-way leaves the
# others consumed; once back it is consumed again from its committed
# positions, nothing lost, and only its batch in flight handled twice.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;
use Time::HiRes qw(usleep);

my $bindir = `pg_config --bindir`;
chomp $bindir;
my $mqctl = "$bindir/mqctl";
plan skip_all => "mqctl is not installed in $bindir (make -C mqctl install)"
  unless -x $mqctl;

my @nodes;
for my $i (0 .. 2)
{
	my $n = PostgreSQL::Test::Cluster->new("mq$i");
	$n->init;
	$n->append_conf('postgresql.conf', "shared_preload_libraries = 'mq'");
	$n->start;
	$n->safe_psql('postgres', 'CREATE EXTENSION mq');
	push @nodes, $n;
}
my @connstr = map { 'host=' . $_->host . ' port=' . $_->port . ' dbname=postgres' } @nodes;
my @servers = map { ('--server', $_) } @connstr;
my $dir = PostgreSQL::Test::Utils::tempdir;

# The router, as in 021_router.pl, for --nodes-from and the topic's placement.
my $router = PostgreSQL::Test::Cluster->new('router');
$router->init;
$router->start;
my $parts = join(', ', map { "p$_ '$connstr[$_ % 3]'" } 0 .. 3);
$router->safe_psql('postgres', qq{
CREATE EXTENSION plproxy;
CREATE SERVER mq_cluster FOREIGN DATA WRAPPER plproxy OPTIONS ($parts);
CREATE USER MAPPING FOR PUBLIC SERVER mq_cluster;
});
command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $router->connstr('postgres'),
		'-f', 'router/mq_router.sql' ], 'the router is installed');
$router->safe_psql('postgres', "CALL mq_router.create_topic('ev', 6)");
$_->safe_psql('postgres', "SELECT mq.subscribe('g', 'ev', start => 'earliest')") for @nodes;

sub mqctl
{
	my (@args) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ $mqctl, @args ], '<', \'', '>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return ($? >> 8, $out, $err);
}

# sends n messages to a node, "n<node>-<i>" from i = from
sub send_to
{
	my ($node, $from, $n) = @_;
	$nodes[$node]->safe_psql('postgres', qq{
SELECT count(mq.send('ev', 'n$node-' || i, key => i::text))
  FROM generate_series($from, $from + $n - 1) i});
}

# the ids of the messages of ev on a node, those sent from i = from
sub ids_on
{
	my ($node, $from) = @_;
	$from //= 0;
	return split /\n/, $nodes[$node]->safe_psql('postgres', qq{
SELECT id FROM mq.messages('ev')
 WHERE split_part(payload_text, '-', 2)::integer >= $from ORDER BY id});
}

sub node_lag
{
	my ($node) = @_;
	return $nodes[$node]->safe_psql('postgres',
		"SELECT coalesce(sum(lag), 0) FROM mq.lag WHERE \"group\" = 'g'");
}

sub wait_until
{
	my ($what, $cond) = @_;
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	until ($cond->())
	{
		die "timed out waiting until $what" if time > $deadline;
		usleep(50_000);
	}
	return 1;
}

# --- lag of the cluster: every node's positions, and the total per topic
send_to(0, 1, 50);
send_to(1, 1, 40);
send_to(2, 1, 30);
my ($rc, $out, $err) = mqctl('lag', 'g', @servers);
is($rc, 0, 'lag with three servers exits with 0');
like($out, qr/^ node \| +group +\| topic \| partition \|/, 'each row says its node');
is(scalar(() = $out =~ /^ +[012] \| g +\| ev +\|/mg), 6,
	'the six partitions of ev, two on each node, have a row');
like($out, qr/\n\n group \| topic \| nodes \| positions \| lag\n-.*\n g +\| ev +\| +3 \| +6 \| 120\n\(1 row\)\n\z/,
	'and the total of g over the nodes is 120');
my ($rc2, $out2) = mqctl('lag', 'g', '--nodes-from', $router->connstr('postgres'));
is($rc2, 0, 'lag --nodes-from exits with 0');
# (but for the age of the oldest unconsumed message)
s/ \| [0-9:.]+$//mg for $out, $out2;
is($out2, $out, 'and reads the same nodes from the router');
($rc, $out, $err) = mqctl('lag', '-d', $connstr[0], '--server', $connstr[1]);
ok($rc == 2 && $err =~ /-d excludes --server and --nodes-from/, '-d and --server: usage error');
($rc, $out, $err) = mqctl('tail', 'ev', @servers);
ok($rc == 2 && $err =~ /tail reads one server/, 'tail refuses several servers');

# --- a group drains the whole cluster exactly once
($rc, $out, $err) = mqctl('consume', 'g', @servers, '--json', '--batch-size', '7',
	'--idle-exit', '1');
is($rc, 0, 'consume with three servers exits with 0');
my %got;
for my $line (split /\n/, $out)
{
	my $m = decode_json($line);
	push @{ $got{ $m->{node} } }, $m->{id};
}
for my $i (0 .. 2)
{
	is_deeply([ sort @{ $got{$i} // [] } ], [ ids_on($i) ],
		"every message of node $i was consumed once, with its node");
	is(node_lag($i), '0', "and the lag of node $i is 0");
}
($rc, $out) = mqctl('lag', 'g', '--nodes-from', $router->connstr('postgres'));
like($out, qr/\n g +\| ev +\| +3 \| +6 \| +0\n\(1 row\)\n\z/, 'lag totals 0 once drained');

# --- a node stopped mid-way: the others go on, and it resumes once back
send_to($_, 1001, 100) for 0 .. 2;
my $handled = "$dir/handled";
my $consumer = IPC::Run::start([ $mqctl, 'consume', 'g', 'ev', @servers,
		'--batch-size', '5',
		'--exec', "printf '%s %s\\n' \"\$MQ_NODE\" \"\$MQ_ID\" >> $handled; sleep 0.01" ],
	'<', \undef, '>', "$dir/consume.out", '2>', "$dir/consume.err");
sub handled
{
	my %h;
	return \%h unless -e $handled;
	for (split /\n/, slurp_file($handled))
	{
		my ($node, $id) = split / /;
		push @{ $h{$node}{$id} }, 1;
	}
	return \%h;
}
wait_until('some messages of node 1 are handled',
	sub { scalar(keys %{ handled()->{1} // {} }) >= 10 });
$nodes[1]->stop('fast');
send_to($_, 2001, 50) for 0, 2;
my @ids0 = ids_on(0, 1001);
my @ids2 = ids_on(2, 1001);
wait_until('nodes 0 and 2 are drained while node 1 is down', sub {
	my $h = handled();
	my $missing = grep { !$h->{0}{$_} } @ids0;
	$missing += grep { !$h->{2}{$_} } @ids2;
	return $missing == 0;
});
pass('consuming went on on nodes 0 and 2');
$nodes[1]->start;
send_to(1, 2001, 50);
my @ids1 = ids_on(1, 1001);
wait_until('node 1 is drained once back', sub {
	my $h = handled();
	my $missing = grep { !$h->{1}{$_} } @ids1;
	return $missing == 0;
});
wait_until('every committed position is at the end', sub {
	my $behind = grep { node_lag($_) ne '0' } 0 .. 2;
	return $behind == 0;
});
$consumer->signal('TERM');
$consumer->finish;
is($consumer->result(0), 0, 'consume exits with 0 on SIGTERM');

my $h = handled();
my %twice;
for my $i (0 .. 2)
{
	my @ids = ($i == 0 ? @ids0 : $i == 1 ? @ids1 : @ids2);
	is(scalar(grep { !$h->{$i}{$_} } @ids), 0, "no message of node $i was lost");
	is(scalar(keys %{ $h->{$i} }), scalar(@ids), "and none handled that node $i does not have");
	$twice{$i} = grep { @{ $h->{$i}{$_} } > 1 } keys %{ $h->{$i} };
}
is($twice{0} + $twice{2}, 0, 'nodes 0 and 2 handled each message once');
cmp_ok($twice{1}, '<=', 5,
	'node 1 handled again at most the batch in flight when it stopped');
my $log = slurp_file("$dir/consume.err");
like($log, qr/node 1: connection lost; reconnecting/, 'consume said node 1 was lost');
like($log, qr/node 1: reconnected/, 'and that it reconnected');
unlike($log, qr/node [02]: connection lost/, 'the other nodes were not');

# --- a topic on only some nodes: a 2-partition topic over three nodes has no
# partition, and so no topic, on node 2.  There is nothing to consume on
# node 2, said once; the other nodes are consumed.
$router->safe_psql('postgres', "CALL mq_router.create_topic('small', 2)");
$nodes[$_]->safe_psql('postgres', qq{
SELECT mq.subscribe('g2', 'small', start => 'earliest');
SELECT count(mq.send('small', 's$_-' || i)) FROM generate_series(1, 3) i})
  for 0, 1;
is($nodes[2]->safe_psql('postgres', "SELECT count(*) FROM mq.topics WHERE name = 'small'"),
	'0', 'node 2 has no topic small');
($rc, $out, $err) = mqctl('consume', 'g2', 'small', @servers, '--idle-exit', '1');
is($rc, 0, 'consume of a topic missing on a node exits with 0');
is(join(' ', sort split /\n/, $out), 's0-1 s0-2 s0-3 s1-1 s1-2 s1-3',
	'and consumed the topic on the nodes that have it');
is(scalar(() = $err =~ /node 2: topic "small" does not exist; consuming the other nodes/g),
	1, 'saying once that node 2 has no such topic');
$nodes[$_]->safe_psql('postgres', "SELECT mq.send('small', 'more$_')") for 0, 1;
($rc, $out, $err) = mqctl('consume', 'g2', @servers, '--idle-exit', '1');
ok($rc == 0 && join(' ', sort split /\n/, $out) eq 'more0 more1',
	'a group missing on a node: the other nodes are consumed');
like($err, qr/node 2: consumer group "g2" does not exist; consuming the other nodes/,
	'saying that node 2 has no such group');
($rc, $out, $err) = mqctl('consume', 'g2', 'nowhere', @servers, '--idle-exit', '1');
ok($rc == 1 && $err =~ /topic "nowhere" does not exist/,
	'a topic on no node is an error');

# the topic created on node 2 later is consumed there
my $late = IPC::Run::start([ $mqctl, 'consume', 'g2', 'small', @servers,
		'--max-messages', '2' ],
	'<', \undef, '>', \my $late_out, '2>', \my $late_err,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
wait_until('consume says node 2 has no topic small', sub {
	$late->pump_nb;
	return $late_err =~ /node 2: topic "small" does not exist/;
});
$nodes[2]->safe_psql('postgres', q{
SELECT mq.create_topic('small', 1);
SELECT mq.subscribe('g2', 'small', start => 'earliest');
SELECT mq.send('small', 'late-' || i) FROM generate_series(1, 2) i});
$late->finish;
is($late->result(0), 0, 'consume exits once it has its messages');
is($late_out, "late-1\nlate-2\n", 'the topic created on node 2 later was consumed');
like($late_err, qr/node 2: consuming/, 'saying node 2 is consumed');

# --- a node down at the start: the others are consumed, and it once back
$nodes[1]->stop('fast');
send_to($_, 3001, 2) for 0, 2;
$consumer = IPC::Run::start([ $mqctl, 'consume', 'g', 'ev', @servers,
		'--max-messages', '6' ],
	'<', \undef, '>', \my $down_out, '2>', \my $down_err,
	IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
wait_until('nodes 0 and 2 are consumed while node 1 is down', sub {
	$consumer->pump_nb;
	return scalar(() = $down_out =~ /\n/g) == 4;
});
like($down_err, qr/node 1: unreachable; consuming the other nodes/,
	'consume starts without an unreachable node, saying so');
$nodes[1]->start;
send_to(1, 3001, 2);
$consumer->finish;
is($consumer->result(0), 0, 'consume exits once it has its messages');
is(join(' ', sort split /\n/, $down_out), 'n0-3001 n0-3002 n1-3001 n1-3002 n2-3001 n2-3002',
	'and consumed node 1 once it was back');
like($down_err, qr/node 1: reconnected/, 'saying node 1 reconnected');
($rc, $out, $err) = mqctl('consume', 'g', '--server', 'host=/nonexistent port=1',
	'--server', 'host=/nonexistent port=2');
ok($rc == 3 && $err =~ /no node is reachable/, 'no node reachable: exit 3');

# --- lag with a node down: that node is shown as unavailable
$nodes[2]->stop('fast');
($rc, $out, $err) = mqctl('lag', 'g', @servers);
is($rc, 0, 'lag with a node down exits with 0');
like($out, qr/\n g +\| ev +\| +2 \| +4 \| +0\n\(1 row\)\nnode 2: unavailable\n\z/,
	'showing the other nodes, and node 2 as unavailable');

done_testing();
