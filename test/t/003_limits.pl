# Scarce resources: with few background worker slots and few mq database
# slots, probing databases that do not have mq must neither use up the
# directory nor keep a CREATE EXTENSION from succeeding.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('limits');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mq'
mq.max_databases = 3
mq.launcher_naptime = '1s'
# the launcher, one worker and one more
max_worker_processes = 3
max_parallel_workers = 0
});
$node->start;

$node->safe_psql('postgres', "CREATE DATABASE d$_") for 1 .. 6;
$node->safe_psql('d6', 'CREATE EXTENSION mq');
pass('CREATE EXTENSION succeeds while databases without mq are being probed');

ok($node->poll_query_until('d6',
		"SELECT count(*) = 1 FROM mq.worker_status() WHERE database = 'd6' AND state = 'running'"),
	'its worker runs, the probes sharing the one spare background worker slot');

# Once probing is over, only d6 holds a directory slot.
ok($node->poll_query_until('d6',
		"SELECT used = 1 FROM mq.shmem_usage() WHERE area = 'databases'"),
	'probes leave no directory entries behind');

# Two more databases with mq fill the directory; the third is refused.
$node->safe_psql('postgres', 'CREATE DATABASE e1');
$node->safe_psql('postgres', 'CREATE DATABASE e2');
$node->safe_psql('e1', 'CREATE EXTENSION mq');
$node->safe_psql('e2', 'CREATE EXTENSION mq');
my ($ret, $out, $err) = $node->psql('d1', 'CREATE EXTENSION mq');
isnt($ret, 0, 'a fourth database is refused');
like($err, qr/all 3 mq database slots are in use/, 'because the directory is full');
like($err, qr/HINT:  Increase mq.max_databases and restart the server\./,
	'with a hint naming the setting');

# The spare slot went to e1: there is none left for e2, and the launcher
# says so.
ok($node->wait_for_log(qr/could not start the mq worker of database "e2": no background worker slot is free/),
	'running out of background worker slots is logged, naming the database');

$node->stop;
done_testing();
