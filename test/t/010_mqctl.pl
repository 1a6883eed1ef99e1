# mqctl, mq's command-line client, against a live server: usage errors and
# connection failures have their own exit statuses, and a database without
# mq is one; -h, -p and -U connect as psql's do, under what -d's connection
# string says; server errors show their SQLSTATE; topics are administered;
# what produce sends, consume receives exactly once when nothing fails;
# produce -P picks the partition; an input line that cannot be sent is
# named by its line number; JSON input takes its keys from a field; lag
# renders a table; consume survives a server restart and a
# killed backend without losing a message, commits what it handled when
# stopped with SIGTERM, and nacks the messages its --exec command fails on,
# which come back from the retry topic and end in the dead letters.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(usleep);

my $bindir = `pg_config --bindir`;
chomp $bindir;
my $mqctl = "$bindir/mqctl";
plan skip_all => "mqctl is not installed in $bindir (make -C mqctl install)"
  unless -x $mqctl;

my $node = PostgreSQL::Test::Cluster->new('mqctl');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'mq'
mq.worker_naptime = '100ms'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION mq');
my $connstr = $node->connstr('postgres');
my $dir = PostgreSQL::Test::Utils::tempdir;

# run mqctl to the end: (exit status, stdout, stderr)
sub mqctl
{
	my ($args, $stdin) = @_;
	my ($out, $err) = ('', '');
	$stdin //= '';
	IPC::Run::run([ $mqctl, '-d', $connstr, @$args ],
		'<', \$stdin, '>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return ($? >> 8, $out, $err);
}

# run mqctl to the end without mqctl()'s -d, the PG* variables pointing
# nowhere: only the options given say where to connect
sub mqctl_bare
{
	my ($args) = @_;
	my ($out, $err) = ('', '');
	local $ENV{PGHOST}     = '/nonexistent';
	local $ENV{PGPORT}     = '1';
	local $ENV{PGUSER}     = 'nobody';
	local $ENV{PGDATABASE} = 'nodb';
	IPC::Run::run([ $mqctl, @$args ],
		'<', \'', '>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return ($? >> 8, $out, $err);
}

# start mqctl in the background, its output going to files
sub mqctl_start
{
	my ($name, @args) = @_;
	return IPC::Run::start([ $mqctl, '-d', $connstr, @args ],
		'<', \undef, '>', "$dir/$name.out", '2>', "$dir/$name.err");
}

sub file_lines
{
	my ($file) = @_;
	return () unless -e $file;
	my @lines = split /\n/, slurp_file($file);
	return @lines;
}

sub count_lines
{
	my @lines = file_lines(@_);
	return scalar @lines;
}

# wait until a condition on the files holds
sub wait_until
{
	my ($what, $cond) = @_;
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	until ($cond->())
	{
		die "timed out waiting until $what" if time > $deadline;
		usleep(50_000);
	}
	return 1;
}

sub distinct_lines
{
	my %seen = map { $_ => 1 } file_lines(@_);
	return scalar keys %seen;
}

sub group_lag
{
	my ($group) = @_;
	return $node->safe_psql('postgres',
		"SELECT coalesce(sum(lag), 0) FROM mq.lag WHERE \"group\" = '$group'");
}

# --- Usage, help, exit statuses.
my $version = '';
IPC::Run::run([ $mqctl, '--version' ], '>', \$version);
is($version,
	'mqctl (mq) ' . $node->safe_psql('postgres',
		"SELECT default_version FROM pg_available_extensions WHERE name = 'mq'") . "\n",
	'--version prints mq\'s version');

my ($rc, $out, $err) = mqctl(['--help']);
is($rc, 0, '--help exits with 0');
like($out, qr/Usage:.*consume.*Exit status/s, 'and describes the program');
for my $sub (qw(topics groups lag tail produce consume dlq half delayed))
{
	($rc, $out) = mqctl([ $sub, '--help' ]);
	ok($rc == 0 && $out =~ /Usage:\n  mqctl $sub/, "$sub --help");
	like($out,
		qr/^Connection options.*\n  -d, --dbname=.*\n(.*\n)?  -h, --host=HOSTNAME .*\n  -p, --port=PORT .*\n  -U, --username=USERNAME /m,
		"$sub --help lists the connection options");
}
($rc, $out, $err) = mqctl([]);
is($rc, 2, 'no subcommand: usage error (2)');
($rc, $out, $err) = mqctl(['frobnicate']);
ok($rc == 2 && $err =~ /unknown subcommand "frobnicate"/,
	'unknown subcommand: 2');
($rc, $out, $err) = mqctl([ 'produce', 'orders', '--batch-size', '0' ]);
ok($rc == 2 && $err =~ /--batch-size must be an integer/,
	'bad option value: 2');
($rc, $out, $err) = mqctl([ 'topics', '--frob' ]);
ok($rc == 2 && $err =~ /mqctl topics --help/, 'unknown option: 2, with a hint');
($rc, $out, $err) = mqctl(['consume']);
is($rc, 2, 'missing argument: 2');
IPC::Run::run([ $mqctl, '-d', $node->connstr('no_such_db'), 'topics' ],
	'>', \$out, '2>', \$err);
ok($? >> 8 == 3 && $err =~ /"no_such_db" does not exist/,
	'connection failure: 3');

# A database without the extension is refused once connected, with a hint.
$node->safe_psql('postgres', 'CREATE DATABASE nomq');
for my $args ([ 'topics' ], [ 'consume', 'billing' ], [ 'produce', 'orders' ])
{
	IPC::Run::run([ $mqctl, '-d', $node->connstr('nomq'), @$args ],
		'<', \"a line\n", '>', \$out, '2>', \$err);
	ok( $? >> 8 == 3
		  && $err eq qq{mqctl: error: mq is not installed in database "nomq"\n}
		  . qq{mqctl: hint: Run CREATE EXTENSION mq in it, or connect to the database that has it (-d).\n},
		"$args->[0] in a database without mq: 3, and a hint");
}

# --- Topics, and server errors with their SQLSTATE.
($rc, $out) = mqctl([ 'topics', 'create', 'orders', '--partitions', '3' ]);
ok($rc == 0 && $out =~ /created topic "orders"/, 'topics create');
($rc, $out) = mqctl([ 'topics', 'alter', 'orders', '--partitions=4',
	'--retention', '3 days' ]);
is($rc, 0, 'topics alter');
($rc, $out) = mqctl(['topics']);
like($out, qr/^ orders \|\s+4 \|.*\| 3 days .*\| mq\.orders$/m,
	'topics lists the topic with its settings and channel');
($rc, $out, $err) = mqctl([ 'topics', 'create', 'orders' ]);
ok($rc == 1 && $err =~ /topic "orders" already exists \(SQLSTATE 42710\)/,
	'an existing topic: 1, SQLSTATE 42710');
($rc, $out, $err) = mqctl([ 'topics', 'drop', 'nope' ]);
is($rc, 1, 'dropping an unknown topic: 1');
like($err, qr/topic "nope" does not exist \(SQLSTATE 42704\)\n.*hint: .*mq\.topics/,
	'with SQLSTATE 42704 and the server\'s hint');
($rc, $out, $err) = mqctl([ 'tail', 'nope' ]);
ok($rc == 1 && $err =~ /SQLSTATE 42704/, 'tail of an unknown topic: 42704');
($rc, $out, $err) = mqctl([ 'consume', 'nobody', '--max-messages', '1' ]);
ok($rc == 1 && $err =~ /consumer group "nobody" does not exist \(SQLSTATE 42704\)/,
	'consume with an unknown group: 42704');
($rc, $out) = mqctl([ 'topics', 'drop', 'nope', '--if-exists' ]);
is($rc, 0, 'drop --if-exists of an unknown topic: 0');

# --- Connection options as psql's.
$node->safe_psql('postgres', q{
CREATE ROLE alice LOGIN;
GRANT USAGE ON SCHEMA mq TO alice;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA mq TO alice;
GRANT SELECT ON mq.topics, mq.partitions TO alice;
});
($rc, $out, $err) = mqctl_bare([ '-h', $node->host, '-p', $node->port,
	'-U', 'alice', '-d', 'postgres', 'topics', 'create', 'alices' ]);
ok($rc == 0 && $out =~ /created topic "alices"/,
	'-h, -p, -U and -d with a database name connect');
is($node->safe_psql('postgres',
		"SELECT owner FROM mq.topics WHERE name = 'alices'"),
	'alice', 'as the role -U names');
($rc, $out) = mqctl_bare([ 'topics', '--host=' . $node->host,
	'--port', $node->port, '--username=alice', '--dbname', 'postgres' ]);
ok($rc == 0 && $out =~ /^ alices +\|/m && $out !~ /orders/,
	'--host, --port, --username after the subcommand: alice sees her topic');
($rc, $out) = mqctl_bare([ '-h', '/nonexistent', '-p', '1', '-U', 'alice',
	'-d', $node->connstr('postgres'), 'topics' ]);
ok($rc == 0 && $out =~ /^ alices +\|/m && $out !~ /orders/,
	"-d's connection string overrides -h and -p, -U gives the user it lacks");
($rc, $out, $err) = mqctl_bare([ '-h', $node->host, '-p', $node->port,
	'-U', 'nobody', '-d', 'postgres', 'groups' ]);
ok($rc == 3 && $err =~ /role "nobody" does not exist/,
	'an unknown role: connection failure (3)');

# --- produce N lines, consume exactly N.
$node->safe_psql('postgres',
	"SELECT mq.subscribe('billing', 'orders', start => 'earliest')");
my $n = 1234;
($rc, $out) = mqctl([ 'produce', 'orders' ], join('', map { "order $_\n" } 1 .. $n));
ok($rc == 0 && $out =~ /^sent $n messages to "orders" in [0-9.]+ s \([0-9]+ messages\/s\)$/,
	"produce sends $n lines and reports the rate");
($rc, $out) = mqctl([ 'consume', 'billing', '--max-messages', $n ]);
is($rc, 0, "consume --max-messages $n exits with 0");
is_deeply([ sort split /\n/, $out ], [ sort map { "order $_" } 1 .. $n ],
	"and printed each of the $n payloads once");
($rc, $out) = mqctl([ 'consume', 'billing', 'orders', '--idle-exit', '0.5' ]);
ok($rc == 0 && $out eq '', '--idle-exit: nothing more, then exit 0');
is(group_lag('billing'), '0', 'the positions were committed');

# --- produce -P sends to a partition (-p is the port).
$node->safe_psql('postgres', "SELECT mq.create_topic('parts', partitions => 3)");
($rc, $out) = mqctl([ 'produce', 'parts', '-P', '2' ], "a\nb\n");
ok($rc == 0 && $out =~ /^sent 2 messages/, 'produce -P 2');
is($node->safe_psql('postgres', q{
SELECT string_agg(p || ':' || (SELECT count(*) FROM mq.read('parts', p)), ' ')
  FROM generate_series(0, 2) p}),
	'0:0 1:0 2:2', 'sent both messages to partition 2');

# --- An input line that cannot be sent is named by file and line number,
# and nothing of its batch is sent.
$node->safe_psql('postgres', "SELECT mq.create_topic('lines')");
($rc, $out, $err) = mqctl([ 'produce', 'lines', '--json' ],
	qq({"n": 1}\n\n{"n": 2}\n{not json\n{"n": 3}\n));
is($rc, 1, 'invalid JSON in the middle of a batch: 1');
like($err,
	qr/^mqctl: error: stdin:4: invalid input syntax for type json \(SQLSTATE 22P02\)\nmqctl: detail: Token "not" is invalid\.\nmqctl: the batch from line 1 was not sent; 0 messages were sent before it\n\z/,
	'names stdin and the line (blank lines counted)');
my $file = "$dir/lines.jsonl";
append_to_file($file, join('', map { qq({"n": $_}\n) } 1 .. 5) . "[1,\n");
($rc, $out, $err) = mqctl([ 'produce', 'lines', '--json', '--batch-size', '2',
	'--file', $file ]);
ok( $rc == 1
	  && $err =~ /^mqctl: error: \Q$file\E:6: invalid input syntax for type json/m
	  && $err =~ /the batch from line 5 was not sent; 4 messages were sent before it/,
	'names the file and line, in a later batch');
($rc, $out, $err) = mqctl([ 'produce', 'lines', '--json', '--key-field', 'k' ],
	qq({"k": "a"}\n{"k": ") . ('x' x 2000) . qq("}\n{"k": "b"}\n));
ok($rc == 1 && $err =~ /^mqctl: error: stdin:2: message key of 2000 bytes for topic "lines" exceeds 1024 bytes \(SQLSTATE 54000\)$/m,
	'a key too long: its line is named');
($rc, $out, $err) = mqctl([ 'produce', 'lines', '--key', 'x' x 2000 ], "a\nb\n");
ok($rc == 1 && $err =~ /exceeds 1024 bytes \(SQLSTATE 54000\)/ && $err !~ /stdin:/,
	'an error of every message (--key too long) names no line');
($rc, $out, $err) = mqctl([ 'produce', 'lines' ], "a\nb\0c\n");
ok($rc == 1 && $err =~ /^mqctl: error: stdin:2: line contains a zero byte$/m,
	'a zero byte: its line is named');
is($node->safe_psql('postgres', "SELECT count(*) FROM mq.read('lines', 0)"),
	'4', 'only the batches before the bad lines were sent');
is($node->safe_psql('postgres',
		"SELECT end_offset FROM mq.partitions WHERE topic = 'lines'"),
	'4', 'and finding the lines took no offset');

# --- JSON lines: keys from a field, the rest from the options.
$node->safe_psql('postgres', q{
SELECT mq.create_topic('users');
SELECT mq.subscribe('audit', 'users', start => 'earliest');
});
($rc, $out) = mqctl(
	[ 'produce', 'users', '--json', '--key-field', 'user', '--key', 'anon',
		'--tag', 'signup', '--header', 'source=cli', '--header', 'v=2' ],
	qq({"user": "u1", "n": 1}\n\n{"user": "u2", "n": 2}\n{"n": 3}\n));
ok($rc == 0 && $out =~ /^sent 3 messages/, 'produce --json skips blank lines');
is($node->safe_psql('postgres', q{
SELECT string_agg(key || ':' || (payload_json ->> 'n')
                  || ':' || tag || ':' || headers::text, ' ' ORDER BY "offset")
  FROM mq.read('users', 0)}),
	'u1:1:signup:{"v": "2", "source": "cli"} u2:2:signup:{"v": "2", "source": "cli"} anon:3:signup:{"v": "2", "source": "cli"}',
	'keys from --key-field (--key where absent), tag and headers on each');
($rc, $out) = mqctl([ 'produce', 'users', '--json' ], "{not json\n");
is($rc, 1, 'invalid JSON is refused by the server: 1');
($rc, $out) = mqctl([ 'consume', 'audit', '--json', '--max-messages', '3' ]);
my @msgs = map { decode_json($_) } split /\n/, $out;
is_deeply([ map { "$_->{topic}/$_->{partition}/$_->{offset}/$_->{key}/$_->{payload}{n}" } @msgs ],
	[ 'users/0/0/u1/1', 'users/0/1/u2/2', 'users/0/2/anon/3' ],
	'consume --json prints one JSON object per message');
ok($msgs[0]{id} =~ /^[0-9a-f-]{36}$/ && $msgs[0]{headers}{source} eq 'cli'
	  && $msgs[0]{tag} eq 'signup', 'with its id, tag and headers');
is(join(',', map { $_->{epoch} } @msgs),
	join(',', ($node->safe_psql('postgres', q{SELECT DISTINCT epoch FROM mq.messages('users')})) x 3),
	'and its epoch');

# --- a node that takes connections but never answers holds up no other:
# its connection is opened in a thread while the others are consumed, and
# given up at the connection string's connect_timeout (else 10 s).  A
# string of two hosts, the first silent, reaches the second.
{
	my $silent = IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1',
		LocalPort => 0, Proto => 'tcp') or die "no listener: $!";
	my $silent_node = 'host=127.0.0.1 port=' . $silent->sockport . ' dbname=postgres';
	$node->safe_psql('postgres', q{
SELECT mq.create_topic('quiet');
SELECT mq.subscribe('quietg', 'quiet', start => 'earliest');
SELECT count(*) FROM mq.send_batch('quiet', ARRAY['q1', 'q2', 'q3']);
});
	my ($out, $err) = ('', '');
	my $finished = eval {
		IPC::Run::run([ $mqctl, 'consume', 'quietg', '-S', $connstr, '-S', $silent_node,
				'--max-messages', '3' ],
			'<', \'', '>', \$out, '2>', \$err, IPC::Run::timeout(60));
		1;
	};
	ok($finished && $? == 0 && $out eq "q1\nq2\nq3\n",
		'consume reads a node while another never answers its connection')
	  or diag("finished: " . ($finished // 0) . "; stdout: $out; stderr: $err");
	($out, $err) = ('', '');
	IPC::Run::run([ $mqctl, 'consume', 'quietg', '-S', $connstr,
			'-S', "$silent_node connect_timeout=2", '--idle-exit', '3' ],
		'<', \'', '>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	like($err, qr/^mqctl: error: node 1: connection to server at "127\.0\.0\.1", port \d+ failed: timeout expired$/m,
		'and gives its attempt up at the connection string\'s connect_timeout');
	$node->safe_psql('postgres', q{SELECT count(*) FROM mq.send('quiet', 'q4')});
	($out, $err) = ('', '');
	my ($silent_port, $port, $sock) = ($silent->sockport, $node->port, $node->host);
	IPC::Run::run([ $mqctl, 'consume', 'quietg', '-S', "host=127.0.0.1 port=$silent_port dbname=nodb",
			'-S', "host=127.0.0.1,$sock port=$silent_port,$port dbname=postgres connect_timeout=2",
			'--max-messages', '1' ],
		'<', \'', '>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	is($out, "q4\n", 'a node whose first host never answers is reached through its second');
	# lag gives such a node up after 10 s when its string sets no timeout
	($out, $err) = ('', '');
	IPC::Run::run([ $mqctl, 'lag', 'quietg', '-S', $connstr, '-S', $silent_node ],
		'<', \'', '>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	ok($? == 0 && $out =~ /^node 1: unavailable$/m
		  && $err =~ /^mqctl: error: node 1: connection to server .* failed: timeout expired$/m,
		'lag reports a node that never answers as unavailable')
	  or diag("stdout: $out; stderr: $err");
}

# --- lag renders a table, once per refresh.
$node->safe_psql('postgres', "SELECT count(*) FROM mq.send('users', 'late'::text)");
($rc, $out) = mqctl([ 'lag', '--watch', '--iterations', '1' ]);
is($rc, 0, 'lag --watch --iterations 1 exits with 0');
like($out,
	qr/^mq\.lag at .*\n\n +group +\| +topic +\| partition \|.*\| lag \|.*\n-+\+.*\n(.*\n)* audit +\| users +\| +0 \|.*\| +1 \|.*\n(.*\n)*\(\d+ rows\)\n\z/,
	'and renders the aligned table, with the lag of each position');
($rc, $out) = mqctl([ 'lag', 'audit', '--watch', '0.1', '--iterations', '2' ]);
my $titles = () = $out =~ /^mq\.lag at /mg;
ok($rc == 0 && $titles == 2 && $out !~ /billing/,
	'--watch SECONDS refreshes; a group restricts the table');

# --- consume survives a server restart and a killed backend.
$node->safe_psql('postgres', q{
SELECT mq.create_topic('events', partitions => 2);
SELECT mq.subscribe('sink', 'events', start => 'earliest');
});
my $sink = mqctl_start('sink', 'consume', 'sink');
sub produce_events
{
	my ($from, $to) = @_;
	my ($rc) = mqctl([ 'produce', 'events', '--batch-size', '10' ],
		join('', map { "event $_\n" } $from .. $to));
	die "produce failed" if $rc != 0;
}
produce_events(1, 100);
wait_until('the first 100 events are consumed',
	sub { distinct_lines("$dir/sink.out") == 100 });
$node->restart;
produce_events(101, 200);
wait_until('100 more after the restart',
	sub { distinct_lines("$dir/sink.out") == 200 });
is($node->safe_psql('postgres', q{
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
 WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()}),
	'1', "the consumer's backend is killed");
produce_events(201, 300);
wait_until('100 more after the kill',
	sub { distinct_lines("$dir/sink.out") == 300 });
$sink->signal('TERM');
$sink->finish;
is($sink->result(0), 0, 'consume exits with 0 on SIGTERM');
my %got = map { $_ => 1 } file_lines("$dir/sink.out");
is_deeply([ sort keys %got ], [ sort map { "event $_" } 1 .. 300 ],
	'every event was processed at least once');
like(slurp_file("$dir/sink.err"), qr/connection lost; reconnecting/,
	'consume said it reconnected');
is(group_lag('sink'), '0', 'and the group\'s lag is zero at the end');

# --- SIGTERM in the middle of a batch commits what was handled.
$node->safe_psql('postgres', q{
SELECT mq.create_topic('slow');
SELECT mq.subscribe('slowg', 'slow', start => 'earliest');
});
mqctl([ 'produce', 'slow' ], join('', map { "job $_\n" } 1 .. 5));
my $slow = mqctl_start('slow', 'consume', 'slowg', '--exec',
	"cat >> $dir/slow.done; echo >> $dir/slow.done; sleep 0.5");
wait_until('two jobs are done', sub { count_lines("$dir/slow.done") >= 2 });
$slow->signal('TERM');
$slow->finish;
is($slow->result(0), 0, 'SIGTERM during a batch: consume exits with 0');
my $done = count_lines("$dir/slow.done");
cmp_ok($done, '<', 5, "it stopped after the job in progress ($done done)");
is($node->safe_psql('postgres',
		"SELECT committed_offset FROM mq.lag WHERE \"group\" = 'slowg'"),
	$done, 'and committed exactly the jobs it had done');

# --- --exec failures are nacked: retried, then dead letters.
SKIP:
{
	skip 'mq.nack is not installed', 12
	  unless $node->safe_psql('postgres',
		"SELECT EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'nack' AND pronamespace = 'mq'::regnamespace)") eq 't';
	$node->safe_psql('postgres', q{
SELECT mq.create_topic('work');
SELECT mq.subscribe('ng', 'work', start => 'earliest', max_retries => 1);
});
	mqctl([ 'produce', 'work' ], "ok1\nbad\nok2\n");
	my $ng = mqctl_start('ng', 'consume', 'ng', 'work', '--exec',
		qq{read x; echo "\$x \$MQ_TOPIC" >> $dir/ng.done; test "\$x" != bad});
	wait_until('the first failure is nacked',
		sub { -e "$dir/ng.err" && slurp_file("$dir/ng.err") =~ /nacked: retry/ });
	like(slurp_file("$dir/ng.err"),
		qr/message work\[0\]\@1: child process exited with exit code 1; nacked: retry/,
		'a failing command nacks its message (to retry)');
	# the retry is due after a back-off: move mq's clock past it
	$node->safe_psql('postgres',
		"SET mq.test_clock = on; SELECT mq.advance_clock('2 hours')");
	wait_until('the retry is nacked to the dead letters',
		sub { slurp_file("$dir/ng.err") =~ /nacked: dlq/ });
	pass('the retry came back from ng.retry and failed again: dead letter');
	$ng->signal('TERM');
	$ng->finish;
	is($ng->result(0), 0, 'consume exits with 0');
	is(join(',', file_lines("$dir/ng.done")), 'ok1 work,bad work,ok2 work,bad ng.retry',
		'each message ran once, the failed one again from the retry topic');
	is(group_lag('ng'), '0', 'every position was committed');
	($rc, $out) = mqctl([ 'dlq', 'ng' ]);
	ok($rc == 0 && $out =~ /^ +0 \| work +\| +0 \| +1 \| +2 \| f +\|.*\| bad$/m,
		'dlq lists the dead letter with its origin and attempts');
	($rc, $out) = mqctl([ 'dlq', 'ng', 'replay' ]);
	ok($rc == 0 && $out =~ /^replayed 1 dead letters of group "ng"$/,
		'dlq replay replays it');
	($rc, $out) = mqctl([ 'dlq', 'ng' ]);
	like($out, qr/\| t +\|/, 'and it is marked replayed');

	# An ordered subscription retries in place, before the later messages.
	$node->safe_psql('postgres', q{
SELECT mq.create_topic('steps');
SELECT mq.subscribe('og', 'steps', start => 'earliest', ordered => true, max_retries => 2);
});
	mqctl([ 'produce', 'steps' ], "a\nbad\nc\n");
	# a variable of mqctl's own environment named as a message's is not
	# passed on for a message without it
	local $ENV{MQ_KEY} = 'stale';
	($rc, $out, $err) = mqctl([ 'consume', 'og', '--idle-exit', '1', '--exec',
		qq{read x; echo "\$x" >> $dir/og.done; echo "\$MQ_OFFSET/\$MQ_EPOCH/\${MQ_KEY-none}" >> $dir/og.env; test "\$x" != bad} ]);
	is($rc, 0, 'consume of an ordered subscription exits with 0');
	is(join(',', file_lines("$dir/og.done")), 'a,bad,bad,bad,c',
		'the failed message is retried in place before the next one, then dead-lettered');
	my $og_epoch = $node->safe_psql('postgres', q{SELECT DISTINCT epoch FROM mq.messages('steps')});
	is(join(',', file_lines("$dir/og.env")), join(',', map { "$_/$og_epoch/none" } 0, 1, 1, 1, 2),
		'the command gets MQ_OFFSET and MQ_EPOCH, and no MQ_KEY for a message without key');
	like($err, qr/nacked: in_place\n.*nacked: in_place\n.*nacked: dlq\n\z/,
		'as nack said');
	is(group_lag('og'), '0', 'and the position moved past all of them');
}

# --- groups, delayed and half messages.
($rc, $out) = mqctl(['groups']);
# (the restart left holes in the offsets of billing's partitions: lag)
like($out, qr/^ billing +\| range +\| +0 \| +0 \| orders +\| +\d+$/m,
	'groups lists each group with its topics and lag');
like($out, qr/^ ng +\| range +\| +0 \| +0 \| ng\.retry, work +\| +1$/m,
	'including the retry topic mq.nack subscribed it to (the replayed message waits there)');
$node->safe_psql('postgres',
	"SELECT mq.send('users', 'later'::text, delay => interval '1 hour')");
($rc, $out) = mqctl(['delayed']);
like($out, qr/^ users +\| +1 \|/m, 'delayed counts pending delayed messages');
my $handle = $node->safe_psql('postgres',
	"SELECT mq.prepare('users', 'half'::text, 'signups')");
($rc, $out) = mqctl(['half']);
like($out, qr/^ $handle \| users +\| signups +\| prepared /m,
	'half lists a prepared half message');
($rc, $out) = mqctl([ 'half', 'commit', $handle ]);
ok($rc == 0 && $out eq "committed half message $handle\n", 'half commit');
($rc, $out, $err) = mqctl([ 'half', 'commit', $handle ]);
ok($rc == 1 && $err =~ /half message $handle was already committed/,
	'committing it again: 1');
($rc, $out, $err) = mqctl([ 'half', 'rollback', $handle ]);
ok($rc == 1 && $err =~ /it was committed \(SQLSTATE 55000\)/,
	'rolling back a committed half message: 1, SQLSTATE 55000');

$node->stop;
done_testing();
