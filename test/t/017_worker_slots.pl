# A database whose worker cannot start because every background worker
# slot is taken: CREATE EXTENSION warns, mq.worker_status() says so by
# database name, the launcher's warning names the database, and the worker
# starts once the server has slots.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('slots');
$node->init;
# one slot, which the launcher takes
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'mq'
max_worker_processes = 1
max_logical_replication_workers = 0
max_parallel_workers = 0
mq.launcher_naptime = '1s'
});
$node->start;
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'mq launcher'")
  or die 'no launcher';

# the launcher's probe of the database (mq not there yet) finds no slot
# either, and says so in its own words
ok($node->wait_for_log(
		qr/WARNING:  could not start a worker to look for mq in database "postgres": no background worker slot is free/),
	'the probe of a database without mq says it found no slot');
my $offset = -s $node->logfile;
is($node->safe_psql('postgres', q{
SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mq worker'}), '0',
	'no worker runs');
my ($ret, $out, $err) = $node->psql('postgres', 'CREATE EXTENSION mq');
is($ret, 0, 'CREATE EXTENSION succeeds');
like($err,
	qr/WARNING:  all 1 background worker slots are in use: the mq worker of database "postgres" cannot start/,
	'and warns that the database\'s worker cannot start');
ok($node->poll_query_until('postgres', q{
SELECT state = 'no worker slot' FROM mq.worker_status() WHERE database = 'postgres'}),
	'mq.worker_status() shows the database waiting for a slot, by name');
ok($node->wait_for_log(
		qr/WARNING:  could not start the mq worker of database "postgres": no background worker slot is free/,
		$offset),
	'the launcher\'s warning names the database');

$node->append_conf('postgresql.conf', 'max_worker_processes = 4');
$node->restart;
ok($node->poll_query_until('postgres', q{
SELECT state = 'running' FROM mq.worker_status() WHERE database = 'postgres'}),
	'with slots, the worker runs');

$node->stop;
done_testing();
