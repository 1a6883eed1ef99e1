#!/usr/bin/env bash
#
# make test: every check and test suite, each counted, ending with the line
# "N passed, N failed".  Works as root on a fresh Debian bookworm machine
# (dependencies are installed with apt; servers and suites run as the
# postgres user) or as a user who already has the dependencies.
#
# Counted: the warning-free build (COPT=-Werror), the pgindent format
# check, the include layering check, the benchmark charts, each pg_regress
# test, each isolation spec, each TAP assertion, each check of the examples
# (test/scripts/examples.sh), and the demo.  A suite that fails without
# reporting a failing test counts as one failure, so nothing can fail
# silently.
set -uo pipefail
. "$(dirname "$0")/common.sh"

passed=0
failed=0
failures=""
pass() { passed=$((passed + $1)); }
fail() { failed=$((failed + $1)); failures="$failures $2"; }

step "checking dependencies"
ensure_packages "${test_deps[@]}"
ensure_node

step "build with warnings as errors, and install"
if (build_and_install -Werror); then
	pass 1
else
	fail 1 build
	echo "$passed passed, $failed failed"
	exit 1
fi

step "format check (pgindent)"
if make -C "$TOP" -s PG_CONFIG="$PGC" with_llvm=no format-check; then
	pass 1
else
	fail 1 format
fi

step "include layering (make check-layers)"
if make -C "$TOP" -s check-layers; then
	pass 1
else
	fail 1 layers
fi

# The suites run from a copy the postgres user owns: initdb refuses root.
work=$(pg_workdir)
trap 'rm -rf "$work"' EXIT
cp -a "$TOP/." "$work/src"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$work/src"

step "benchmark charts (test/bench/charts.sh)"
# drawn into the work directory: docs/img stays as committed
if OUT="$work/charts" "$TOP/test/bench/charts.sh"; then
	pass 1
else
	fail 1 charts
fi

# run_suite NAME: run installcheck-NAME, count its results from $log.
run_suite()
{
	local suite=$1 log="$work/$1.log" rc ok bad
	step "$suite suite"
	as_pg make -C "$work/src" -s PG_CONFIG="$PGC" "PROVE_FLAGS=--verbose" \
		"installcheck-$suite" >"$log" 2>&1
	rc=$?
	if [ "$suite" = tap ]; then
		ok=$(grep -cE '^ok [0-9]+' "$log")
		bad=$(grep -cE '^not ok [0-9]+' "$log")
		grep -E '^test/t/.*\.pl \.\.|^(not )?ok [0-9]+|^Files=|^Result:' "$log"
	else
		ok=$(grep -cE '^[ ]*(test )?[ ]*[A-Za-z0-9_]+ +\.\.\. ok' "$log")
		bad=$(grep -cE '^[ ]*(test )?[ ]*[A-Za-z0-9_]+ +\.\.\. FAILED' "$log")
		grep -E '\.\.\. |tests (passed|failed)' "$log"
	fi
	if [ $rc -ne 0 ] && [ "$bad" -eq 0 ]; then
		bad=1
	fi
	pass "$ok"
	if [ "$bad" -gt 0 ]; then
		fail "$bad" "$suite"
		echo "--- $suite: failure details"
		tail -n 40 "$log"
		find "$work/src" -name regression.diffs -exec cat {} + 2>/dev/null | head -n 200
		for f in "$work/src"/log/postmaster.log "$work/src"/output_iso/log/postmaster.log \
			"$work/src"/tmp_check/log/*.log; do
			[ -f "$f" ] && { echo "--- $f (last 40 lines)"; tail -n 40 "$f"; }
		done
	fi
}

run_suite regress
run_suite isolation
run_suite tap

step "examples (test/scripts/examples.sh)"
# the drivers against a server of its own; each PASS or FAIL line counts
"$TOP/test/scripts/examples.sh" >"$work/examples.log" 2>&1
rc=$?
ok=$(grep -c '^PASS: ' "$work/examples.log")
bad=$(grep -c '^FAIL: ' "$work/examples.log")
grep -E '^(PASS|FAIL): ' "$work/examples.log"
if [ $rc -ne 0 ] && [ "$bad" -eq 0 ]; then
	bad=1
fi
pass "$ok"
if [ "$bad" -gt 0 ]; then
	fail "$bad" examples
	tail -n 60 "$work/examples.log"
fi

step "demo"
# on a port and in a directory given by the environment, ending with its
# recap; the data directory stays there afterwards
demo_port=54391
while (echo >/dev/tcp/127.0.0.1/$demo_port) 2>/dev/null; do
	demo_port=$((demo_port + 1))
done
if MQ_DEMO_PORT=$demo_port MQ_DEMO_DIR="$work/demo" \
	"$TOP/test/scripts/demo.sh" >"$work/demo.log" 2>&1 &&
	grep -q "server on 127.0.0.1:$demo_port, data in $work/demo/data" "$work/demo.log" &&
	grep -q "^What the demo showed:" "$work/demo.log" &&
	[ -f "$work/demo/data/PG_VERSION" ]; then
	pass 1
	echo "demo ok (port $demo_port, data kept in $work/demo/data)"
else
	fail 1 demo
	tail -n 40 "$work/demo.log"
fi

step "summary"
[ -n "$failures" ] && echo "failed:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
