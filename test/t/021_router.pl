# A cluster of three mq nodes behind a router (router/mq_router.sql): a
# fourth server without mq, whose PL/Proxy functions place a topic's
# partitions on the nodes, send each keyed message to the node holding its
# key's partition (Kafka's, as mq.partition_for computes it), and sum topics
# and lag over the nodes.  A stopped node fails the sends routed to it with
# an error naming it, and leaves the others serving.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my @nodes;
for my $i (0 .. 2)
{
	my $n = PostgreSQL::Test::Cluster->new("mq$i");
	$n->init;
	$n->append_conf('postgresql.conf', "shared_preload_libraries = 'mq'");
	$n->start;
	$n->safe_psql('postgres', 'CREATE EXTENSION mq');
	push @nodes, $n;
}

# The router: PL/Proxy and the cluster as a SQL/MED server, p<n> for node n.
my $router = PostgreSQL::Test::Cluster->new('router');
$router->init;
$router->start;
# PL/Proxy 2.10 wants a power of 2 of them: p3 repeats node 0, as padding.
my @connstr = map { 'host=' . $_->host . ' port=' . $_->port . ' dbname=postgres' } @nodes;
my $parts = join(', ', map { "p$_ '$connstr[$_ % 3]'" } 0 .. 3);
$router->safe_psql('postgres', qq{
CREATE EXTENSION plproxy;
CREATE SERVER mq_cluster FOREIGN DATA WRAPPER plproxy
	OPTIONS ($parts);
CREATE USER MAPPING FOR PUBLIC SERVER mq_cluster;
});
command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $router->connstr('postgres'),
		'-f', 'router/mq_router.sql' ],
	'router/mq_router.sql installs in a database without mq');
is($router->safe_psql('postgres', 'SELECT count(*) FROM mq_router.nodes'),
	'3', 'the padding is not a node');

# mq_router.partition_for is mq.partition_for (Kafka's murmur2), in SQL
my $keys = q{SELECT k FROM (VALUES ('21'), ('foobar'), ('a-little-bit-long-string'),
	('a-little-bit-longer-string'), ('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'),
	('abc'), (''), ('x'), ('xy'), ('xyz'), ('héllo wörld'), ('k-12345')) v(k)};
my $hashes = "SELECT string_agg(k || '=' || %s(k, 2147483647) || '/' || %s(k, 7), ' ' ORDER BY k) FROM ($keys) v";
is($router->safe_psql('postgres', sprintf($hashes, 'mq_router.partition_for', 'mq_router.partition_for')),
	$nodes[0]->safe_psql('postgres', sprintf($hashes, 'mq.partition_for', 'mq.partition_for')),
	'the router hashes keys as mq.partition_for does');

# --- placement: 8 partitions over 3 nodes, partition p on node p % 3 ---
$router->safe_psql('postgres', "CALL mq_router.create_topic('orders', 8)");
is($router->safe_psql('postgres', "SELECT nodes || ' ' || complete::char FROM mq_router.topic WHERE name = 'orders'"),
	'3 t', 'create_topic places the topic over the three nodes');
is(join(' ', map { $_->safe_psql('postgres', "SELECT partitions FROM mq.topics WHERE name = 'orders'") } @nodes),
	'3 3 2', 'each node has its share: partitions 0,3,6 / 1,4,7 / 2,5');
$router->safe_psql('postgres', "CALL mq_router.create_topic('small', 2)");
is(join(' ', map { $_->safe_psql('postgres', "SELECT count(*) FROM mq.topics WHERE name = 'small'") } @nodes),
	'1 1 0', 'a topic with fewer partitions than nodes is on as many nodes');
my ($ret, $out, $err) = $router->psql('postgres', "CALL mq_router.create_topic('orders', 8)");
like($err, qr/topic "orders" already exists in the cluster/, 'a topic is created once');

# a topic a node has that the router did not create is not adopted
$nodes[1]->safe_psql('postgres', "SELECT mq.create_topic('t2', 1)");
($ret, $out, $err) = $router->psql('postgres', "CALL mq_router.create_topic('t2', 3)",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  42710: topic "t2" already exists on mq node 1/, 'create_topic refuses a node\'s own topic, naming the node');
is(join(' ', map { $_->safe_psql('postgres', "SELECT count(*) FROM mq.topics WHERE name = 't2'") } @nodes)
	. ' ' . $router->safe_psql('postgres', "SELECT count(*) FROM mq_router.topic WHERE name = 't2'"),
	'0 1 0 0', 'and creates and records nothing');

# the router's functions need only the grants docs/scale-out.md lists
$router->safe_psql('postgres', q{
CREATE ROLE app LOGIN;
GRANT USAGE ON SCHEMA mq_router TO app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA mq_router TO app;
GRANT USAGE ON FOREIGN SERVER mq_cluster TO app;
});
# (on the nodes, it acts as the bootstrap superuser, as the nodes' grants are
# not what this tests)
my $superuser = $router->safe_psql('postgres', 'SELECT current_user');
$router->safe_psql('postgres',
	"CREATE USER MAPPING FOR app SERVER mq_cluster OPTIONS (user '$superuser')");
my $app = $router->connstr('postgres') . ' user=app';
is($router->safe_psql('postgres', "SELECT partition FROM mq_router.send('small', 'as app', key => 'a')",
		connstr => $app),
	$router->safe_psql('postgres', "SELECT mq_router.partition_for('a', 2)"), 'a granted role sends');
is($router->safe_psql('postgres', "SELECT string_agg(name, ',' ORDER BY name) FROM mq_router.topics()",
		connstr => $app),
	'orders,small,t2', 'and reads topics()');
is($router->safe_psql('postgres', "SELECT count(*) FROM mq_router.lag()", connstr => $app),
	'0', 'and lag()');
$router->safe_psql('postgres', "CALL mq_router.create_topic('by_app', 1)", connstr => $app);
is($router->safe_psql('postgres', "SELECT complete::char FROM mq_router.topic WHERE name = 'by_app'"),
	't', 'and creates topics');

# --- keyed sends: 40 keys, 5 messages each, in sequence ---
$router->safe_psql('postgres', q{
CREATE TABLE sent AS
SELECT g AS seq, 'k' || (g % 40) AS key, s.partition
  FROM generate_series(1, 200) g,
	   LATERAL mq_router.send('orders', 'm' || g, key => 'k' || (g % 40)) s
 ORDER BY g;
});
my $expected = $nodes[0]->safe_psql('postgres', q{
SELECT string_agg(k || ':' || mq.partition_for(k, 8), ' ' ORDER BY k)
  FROM (SELECT 'k' || g AS k FROM generate_series(0, 39) g) v});
is($router->safe_psql('postgres', q{
SELECT string_agg(DISTINCT key || ':' || partition, ' ' ORDER BY key || ':' || partition) FROM sent}),
	join(' ', sort split / /, $expected),
	'send returns the key\'s partition under Kafka\'s partitioner over the topic\'s 8');

# each node holds exactly the keys of its partitions, in its local partition p / 3
my $stored = '';
for my $i (0 .. 2)
{
	$stored .= $nodes[$i]->safe_psql('postgres', qq{
SELECT string_agg(format('%s:%s:%s:%s', key, partition * 3 + $i, "offset", payload_text),
	   ' ' ORDER BY key, "offset")
  FROM mq.messages('orders')}) . ' ';
}
my %got;
for my $m (split ' ', $stored)
{
	my ($k, $p, $off, $payload) = split /:/, $m;
	push @{ $got{$k} }, [ $p, substr($payload, 1) ];
}
my %want;
for my $row (split /\n/, $nodes[0]->safe_psql('postgres', q{
SELECT 'k' || (g % 40), mq.partition_for('k' || (g % 40), 8), g
  FROM generate_series(1, 200) g ORDER BY g}))
{
	my ($k, $p, $g) = split /\|/, $row;
	push @{ $want{$k} }, [ $p, $g ];
}
is_deeply(\%got, \%want,
	'every message is on the node of its partition, and each key\'s messages are in send order by offset');

# lookups through the router
is($router->safe_psql('postgres', q{
SELECT string_agg(payload_text, ',' ORDER BY "offset") FROM mq_router.get_by_key('orders', 'k7')}),
	'm7,m47,m87,m127,m167', 'get_by_key reads the key\'s partition on its node');
my ($p7, $o7, $id7) = split /\|/, $router->safe_psql('postgres', q{
SELECT partition, "offset", id FROM mq_router.get_by_key('orders', 'k7', 1)});
is($router->safe_psql('postgres', "SELECT payload_text FROM mq_router.get('orders', $p7, $o7)"),
	'm167', 'get finds a message by the topic\'s partition and offset');
is($router->safe_psql('postgres', "SELECT partition || ' ' || payload_text FROM mq_router.get_by_id('orders', '$id7')"),
	"$p7 m167", 'get_by_id asks every node');
is($router->safe_psql('postgres', q{
SELECT count(*) FROM mq_router.get_by_time('orders', now() - interval '1 hour', now() + interval '1 hour')}),
	'200', 'get_by_time gathers all nodes');
my $small_id = $router->safe_psql('postgres', "SELECT id FROM mq_router.send('small', 'on two', key => 'b')");
is($router->safe_psql('postgres', "SELECT payload_text FROM mq_router.get_by_id('small', '$small_id')"),
	'on two', 'get_by_id asks only the nodes holding a topic of fewer partitions than nodes');
is($router->safe_psql('postgres', q{
SELECT string_agg(payload_text, ',' ORDER BY payload_text)
  FROM mq_router.get_by_time('small', now() - interval '1 hour', now() + interval '1 hour')}),
	'as app,on two', 'and so does get_by_time');
($ret, $out, $err) = $router->psql('postgres', "SELECT * FROM mq_router.get('orders', NULL, 0)",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  22004: partition must not be NULL/, 'get refuses a NULL partition');

# --- a batch: keyed and keyless elements, jsonb payloads ---
is($router->safe_psql('postgres', q{
SELECT string_agg(CASE WHEN k.k IS NULL THEN 'none'
					   ELSE (b.partition = mq_router.partition_for(k.k, 8))::text END, ',' ORDER BY b.n)
  FROM mq_router.send_batch('orders',
		ARRAY['{"b": 1}', '{"b": 2}', '{"b": 3}', '{"b": 4}']::jsonb[],
		keys => ARRAY['k1', 'k2', NULL, 'k1']) WITH ORDINALITY b(id, partition, duplicate, n)
  JOIN unnest(ARRAY['k1', 'k2', NULL, 'k1']) WITH ORDINALITY k(k, n) ON k.n = b.n}),
	'true,true,none,true', 'send_batch places each keyed element on its key\'s partition, in order');
is($router->safe_psql('postgres', q{
SELECT string_agg(coalesce(payload_text, payload_json::text), ',' ORDER BY "offset")
  FROM mq_router.get_by_key('orders', 'k1', 3)}),
	'm161,{"b": 1},{"b": 4}', 'a batch keeps the order of its elements per key');

# --- topics and lag, summed over the nodes ---
is($router->safe_psql('postgres', q{
SELECT string_agg(format('%s %s %s %s', name, partitions, nodes, placed), ', ' ORDER BY name)
  FROM mq_router.topics()}),
	'by_app 1 1 t, orders 8 3 t, small 2 2 t, t2 1 1 f', 'topics sums partitions over the nodes');
$_->safe_psql('postgres', "SELECT mq.subscribe('billing', 'orders', start => 'earliest')") for @nodes;
$nodes[1]->safe_psql('postgres', q{
SELECT count(*) FROM mq.fetch('billing', 'orders', max => 1000);
SELECT mq.commit('billing', 'orders')});
my $sent_to_1 = $nodes[1]->safe_psql('postgres', "SELECT count(*) FROM mq.messages('orders')");
is($router->safe_psql('postgres', q{
SELECT sum(lag) || ' ' || count(*) || ' ' || count(DISTINCT partition) FROM mq_router.lag() WHERE "group" = 'billing'}),
	(204 - $sent_to_1) . ' 8 8', 'lag sums to the messages node 1 has not had consumed, over 8 partitions');
is($router->safe_psql('postgres', q{
SELECT string_agg(DISTINCT node::text, ',') FROM mq_router.lag() WHERE "group" = 'billing' AND lag = 0}),
	'1', 'the consumed partitions are those of node 1');

# --- node 2 stopped ---
$nodes[2]->stop;
my $key2 = $router->safe_psql('postgres', q{
SELECT k FROM (SELECT 'k' || g AS k FROM generate_series(0, 39) g) v
 WHERE mq_router.partition_for(k, 8) % 3 = 2 LIMIT 1});
my $key0 = $router->safe_psql('postgres', q{
SELECT k FROM (SELECT 'k' || g AS k FROM generate_series(0, 39) g) v
 WHERE mq_router.partition_for(k, 8) % 3 = 0 LIMIT 1});
($ret, $out, $err) = $router->psql('postgres',
	"SELECT partition FROM mq_router.send('orders', 'lost', key => '$key2')");
like($err, qr/ERROR:  mq node 2 is unavailable/, 'a send routed to the stopped node fails naming it');
like($err, qr/DETAIL:  Node 2 \(host=.* port=\d+ dbname=postgres\): /, 'with its connection string and PL/Proxy\'s error');
($ret, $out, $err) = $router->psql('postgres',
	"SELECT partition FROM mq_router.send('orders', 'lost', key => '$key2')",
	connstr => $app, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  08006: mq node 2 is unavailable/, 'so does a granted role\'s');
($ret, $out, $err) = $router->psql('postgres', qq{
SELECT count(*) FROM mq_router.send_batch('orders', ARRAY['x', 'y'], keys => ARRAY['$key0', '$key2'])});
like($err, qr/ERROR:  one of mq nodes 0, 2 is unavailable/, 'a batch names the nodes it went to');
like($err, qr/HINT:  This call needs nodes 0, 2 /, 'and says it needs them');
($ret, $out, $err) = $router->psql('postgres', "CALL mq_router.create_topic('t3', 3)");
like($err, qr/ERROR:  mq node 2 is unavailable/, 'create_topic fails on the stopped node');
is($router->safe_psql('postgres', "SELECT count(*) FROM mq_router.topic WHERE name = 't3'"),
	'0', 'before recording anything');
is($router->safe_psql('postgres', "SELECT partition % 3 FROM mq_router.send('orders', 'kept', key => '$key0')"),
	'0', 'sends to the other nodes still work');
($ret, $out, $err) = $router->psql('postgres', 'SELECT * FROM mq_router.topics()');
like($err, qr/one of mq nodes 0, 1, 2 is unavailable/, 'topics fails while a node is stopped');

$nodes[2]->start;
is($router->safe_psql('postgres', "SELECT partition % 3 FROM mq_router.send('orders', 'back', key => '$key2')"),
	'2', 'once restarted, the node takes its sends again');

# a creation that a node fails after the others have their share is
# recorded, and completed by a retry
$nodes[2]->safe_psql('postgres', q{
CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
	$$BEGIN RAISE EXCEPTION 'refused on node 2'; END$$;
CREATE TRIGGER refuse BEFORE INSERT ON mq.topic FOR EACH ROW EXECUTE FUNCTION refuse();
});
($ret, $out, $err) = $router->psql('postgres', "CALL mq_router.create_topic('t3', 3)");
like($err, qr/refused on node 2/, 'create_topic fails on node 2');
$nodes[2]->safe_psql('postgres', 'DROP TRIGGER refuse ON mq.topic');
is(join(' ', map { $_->safe_psql('postgres', "SELECT count(*) FROM mq.topics WHERE name = 't3'") } @nodes)
	. ' ' . $router->safe_psql('postgres', "SELECT complete::char FROM mq_router.topic WHERE name = 't3'"),
	'1 1 0 f', 'the failed creation is recorded as incomplete, with the nodes done so far');
($ret, $out, $err) = $router->psql('postgres', "SELECT * FROM mq_router.send('t3', 'early')");
like($err, qr/topic "t3" is not created on every node/, 'an incomplete topic takes no sends');
$router->safe_psql('postgres', "CALL mq_router.create_topic('t3', 3)");
is(join(' ', map { $_->safe_psql('postgres', "SELECT count(*) FROM mq.topics WHERE name = 't3'") } @nodes)
	. ' ' . $router->safe_psql('postgres', "SELECT complete::char FROM mq_router.topic WHERE name = 't3'"),
	'1 1 1 t', 'a retry completes it, keeping the nodes\' shares the router created');

$_->stop for @nodes, $router;
done_testing();
