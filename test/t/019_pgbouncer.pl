# Producers and consumers through PgBouncer in transaction mode: sends in
# business transactions, transaction-block fetches, mq.poll, shared
# subscriptions, and auto-commit fetches whose leases belong to a consumer
# id rather than to the server session that the pooler hands around.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use IPC::Run;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('pooled');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'mq'
mq.auto_commit_timeout = '2s'
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION mq;
SELECT mq.create_topic('p.orders', 4);
SELECT mq.subscribe('p.billing', 'p.orders');
SELECT mq.create_topic('p.jobs', 1);
SELECT mq.subscribe('p.ac', 'p.jobs');
SELECT mq.create_topic('p.mail', 2);
SELECT mq.subscribe('p.mailers', 'p.mail', mode => 'shared');
});

# PgBouncer: database "pooled" has two server connections, "one" has one,
# so that every client of "one" runs in the same server session.
my $dir = $node->basedir;
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $host = $node->host;
my $nport = $node->port;
open(my $fh, '>', "$dir/users.txt") or die;
print $fh qq{"postgres" ""\n};
close $fh;
open($fh, '>', "$dir/pgbouncer.ini") or die;
print $fh qq{[databases]
pooled = host=$host port=$nport dbname=postgres pool_size=2
one = host=$host port=$nport dbname=postgres pool_size=1
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/users.txt
pool_mode = transaction
max_client_conn = 100
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
};
close $fh;
my $bouncer = IPC::Run::start([ 'pgbouncer', "$dir/pgbouncer.ini" ],
	'>', "$dir/pgbouncer.out", '2>&1');
# stopped here too if the test dies; $? is the test's exit status, keep it
END { local $?; $bouncer->kill_kill if $bouncer; }

# psql through PgBouncer; returns stdout, dies on error
sub via
{
	my ($db, $sql) = @_;
	my ($out, $err);
	my $ok = IPC::Run::run(
		[
			'psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1',
			'-d', "host=127.0.0.1 port=$port dbname=$db user=postgres"
		],
		'<', \$sql, '>', \$out, '2>', \$err);
	die "psql through pgbouncer failed: $err" unless $ok;
	chomp $out;
	return $out;
}

my $tries = 0;
until (eval { via('pooled', 'SELECT 1') eq '1' })
{
	die 'pgbouncer does not answer' if ++$tries > 100;
	select(undef, undef, undef, 0.1);
}

# --- producers: two clients, 50 business transactions each, at once ---
$node->safe_psql('postgres', 'CREATE TABLE orders (id int PRIMARY KEY)');
my @producers;
for my $p (0, 1)
{
	my $script = '';
	for my $i (1 .. 50)
	{
		my $id = $p * 1000 + $i;
		$script .= "BEGIN; INSERT INTO orders VALUES ($id);"
		  . " SELECT FROM mq.send('p.orders', '{\"order\": $id}', key => '$id'); COMMIT;\n";
	}
	my $cmd = [
		'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
		'-d', "host=127.0.0.1 port=$port dbname=pooled user=postgres"
	];
	push @producers, IPC::Run::start($cmd, '<', \$script, '>', \my $o, '2>', \my $e);
}
$_->finish or die 'a producer failed' for @producers;
is($node->safe_psql('postgres', q{
SELECT count(*) || ' ' || count(DISTINCT payload_json ->> 'order')
  FROM mq.messages('p.orders')}), '100 100',
	'two producers through the pooler sent 100 messages, each once');

# --- transaction-block consumers: exactly-once through the pooler ---
$node->safe_psql('postgres', 'CREATE TABLE handled (id int PRIMARY KEY)');
my $consume = q{
BEGIN;
INSERT INTO handled SELECT (payload_json ->> 'order')::int
  FROM mq.fetch('p.billing', 'p.orders', max => 7);
SELECT mq.commit('p.billing');
COMMIT;
} x 20;
my @consumers;
for (0, 1)
{
	my $cmd = [
		'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
		'-d', "host=127.0.0.1 port=$port dbname=pooled user=postgres"
	];
	push @consumers, IPC::Run::start($cmd, '<', \$consume, '>', \my $o, '2>', \my $e);
}
$_->finish or die 'a consumer failed' for @consumers;
is($node->safe_psql('postgres', q{
SELECT count(*) || ' ' || (SELECT sum(lag) FROM mq.lag WHERE "group" = 'p.billing')
  FROM handled}), '100 0',
	'two transaction-block consumers through the pooler handled every order once');

# --- mq.poll waits in one statement and wakes on a commit ---
my $poll_cmd = [
	'psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1',
	'-d', "host=127.0.0.1 port=$port dbname=pooled user=postgres",
	'-c', q{SELECT payload_text FROM mq.poll('p.billing', 'p.orders', wait => '30 s', auto_commit => true, consumer_id => 'poller')}
];
my ($poll_out, $poll_err) = ('', '');
my $poller = IPC::Run::start($poll_cmd, '>', \$poll_out, '2>', \$poll_err);
$node->poll_query_until('postgres', q{
SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE '%mq.poll(%' AND pid <> pg_backend_pid()})
  or die 'the poll does not wait';
via('pooled', q{SELECT FROM mq.send('p.orders', 'late order')});
$poller->finish;
chomp $poll_out;
is($poll_out, 'late order', 'mq.poll through the pooler returned the message sent while it waited');

# --- shared subscriptions: receive and ack in separate transactions ---
via('pooled', q{SELECT FROM mq.send_batch('p.mail', ARRAY['m1', 'm2', 'm3'])});
my $receipts = via('pooled', q{
SELECT string_agg(receipt, ' ') FROM mq.receive('p.mailers', max => 3)});
is(scalar(split / /, $receipts), 3, 'mq.receive through the pooler leased 3 messages');
my $acked = 0;
$acked += via('pooled', "SELECT mq.ack('$_')") for split / /, $receipts;
is($acked, 3, 'each acknowledged by its receipt, in a later transaction');

# --- auto-commit through one shared server session ---
via('one', q{SELECT FROM mq.send_batch('p.jobs', ARRAY['j0', 'j1', 'j2', 'j3'])});
my $pid_a = via('one', 'SELECT pg_backend_pid()');
is(via('one', 'SELECT pg_backend_pid()'), $pid_a,
	'clients of "one" share a server session');

sub position
{
	return $node->safe_psql('postgres', q{
SELECT p.next_offset FROM mq.position p JOIN mq.consumer_group g USING (group_id)
 WHERE g.name = 'p.ac'});
}

# Without consumer ids the lease is the session's: another client's fetch
# on that session commits a batch it never handled.
is(via('one', q{
SELECT string_agg(payload_text, ',') FROM mq.fetch('p.ac', max => 1, auto_commit => true)}),
	'j0', 'client A fetched j0 (no consumer id)');
via('one', q{SELECT count(*) FROM mq.fetch('p.ac', 'p.jobs', partition => 0, max => 1, auto_commit => true)});
is(position(), '1',
	'without consumer ids, client B\'s fetch on the same session committed A\'s batch');
is(via('one', q{SELECT mq.commit('p.ac')}), '1',
	'and leased j1 to the session, which mq.commit(group) commits');
is(position(), '2', 'the position is past j1');

# With consumer ids each client's batch stays its own.
is(via('one', q{
SELECT string_agg(payload_text, ',') FROM mq.fetch('p.ac', max => 1, auto_commit => true, consumer_id => 'a')}),
	'j2', 'consumer a fetched j2');
is(via('one', q{
SELECT count(*) FROM mq.fetch('p.ac', max => 10, auto_commit => true, consumer_id => 'b')}),
	'0', 'consumer b, on the same session, gets nothing: the partition is leased to a');
is(position(), '2', 'and did not commit a\'s batch');
is(via('one', q{
SELECT string_agg(payload_text, ',') FROM mq.fetch('p.ac', max => 1, auto_commit => true, consumer_id => 'a')}),
	'j3', 'consumer a\'s next fetch commits j2 and leases j3');
is(position(), '3', 'the position is past j2');

# a dies holding j3: after mq.auto_commit_timeout, b gets j3 again
sleep 3;
is(via('one', q{
SELECT string_agg(payload_text, ',') FROM mq.fetch('p.ac', max => 10, auto_commit => true, consumer_id => 'b')}),
	'j3', 'after a\'s lease expires, b gets j3 again (at-least-once)');
is(via('pooled', q{SELECT mq.commit('p.ac', 'b')}), '1',
	'mq.commit(group, consumer_id) commits b\'s batch from another session');
is(position(), '4', 'the position is past j3');
is(via('one', q{SELECT mq.commit('p.ac', 'a')}), '0',
	'a\'s lost lease commits nothing');

my ($ret, $out, $err) = $node->psql('postgres', q{
SELECT * FROM mq.fetch('p.ac', consumer_id => 'a')});
like($err, qr/consumer_id needs auto_commit/, 'consumer_id without auto_commit is refused');

$bouncer->kill_kill;
undef $bouncer;
$node->stop;
done_testing();
