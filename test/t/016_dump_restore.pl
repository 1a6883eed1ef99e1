# pg_dump of a database with mq, restored into another cluster whose roles
# have other OIDs: topic owners, grants and the checker's registrant are
# kept by name, so check-back works there as the same role; a registrant
# that no longer exists makes the check fail with a WARNING that names it.
# Partitions continue from their restored high marks, and lag counts the
# messages a group has not consumed, not the offsets skipped to get there.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my %conf = (
	'shared_preload_libraries' => "'mq'",
	'mq.worker_naptime' => "'200ms'",
	'mq.check_interval' => "'1s'",
	'mq.check_max' => '1000');

my $a = PostgreSQL::Test::Cluster->new('source');
$a->init;
$a->append_conf('postgresql.conf', join("\n", map { "$_ = $conf{$_}" } sort keys %conf));
$a->start;
$a->safe_psql('postgres', q{
CREATE ROLE payer LOGIN;
CREATE EXTENSION mq;
CREATE TABLE public.paid (handle uuid PRIMARY KEY);
GRANT SELECT ON public.paid TO payer;
GRANT CREATE ON SCHEMA public TO payer;
GRANT USAGE ON SCHEMA mq TO payer;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA mq TO payer;
SELECT mq.create_topic('pay', partitions => 2);
SELECT mq.alter_topic_owner('pay', 'payer');
SELECT mq.subscribe('ship', 'pay', start => 'earliest');
SELECT mq.subscribe('audit', 'pay', start => 'earliest');
SELECT mq.send('pay', 'm' || g, key => g::text) FROM generate_series(1, 2) g;
SELECT count(*) FROM mq.fetch('audit', 'pay');
SET ROLE payer;
CREATE FUNCTION public.check_payment(m mq.half_messages) RETURNS text
LANGUAGE sql AS $$
    SELECT CASE WHEN EXISTS (SELECT 1 FROM public.paid p WHERE p.handle = m.handle)
                THEN 'commit' ELSE 'unknown' END
$$;
SELECT mq.register_checker('payer-service', 'public.check_payment(mq.half_messages)');
RESET ROLE;
});
my $handle = $a->safe_psql('postgres',
	"SELECT mq.prepare('pay', 'half', 'payer-service', check_after => '1s')");
# asked at least once here, answered 'unknown'
ok($a->poll_query_until('postgres',
		"SELECT checks > 0 FROM mq.half_messages WHERE handle = '$handle'"),
	'the source cluster checks the half message back');

my $dump = $a->basedir . '/mq.dump';
command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $a->connstr('postgres') ],
	'pg_dump of a database with mq');

# the target: roles created in another order, so payer gets another OID
my $b = PostgreSQL::Test::Cluster->new('target');
$b->init;
$b->append_conf('postgresql.conf', join("\n", map { "$_ = $conf{$_}" } sort keys %conf));
$b->start;
$b->safe_psql('postgres', q{
CREATE ROLE filler1; CREATE ROLE filler2; CREATE ROLE filler3;
CREATE ROLE payer LOGIN;
});
isnt($b->safe_psql('postgres', "SELECT 'payer'::regrole::oid"),
	$a->safe_psql('postgres', "SELECT 'payer'::regrole::oid"),
	'the registrant has another OID in the target cluster');
command_ok([ 'pg_restore', '--exit-on-error', '-d', $b->connstr('postgres'), $dump ],
	'pg_restore into the other cluster');

is($b->safe_psql('postgres', q{
SELECT c.owner, t.owner FROM mq.checker c, mq.topics t
 WHERE c.producer_group = 'payer-service' AND t.name = 'pay'}),
	'payer|payer', 'the checker\'s registrant and the topic\'s owner are restored by name');
is($b->safe_psql('postgres', q{
SELECT state FROM mq.half_messages WHERE producer_group = 'payer-service'}),
	'prepared', 'the half message is restored, still prepared');
is($b->safe_psql('postgres', q{
SELECT string_agg(format('%s=%s', "group", lag), ' ' ORDER BY "group")
  FROM (SELECT "group", sum(lag) AS lag FROM mq.lag WHERE topic = 'pay' GROUP BY 1) l}),
	'audit=0 ship=2',
	'after the restore, lag counts the messages each group has not consumed');
is($b->safe_psql('postgres', q{
SELECT sum(end_offset), sum(messages_estimate) FROM mq.partitions WHERE topic = 'pay'}),
	'2|2', 'and the end offsets are the ends of the restored logs');

# the payment commits on the target's side: the next check-back, run as
# payer, commits the half message
$b->safe_psql('postgres', "INSERT INTO public.paid VALUES ('$handle')");
ok($b->poll_query_until('postgres', qq{
SELECT state = 'committed' AND resolved_by = 'checker'
  FROM mq.half_messages WHERE handle = '$handle'}),
	'check-back after the restore commits the half message, as the registrant')
  or diag($b->safe_psql('postgres', 'SELECT last_check FROM mq.half_messages'));
is($b->safe_psql('postgres', q{
SELECT string_agg(payload_text, ',' ORDER BY payload_text)
  FROM mq.messages('pay')}),
	'half,m1,m2', 'the topic holds the messages sent before the dump and the committed half message');
is($b->safe_psql('postgres', q{
SET ROLE payer;
SELECT mq.has_topic_privilege('pay', 'manage')}),
	't', 'the topic\'s owner holds its privileges in the target cluster');

# a registrant that no longer exists: the check fails with a WARNING naming it
$b->safe_psql('postgres', 'ALTER ROLE payer RENAME TO payer_renamed');
my $offset = -s $b->logfile;
my $orphan = $b->safe_psql('postgres',
	"SELECT mq.prepare('pay', 'orphan', 'payer-service', check_after => '0s')");
ok($b->poll_query_until('postgres', qq{
SELECT last_check = 'the checker''s registrant, role "payer", does not exist'
  FROM mq.half_messages WHERE handle = '$orphan'}),
	'a check whose registrant is gone says so in last_check');
ok($b->wait_for_log(
		qr/WARNING:  check-back of a half message on topic "pay" failed: the checker's registrant, role "payer", does not exist/,
		$offset),
	'and the worker logs a WARNING naming the role');
$b->safe_psql('postgres', q{
GRANT USAGE ON SCHEMA mq TO filler1;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA mq TO filler1});
my ($ret, $out, $err) = $b->psql('postgres',
	"SET ROLE filler1; SELECT mq.unregister_checker('payer-service')");
like($err, qr/has a checker registered by role "payer"/,
	'another role cannot remove it');
is($b->safe_psql('postgres', "SELECT mq.unregister_checker('payer-service')"),
	't', 'a superuser can, once its role is gone');

$a->stop;
$b->stop;
done_testing();
