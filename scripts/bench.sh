#!/usr/bin/env bash
# Reproduces the figures in docs/PERFORMANCE.md: starts a fresh Release server on a free port
# with durability on (fsync per group commit), runs `sluice bench` in latency mode (120
# events/s, one event per request, 60 s) and in throughput mode (30 s), then the same
# throughput run against a private ClickHouse 18.16 (scripts/clickhouse-peer.sh, see
# docs/bench-peers.md) and prints the ratio, then the micro-benchmarks. Output:
# human-readable, and JSON lines in build/bench-results.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
sluice=${1:-build/src/app/sluice}
latency_duration=${LATENCY_DURATION:-60s}
throughput_duration=${THROUGHPUT_DURATION:-30s}
# The same for both engines. The peer figure we were given used 10,000-event batches, but
# 10,000 of these events come to ~17 MB and Sluice refuses bodies over 16 MiB.
throughput_batch=${THROUGHPUT_BATCH:-9000}
data=$(mktemp -d /tmp/sluice-bench.XXXXXX)
clickhouse_dir=$(mktemp -d /tmp/sluice-bench-clickhouse.XXXXXX)
port=$((20000 + RANDOM % 20000))
results=build/bench-results.jsonl

"$sluice" serve --data-dir "$data" --http-port "$port" --log-level warn &
server=$!
stop_server() {
  kill "$server" 2>/dev/null || return 0
  wait "$server" 2>/dev/null || true
}
cleanup() {
  stop_server
  CLICKHOUSE_PEER_DIR=$clickhouse_dir scripts/clickhouse-peer.sh stop
  rm -rf "$data" "$clickhouse_dir"
}
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

echo "== latency: 120 events/s, one event per request, $latency_duration"
"$sluice" bench --url "http://127.0.0.1:$port" --mode latency --rate 120 \
  --duration "$latency_duration"
"$sluice" bench --url "http://127.0.0.1:$port" --mode latency --rate 120 --duration 10s \
  --json >> "$results"

throughput() {
  "$sluice" bench --mode throughput --connections 2 --batch "$throughput_batch" \
    --duration "$throughput_duration" --json "$@"
}
events_per_s() { sed -n 's/.*"events_per_s":\([0-9.]*\).*/\1/p' <<<"$1"; }

echo "== throughput: 0.8-3.2 KB events, batches of $throughput_batch over 2 connections," \
  "$throughput_duration"
sluice_result=$(throughput --url "http://127.0.0.1:$port")
echo "$sluice_result" | tee -a "$results"
# Sluice's pipeline may still be catching up: it must not take CPU from the peer's run.
stop_server

echo "== throughput peer: ClickHouse 18.16, the same client, events and batches"
clickhouse_url=$(CLICKHOUSE_PEER_DIR=$clickhouse_dir scripts/clickhouse-peer.sh start)
clickhouse_result=$(throughput --url "$clickhouse_url" --target clickhouse)
echo "$clickhouse_result" | tee -a "$results"
CLICKHOUSE_PEER_DIR=$clickhouse_dir scripts/clickhouse-peer.sh stop
awk -v s="$(events_per_s "$sluice_result")" -v c="$(events_per_s "$clickhouse_result")" 'BEGIN {
  printf "throughput ratio sluice/clickhouse: %.2f (sluice %.0f ev/s, clickhouse %.0f ev/s)\n",
    s / c, s, c
}'

echo "== micro-benchmarks"
build/bench/sluice_microbench --benchmark_min_time=0.5
