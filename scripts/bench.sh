#!/usr/bin/env bash
# Reproduces the figures in docs/PERFORMANCE.md: starts a fresh Release server on a free port
# with durability on (fsync per group commit), runs `sluice bench` in latency mode (120
# events/s, one event per request, 60 s) and in throughput mode (30 s), then the
# micro-benchmarks. Output: human-readable, and JSON lines in build/bench-results.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
sluice=${1:-build/src/app/sluice}
latency_duration=${LATENCY_DURATION:-60s}
throughput_duration=${THROUGHPUT_DURATION:-30s}
data=$(mktemp -d /tmp/sluice-bench.XXXXXX)
port=$((20000 + RANDOM % 20000))
results=build/bench-results.jsonl

"$sluice" serve --data-dir "$data" --http-port "$port" --log-level warn &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

echo "== latency: 120 events/s, one event per request, $latency_duration"
"$sluice" bench --url "http://127.0.0.1:$port" --mode latency --rate 120 \
  --duration "$latency_duration"
"$sluice" bench --url "http://127.0.0.1:$port" --mode latency --rate 120 --duration 10s \
  --json >> "$results"

echo "== throughput: 0.8-3.2 KB events, batches over 2 connections, $throughput_duration"
"$sluice" bench --url "http://127.0.0.1:$port" --mode throughput --connections 2 \
  --batch 5000 --duration "$throughput_duration" --json | tee -a "$results"

echo "== micro-benchmarks"
build/bench/sluice_microbench --benchmark_min_time=0.5
