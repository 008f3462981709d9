#!/usr/bin/env bash
# Intake load benchmark: see bench/README.md.
#
# In one run, on this machine: the bare Fiber signature-check handler at max
# rate and at the fixed rate; hashcart on SQLite and on PostgreSQL at max rate; then hashcart on
# SQLite and PostgreSQL at a fixed 5,000 events/s. Each measurement gets a
# fresh server and database, WARMUP of load first, then DURATION measured.
#
# Environment (all optional):
#   DURATION=10s WARMUP=2s CONCURRENCY=64 (max-rate runs)
#   FIXED_RATE=5000 FIXED_CONCURRENCY=256 (open-loop runs: in-flight cap)
#   EVENTS_PER_DELIVERY=1
#   PG_DSN_BASE="postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
#   PSQL_ARGS="-h 127.0.0.1 -U postgres test"  SKIP_PG=1 (SQLite and bare only)
#   PROFILE=1 (HASHCART_PPROF on each server; CPU profile of the measured window in the run dir)
#   DRAIN_MAX=60 (seconds to wait, after a max-rate run, for the backlog to be processed)
#   BENCH_DIR=/tmp/hashcart-bench  BASE_PORT=18400
set -euo pipefail

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONCURRENCY=${CONCURRENCY:-64}
FIXED_RATE=${FIXED_RATE:-5000}
FIXED_CONCURRENCY=${FIXED_CONCURRENCY:-256}
EVENTS_PER_DELIVERY=${EVENTS_PER_DELIVERY:-1}
PG_DSN_BASE=${PG_DSN_BASE:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
read -r -a PSQL <<<"${PSQL_ARGS:--h 127.0.0.1 -U postgres test}"
BENCH_DIR=${BENCH_DIR:-/tmp/hashcart-bench}
BASE_PORT=${BASE_PORT:-18400}
SECRET=bench-consumer-secret
export PGOPTIONS="${PGOPTIONS:---client-min-messages=warning}"
MERCHANT=2244994945

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$BENCH_DIR"
work=$(mktemp -d "$BENCH_DIR/run.XXXXXX")
results="$work/results.jsonl"
schema="bench_$(date +%s)_$$"
server_pid=""
schema_made=""

stop_server() {
	if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	server_pid=""
}

cleanup() {
	stop_server
	if [[ -n "$schema_made" ]]; then
		psql "${PSQL[@]}" -q -c "drop schema if exists $schema cascade" >/dev/null 2>&1 || true
	fi
	rm -f "$work"/*.db "$work"/*.db-wal "$work"/*.db-shm
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_healthy() { # url log
	for _ in $(seq 150); do
		if curl -fs -o /dev/null "$1/healthz"; then return 0; fi
		if ! kill -0 "$server_pid" 2>/dev/null; then
			echo "server exited; its log:" >&2; cat "$2" >&2; return 1
		fi
		sleep 0.1
	done
	echo "server not healthy after 15s; its log:" >&2; cat "$2" >&2
	return 1
}

write_config() { # file port driver dsn
	cat >"$1" <<YAML
server:
  listen: "127.0.0.1:$2"
  public_url: "http://127.0.0.1:$2"
  max_body: 64KiB
  shutdown_timeout: 5s
storage:
  driver: $3
  dsn: "$4"
x:
  consumer_key: bench-consumer-key
  consumer_secret: $SECRET
  api_base_url: "http://127.0.0.1:1"
log:
  level: warn
merchants:
  - id: acme
    name: Acme Records
    x_user_id: "$MERCHANT"
    x_screen_name: acme
    access_token: acme-token
    access_secret: acme-secret
    currency: USD
    offers:
      - id: tote
        title: Tote bag
        price: "18.00"
        stock: 50
        post_ids: ["1860000000000000002"]
YAML
}

# cpu_ticks: busy and total jiffies of the whole machine, from /proc/stat.
cpu_ticks() { awk '/^cpu / {busy=$2+$3+$4+$7+$8+$9; print busy, busy+$5+$6}' /proc/stat; }
# proc_ticks pid: user + system jiffies of one process.
proc_ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

load() { # label url [extra flags; a later --concurrency wins]
	local label=$1 url=$2; shift 2
	local m0 s0 m1 s1 hz
	hz=$(getconf CLK_TCK)
	echo "  $label $("$BENCH_DIR/intakeload" calibrate --dir "$work")" | tee -a "$work/machine.txt"
	read -r -a m0 < <(cpu_ticks); s0=$(proc_ticks "$server_pid")
	"$BENCH_DIR/intakeload" load --url "$url" --secret "$SECRET" --for-user-id "$MERCHANT" \
		--concurrency "$CONCURRENCY" --events-per-delivery "$EVENTS_PER_DELIVERY" \
		--warmup "$WARMUP" --duration "$DURATION" --label "$label" --json "$@" |
		tee -a "$work/load.log" | grep -v '^{' || true
	read -r -a m1 < <(cpu_ticks); s1=$(proc_ticks "$server_pid")
	grep "\"label\":\"$label\"" "$work/load.log" | tail -1 >>"$results" || echo "  ($label: no result)" >&2
	awk -v l="$label" -v b=$((m1[0] - m0[0])) -v t=$((m1[1] - m0[1])) -v s=$((s1 - s0)) -v hz="$hz" -v n="$(nproc)" \
		'BEGIN {printf "  %s cpu over the run: machine %.0f%% busy of %d cores, server %.1f s (%.2f cores on average)\n", l, 100*b/t, n, s/hz, (s/hz)/(t/hz/n)}' |
		tee -a "$work/cpu.txt"
}

# db_rows label driver dsn: what the database holds after the run (stored
# must be at least the acknowledged count; pending is the worker backlog).
db_rows() {
	local q="select status, count(*) from inbox_events group by status order by status"
	local rows
	if [[ $2 == sqlite ]]; then
		rows=$(sqlite3 -separator '=' "$3" "$q" 2>&1 | tr '\n' ' ')
	else
		rows=$(psql "${PSQL[@]}" -At -F '=' -c "set search_path=$schema; $q" 2>&1 | grep '=' | tr '\n' ' ')
	fi
	echo "  $1 database after the run: $rows"
	echo "$1: $rows" >>"$work/db_rows.txt"
}

# pending label driver dsn: inbox events not processed yet.
pending() {
	local q="select count(*) from inbox_events where status = 'pending'"
	if [[ $2 == sqlite ]]; then
		sqlite3 "$3" "$q" 2>/dev/null || echo "?"
	else
		psql "${PSQL[@]}" -At -c "set search_path=$schema; $q" 2>/dev/null | tail -1
	fi
}

# drain label driver dsn: after a max-rate run the intake is ahead of the
# processing; with the load stopped, how fast does the backlog go?
drain() {
	local n0 n t0 ns
	n0=$(pending "$@")
	[[ $n0 =~ ^[0-9]+$ ]] || { echo "  $1 backlog: cannot read ($n0)"; return; }
	t0=$(date +%s%N)
	n=$n0
	while ((n > 0 && $(date +%s%N) - t0 < ${DRAIN_MAX:-60} * 1000000000)); do
		sleep 0.25
		n=$(pending "$@")
		[[ $n =~ ^[0-9]+$ ]] || n=$n0
	done
	ns=$(($(date +%s%N) - t0))
	awk -v l="$1" -v a="$n0" -v b="$n" -v s="$ns" 'BEGIN {
		s /= 1e9
		if (a == 0) { print "  " l " backlog after the load: none"; exit }
		printf "  %s backlog after the load: %d events, %d processed in %.1f s with the load stopped (%.0f events/s)%s\n",
			l, a, a - b, s, (a - b) / s, (b > 0 ? ", " b " still pending" : "") }' | tee -a "$work/drain.txt"
}

hashcart_run() { # label driver port [load flags]
	local label=$1 driver=$2 port=$3; shift 3
	local dsn cfg="$work/$label.yaml" log="$work/$label.log"
	if [[ $driver == sqlite ]]; then
		dsn="$work/$label.db"
	else
		psql "${PSQL[@]}" -q -c "drop schema if exists $schema cascade; create schema $schema" >/dev/null
		schema_made=1
		dsn="$PG_DSN_BASE&search_path=$schema"
	fi
	port_free "$port" || { echo "port $port is in use" >&2; exit 1; }
	write_config "$cfg" "$port" "$driver" "$dsn"
	local pprof_env=() prof_pid=""
	if [[ -n "${PROFILE:-}" ]]; then pprof_env=(env "HASHCART_PPROF=127.0.0.1:$((port + 100))"); fi
	"${pprof_env[@]}" "$BENCH_DIR/hashcart" serve --config "$cfg" >"$log" 2>&1 &
	server_pid=$!
	wait_healthy "http://127.0.0.1:$port" "$log"
	if [[ -n "${PROFILE:-}" ]]; then # CPU profile of the measured window (after the warm-up)
		(sleep "${WARMUP%s}"; curl -fs -o "$work/$label.cpu.pprof" \
			"http://127.0.0.1:$((port + 100))/debug/pprof/profile?seconds=${DURATION%s}") &
		prof_pid=$!
	fi
	load "$label" "http://127.0.0.1:$port/webhooks/x" "$@"
	if [[ -n "$prof_pid" ]]; then wait "$prof_pid" || true; echo "  $label cpu profile: $work/$label.cpu.pprof"; fi
	if [[ " $* " != *" --rate "* ]]; then drain "$label" "$driver" "$dsn"; fi
	stop_server
	db_rows "$label" "$driver" "$dsn"
	if [[ -s "$log" ]]; then echo "  $label server log: $(wc -l <"$log") lines (first: $(head -c 200 "$log"))"; fi
}

echo "== build"
(cd "$repo" && go build -o "$BENCH_DIR/hashcart" ./cmd/hashcart && go build -o "$BENCH_DIR/intakeload" ./bench/intakeload)
# Addresses are encrypted; PostgreSQL installs must be given the data key.
export HASHCART_DATA_KEY="${HASHCART_DATA_KEY:-$("$BENCH_DIR/hashcart" keys new bench)}"

echo "== machine"
{
	echo "date: $(date -u +%FT%TZ)"
	echo "nproc: $(nproc)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
	echo "memory: $(free -m | awk '/Mem:/ {print $2 " MiB total, " $7 " MiB available"}')"
	echo "go: $(go version)"
	echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "busiest processes before (top, %CPU now):"
	top -b -n1 -o %CPU 2>/dev/null | awk 'NR > 7 && NR <= 12 {print "  " $9 "% " $12}'
} | tee "$work/machine.txt"

echo "== bare Fiber handler, max rate"
port_free "$BASE_PORT" || { echo "port $BASE_PORT is in use" >&2; exit 1; }
"$BENCH_DIR/intakeload" bare --listen "127.0.0.1:$BASE_PORT" --secret "$SECRET" --max-run 5m >"$work/bare.log" 2>&1 &
server_pid=$!
wait_healthy "http://127.0.0.1:$BASE_PORT" "$work/bare.log"
load bare "http://127.0.0.1:$BASE_PORT/webhooks/x"
echo "== bare Fiber handler, $FIXED_RATE events/s (latency floor of client + HTTP on this machine)"
load "bare-$FIXED_RATE" "http://127.0.0.1:$BASE_PORT/webhooks/x" --rate "$FIXED_RATE" --concurrency "$FIXED_CONCURRENCY"
stop_server

echo "== hashcart on SQLite, max rate"
hashcart_run sqlite sqlite $((BASE_PORT + 1))
if [[ -z "${SKIP_PG:-}" ]]; then
	echo "== hashcart on PostgreSQL, max rate"
	hashcart_run postgres postgres $((BASE_PORT + 2))
fi
echo "== hashcart on SQLite, $FIXED_RATE events/s"
hashcart_run "sqlite-$FIXED_RATE" sqlite $((BASE_PORT + 3)) --rate "$FIXED_RATE" --concurrency "$FIXED_CONCURRENCY"
if [[ -z "${SKIP_PG:-}" ]]; then
	echo "== hashcart on PostgreSQL, $FIXED_RATE events/s"
	hashcart_run "postgres-$FIXED_RATE" postgres $((BASE_PORT + 4)) --rate "$FIXED_RATE" --concurrency "$FIXED_CONCURRENCY"
fi

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$work/machine.txt"
echo
echo "== results ($DURATION measured after $WARMUP warm-up, concurrency $CONCURRENCY max-rate / $FIXED_CONCURRENCY open-loop, $EVENTS_PER_DELIVERY event(s) per delivery)"
"$BENCH_DIR/intakeload" table --bare bare \
	--check-ratio sqlite=0.5 \
	--check-p99 "sqlite-$FIXED_RATE=10ms" <"$results" | tee "$work/table.md"
echo
echo "raw results: $results"
