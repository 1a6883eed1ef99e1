# A streaming standby: reading and sending are refused there (its shared
# memory does not follow the primary's commits), no worker runs until it
# is promoted, and after promotion offsets continue past every offset the
# old primary handed out (the durable high marks are WAL-logged).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'mq'");
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION mq');
$primary->safe_psql('postgres', "SELECT mq.create_topic('t', partitions => 2)");
$primary->safe_psql('postgres',
	"SELECT count(*) FROM mq.send_batch('t', ARRAY(SELECT g::text FROM generate_series(1, 50) g), partition => 0)");

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# More sends after the backup, replicated by streaming.
$primary->safe_psql('postgres',
	"SELECT count(*) FROM mq.send_batch('t', ARRAY(SELECT g::text FROM generate_series(51, 80) g), partition => 0)");
# An aborted tail: written early, then rolled back, it took offset 80.
$primary->safe_psql('postgres', qq{
SET mq.send_buffer_limit = '64kB';
BEGIN;
SELECT partition FROM mq.send('t', repeat('x', 100000), partition => 0);
ROLLBACK;
});
$primary->wait_for_catchup($standby);
is($primary->safe_psql('postgres', "SELECT max(\"offset\") FROM mq.read('t', 0, 0, 1000)"),
	'79', 'the primary committed offsets 0 to 79');
is($primary->safe_psql('postgres', "SELECT end_offset FROM mq.partitions WHERE topic = 't' AND partition = 0"),
	'81', 'and handed out offset 80 to a transaction that aborted');
my $max_offset = 80;

# A topic the standby loads (describing it loads it into its shared
# memory), while the primary goes on using offsets past what the standby
# loaded: after promotion its offsets must continue past the primary's.
$primary->safe_psql('postgres', "SELECT mq.create_topic('t2')");
$primary->safe_psql('postgres',
	"SELECT count(*) FROM mq.send_batch('t2', ARRAY(SELECT g::text FROM generate_series(1, 10) g))");
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', "SELECT count(*) FROM mq.partitions WHERE topic = 't2'"),
	'1', 'the standby describes (and so loads) t2');
$primary->safe_psql('postgres',
	"SELECT count(*) FROM mq.send_batch('t2', ARRAY(SELECT g::text FROM generate_series(1, 1500) g))");
$primary->wait_for_catchup($standby);
my $t2_max = $primary->safe_psql('postgres', "SELECT max(\"offset\") FROM mq.messages('t2')");
cmp_ok($t2_max, '>=', 1500, 't2 used offsets past those the standby loaded');

my ($ret, $out, $err) = $standby->psql('postgres', "SELECT * FROM mq.read('t', 0)");
isnt($ret, 0, 'mq.read is refused on a standby');
like($err, qr/cannot read topic "t" during recovery/, 'saying why');
($ret, $out, $err) = $standby->psql('postgres', "SELECT * FROM mq.send('t', 'x'::text)");
like($err, qr/read-only transaction/, 'mq.send is refused on a standby');
is($standby->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'mq%'"),
	'0', 'no mq launcher or worker runs during recovery');

# Promotion: the launcher and the worker start, and sends continue past
# every offset the old primary used.
$primary->stop;
$standby->promote;
ok($standby->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM mq.worker_status() WHERE database = 'postgres' AND state = 'running'"),
	'after promotion the worker runs');
$standby->safe_psql('postgres', "SELECT partition FROM mq.send('t', 'after promotion'::text, partition => 0)");
is($standby->safe_psql('postgres', qq{
SELECT "offset" > $max_offset FROM mq.read('t', 0, 0, 1000)
 WHERE payload_text = 'after promotion'}),
	't', 'the first offset after promotion is past all earlier ones');
is($standby->safe_psql('postgres', "SELECT count(*) FROM mq.read('t', 0, 0, 1000)"),
	'81', 'and every message is there');
$standby->safe_psql('postgres', "SELECT partition FROM mq.send('t2', 'after promotion'::text)");
is($standby->safe_psql('postgres', qq{
SELECT "offset" > $t2_max FROM mq.messages('t2') WHERE payload_text = 'after promotion'}),
	't', 'a topic loaded during recovery continues past the old primary\'s offsets');
is($standby->safe_psql('postgres', qq{
SELECT count(*) = count(DISTINCT "offset") FROM mq.messages('t2')}),
	't', 'no offset of t2 is used twice');

$standby->stop;
done_testing();
