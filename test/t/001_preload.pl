# mq refuses to work unless it is loaded through shared_preload_libraries:
# CREATE EXTENSION (and LOAD) fail with an error and a hint that name the
# setting, and leave nothing behind.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('no_preload');
$node->init;
$node->start;

my ($ret, $stdout, $stderr) =
  $node->psql('postgres', 'CREATE EXTENSION mq', extra_params => ['-v', 'VERBOSITY=verbose']);
isnt($ret, 0, 'CREATE EXTENSION fails without preload');
like($stderr, qr/ERROR:  55000: mq must be loaded via shared_preload_libraries/,
	'error says how mq must be loaded, with SQLSTATE 55000');
like($stderr, qr/HINT:  Add mq to shared_preload_libraries in postgresql.conf and restart the server\./,
	'hint names the setting');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_extension WHERE extname = 'mq'"),
	'0', 'nothing is left of the failed CREATE EXTENSION');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_namespace WHERE nspname = 'mq'"),
	'0', 'nor of its schema');

($ret, $stdout, $stderr) = $node->psql('postgres', "LOAD 'mq'");
isnt($ret, 0, 'LOAD fails without preload');
like($stderr, qr/mq must be loaded via shared_preload_libraries/,
	'with the same error');

# With the setting, the same command works.
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'mq'");
$node->restart;
$node->safe_psql('postgres', 'CREATE EXTENSION mq');
is($node->safe_psql('postgres',
		"SELECT extversion FROM pg_extension WHERE extname = 'mq'"),
	'0.2', 'CREATE EXTENSION works once preloaded');

$node->stop;
done_testing();
