# Notifications: producers' commits wake the worker, which sends at most
# one NOTIFY per topic per mq.notify_interval on the topic's channel, with
# the partitions that moved as payload.  Producers never notify themselves;
# topics created with notify => false get none.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('notify');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mq'
mq.worker_naptime = '10s'
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION mq;
SELECT mq.create_topic('n.on', partitions => 2);
SELECT mq.create_topic('n.off', notify => false);
SELECT mq.create_topic(repeat('x', 70));
});
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM mq.worker_status() WHERE database = 'postgres' AND state = 'running'")
  or die 'the worker did not start';
my $worker_pid = $node->safe_psql('postgres',
	"SELECT pid FROM mq.worker_status() WHERE database = 'postgres'");

is($node->safe_psql('postgres', 'SELECT name, channel FROM mq.topics ORDER BY name'),
	"n.off|\nn.on|mq.n.on\n" . ('x' x 70) . '|mq.#3',
	'mq.topics shows each channel; long names use the topic id');

my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN "mq.n.on"; LISTEN "mq.n.off"');

# wait until the listener has seen a notification matching $re
sub notifications
{
	my ($re) = @_;
	my $out = '';
	for (my $i = 0; $i < 200; $i++)
	{
		$out .= $listener->query_safe('SELECT 1');
		last if $out =~ $re;
		usleep(50_000);
	}
	return $out;
}

my $producer_pid = $node->safe_psql('postgres', q{
SELECT partition FROM mq.send('n.off', 'quiet'::text);
SELECT partition FROM mq.send('n.on', 'loud'::text, partition => 1);
SELECT pg_backend_pid();
});
$producer_pid = (split /\n/, $producer_pid)[-1];
my $out = notifications(qr/"mq\.n\.on"/);
like($out, qr/notification "mq\.n\.on" with payload "1" received from server process with PID $worker_pid\./,
	'a commit is notified on the topic channel, naming the partition, by the worker');
unlike($out, qr/PID $producer_pid\./, 'not by the producer');
unlike($out, qr/mq\.n\.off/, 'a topic with notify => false is not notified');

# Coalescing: many commits within one interval give few notifications.
$node->safe_psql('postgres', q{
ALTER SYSTEM SET mq.notify_interval = '2s';
SELECT pg_reload_conf();
});
usleep(200_000);
$node->safe_psql('postgres',
	join("\n", map { "SELECT partition FROM mq.send('n.on', 'm$_'::text, partition => 0);" } 1 .. 20));
$out = notifications(qr/"mq\.n\.on" with payload "0"/);
my $count = () = $out =~ /notification "mq\.n\.on"/g;
cmp_ok($count, '>=', 1, 'the burst of 20 commits was notified');
cmp_ok($count, '<', 20, "and coalesced ($count notifications)");

$listener->quit;
$node->stop;
done_testing();
