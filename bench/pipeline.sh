#!/usr/bin/env bash
# Bot pipeline benchmark: see "Bot pipeline" in bench/README.md.
#
# Builds hashcart and the load tool, runs the bot parser's Go benchmark,
# then for each rate in RATES runs `intakeload pipeline` on SQLite and on
# PostgreSQL: the X simulator in the tool's process, a fresh hashcart and a
# fresh database per run, signed "#BuyNow" replies at the rate (open loop),
# and the time from each event's due time to its DM request at the
# simulator. Prints a table and the verdict against the p99 target.
#
# Environment (all optional):
#   RATES="1000" DURATION=10s WARMUP=2s GRACE=10s CONCURRENCY=256 TARGET=100ms
#   PG_DSN_BASE="postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
#   PSQL_ARGS="-h 127.0.0.1 -U postgres test"  SKIP_PG=1  SKIP_SQLITE=1  SKIP_PARSER=1
#   BENCH_DIR=/tmp/hashcart-bench
#   PROFILE=1 (hashcart serves pprof on 127.0.0.1:18799; CPU profile of the measured window but its last 2 s, in the run dir)
#   SKIP_BUILD=1 (reuse $BENCH_DIR/hashcart and $BENCH_DIR/intakeload)
set -euo pipefail

RATES=${RATES:-1000}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
GRACE=${GRACE:-10s}
CONCURRENCY=${CONCURRENCY:-256}
TARGET=${TARGET:-100ms}
PG_DSN_BASE=${PG_DSN_BASE:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
read -r -a PSQL <<<"${PSQL_ARGS:--h 127.0.0.1 -U postgres test}"
BENCH_DIR=${BENCH_DIR:-/tmp/hashcart-bench}
export PGOPTIONS="${PGOPTIONS:---client-min-messages=warning}"

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$BENCH_DIR"
work=$(mktemp -d "$BENCH_DIR/pipe.XXXXXX")
results="$work/results.jsonl"
schema="bench_pipe_$(date +%s)_$$"
schema_made=""

cleanup() {
	if [[ -n "$schema_made" ]]; then
		psql "${PSQL[@]}" -q -c "drop schema if exists $schema cascade" >/dev/null 2>&1 || true
	fi
	rm -f "$work"/*.db "$work"/*.db-wal "$work"/*.db-shm
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z "${SKIP_BUILD:-}" ]]; then
	echo "== build"
	(cd "$repo" && go build -o "$BENCH_DIR/hashcart" ./cmd/hashcart && go build -o "$BENCH_DIR/intakeload" ./bench/intakeload)
fi
# Addresses are encrypted; PostgreSQL installs must be given the data key.
export HASHCART_DATA_KEY="${HASHCART_DATA_KEY:-$("$BENCH_DIR/hashcart" keys new bench)}"

echo "== machine"
{
	echo "date: $(date -u +%FT%TZ)"
	echo "nproc: $(nproc)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
	echo "go: $(go version)"
	echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "busiest processes before (top, %CPU now):"
	top -b -n1 -o %CPU 2>/dev/null | awk 'NR > 7 && NR <= 12 {print "  " $9 "% " $12}'
} | tee "$work/machine.txt"

if [[ -z "${SKIP_PARSER:-}" ]]; then
	echo "== parser (go test -bench BenchmarkParse -benchmem ./bot/)"
	(cd "$repo" && go test -run XXX -bench 'BenchmarkParse' -benchmem -count 3 ./bot/) | tee "$work/parser.txt"
fi

pipeline() { # label driver dsn rate
	echo "== $1: $4 events/s, load average now $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "  $1 $("$BENCH_DIR/intakeload" calibrate --dir "$work")" | tee -a "$work/machine.txt"
	local flags=(--hashcart "$BENCH_DIR/hashcart" --driver "$2" --label "$1" --rate "$4"
		--warmup "$WARMUP" --duration "$DURATION" --grace "$GRACE" --concurrency "$CONCURRENCY"
		--target "$TARGET" --workdir "$work" --json)
	if [[ -n "$3" ]]; then flags+=(--dsn "$3"); fi
	local pprof_env=() prof_pid=""
	if [[ -n "${PROFILE:-}" ]]; then # CPU profile of hashcart over the measured window
		pprof_env=(env HASHCART_PPROF=127.0.0.1:18799)
		(sleep $((${WARMUP%s} + 1)); curl -fs --retry 20 --retry-connrefused --retry-delay 1 -o "$work/$1.cpu.pprof" \
			"http://127.0.0.1:18799/debug/pprof/profile?seconds=$((${DURATION%s} - 2))") &
		prof_pid=$!
	fi
	"${pprof_env[@]}" "$BENCH_DIR/intakeload" pipeline "${flags[@]}" | tee -a "$work/pipeline.log" | grep -v '^{' || true
	if [[ -n "$prof_pid" ]]; then wait "$prof_pid" || true; echo "  $1 cpu profile: $work/$1.cpu.pprof"; fi
	grep "\"label\":\"$1\"" "$work/pipeline.log" | tail -1 >>"$results" || echo "  ($1: no result)" >&2
}

for rate in $RATES; do
	if [[ -z "${SKIP_SQLITE:-}" ]]; then pipeline "sqlite-$rate" sqlite "" "$rate"; fi
	if [[ -z "${SKIP_PG:-}" ]]; then
		psql "${PSQL[@]}" -q -c "drop schema if exists $schema cascade; create schema $schema" >/dev/null
		schema_made=1
		pipeline "postgres-$rate" postgres "$PG_DSN_BASE&search_path=$schema" "$rate"
	fi
done

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$work/machine.txt"
echo
echo "== results ($DURATION measured after $WARMUP warm-up, grace $GRACE, at most $CONCURRENCY webhook requests in flight)"
"$BENCH_DIR/intakeload" pipeline-table --target "$TARGET" <"$results" | tee "$work/table.md"
echo
echo "raw results: $results"
