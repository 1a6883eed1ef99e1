# Fuzzing mq's SQL surface with sqlsmith (Debian package sqlsmith): random
# queries over every function, operator and view a role that uses mq can
# see, against a database holding topics, groups, messages, delayed and
# half messages.  The run is bounded (MQ_FUZZ_QUERIES, default 20000
# queries, and MQ_FUZZ_SECONDS, default 120 s); it fails if the server
# crashed, or if any statement ended in an internal error (XX000) raised
# by mq's code.  sqlsmith runs as a role with the grants docs/install.md
# gives every mq user, so that it reaches mq's functions, not the
# superuser's administration functions.  The seed (MQ_FUZZ_SEED, default
# the time) is printed, to reproduce a failure.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Basename qw(dirname basename);
use Cwd qw(abs_path);

my $sqlsmith = `which sqlsmith 2>/dev/null`;
chomp $sqlsmith;
plan skip_all => 'sqlsmith is not installed (apt-get install sqlsmith)'
  if $sqlsmith eq '';

my $queries = $ENV{MQ_FUZZ_QUERIES} // 20000;
my $seconds = $ENV{MQ_FUZZ_SECONDS} // 120;
my $seed = $ENV{MQ_FUZZ_SEED} // time();
note "sqlsmith seed $seed, up to $queries queries or $seconds s";

# mq's functions, by source file: an internal error raised from one of them
# is ours.  The file alone does not tell (PostgreSQL has its own acl.c,
# shmem.c, launcher.c, worker.c ...): the function, at the start of its
# definition's line as pgindent puts it, must be mq's too.
my $src = abs_path(dirname(__FILE__) . '/../../src');
my %ours;
for my $path (glob("$src/*.c"))
{
	$ours{ basename($path) . ':' . $_ } = 1
	  for slurp_file($path) =~ /^([A-Za-z_]\w*)\(/mg;
}
ok(scalar(keys %ours) > 100, 'mq\'s functions are known');

my $node = PostgreSQL::Test::Cluster->new('fuzz');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mq'
mq.worker_naptime = '200ms'
log_error_verbosity = verbose
log_line_prefix = '%m [%p] %e '
log_min_error_statement = error
max_connections = 20
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION mq;
CREATE ROLE fuzzer LOGIN;
GRANT USAGE ON SCHEMA mq TO fuzzer;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA mq TO fuzzer;
REVOKE EXECUTE ON FUNCTION mq.convert_segments(), mq.advance_clock(interval),
                           mq.expire_members() FROM fuzzer;
GRANT SELECT ON mq.topics, mq.partitions, mq.groups, mq.subscriptions,
                mq.members, mq.lag, mq.delayed, mq.parked, mq.half_messages,
                mq.unresolved, mq.privileges TO fuzzer;
});
$node->safe_psql('postgres', q{
SET ROLE fuzzer;
SELECT mq.create_topic('fz.orders', partitions => 4);
SELECT mq.create_topic('fz.audit', partitions => 1, compression => 'pglz');
SELECT mq.subscribe('fz.billing', 'fz.orders', start => 'earliest');
SELECT mq.subscribe('fz.tagged', 'fz.orders', start => 'earliest', tags => 'a || b',
                    filter => '$.n > 3');
SELECT count(*) FROM mq.send_batch('fz.orders',
    ARRAY(SELECT 'order ' || g FROM generate_series(1, 200) g),
    keys => ARRAY(SELECT 'k' || (g % 7) FROM generate_series(1, 200) g));
SELECT count(*) FROM generate_series(1, 20) g,
    LATERAL mq.send('fz.orders', jsonb_build_object('n', g), key => 'j' || g, tag => 'a',
                    headers => jsonb_build_object('h', g));
SELECT count(*) FROM generate_series(1, 20) g,
    LATERAL mq.send('fz.audit', decode(md5(g::text), 'hex'));
SELECT count(*) FROM generate_series(1, 10) g,
    LATERAL mq.send('fz.orders', 'later ' || g, delay => '1 hour');
SELECT mq.prepare('fz.orders', 'half'::text, 'fz.shop') IS NOT NULL;
SELECT count(*) FROM mq.fetch('fz.billing', max => 50);
SELECT mq.commit('fz.billing');
});

my $log_offset = -s $node->logfile;
my $connstr = 'host=' . $node->host . ' port=' . $node->port . ' dbname=postgres user=fuzzer';
my ($stdout, $stderr) = ('', '');
IPC::Run::run(
	[ 'timeout', '--signal=INT', $seconds, $sqlsmith, "--target=$connstr",
	  "--seed=$seed", "--max-queries=$queries", '--exclude-catalog' ],
	'>', \$stdout, '2>', \$stderr);
note 'sqlsmith: ' . join(' | ', grep { /queries|error/i } split /\n/, $stderr);

ok($node->poll_query_until('postgres', 'SELECT true'), 'the server answers after the run');
my $log = slurp_file($node->logfile, $log_offset);
unlike($log, qr/terminated by signal|PANIC:/, 'no backend crashed');

# The log's records: each ERROR is followed by its LOCATION and STATEMENT
# records, from the same process.
my @records;
for my $chunk (split /\n(?=\d{4}-\d\d-\d\d \S+ \S+ \[\d+\] )/, $log)
{
	my ($pid, $state, $kind) = $chunk =~ /^\S+ \S+ \S+ \[(\d+)\] (\S+) (\w+):/;
	push @records, { pid => $pid, state => $state, kind => $kind, text => $chunk }
	  if defined $kind;
}
my @ours;
my $touched = 0;
for my $i (0 .. $#records)
{
	my $r = $records[$i];
	next unless $r->{kind} eq 'ERROR';
	my ($location, $statement) = ('', '');
	for my $j ($i + 1 .. ($i + 3 < $#records ? $i + 3 : $#records))
	{
		next unless $records[$j]{pid} eq $r->{pid};
		$location = $records[$j]{text} if $records[$j]{kind} eq 'LOCATION';
		$statement = $records[$j]{text} if $records[$j]{kind} eq 'STATEMENT';
	}
	$touched++ if $statement =~ /\bmq\./;
	next unless $r->{state} eq 'XX000';
	my ($function, $file) = $location =~ /LOCATION:\s+(\w+),\s+([^:\s]+):\d+/;
	push @ours, "$r->{text}\n$location\n$statement"
	  if defined $file && $ours{"$file:$function"};
}
is(scalar(@ours), 0, 'no internal error (XX000) raised by mq')
  or diag(join("\n----\n", @ours[0 .. ($#ours < 4 ? $#ours : 4)]));
cmp_ok($touched, '>', 0, "the fuzzer reached mq ($touched failing statements called mq)");
is($node->safe_psql('postgres',
		"SELECT count(*) > 0 FROM mq.worker_status() WHERE database = 'postgres' AND state = 'running'"),
	't', 'the worker is still running');

$node->stop;
done_testing();
