# Shared by test/scripts/*.sh: messages, dependencies, running as postgres.
# Sourced, not executed.

PG_MAJOR=15
# PG_BINDIR may name a relocated copy of PostgreSQL (one per checkout, so
# that several checkouts can install and test side by side).
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/$PG_MAJOR/bin}
PGC=$PG_BINDIR/pg_config
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

step() { printf '\n==> %s\n' "$*"; }
die() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }

# Install what building and testing need, with apt, when it is missing.
# A fresh Debian bookworm machine has only the PostgreSQL 15 server and
# client: the server headers, IPC::Run (for TAP tests), pg_bsd_indent, the
# compiler toolchain, PgBouncer (test/t/019_pgbouncer.pl),
# postgres_exporter (test/t/018_metrics.pl) and PL/Proxy (the router of
# test/t/021_router.pl) come from here.
deps=("postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" libipc-run-perl pg-bsd-indent
	make gcc binutils perl sqlsmith pgbouncer prometheus-postgres-exporter
	"postgresql-$PG_MAJOR-plproxy")
ensure_deps() { ensure_packages "${deps[@]}"; }
# The examples' Python drivers (test/scripts/examples.sh), for Debian's
# python3.
example_deps=(python3-psycopg python3-psycopg2)
# make test (and so make deps) also draws the benchmark charts, with gnuplot,
# and runs the examples
# shellcheck disable=SC2034  # used by test.sh and deps.sh
test_deps=("${deps[@]}" gnuplot-nox "${example_deps[@]}")

# ensure_packages PACKAGE...: install those of the Debian packages that are
# missing (as root; otherwise say what to install, and fail).
ensure_packages()
{
	local missing=""
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing="$missing $p"
	done
	if [ -z "$missing" ]; then
		echo "dependencies present"
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		die "missing packages:$missing (as root: apt-get install$missing)"
	fi
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || die "apt-get update failed"
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
		die "apt-get install$missing failed"
}

# ensure_node: Node.js and npm for the examples, from Debian unless both
# are on the PATH already (NodeSource's nodejs package bundles npm and
# conflicts with Debian's).
ensure_node()
{
	if command -v node >/dev/null && command -v npm >/dev/null; then
		return 0
	fi
	ensure_packages nodejs npm
}

# Build and install the extension into PostgreSQL $PG_MAJOR.
build_and_install()
{
	local copt=${1:-}
	make -C "$TOP" -s PG_CONFIG="$PGC" with_llvm=no clean >/dev/null
	make -C "$TOP" -s PG_CONFIG="$PGC" with_llvm=no COPT="$copt" ||
		die "build failed"
	if [ -w "$($PGC --pkglibdir)" ]; then
		make -C "$TOP" -s PG_CONFIG="$PGC" with_llvm=no install >/dev/null ||
			die "make install failed"
	else
		die "cannot write to $($PGC --pkglibdir): run as root, or run 'make install' with enough rights first"
	fi
}

# PostgreSQL refuses to run as root: as root, run as the postgres user.
as_pg()
{
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# A working copy that the user running the servers can write to.
pg_workdir()
{
	local dir
	dir=$(mktemp -d /tmp/mq-XXXXXX)
	chmod 755 "$dir"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$dir"
	fi
	echo "$dir"
}

# start_server DIR [EXTRA_CONF] [PORT]: initdb a throwaway cluster in
# DIR/data with mq preloaded, listening on loopback port PORT (which must
# be free) or else the first free one from 54329 (set in $port) and on a
# socket in DIR, and start it; its log is DIR/server.log.  EXTRA_CONF is
# appended to postgresql.conf.
start_server()
{
	local dir=$1 extra=${2:-} fixed=${3:-}
	if [ -n "$fixed" ]; then
		port=$fixed
		if (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null; then
			die "port $port is in use"
		fi
	else
		port=54329
		while (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null; do
			port=$((port + 1))
		done
	fi
	as_pg "$PG_BINDIR/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
	cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
shared_preload_libraries = 'mq'
$extra
CONF
	as_pg "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
}

# stop_server DIR: stop the cluster start_server started there.
stop_server()
{
	as_pg "$PG_BINDIR/pg_ctl" -D "$1/data" -m fast -w stop >/dev/null
}

# The benchmarks' throwaway server: a work directory (set in $work) holding
# the given SQL files (readable by postgres), a server with the settings
# all benchmarks share, stopped and removed on exit.
start_bench_server()
{
	work=$(pg_workdir)
	cp "$@" "$work/"
	chmod 644 "$work"/*.sql
	start_server "$work" "max_wal_size = '8GB'
checkpoint_timeout = '30min'
shared_buffers = '512MB'"
	trap 'stop_server "$work" 2>/dev/null; rm -rf "$work"' EXIT
}

# The command line of the script that sourced this file (sourced without
# arguments, it sees the script's), for the first line of benchmark CSVs.
bench_command="$0${*:+ $*}"

# csv_file NAME [COMMAND]: start the benchmark CSV $OUT/NAME.csv (OUT
# defaults to the current directory) and set $csv to it.  Its first line is
# a comment saying what produced it (COMMAND, default the command line, and
# the commit, date, cores and PostgreSQL version), for whoever reads the
# numbers later; test/bench/charts.sh draws the charts from these files.
csv_file()
{
	local dir=${OUT:-.} commit
	mkdir -p "$dir"
	csv="$dir/$1.csv"
	if commit=$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null); then
		git -C "$TOP" diff --quiet HEAD 2>/dev/null || commit="$commit with uncommitted changes"
	else
		commit=unknown
	fi
	printf '# %s; commit %s; %s; %s cores; PostgreSQL %s\n' "${2:-$bench_command}" "$commit" \
		"$(date -u +%Y-%m-%d)" "$(nproc)" "$("$PG_BINDIR/postgres" --version | awk '{ print $3 }')" >"$csv"
	echo "results as CSV: $csv" >&2
}
