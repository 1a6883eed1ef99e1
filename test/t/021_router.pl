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
is($router->safe_psql('postgres', "SELECT state FROM mq_router.topic WHERE name = 'orders'"),
	'complete', 'create_topic completes the topic');
is($router->safe_psql('postgres', q{
SELECT string_agg(format('%s:%s/%s', partition, node, local), ' ' ORDER BY partition)
  FROM mq_router.partition WHERE topic = 'orders'}),
	'0:0/0 1:1/0 2:2/0 3:0/1 4:1/1 5:2/1 6:0/2 7:1/2',
	'and places partition p on node p % 3 as its local partition p / 3');
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
GRANT EXECUTE ON ALL ROUTINES IN SCHEMA mq_router TO app;
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
is($router->safe_psql('postgres', "SELECT state FROM mq_router.topic WHERE name = 'by_app'"),
	'complete', 'and creates topics');
# and no routine, procedures included, is executable by a role that has
# only the schema
$router->safe_psql('postgres', 'CREATE ROLE nobody LOGIN; GRANT USAGE ON SCHEMA mq_router TO nobody');
($ret, $out, $err) = $router->psql('postgres', "CALL mq_router.create_topic('by_nobody', 1)",
	connstr => $router->connstr('postgres') . ' user=nobody');
like($err, qr/permission denied for procedure create_topic/, 'a role without the grants cannot call create_topic');
# a producer: mq_router.grant_producer's grants send, look up and report,
# and allow no DDL and no change of the router's records
$router->safe_psql('postgres', q{
CREATE ROLE producer LOGIN;
SELECT mq_router.grant_producer('producer');
});
$router->safe_psql('postgres', "CREATE USER MAPPING FOR producer SERVER mq_cluster OPTIONS (user '$superuser')");
my $producer = $router->connstr('postgres') . ' user=producer';
is($router->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM mq_router.send('by_app', 'by producer', key => 'p'))
	|| ' ' || (SELECT count(*) FROM mq_router.send_batch('by_app', ARRAY['x', 'y']))
	|| ' ' || (SELECT count(*) FROM mq_router.get_by_key('by_app', 'p'))
	|| ' ' || (SELECT count(*) > 0 FROM mq_router.topics())
	|| ' ' || (SELECT count(*) FROM mq_router.lag())
	|| ' ' || (SELECT count(*) FROM mq_router.partitions() WHERE topic = 'by_app')}, connstr => $producer),
	'1 2 1 true 0 1', 'a producer sends, looks up and reads topics, lag and partitions');
for my $call ("CALL mq_router.create_topic('by_producer', 1)", "CALL mq_router.drop_topic('by_app')",
	"SELECT mq_router.record_drop('by_app')", "CALL mq_router.subscribe('g', 'by_app')")
{
	($ret, $out, $err) = $router->psql('postgres', $call, connstr => $producer,
		extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/ERROR:  42501: permission denied for (procedure|function)/, "a producer cannot: $call");
}

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

is($router->safe_psql('postgres', q{
SELECT count(*) FROM mq_router.partitions() WHERE topic = 'orders'}),
	'8', 'partitions() lists every partition of a topic');
is($router->safe_psql('postgres', q{
SELECT bool_and(p.end_offset = l.end_offset)
  FROM mq_router.partitions() p
  JOIN mq_router.lag() l USING (topic, partition)
 WHERE l."group" = 'billing'}),
	't', 'with the end offsets lag() has');

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
# what asks every node reports the stopped one's share as unavailable
is($router->safe_psql('postgres', q{
SELECT string_agg(format('%s %s %s %s', name, partitions, nodes, unavailable_nodes), ', ' ORDER BY name)
  FROM mq_router.topics()}),
	'by_app 1 1 {}, orders 6 2 {2}, small 2 2 {}, t2 1 1 {2}',
	'topics() sums the nodes that answer, and names the stopped node where it holds partitions');
is($router->safe_psql('postgres', q{
SELECT string_agg(format('%s/%s', partition, node), ',' ORDER BY partition)
  FROM mq_router.lag() WHERE topic = 'orders' AND NOT available}),
	'2/2,5/2', 'lag() has a row per partition on the stopped node, unavailable');
is($router->safe_psql('postgres', q{
SELECT count(*) || ' ' || count(lag) || ' ' || count("group")
  FROM mq_router.lag() WHERE NOT available}),
	'2 0 0', 'with its group and lag unknown (NULL), not 0');
is($router->safe_psql('postgres', q{
SELECT sum(lag) FROM mq_router.lag() WHERE "group" = 'billing'}),
	$nodes[0]->safe_psql('postgres', q{SELECT sum(lag) FROM mq.lag WHERE "group" = 'billing'})
	  + $nodes[1]->safe_psql('postgres', q{SELECT sum(lag) FROM mq.lag WHERE "group" = 'billing'}),
	'and the positions of the nodes that answer');
my %end_offsets = map { my $n = $_; map { my ($lp, $end) = split /\|/; ($lp * 3 + $n => $end) }
	split /\n/, $nodes[$n]->safe_psql('postgres', q{
SELECT partition, end_offset FROM mq.partitions WHERE topic = 'orders'}) } 0, 1;
is($router->safe_psql('postgres', q{
SELECT string_agg(format('%s:%s/%s %s %s', partition, node, local_partition, available,
					  coalesce(end_offset::text, '-')), ' ' ORDER BY partition)
  FROM mq_router.partitions() WHERE topic = 'orders'}),
	join(' ', map { my $n = $_ % 3; my $l = int($_ / 3);
		"$_:$n/$l " . ($n == 2 ? 'f -' : 't ' . $end_offsets{$_}) } 0 .. 7),
	'partitions() shows every partition, those of the stopped node unavailable');
$nodes[$_]->stop for 0, 1;
is($router->safe_psql('postgres', q{
SELECT count(*) || ' ' || count(*) FILTER (WHERE NOT available) FROM mq_router.partitions()}),
	'11 11', 'with every node stopped, partitions() says all of them are unavailable');
is($router->safe_psql('postgres', q{
SELECT string_agg(format('%s %s', name, unavailable_nodes), ', ' ORDER BY name) FROM mq_router.topics()}),
	'by_app {0}, orders {0,1,2}, small {0,1}', 'and topics() lists the placed topics, naming their nodes');
$nodes[$_]->start for 0, 1;

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
	. ' ' . $router->safe_psql('postgres', "SELECT state FROM mq_router.topic WHERE name = 't3'"),
	'1 1 0 creating', 'the failed creation is recorded as incomplete, with the nodes done so far');
($ret, $out, $err) = $router->psql('postgres', "SELECT * FROM mq_router.send('t3', 'early')");
like($err, qr/topic "t3" is not created on every node/, 'an incomplete topic takes no sends');
$router->safe_psql('postgres', "CALL mq_router.create_topic('t3', 3)");
is(join(' ', map { $_->safe_psql('postgres', "SELECT count(*) FROM mq.topics WHERE name = 't3'") } @nodes)
	. ' ' . $router->safe_psql('postgres', "SELECT state FROM mq_router.topic WHERE name = 't3'"),
	'1 1 1 complete', 'a retry completes it, keeping the nodes\' shares the router created');
# an incomplete creation can be abandoned with drop_topic
$nodes[2]->safe_psql('postgres', 'CREATE TRIGGER refuse BEFORE INSERT ON mq.topic FOR EACH ROW EXECUTE FUNCTION refuse()');
($ret, $out, $err) = $router->psql('postgres', "CALL mq_router.create_topic('t4', 3)");
$nodes[2]->safe_psql('postgres', 'DROP TRIGGER refuse ON mq.topic');
$router->safe_psql('postgres', "CALL mq_router.drop_topic('t4')");
is(join(' ', map { $_->safe_psql('postgres', "SELECT count(*) FROM mq.topics WHERE name = 't4'") } @nodes)
	. ' ' . $router->safe_psql('postgres', "SELECT count(*) FROM mq_router.topic WHERE name = 't4'"),
	'0 0 0 0', 'drop_topic abandons an incomplete creation, on the nodes that had created their share');

# --- adding a node: a router that starts with nodes 0 and 1 and gets node 2,
# in a database "grow" of each server (the servers above, reused) ---
for my $n (@nodes)
{
	$n->safe_psql('postgres', 'CREATE DATABASE grow');
	$n->safe_psql('grow', 'CREATE EXTENSION mq');
}
$router->safe_psql('postgres', 'CREATE DATABASE grow');
my @grow = map { 'host=' . $_->host . ' port=' . $_->port . ' dbname=grow' } @nodes;
$router->safe_psql('grow', qq{
CREATE EXTENSION plproxy;
CREATE SERVER mq_cluster FOREIGN DATA WRAPPER plproxy
	OPTIONS (p0 '$grow[0]', p1 '$grow[1]');
CREATE USER MAPPING FOR PUBLIC SERVER mq_cluster;
});
command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $router->connstr('grow'),
		'-f', 'router/mq_router.sql' ], 'a router of two nodes');
$router->safe_psql('grow', q{
CREATE ROLE grower LOGIN;
GRANT USAGE ON SCHEMA mq_router TO grower;
GRANT EXECUTE ON ALL ROUTINES IN SCHEMA mq_router TO grower;
GRANT USAGE ON FOREIGN SERVER mq_cluster TO grower;
});
$router->safe_psql('grow',
	"CREATE USER MAPPING FOR grower SERVER mq_cluster OPTIONS (user '$superuser')");
my $grower = $router->connstr('grow') . ' user=grower';

# where each message of topic ev is: "key node:local offset payload", by key
sub stored
{
	my %at;
	for my $i (0 .. $#nodes)
	{
		next unless $nodes[$i]->safe_psql('grow', "SELECT count(*) FROM mq.topics WHERE name = 'ev'");
		for my $row (split /\n/, $nodes[$i]->safe_psql('grow', q{
SELECT key, partition, "offset", payload_text FROM mq.messages('ev') ORDER BY "offset"}))
		{
			my ($k, $p, $off, $payload) = split /\|/, $row;
			push @{ $at{$k} }, [ "$i:$p", $off, $payload ];
		}
	}
	return \%at;
}

# the node:local each key's messages whose payload starts with prefix are
# on, as "k0=0:1 k1=..." (a key on several is listed with all of them)
sub where_keys
{
	my ($at, $prefix) = @_;
	my @out;
	for my $k (sort keys %$at)
	{
		my %locs = map { $_->[0] => 1 } grep { $_->[2] =~ /^$prefix/ } @{ $at->{$k} };
		push @out, "$k=" . join('+', sort keys %locs) if %locs;
	}
	return join(' ', @out);
}

# sends two rounds of keys k0..k39 to ev, payload prefix<round>-<key>
sub send_keys
{
	my ($prefix) = @_;
	$router->safe_psql('grow', qq{
SELECT count(s.id) FROM generate_series(0, 79) g,
	   LATERAL mq_router.send('ev', '$prefix' || (g / 40) || '-k' || (g % 40),
							  key => 'k' || (g % 40)) s});
}

$router->safe_psql('grow', "CALL mq_router.create_topic('ev', 4)");
send_keys('b');
my $placement_before = $router->safe_psql('grow',
	"SELECT string_agg(format('%s:%s/%s', partition, node, local), ' ' ORDER BY partition) FROM mq_router.partition");
is($placement_before, '0:0/0 1:1/0 2:0/1 3:1/1', 'over two nodes, round robin');
my $before = where_keys(stored(), 'b');
# a session that has used the cluster before the node is added
my $old_session = $router->background_psql('grow');
$old_session->query_safe("SELECT count(*) FROM mq_router.send('ev', 'warm', key => 'k0')");

# node 2 joins: PL/Proxy wants 4 connection strings for 3 nodes, p3 repeats
# node 0 as padding
$router->safe_psql('grow', "ALTER SERVER mq_cluster OPTIONS (ADD p2 '$grow[2]', ADD p3 '$grow[0]')");
is($router->safe_psql('grow', 'SELECT string_agg(node::text, \',\' ORDER BY node) FROM mq_router.nodes'),
	'0,1,2', 'the added node is a node, the padding is not');
send_keys('a');
my $after = where_keys(stored(), 'a');
isnt($before, '', 'the keys were stored before the node was added');
is($after, $before, 'after adding a node, each key of the old topic goes to the same node and local partition');
is($router->safe_psql('grow',
	"SELECT string_agg(format('%s:%s/%s', partition, node, local), ' ' ORDER BY partition) FROM mq_router.partition"),
	$placement_before, 'and the old topic\'s placement is unchanged');

$router->safe_psql('grow', "CALL mq_router.create_topic('fresh', 6)");
is(join(' ', map { $_->safe_psql('grow', "SELECT partitions FROM mq.topics WHERE name = 'fresh'") } @nodes),
	'2 2 2', 'a new topic spreads over the three nodes');

# a group subscribed through the router: on the nodes holding ev, recorded
$router->safe_psql('grow', "CALL mq_router.subscribe('watch', 'ev', start => 'earliest')",
	connstr => $grower);
is(join(' ', map { $_->safe_psql('grow', "SELECT count(*) FROM mq.subscriptions WHERE \"group\" = 'watch'") } @nodes),
	'1 1 0', 'subscribe through the router subscribes the nodes holding the topic (0 and 1)');

# --- growing ev from 4 to 8 partitions: node 2, which has none, gets the
# first new ones, until every node has as many ---
$router->safe_psql('grow', "CALL mq_router.alter_topic('ev', 8)", connstr => $grower);
is($router->safe_psql('grow', q{
SELECT string_agg(format('%s:%s/%s', partition, node, local), ' ' ORDER BY partition)
  FROM mq_router.partition WHERE topic = 'ev' AND partition >= 4}),
	'4:2/0 5:2/1 6:0/2 7:1/2', 'growing places the new partitions on the nodes with fewest, the new node first');
is(join(' ', map { $_->safe_psql('grow', "SELECT partitions FROM mq.topics WHERE name = 'ev'") } @nodes)
	. ' ' . $router->safe_psql('grow', "SELECT partitions || ' ' || state FROM mq_router.topic WHERE name = 'ev'"),
	'3 3 2 8 complete', 'the nodes grow their topic (node 2 creates it), and the router routes over 8');

# keyed sends after growth: on the node and local partition the placement
# gives the key's partition over 8, in send order
send_keys('g');
my $routes = $router->safe_psql('grow', q{
SELECT string_agg(format('k%s=%s:%s', g, p.node, p.local), ' ' ORDER BY 'k' || g)
  FROM generate_series(0, 39) g
  JOIN mq_router.partition p ON p.topic = 'ev' AND p.partition = mq_router.partition_for('k' || g, 8)});
my $at = stored();
is(where_keys($at, 'g'), $routes, 'after growth, each key goes where the placement puts its partition over 8');
like(where_keys($at, 'g'), qr/=2:/, 'and some keys go to the new node');
my $ordered = 1;
for my $k (keys %$at)
{
	my @g = grep { $_->[2] =~ /^g/ } @{ $at->{$k} };
	$ordered = 0 unless @g == 2 && $g[0][2] eq "g0-$k" && $g[1][2] eq "g1-$k" && $g[0][1] < $g[1][1];
}
ok($ordered, 'each key\'s messages are in send order');
is($router->safe_psql('grow', q{
SELECT string_agg(DISTINCT (s.partition = mq_router.partition_for(k.k, 8))::text, ',')
  FROM unnest(ARRAY['k1', 'k2', 'k3', 'k4', 'k5']) k(k),
	   LATERAL mq_router.send('ev', 'x', key => k.k) s}),
	'true', 'send returns the key\'s partition over 8');

# lookups, topics and lag after growth, on a key of the new node
my ($knew, $pnew) = split /\|/, $router->safe_psql('grow', q{
SELECT 'k' || g, p.partition FROM generate_series(0, 39) g
  JOIN mq_router.partition p ON p.topic = 'ev' AND p.partition = mq_router.partition_for('k' || g, 8)
 WHERE p.node = 2 AND g > 5 ORDER BY g LIMIT 1});
is($router->safe_psql('grow', qq{
SELECT string_agg(partition || ' ' || node || ' ' || payload_text, ',' ORDER BY "offset")
  FROM mq_router.get_by_key('ev', '$knew')}),
	"$pnew 2 g0-$knew,$pnew 2 g1-$knew", 'get_by_key finds a key\'s messages on the new node, with its partition');
my ($gp, $go, $gid) = split /\|/, $router->safe_psql('grow',
	"SELECT partition, \"offset\", id FROM mq_router.get_by_key('ev', '$knew', 1)");
is($router->safe_psql('grow', "SELECT payload_text FROM mq_router.get('ev', $gp, $go)"),
	"g1-$knew", 'get reads a new partition');
is($router->safe_psql('grow', "SELECT partition || ' ' || node FROM mq_router.get_by_id('ev', '$gid')"),
	"$pnew 2", 'get_by_id asks the new node and names the partition');
my $bid = $router->safe_psql('grow', q{
SELECT id FROM mq_router.get_by_time('ev', now() - interval '1 hour', now() + interval '1 hour', 1000)
 WHERE payload_text = 'b0-k0'});
is($router->safe_psql('grow', "SELECT partition FROM mq_router.get_by_id('ev', '$bid')"),
	$router->safe_psql('grow', "SELECT mq_router.partition_for('k0', 4)"),
	'a message sent before the growth keeps its partition');
$old_session->query_safe("SELECT count(*) FROM mq_router.send('ev', 'old-session', key => '$knew')");
$old_session->quit;
is($router->safe_psql('grow', qq{
SELECT node || ' ' || partition || ' ' || payload_text FROM mq_router.get_by_key('ev', '$knew', 1)}),
	"2 $pnew old-session", 'a session that started before the node was added sends to it');
is($router->safe_psql('grow', "SELECT format('%s %s %s', partitions, nodes, placed) FROM mq_router.topics() WHERE name = 'ev'"),
	'8 3 t', 'topics sums the grown topic over its three nodes');
$nodes[$_]->safe_psql('grow', "SELECT mq.subscribe('audit', 'ev', start => 'earliest')") for 0 .. 2;
is($router->safe_psql('grow', q{
SELECT count(DISTINCT partition) || ' ' || min(partition) || ' ' || max(partition) || ' ' || sum(lag)
  FROM mq_router.lag() WHERE "group" = 'audit'}),
	'8 0 7 247', 'lag names the 8 partitions and sums every message (80 each of b, a, g, 5 x, 2 more)');
is($router->safe_psql('grow', q{
SELECT count(DISTINCT partition) || ' ' || sum(lag) FROM mq_router.lag() WHERE "group" = 'watch'}),
	'8 247', 'the growth subscribed the group on the node it gave the topic, from its start: nothing missed');
is($router->safe_psql('grow', q{
SELECT string_agg(DISTINCT l.partition::text, ',')
  FROM mq_router.lag() l JOIN mq_router.partition p ON p.topic = l.topic AND p.partition = l.partition
 WHERE l."group" = 'audit' AND p.node <> l.node}),
	'', 'each of lag\'s positions is on the node the placement says');

# --- a growth that a node fails after the others have grown: recorded,
# routed over the old partitions until a retry completes it ---
$nodes[2]->safe_psql('grow', q{
CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
	$$BEGIN RAISE EXCEPTION 'refused on node 2'; END$$;
CREATE TRIGGER refuse BEFORE INSERT ON mq.partition FOR EACH ROW EXECUTE FUNCTION refuse();
});
($ret, $out, $err) = $router->psql('grow', "CALL mq_router.alter_topic('ev', 12)");
like($err, qr/refused on node 2/, 'alter_topic fails on node 2');
is(join(' ', map { $_->safe_psql('grow', "SELECT partitions FROM mq.topics WHERE name = 'ev'") } @nodes)
	. ' ' . $router->safe_psql('grow', "SELECT partitions || ' ' || state FROM mq_router.topic WHERE name = 'ev'"),
	'4 4 2 8 growing', 'the growth is recorded, nodes 0 and 1 have grown, keys still hash over 8');
is($router->safe_psql('grow', q{
SELECT string_agg(DISTINCT (s.partition = mq_router.partition_for(k.k, 8))::text, ',')
  FROM (SELECT 'k' || g FROM generate_series(0, 39) g) k(k),
	   LATERAL mq_router.send('ev', 'during', key => k.k) s}),
	'true', 'sends during the growth go to the partitions over 8');
($ret, $out, $err) = $router->psql('grow', "CALL mq_router.alter_topic('ev', 16)",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  55000: topic "ev" is being grown to 12 partitions/, 'another growth is refused until it completes');
($ret, $out, $err) = $router->psql('grow', "CALL mq_router.drop_topic('ev')",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  55000: topic "ev" is being grown/, 'and so is a drop');
($ret, $out, $err) = $router->psql('grow', "CALL mq_router.subscribe('late', 'ev')",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  55000: topic "ev" is being grown/, 'and a subscription through the router');
$nodes[2]->safe_psql('grow', 'DROP TRIGGER refuse ON mq.partition');
$router->safe_psql('grow', "CALL mq_router.alter_topic('ev', 12)", connstr => $grower);
is(join(' ', map { $_->safe_psql('grow', "SELECT partitions FROM mq.topics WHERE name = 'ev'") } @nodes)
	. ' ' . $router->safe_psql('grow', "SELECT partitions || ' ' || state FROM mq_router.topic WHERE name = 'ev'"),
	'4 4 4 12 complete', 'a retry completes the growth');
is(join(' ', map { $_->safe_psql('grow', "SELECT count(*) FROM mq.partitions p JOIN mq.lag l USING (topic, partition) WHERE l.\"group\" = 'watch' AND topic = 'ev'") } @nodes),
	'4 4 4', 'and the router\'s group has positions in every new partition');
$nodes[2]->safe_psql('grow', "SELECT mq.unsubscribe('watch', 'ev')");
$router->safe_psql('grow', "CALL mq_router.unsubscribe('watch', 'ev')", connstr => $grower);
is(join(' ', map { $_->safe_psql('grow', "SELECT count(*) FROM mq.subscriptions WHERE \"group\" = 'watch'") } @nodes)
	. ' ' . $router->safe_psql('grow', "SELECT count(*) FROM mq_router.subscription"),
	'0 0 0 0', 'unsubscribe through the router removes it on every node that has it, and forgets it');

# a growth needing a stopped node is refused before anything is recorded
$nodes[1]->stop;
($ret, $out, $err) = $router->psql('grow', "CALL mq_router.alter_topic('ev', 14)");
like($err, qr/ERROR:  mq node 1 is unavailable/, 'alter_topic names a stopped node it needs');
is($router->safe_psql('grow', "SELECT partitions || ' ' || state || ' ' || (SELECT count(*) FROM mq_router.partition WHERE topic = 'ev') FROM mq_router.topic WHERE name = 'ev'"),
	'12 complete 12', 'and records nothing');
$nodes[1]->start;

($ret, $out, $err) = $router->psql('grow', "CALL mq_router.alter_topic('fresh', 3)",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  22023: cannot reduce the partitions of topic "fresh" from 6 to 3/, 'shrinking is refused');
($ret, $out, $err) = $router->psql('grow', "CALL mq_router.alter_topic('nothere', 3)",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  42704: topic "nothere" does not exist in the cluster/, 'so is growing an unknown topic');

# --- dropping ev while node 2 is stopped: the drop is recorded, the topic
# takes nothing more, and a retry completes it ---
$nodes[2]->stop;
($ret, $out, $err) = $router->psql('grow', "CALL mq_router.drop_topic('ev')");
like($err, qr/ERROR:  mq node 2 is unavailable/, 'drop_topic fails on the stopped node');
($ret, $out, $err) = $router->psql('grow', "SELECT * FROM mq_router.send('ev', 'late', key => 'k1')",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  55000: topic "ev" is being dropped/, 'a topic being dropped takes no sends');
$nodes[2]->start;
$router->safe_psql('grow', "CALL mq_router.drop_topic('ev')", connstr => $grower);
is(join(' ', map { $_->safe_psql('grow', "SELECT count(*) FROM mq.topics WHERE name = 'ev'") } @nodes)
	. ' ' . $router->safe_psql('grow', "SELECT count(*) FROM mq_router.topic WHERE name = 'ev'")
	. ' ' . $router->safe_psql('grow', "SELECT count(*) FROM mq_router.partition WHERE topic = 'ev'"),
	'0 0 0 0 0', 'a retry drops it on every node, and the router forgets it');
($ret, $out, $err) = $router->psql('grow', "SELECT * FROM mq_router.send('ev', 'gone')",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  42704: topic "ev" does not exist in the cluster/, 'a dropped topic is unknown');
$router->safe_psql('grow', "CALL mq_router.create_topic('ev', 3)");
is(join(' ', map { $_->safe_psql('grow', "SELECT partitions FROM mq.topics WHERE name = 'ev'") } @nodes),
	'1 1 1', 'and its name can be created again');

# --- tag, headers, dedup_id and delays through the router ---
$router->safe_psql('grow', "CALL mq_router.create_topic('meta', 6)");
my $first = $router->safe_psql('grow', q{
SELECT id || ' ' || partition || ' ' || duplicate FROM mq_router.send('meta', 'once'::text,
	tag => 'T', headers => '{"h": 1}', dedup_id => 'd-1')});
my ($meta_id, $meta_p) = split / /, $first;
is($router->safe_psql('grow', q{
SELECT id || ' ' || partition || ' ' || duplicate FROM mq_router.send('meta', 'once'::text,
	tag => 'T', headers => '{"h": 1}', dedup_id => 'd-1')}),
	"$meta_id $meta_p true", 'a keyless send retried with its dedup_id reaches the same node, which says it is a duplicate');
is($meta_p, $router->safe_psql('grow', "SELECT mq_router.partition_for('d-1', 6)"),
	'(it goes to the partition its dedup_id hashes to)');
is($router->safe_psql('grow', "SELECT tag || ' ' || headers::text || ' ' || epoch FROM mq_router.get_by_id('meta', '$meta_id')"),
	'T {"h": 1} ' . $nodes[$meta_p % 3]->safe_psql('grow', "SELECT epoch FROM mq.get_by_id('meta', '$meta_id')"),
	'the node stored its tag and headers, and lookups give its epoch');
$router->safe_psql('grow', q{
SELECT count(*) FROM mq_router.send('meta', '{"late": true}'::jsonb, key => 'k', delay => '1 hour')});
is(join(' ', map { $_->safe_psql('grow', "SELECT coalesce(sum(pending), 0) FROM mq.delayed WHERE topic = 'meta'") } @nodes),
	join(' ', map { my $p = $router->safe_psql('grow', "SELECT mq_router.partition_for('k', 6)");
		$p % 3 == $_ ? 1 : 0 } 0 .. 2),
	'a delayed send waits on the node holding its key\'s partition');
$router->safe_psql('grow', q{
SELECT count(*) FROM mq_router.send('meta', 'level', key => 'k', delay_level => 3)});
is(join(' ', map { $_->safe_psql('grow', "SELECT coalesce(sum(pending), 0) FROM mq.delayed WHERE topic = 'meta'") } @nodes),
	join(' ', map { my $p = $router->safe_psql('grow', "SELECT mq_router.partition_for('k', 6)");
		$p % 3 == $_ ? 2 : 0 } 0 .. 2),
	'and so does one sent with a delay_level');
my $batch = q{
SELECT string_agg(duplicate::text, ',' ORDER BY n)
  FROM mq_router.send_batch('meta', ARRAY['a', 'b', 'c'], keys => ARRAY['k1', NULL, NULL],
		tags => ARRAY['x', NULL, 'z'], headers => ARRAY['{"n": 1}', NULL, NULL]::jsonb[],
		dedup_ids => ARRAY['b-1', 'b-2', 'b-3']) WITH ORDINALITY b(id, partition, duplicate, n)};
is($router->safe_psql('grow', $batch), 'false,false,false', 'send_batch takes tags, headers and dedup_ids');
is($router->safe_psql('grow', $batch), 'true,true,true', 'and the same batch again is all duplicates');
is($router->safe_psql('grow', q{
SELECT string_agg(coalesce(tag, '-') || coalesce(headers ->> 'n', '-'), ',' ORDER BY payload_text)
  FROM mq_router.get_by_time('meta', '-infinity', 'infinity') WHERE payload_text IN ('a', 'b', 'c')}),
	'x1,--,z-', 'with each element\'s tag and headers');
($ret, $out, $err) = $router->psql('grow',
	"SELECT * FROM mq_router.send_batch('meta', ARRAY['a', 'b'], tags => ARRAY['x'])",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  22023: keys, tags, headers and dedup_ids must have as many elements as payloads/,
	'tags of another length are refused');

$_->stop for @nodes, $router;
done_testing();
