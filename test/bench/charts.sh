#!/usr/bin/env bash
#
# test/bench/charts.sh: draw every chart of docs/benchmarks.md with gnuplot,
# one test/bench/*.gp per chart, from the benchmarks' CSVs.
#
#   DATA  where the CSVs are (default docs/img)
#   OUT   where the PNGs go (default docs/img)
#
# Fails, saying why, if a CSV that a chart names is missing, if gnuplot
# fails or warns (a misspelt column, a file without data), or if a chart
# that docs/benchmarks.md shows was not drawn.  So it also checks the
# charts (make test runs it into a temporary directory).  Installs
# gnuplot-nox with apt when it is missing (as root).
set -euo pipefail
. "$(dirname "$0")/../scripts/common.sh"

ensure_packages gnuplot-nox >/dev/null

data=${DATA:-$TOP/docs/img}
out=${OUT:-$TOP/docs/img}
mkdir -p "$out"
data=$(cd "$data" && pwd)
out=$(cd "$out" && pwd)

# The .gp files name their files literally, as csv("NAME") and
# png("NAME") (see chart_style.gpi).
names() { grep -o "$1(\"[A-Za-z0-9_.-]*\")" "$2" | sed "s/^$1(\"//; s/\")\$//" | sort -u; }

problems=""
drawn=""
charts=0
csvs=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for gp in "$TOP"/test/bench/*.gp; do
	missing=""
	for name in $(names csv "$gp"); do
		csvs=$((csvs + 1))
		[ -f "$data/$name.csv" ] || missing="$missing $name.csv"
	done
	if [ -n "$missing" ]; then
		problems="$problems
$(basename "$gp"): missing in $data:$missing"
		continue
	fi
	# a chart counts as drawn only if this run wrote it
	for name in $(names png "$gp"); do
		rm -f "$out/$name.png"
	done
	# from the top, where the .gp files find chart_style.gpi
	if ! (cd "$TOP" && gnuplot -e "data = '$data'; out = '$out'" "$gp") >"$log" 2>&1 || [ -s "$log" ]; then
		problems="$problems
$(basename "$gp"): gnuplot said:
$(cat "$log")"
		continue
	fi
	[ -n "$(names png "$gp")" ] || problems="$problems
$(basename "$gp"): names no png(\"NAME\") to draw"
	for name in $(names png "$gp"); do
		if [ -s "$out/$name.png" ]; then
			drawn="$drawn $name"
			charts=$((charts + 1))
		else
			problems="$problems
$(basename "$gp"): drew no $name.png"
		fi
	done
done

# Every chart the document shows must have been drawn now.
shown=$(grep -o '](img/[A-Za-z0-9_.-]*\.png)' "$TOP/docs/benchmarks.md" | sed 's/^](img\///; s/\.png)$//' | sort -u)
for name in $shown; do
	case " $drawn " in
		*" $name "*) ;;
		*) problems="$problems
docs/benchmarks.md shows img/$name.png, which no test/bench/*.gp drew" ;;
	esac
done

[ -z "$problems" ] || die "charts:$problems"
echo "$charts charts drawn from $csvs CSVs in $data, into $out"
