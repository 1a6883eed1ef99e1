# The launcher and the per-database workers through the events of a
# server's life: configuration reload, a worker or any backend killed with
# SIGKILL (crash and re-initialisation), the launcher terminated, a
# restart, and the database commands that need a database to themselves.
use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('worker');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mq'
mq.worker_naptime = '100ms'
mq.launcher_naptime = '1s'
restart_after_crash = on
});
$node->start;

# The pid of the mq worker of $db, or '' if there is none.
sub worker_pid
{
	my ($db) = @_;
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'mq worker' AND datname = '$db'");
}

# Wait until $db has exactly one mq worker that the status function shows
# as running, other than $old_pid if given; return its pid.
sub wait_for_worker
{
	my ($db, $old_pid) = @_;
	my $other = defined $old_pid ? "AND pid <> $old_pid" : '';
	$node->poll_query_until($db,
		"SELECT count(*) = 1 FROM mq.worker_status() WHERE role = 'worker' AND database = '$db' AND state = 'running' $other"
	) or die "no running mq worker in database $db";
	return worker_pid($db);
}

# Wait until $db has no mq worker.
sub wait_for_no_worker
{
	my ($db) = @_;
	return $node->poll_query_until('postgres',
		"SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'mq worker' AND datname = '$db'");
}

sub ticks
{
	my ($db) = @_;
	return $node->safe_psql($db,
		"SELECT ticks FROM mq.worker_status() WHERE database = '$db'");
}

$node->safe_psql('postgres', 'CREATE DATABASE alpha');
$node->safe_psql('postgres', 'CREATE DATABASE beta');
$node->safe_psql('alpha', 'CREATE EXTENSION mq');
$node->safe_psql('beta', 'CREATE EXTENSION mq');

my $alpha_pid = wait_for_worker('alpha');
my $beta_pid = wait_for_worker('beta');
ok($alpha_pid && $beta_pid, 'CREATE EXTENSION starts a worker in each database');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mq worker' AND datname = 'postgres'"),
	'0', 'no worker where mq is not installed');
is($node->safe_psql('postgres',
		"SELECT backend_type || '/' || application_name FROM pg_stat_activity WHERE backend_type = 'mq launcher'"),
	'mq launcher/mq launcher', 'one launcher, named in pg_stat_activity');

# SIGHUP: the worker reloads its configuration.  With a one-hour naptime
# it stops ticking; back at 50ms it ticks again.
$node->safe_psql('postgres', "ALTER SYSTEM SET mq.worker_naptime = '1h'");
$node->reload;
sleep(1);
my $t1 = ticks('alpha');
sleep(2);
is(ticks('alpha'), $t1, 'after reload to 1h the worker sleeps');
$node->safe_psql('postgres', "ALTER SYSTEM SET mq.worker_naptime = '50ms'");
$node->reload;
ok($node->poll_query_until('alpha',
		"SELECT ticks > $t1 + 5 FROM mq.worker_status() WHERE database = 'alpha'"),
	'after reload to 50ms it ticks again');

# SIGKILL of a database worker: the postmaster re-initialises shared
# memory; the launcher and the workers come back.
my $launcher_pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'mq launcher'");
kill 'KILL', $alpha_pid;
my $new_alpha = wait_for_worker('alpha', $alpha_pid);
my $new_beta = wait_for_worker('beta', $beta_pid);
ok($new_alpha && $new_beta, 'workers come back after a worker is killed');
isnt($node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'mq launcher'"),
	$launcher_pid, 'with a new launcher');
ok($node->log_contains('all server processes terminated; reinitializing'),
	'the kill caused a crash re-initialisation');
($alpha_pid, $beta_pid) = ($new_alpha, $new_beta);

# SIGKILL of an ordinary backend does the same.
my $log_offset = -s $node->logfile;
my ($in, $out, $err) = ('', '', '');
my $sleeper = IPC::Run::start(
	[ 'psql', '-X', '-d', $node->connstr('postgres'), '-c', 'SELECT pg_sleep(600)' ],
	\$in, \$out, \$err);
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(600)'");
my $victim = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(600)'");
kill 'KILL', $victim;
$sleeper->finish;
$new_alpha = wait_for_worker('alpha', $alpha_pid);
$new_beta = wait_for_worker('beta', $beta_pid);
ok($node->log_contains(qr/server process \(PID $victim\) was terminated by signal 9/, $log_offset),
	'the backend was killed');
ok($new_alpha && $new_beta, 'workers come back after any backend is killed');
($alpha_pid, $beta_pid) = ($new_alpha, $new_beta);

# Terminating the launcher: the postmaster restarts it, and the new one
# takes over the databases (their workers are restarted).
$launcher_pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'mq launcher'");
$node->safe_psql('postgres', "SELECT pg_terminate_backend($launcher_pid)");
$new_alpha = wait_for_worker('alpha', $alpha_pid);
ok($new_alpha, 'a new launcher restarts the workers');
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'mq launcher' AND pid <> $launcher_pid")
  or die 'launcher did not come back';
$alpha_pid = $new_alpha;
$beta_pid = wait_for_worker('beta');

# DROP DATABASE of a database whose worker runs: the worker is paused and
# the drop finishes at once; other workers absorb its ProcSignalBarrier.
$log_offset = -s $node->logfile;
my ($ret) = $node->psql('postgres', 'DROP DATABASE beta', timeout => 60);
is($ret, 0, 'DROP DATABASE with a running worker succeeds');
ok(wait_for_no_worker('beta'), 'its worker is gone');
ok(!$node->log_contains(qr/still waiting for backend with PID \d+ to accept ProcSignalBarrier/, $log_offset),
	'nobody kept DROP DATABASE waiting on a ProcSignalBarrier');
is(worker_pid('alpha'), $alpha_pid, 'the other database\'s worker is untouched');

# DROP DATABASE WITH (FORCE) as well.
$node->safe_psql('postgres', 'CREATE DATABASE gamma');
$node->safe_psql('gamma', 'CREATE EXTENSION mq');
wait_for_worker('gamma');
($ret) = $node->psql('postgres', 'DROP DATABASE gamma WITH (FORCE)', timeout => 60);
is($ret, 0, 'DROP DATABASE WITH (FORCE) succeeds');

# ALTER DATABASE RENAME needs the database to itself too; the worker comes
# back under the new name.
($ret) = $node->psql('postgres', 'ALTER DATABASE alpha RENAME TO alpha2', timeout => 60);
is($ret, 0, 'ALTER DATABASE RENAME with a running worker succeeds');
$alpha_pid = wait_for_worker('alpha2', $alpha_pid);
ok($alpha_pid, 'the worker comes back in the renamed database');

# CREATE DATABASE ... TEMPLATE copies a database with mq: the copy gets
# its own worker, found by the launcher's probe.
($ret) = $node->psql('postgres', 'CREATE DATABASE delta TEMPLATE alpha2', timeout => 60);
is($ret, 0, 'CREATE DATABASE from a database with a running worker succeeds');
ok(wait_for_worker('delta'), 'the copy gets a worker of its own');
ok(wait_for_worker('alpha2'), 'and the template\'s worker comes back');

# DROP EXTENSION stops the worker for good, and says so in the log.
$log_offset = -s $node->logfile;
$node->safe_psql('delta', 'DROP EXTENSION mq');
ok(wait_for_no_worker('delta'), 'DROP EXTENSION stops the worker');
ok($node->wait_for_log(qr/mq worker for database "delta" exiting: extension "mq" is not installed/, $log_offset),
	'and the worker logs why');

# Workers never run in templates (CREATE DATABASE would fail while one is
# connected): mq installed in template1 gets no worker there, but every
# database created from it gets one.
$node->safe_psql('template1', 'CREATE EXTENSION mq');
sleep(1);
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'mq worker' AND datname = 'template1'"),
	'0', 'no worker in template1');
($ret) = $node->psql('postgres', 'CREATE DATABASE epsilon', timeout => 60);
is($ret, 0, 'CREATE DATABASE from template1 with mq succeeds');
ok(wait_for_worker('epsilon'), 'the new database gets a worker');

# A database that becomes a template loses its worker, and gets it back
# when it stops being one.
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', 'ALTER DATABASE epsilon IS_TEMPLATE true');
ok(wait_for_no_worker('epsilon'), 'a database made a template loses its worker');
ok($node->log_contains(qr/mq worker for database "epsilon" exiting: the database is a template/, $log_offset),
	'which logs why');
$node->safe_psql('postgres', 'ALTER DATABASE epsilon IS_TEMPLATE false');
ok(wait_for_worker('epsilon'), 'and gets it back once it is not a template');

# A database left invalid by an interrupted DROP DATABASE (datconnlimit
# -2) is not retried in a loop.
$log_offset = -s $node->logfile;
$node->safe_psql('postgres', "UPDATE pg_database SET datconnlimit = -2 WHERE datname = 'epsilon'");
ok(wait_for_no_worker('epsilon'), 'an invalid database loses its worker');
sleep(2);
ok(!$node->log_contains(qr/cannot connect to invalid database/, $log_offset),
	'and nothing tries to connect to it');
$node->safe_psql('postgres', "UPDATE pg_database SET datconnlimit = -1 WHERE datname = 'epsilon'");

# A server restart brings everything back.
$alpha_pid = worker_pid('alpha2');
$node->restart;
ok(wait_for_worker('alpha2'), 'the worker runs again after a restart');
ok(wait_for_no_worker('delta'), 'and still not where mq was dropped');

$node->stop;
done_testing();
