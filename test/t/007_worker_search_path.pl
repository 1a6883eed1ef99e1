# The database worker runs as the bootstrap superuser.  A database owner
# who sets a search_path putting their own schema before pg_catalog must
# not get their functions run by it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('search_path');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mq'
mq.worker_naptime = '50ms'
});
$node->start;

$node->safe_psql('postgres', 'CREATE ROLE owner LOGIN');
$node->safe_psql('postgres', 'CREATE DATABASE owned OWNER owner');
$node->safe_psql('owned', 'CREATE EXTENSION mq');
$node->safe_psql('owned', "SELECT mq.create_topic('t', segment_age => interval '1 second')");
$node->safe_psql('owned', "SELECT partition FROM mq.send('t', 'x'::text, dedup_id => 'd')");

# The owner's trap: functions the worker's queries call, shadowing
# pg_catalog's, recording whoever runs them.
$node->safe_psql('owned', q{
SET ROLE owner;
CREATE SCHEMA trap;
CREATE TABLE trap.calls (who name, what text);
GRANT INSERT ON trap.calls TO PUBLIC;
CREATE FUNCTION trap.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN INSERT INTO trap.calls VALUES (current_user, 'now'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION trap.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN INSERT INTO trap.calls VALUES (current_user, 'clock_timestamp'); RETURN pg_catalog.clock_timestamp(); END $$;
CREATE FUNCTION trap.pg_total_relation_size(regclass) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN INSERT INTO trap.calls VALUES (current_user, 'size'); RETURN pg_catalog.pg_total_relation_size($1); END $$;
});
$node->safe_psql('postgres', "ALTER DATABASE owned SET search_path = trap, pg_catalog");

# A new worker picks the database setting up; let it make some passes,
# including a segment roll, which runs the size and age checks.
my $pid = $node->safe_psql('owned',
	"SELECT pid FROM mq.worker_status() WHERE database = 'owned'");
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok($node->poll_query_until('owned',
		"SELECT ticks > 20 FROM mq.worker_status() WHERE database = 'owned' AND pid <> $pid"),
	'a new worker runs with the database setting in place');
ok($node->poll_query_until('owned', "SELECT segments >= 2 FROM mq.topics WHERE name = 't'"),
	'and rolls segments');
is($node->safe_psql('owned', 'SELECT count(*) FROM trap.calls'),
	'0', 'none of the owner\'s functions ran in the worker');

$node->stop;
done_testing();
