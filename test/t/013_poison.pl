# A message whose release fails never stops the worker: a delayed message
# that cannot be written (its topic's segment has an index expression that
# raises on it) is found among the due ones, put off with a growing
# back-off and, after 5 failed releases, parked in mq.parked with its
# error; meanwhile the other delayed messages of its topic and of other
# topics are released, and the worker never restarts.  A half message
# whose commit by check-back fails stays prepared with the error as its
# last check, and ends in mq.unresolved.  mq's clock is moved by the test
# (mq.test_clock).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('poison');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mq'
mq.worker_naptime = '200ms'
mq.check_interval = '1s'
mq.check_max = 3
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION mq;
SELECT mq.create_topic('poisoned', partitions => 2);
SELECT mq.create_topic('healthy', partitions => 2);
SELECT mq.subscribe('p', 'poisoned', start => 'earliest');
SELECT mq.subscribe('h', 'healthy', start => 'earliest');
-- fails the insert of any record batch holding the bytes "poison"
CREATE FUNCTION boom(b bytea) RETURNS integer IMMUTABLE LANGUAGE plpgsql AS $$
BEGIN
    IF position('poison'::bytea IN b) > 0 THEN
        RAISE EXCEPTION 'boom: a poisoned batch';
    END IF;
    RETURN 0;
END $$;
CREATE FUNCTION toxic(b bytea) RETURNS integer IMMUTABLE LANGUAGE plpgsql AS $$
BEGIN
    IF position('toxic'::bytea IN b) > 0 THEN
        RAISE EXCEPTION 'boom: a toxic batch';
    END IF;
    RETURN 0;
END $$;
});
my $segment = $node->safe_psql('postgres', q{
SELECT s.relid::regclass FROM mq.segment s JOIN mq.topic t USING (topic_id)
 WHERE t.name = 'poisoned'});
$node->safe_psql('postgres', "CREATE INDEX boom_idx ON $segment (public.boom(records))");
my ($schema) = $segment =~ /^(.*)\./;

sub wait_worker
{
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM mq.worker_status() WHERE database = 'postgres' AND state = 'running'")
	  or die 'the worker did not start';
	return $node->safe_psql('postgres',
		"SELECT pid FROM mq.worker_status() WHERE database = 'postgres'");
}

sub advance
{
	my ($by) = @_;
	$node->safe_psql('postgres', "SET mq.test_clock = on; SELECT mq.advance_clock('$by')");
}

sub fetch
{
	my ($group) = @_;
	return $node->safe_psql('postgres',
		"SELECT coalesce(string_agg(payload_text, ',' ORDER BY key), '') FROM mq.fetch('$group', max => 100)");
}

my $worker_pid = wait_worker();

# --- Among many due messages, the poisoned one is found; the others go.
$node->safe_psql('postgres', q{
SELECT count(*) FROM generate_series(1, 300) g,
    LATERAL mq.send('healthy', 'h' || g, key => lpad(g::text, 4, '0'), delay => '1 hour');
SELECT mq.send('poisoned', 'fine 1', key => 'a', delay => '1 hour');
SELECT mq.send('poisoned', 'poison', key => 'b', delay => '1 hour');
SELECT mq.send('poisoned', 'fine 2', key => 'c', delay => '1 hour');
});
my $log_offset = -s $node->logfile;
advance('1 hour');
ok($node->poll_query_until('postgres',
		"SELECT pending = 1 FROM mq.delayed WHERE topic = 'poisoned'")
	  && $node->poll_query_until('postgres',
		"SELECT NOT EXISTS (SELECT 1 FROM mq.delayed WHERE topic = 'healthy')"),
	'everything due but the poisoned message is released');
is($node->safe_psql('postgres', q{
SELECT release_attempts >= 1, last_error FROM mq.delayed_message d
  JOIN mq.topic t USING (topic_id) WHERE t.name = 'poisoned'}),
	't|boom: a poisoned batch', 'the poisoned message is put off with its error');
is(fetch('p'), 'fine 1,fine 2', "its topic's other messages were released");
my $healthy = $node->safe_psql('postgres',
	"SELECT count(DISTINCT payload_text) FROM mq.fetch('h', max => 1000)");
is($healthy, '300', "another topic's messages were released, each once");
ok($node->wait_for_log(qr/WARNING:  mq worker job "release" failed in database "postgres": boom: a poisoned batch/,
		$log_offset), 'each failed release is logged');

# --- Put off by 1, 2, 4, 8 s (mq's clock also runs in real time, so the
# attempts are only known to grow); meanwhile other messages are released.
my $seen = 1;
for my $round (1 .. 3)
{
	$node->safe_psql('postgres',
		"SELECT mq.send('healthy', 'late $round', key => 'z', delay => '1 s')");
	advance('1 s');
	ok($node->poll_query_until('postgres', qq{
SELECT coalesce((SELECT release_attempts > $seen FROM mq.delayed_message), true)}),
		"release attempts go on ($round)");
	$seen = $node->safe_psql('postgres',
		'SELECT coalesce(max(release_attempts), 5) FROM mq.delayed_message');
	ok($node->poll_query_until('postgres',
			"SELECT NOT EXISTS (SELECT 1 FROM mq.delayed WHERE topic = 'healthy')"),
		"a message of another topic due meanwhile is released ($round)");
	is(fetch('h'), "late $round", "and delivered ($round)");
}
advance('16 s');
ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM mq.parked}),
	'the fifth failure parks it');
is($node->safe_psql('postgres',
		"SELECT topic, key, attempts, error FROM mq.parked"),
	'poisoned|b|5|boom: a poisoned batch', 'mq.parked shows it with its error');
ok($node->wait_for_log(qr/WARNING:  delayed message [0-9a-f-]+ parked after 5 failed releases/,
		$log_offset), 'parking is logged');
is($node->safe_psql('postgres', 'SELECT count(*) FROM mq.delayed'), '0',
	'it left the delayed store');
is(wait_worker(), $worker_pid, 'the worker never restarted');
is($node->safe_psql('postgres',
		"SELECT restarts FROM mq.worker_status() WHERE database = 'postgres'"),
	'0', 'its restart count is 0');

# --- Unparked, it gets a new round of attempts; once the cause is gone it
# is released, once.
my $id = $node->safe_psql('postgres', 'SELECT id FROM mq.parked');
is($node->safe_psql('postgres', "SELECT mq.unpark('$id')"), 't', 'unpark');
ok($node->poll_query_until('postgres', q{
SELECT release_attempts = 1 FROM mq.delayed_message}),
	'an unparked message counts its attempts from zero');
$node->safe_psql('postgres', "DROP INDEX $schema.boom_idx");
advance('1 s');
ok($node->poll_query_until('postgres', 'SELECT NOT EXISTS (SELECT 1 FROM mq.delayed)'),
	'released once the cause is gone');
is(fetch('p'), 'poison', 'and delivered with its payload');
is($node->safe_psql('postgres', "SELECT mq.unpark('$id'), mq.discard_parked('$id')"),
	'f|f', 'nothing parked by that id any more');

# --- Discard: a parked message can be deleted for good.
$node->safe_psql('postgres', "CREATE INDEX toxic_idx ON $segment (public.toxic(records))");
$node->safe_psql('postgres', "SELECT mq.send('poisoned', 'toxic 2', delay => '1 s')");
for my $round (1 .. 6)
{
	advance('8 s');
	last if $node->safe_psql('postgres', 'SELECT count(*) FROM mq.parked') eq '1';
	sleep 1;
}
ok($node->poll_query_until('postgres', 'SELECT count(*) = 1 FROM mq.parked'),
	'a second poisoned message is parked');
$id = $node->safe_psql('postgres', 'SELECT id FROM mq.parked');
is($node->safe_psql('postgres', "SELECT mq.discard_parked('$id')"), 't', 'discard_parked');
is($node->safe_psql('postgres', 'SELECT count(*) FROM mq.parked'), '0', 'it is gone');

# --- A half message whose commit by check-back fails stays prepared, with
# the error as its last check, then is unresolved; others are committed.
$node->safe_psql('postgres', q{
CREATE FUNCTION yes(m mq.half_messages) RETURNS text LANGUAGE sql AS $$ SELECT 'commit' $$;
SELECT mq.register_checker('shop', 'yes(mq.half_messages)');
});
my $bad = $node->safe_psql('postgres',
	"SELECT mq.prepare('poisoned', 'toxic 3'::text, 'shop', check_after => '1 s')");
my $good = $node->safe_psql('postgres',
	"SELECT mq.prepare('healthy', 'checked'::text, 'shop', check_after => '1 s')");
for my $check (1 .. 3)
{
	advance('1 s');
	ok($node->poll_query_until('postgres',
			"SELECT checks >= $check FROM mq.half_messages WHERE handle = '$bad'"),
		"check $check of the half message whose commit fails");
}
is($node->safe_psql('postgres',
		"SELECT state, last_check FROM mq.half_messages WHERE handle = '$bad'"),
	'unresolved|commit failed: boom: a toxic batch',
	'it is unresolved, with the error as its last check');
is($node->safe_psql('postgres',
		"SELECT state FROM mq.half_messages WHERE handle = '$good'"),
	'committed', 'the other half message was committed');
is(fetch('h'), 'checked', 'and delivered');
# --- A checker registered by a role that may not produce to the message's
# topic never sees or decides its half messages.
$node->safe_psql('postgres', q{
CREATE ROLE nosy;
GRANT USAGE ON SCHEMA mq TO nosy;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA mq TO nosy;
CREATE TABLE seen (payload text);
GRANT INSERT ON seen TO nosy;
CREATE FUNCTION nosy_checker(m mq.half_messages) RETURNS text LANGUAGE sql
    AS $$ INSERT INTO public.seen VALUES (m.payload_text); SELECT 'commit' $$;
ALTER FUNCTION nosy_checker(mq.half_messages) OWNER TO nosy;
SET ROLE nosy;
SELECT mq.register_checker('other_shop', 'nosy_checker(mq.half_messages)');
});
my $other = $node->safe_psql('postgres',
	"SELECT mq.prepare('healthy', 'not for nosy'::text, 'other_shop', check_after => '1 s')");
advance('1 s');
ok($node->poll_query_until('postgres',
		"SELECT checks >= 1 FROM mq.half_messages WHERE handle = '$other'"),
	'the half message of a checker without produce is checked');
is($node->safe_psql('postgres',
		"SELECT state, last_check, (SELECT count(*) FROM seen) FROM mq.half_messages WHERE handle = '$other'"),
	'prepared|the checker\'s registrant, role "nosy", may not produce to topic "healthy"|0',
	'as unknown: the function is not called and the message stays prepared');

is(wait_worker(), $worker_pid, 'the worker still never restarted');

$node->stop;
done_testing();
