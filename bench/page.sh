#!/usr/bin/env bash
# Checkout page benchmark: see "Checkout page" in bench/README.md.
#
# Builds hashcart and the load tool, then runs `intakeload page` on SQLite
# and on PostgreSQL: the X simulator in the tool's process, a fresh
# hashcart and database per run, one signed "#BuyNow" reply, the checkout
# link from the DM it gets, and that page fetched by CONCURRENCY keep-alive
# clients (closed loop), then by one client at LOW_RATE requests/s (the
# server's own time). Prints a table and the verdict against TARGET.
#
# Environment (all optional):
#   CONCURRENCY=200 DURATION=10s WARMUP=2s LOW_RATE=50 LOW_DURATION=10s TARGET=5ms
#   PG_DSN_BASE="postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
#   PSQL_ARGS="-h 127.0.0.1 -U postgres test"  SKIP_PG=1
#   BENCH_DIR=/tmp/hashcart-bench
#   PAGE_CONCURRENCY=N (hashcart's server.page_concurrency; default: its own, cores + 1)
#   SKIP_BUILD=1 (reuse $BENCH_DIR/page-bin/hashcart and .../intakeload)
set -euo pipefail

CONCURRENCY=${CONCURRENCY:-200}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
LOW_RATE=${LOW_RATE:-50}
LOW_DURATION=${LOW_DURATION:-10s}
TARGET=${TARGET:-5ms}
PG_DSN_BASE=${PG_DSN_BASE:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
read -r -a PSQL <<<"${PSQL_ARGS:--h 127.0.0.1 -U postgres test}"
BENCH_DIR=${BENCH_DIR:-/tmp/hashcart-bench}
export PGOPTIONS="${PGOPTIONS:---client-min-messages=warning}"

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin="$BENCH_DIR/page-bin"
mkdir -p "$bin"
work=$(mktemp -d "$BENCH_DIR/page.XXXXXX")
results="$work/results.jsonl"
schema="bench_page_$(date +%s)_$$"
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
	(cd "$repo" && go build -o "$bin/hashcart" ./cmd/hashcart && go build -o "$bin/intakeload" ./bench/intakeload)
fi
# Addresses are encrypted; PostgreSQL installs must be given the data key.
export HASHCART_DATA_KEY="${HASHCART_DATA_KEY:-$("$bin/hashcart" keys new bench)}"

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

page() { # label driver dsn
	echo "== $1: load average now $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "  $1 $("$bin/intakeload" calibrate --dir "$work")" | tee -a "$work/machine.txt"
	local flags=(--hashcart "$bin/hashcart" --driver "$2" --label "$1"
		--concurrency "$CONCURRENCY" --warmup "$WARMUP" --duration "$DURATION"
		--low-rate "$LOW_RATE" --low-duration "$LOW_DURATION" --target "$TARGET"
		--workdir "$work" --json)
	if [[ -n "$3" ]]; then flags+=(--dsn "$3"); fi
	if [[ -n "${PAGE_CONCURRENCY:-}" ]]; then flags+=(--page-concurrency "$PAGE_CONCURRENCY"); fi
	"$bin/intakeload" page "${flags[@]}" | tee -a "$work/page.log" | grep -v '^{' || true
	grep "\"label\":\"$1\"" "$work/page.log" | tail -1 >>"$results" || echo "  ($1: no result)" >&2
}

page sqlite sqlite ""
if [[ -z "${SKIP_PG:-}" ]]; then
	psql "${PSQL[@]}" -q -c "drop schema if exists $schema cascade; create schema $schema" >/dev/null
	schema_made=1
	page postgres postgres "$PG_DSN_BASE&search_path=$schema"
fi

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$work/machine.txt"
echo
echo "== results ($CONCURRENCY clients for $DURATION after $WARMUP warm-up; then 1 client at $LOW_RATE/s for $LOW_DURATION)"
"$bin/intakeload" page-table --target "$TARGET" <"$results" | tee "$work/table.md"
echo
echo "raw results: $results"
