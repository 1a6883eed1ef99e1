# Failover to an asynchronous standby that lacks the old primary's last
# commits, and a backup started as a primary.  The standby receives a
# first set of messages and a group's position, then stops; the primary goes on alone, committing more than a
# high-mark step of messages (so its durable high mark moves past what the
# standby has) and the group's position past them, which a consumer outside
# the database has seen.  The primary dies (kill -9), and the standby is
# promoted: it has the first set and the old position only, and hands out
# the lost messages' offsets again.  Each message's epoch (drawn when the
# server that wrote it started) tells the two apart: messages the standby
# had keep their epoch and id, and every reused offset comes back with a
# new epoch.  So does an offset reused by a base backup started as a
# primary, which stays on the old timeline.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'mq'");
$primary->start;
$primary->safe_psql('postgres', q{
CREATE EXTENSION mq;
SELECT mq.create_topic('events');
SELECT mq.subscribe('g', 'events', start => 'earliest');
});

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# What a consumer outside the database remembers: offset => "epoch id".
sub seen
{
	my ($node, $sql) = @_;
	my %seen;
	for my $row (split /\n/, $node->safe_psql('postgres', $sql))
	{
		my ($offset, $epoch, $id) = split /\|/, $row;
		$seen{$offset} = "$epoch $id";
	}
	return \%seen;
}

# The first set, consumed and committed, reaches the standby.
$primary->safe_psql('postgres', q{
SELECT count(*) FROM mq.send_batch('events', ARRAY(SELECT 'first ' || g FROM generate_series(1, 10) g));
SELECT count(*) FROM mq.fetch('g', auto_commit => true);
SELECT count(*) FROM mq.fetch('g', auto_commit => true);
});
my $first = seen($primary, q{SELECT "offset", epoch, id FROM mq.read('events', 0, 0, 1000)});
is(scalar(keys %$first), 10, 'the first set is stored');
my %first_epochs = map { (split / /, $first->{$_})[0] => 1 } keys %$first;
is(scalar(keys %first_epochs), 1, 'messages written in one server life share its epoch');
my ($epoch1) = keys %first_epochs;
$primary->wait_for_catchup($standby);
$standby->stop;

# The primary goes on alone: 1500 messages, past a high-mark step (1000
# offsets), consumed by a consumer outside the database and committed.
$primary->safe_psql('postgres', q{
SELECT count(*) FROM mq.send_batch('events', ARRAY(SELECT 'lost ' || g FROM generate_series(1, 1500) g));
});
my $lost = seen($primary, q{SELECT "offset", epoch, id FROM mq.fetch('g', max => 2000, auto_commit => true, consumer_id => 'c')});
$primary->safe_psql('postgres', q{SELECT mq.commit('g', consumer_id => 'c')});
is(scalar(keys %$lost), 1500, 'the consumer saw the messages the standby lacks');
is($primary->safe_psql('postgres', q{SELECT lag FROM mq.lag WHERE "group" = 'g'}), '0',
	'and the group committed past them on the old primary');
my $old_high = $primary->safe_psql('postgres', q{SELECT max("offset") FROM mq.read('events', 0, 0, 100000)});
$primary->stop('immediate');

# Promote the standby that missed all of that.
$standby->start;
$standby->promote;
is($standby->safe_psql('postgres', q{SELECT ('x' || left(pg_walfile_name(pg_current_wal_insert_lsn()), 8))::bit(32)::integer}), '2',
	'the promoted standby is on timeline 2');
is($standby->safe_psql('postgres', q{SELECT count(*) FROM mq.read('events', 0, 0, 100000)}), '10',
	'the promoted standby has only the first set');

# New messages on the new primary reuse offsets the lost ones had.
$standby->safe_psql('postgres', q{
SELECT count(*) FROM mq.send_batch('events', ARRAY(SELECT 'new ' || g FROM generate_series(1, 1000) g));
});
my $new = seen($standby, q{SELECT "offset", epoch, id FROM mq.fetch('g', max => 5000, auto_commit => true)});
my @reused = grep { exists $lost->{$_} } keys %$new;
cmp_ok(scalar(@reused), '>', 0, 'offsets of lost messages are handed out again')
  or diag("lost up to offset $old_high; new: " . join(',', (sort { $a <=> $b } keys %$new)[0, -1]));
is(scalar(grep { (split / /, $new->{$_})[0] eq (split / /, $lost->{$_})[0] } @reused), 0,
	'every reused offset has a new epoch');
is(scalar(grep { (split / /, $new->{$_})[1] eq (split / /, $lost->{$_})[1] } @reused), 0,
	'(and is another message)');
my %new_epochs = map { (split / /, $new->{$_})[0] => 1 } keys %$new;
ok(keys %new_epochs == 1 && !$new_epochs{$epoch1},
	'messages written after the promotion share a new epoch');

# The messages the standby had keep their epoch and id, wherever they are
# read from.
my $kept = seen($standby, q{SELECT "offset", epoch, id FROM mq.messages('events')});
is(scalar(grep { $kept->{$_} eq $first->{$_} } keys %$first), 10,
	'the first set keeps its epochs and ids on the new primary');
is($standby->safe_psql('postgres', q{SELECT epoch FROM mq.get_by_id('events',
	(SELECT id FROM mq.read('events', 0, 0, 1)))}), $epoch1,
	'a lookup gives the stored epoch');

# After a restart, epochs stay as written; new messages get the new life's.
$standby->restart;
is($standby->safe_psql('postgres', q{SELECT count(DISTINCT epoch) FROM mq.messages('events')}),
	'2', 'epochs survive a restart');
$standby->safe_psql('postgres', q{SELECT count(*) FROM mq.send('events', 'after restart')});
is($standby->safe_psql('postgres', q{SELECT count(DISTINCT epoch) FROM mq.messages('events')}),
	'3', 'and a restarted server writes with an epoch of its own');

# A backup started as a primary (crash recovery only: the timeline stays
# 1) hands out the offsets of everything written after it was taken, and
# its messages there have another epoch too.
my $clone = PostgreSQL::Test::Cluster->new('clone');
$clone->init_from_backup($primary, 'base');
$clone->start;
is($clone->safe_psql('postgres', q{SELECT ('x' || left(pg_walfile_name(pg_current_wal_insert_lsn()), 8))::bit(32)::integer}), '1',
	'the backup started as a primary is still on timeline 1');
$clone->safe_psql('postgres', q{SELECT count(*) FROM mq.send_batch('events', ARRAY['c1', 'c2', 'c3'])});
my $cloned = seen($clone, q{SELECT "offset", epoch, id FROM mq.read('events', 0, 0, 100000)});
my @clone_reused = grep { exists $first->{$_} } keys %$cloned;
ok(@clone_reused > 0 && !grep({ (split / /, $cloned->{$_})[0] eq $epoch1 } @clone_reused),
	'it reuses offsets of the first set, each with another epoch')
  or diag("cloned: " . join(',', map { "$_=$cloned->{$_}" } sort { $a <=> $b } keys %$cloned));
$clone->stop;

done_testing();
