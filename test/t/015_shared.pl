# Shared and key_shared subscriptions under load and failures: more
# consumers than partitions, each applying every message's effect and
# acknowledging it in one transaction; a consumer that takes messages and
# never settles them (its leases end); a backend killed with kill -9 (the
# server restarts, every lease is lost).  In the end every message's effect
# is applied exactly once, key_shared kept each key's order, and the
# worker folded the acks into the positions.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('shared');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mq'
mq.worker_naptime = '200ms'
max_connections = 40
restart_after_crash = on
});
$node->start;

my $messages = 3000;
$node->safe_psql('postgres', qq{
CREATE EXTENSION mq;
SELECT mq.create_topic('work', partitions => 2);
SELECT mq.subscribe('w', 'work', mode => 'shared', start => 'earliest');
SELECT mq.subscribe('kw', 'work', mode => 'key_shared', start => 'earliest');
CREATE TABLE effects (grp text, part integer, off bigint, key text, seq integer,
                      applied bigserial);
-- While it has a row, consumers pause once two thirds of the work is done,
-- so that the crash below always interrupts the run, however slow the
-- machine is to kill it.
CREATE TABLE hold (since integer);
INSERT INTO hold VALUES (2 * 2 * $messages / 3);
CREATE PROCEDURE consume(grp text, idle_rounds integer) LANGUAGE plpgsql AS \$\$
DECLARE
    r record;
    n integer;
    idle integer := 0;
BEGIN
    LOOP
        IF (SELECT count(*) FROM effects) >= ALL (SELECT since FROM hold)
           AND EXISTS (SELECT FROM hold) THEN
            PERFORM pg_sleep(0.05);
            COMMIT;
            CONTINUE;
        END IF;
        n := 0;
        FOR r IN SELECT * FROM mq.receive(grp, 20, '3 s', '200 ms') LOOP
            INSERT INTO effects (grp, part, off, key, seq)
            VALUES (grp, r.partition, r."offset", r.key,
                    r.payload_text::integer);
            PERFORM mq.ack(r.receipt);
            n := n + 1;
        END LOOP;
        COMMIT;
        IF n = 0 THEN
            idle := idle + 1;
            EXIT WHEN idle >= idle_rounds;
        ELSE
            idle := 0;
        END IF;
    END LOOP;
END
\$\$;
SELECT count(*) FROM mq.send_batch('work',
    ARRAY(SELECT g::text FROM generate_series(1, $messages) g),
    keys => ARRAY(SELECT 'k' || (g % 30) FROM generate_series(1, $messages) g));
});

my @consumers;
sub start_consumer
{
	my ($group, $idle) = @_;
	my ($out, $err) = ('', '');
	push @consumers,
	  IPC::Run::start(
		[ 'psql', '-X', '-q', '-d', $node->connstr('postgres'), '-c',
		  "CALL consume('$group', $idle)" ],
		'>', \$out, '2>', \$err);
}

# a consumer that takes messages and never settles them, then 6 + 4
# consumers on 2 partitions
is($node->safe_psql('postgres',
		"SELECT count(*) FROM mq.receive('w', 20, '2 s')"),
	'20', 'a consumer takes 20 messages and walks away');
start_consumer('w', 15) for 1 .. 6;
start_consumer('kw', 15) for 1 .. 4;

# kill -9 a consumer's backend mid-run: the server restarts
$node->poll_query_until('postgres',
	"SELECT count(*) >= 300 FROM effects") or die 'consumers made no progress';
my $victim = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE query LIKE 'CALL consume%' LIMIT 1");
ok($victim =~ /^\d+$/, 'a consumer backend to kill');
kill 'KILL', $victim;
$_->finish for @consumers;
@consumers = ();
$node->poll_query_until('postgres', 'SELECT true') or die 'no restart';
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM effects'), '<',
	2 * $messages, 'the crash interrupted the run');

# after the restart: new consumers finish the work
$node->safe_psql('postgres', 'DELETE FROM hold');
start_consumer('w', 20) for 1 .. 5;
start_consumer('kw', 20) for 1 .. 5;
$_->finish for @consumers;

is($node->safe_psql('postgres', qq{
SELECT grp, count(*), count(DISTINCT (part, off)), count(DISTINCT seq)
  FROM effects GROUP BY grp ORDER BY grp}),
	"kw|$messages|$messages|$messages\nw|$messages|$messages|$messages",
	'every message\'s effect applied exactly once, in both groups')
  or diag($node->safe_psql('postgres', q{
SELECT g.grp, m.partition, min(m."offset"), max(m."offset"), count(*)
  FROM mq.messages('work') m CROSS JOIN (VALUES ('w'), ('kw')) g(grp)
 WHERE NOT EXISTS (SELECT 1 FROM effects e
                    WHERE e.grp = g.grp AND e.part = m.partition AND e.off = m."offset")
 GROUP BY 1, 2}) . "\n" . $node->safe_psql('postgres', 'SELECT * FROM mq.position'));
is($node->safe_psql('postgres', q{
SELECT count(*) FROM (
  SELECT seq, lag(seq) OVER (PARTITION BY key ORDER BY applied) AS before
    FROM effects WHERE grp = 'kw') x
 WHERE before > seq}),
	'0', 'key_shared applied each key\'s messages in order');
is($node->safe_psql('postgres', qq{SELECT count(*) FROM mq.receive('w', 10)}),
	'0', 'nothing is left to receive');

# the worker folds the acks into the positions: floor at the end (past it
# after the crash: the offsets the restart skipped are holes), state bounded
ok($node->poll_query_until('postgres', q{
SELECT (SELECT count(*) FROM mq.share_ack) = 0
   AND bool_and(p.next_offset >= o.next AND isempty(p.acked))
  FROM mq.position p
  JOIN (SELECT partition, max("offset") + 1 AS next FROM mq.messages('work')
         GROUP BY partition) o USING (partition)}),
	'the acks are folded into the positions, which reach the end of the log');
$node->restart;
is($node->safe_psql('postgres', qq{SELECT count(*) FROM mq.receive('kw', 10)}),
	'0', 'and nothing acknowledged comes back after a restart');

# an ack of an incarnation the subscription no longer has (one that
# committed after the seek or unsubscribe that ended it) counts for
# nothing, and the worker deletes it
$node->safe_psql('postgres', q{
SELECT mq.create_topic('orphans');
SELECT mq.subscribe('og', 'orphans', mode => 'shared', start => 'earliest');
SELECT mq.send('orphans', 'o' || g) FROM generate_series(1, 3) g});
# in one transaction, so that the worker cannot delete the row first
is($node->safe_psql('postgres', q{
BEGIN;
INSERT INTO mq.share_ack (group_id, topic_id, partition, incarnation, offsets)
SELECT group_id, topic_id, 0, share_reset_at - interval '1 hour', '{[0,3)}'
  FROM mq.subscription JOIN mq.consumer_group USING (group_id)
 WHERE name = 'og';
SELECT string_agg(payload_text, ',' ORDER BY "offset")
  FROM mq.receive('og', 10);
COMMIT}),
	'o1,o2,o3', 'an ack of an earlier incarnation settles nothing');
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM mq.share_ack WHERE incarnation < now() - interval '30 minutes'}),
	'the worker deletes acks of an earlier incarnation');

$node->stop;
done_testing();
