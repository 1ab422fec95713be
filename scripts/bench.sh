#!/usr/bin/env bash
# Reproduces the figures in docs/PERFORMANCE.md, all with durability on (fsync per group
# commit) and a Release build:
#
#  1. latency: a fresh server, `sluice bench --mode latency` at 120 events/s, one event per
#     request, for $LATENCY_DURATION (60 s): event sent -> view delta received over WebSocket.
#  2. throughput: a fresh server, 2 connections x $THROUGHPUT_BATCH-event batches of generated
#     0.8-3.2 KB events for $THROUGHPUT_DURATION (30 s), schema validation on.
#  2b. the same with the demo's dashboard views (`sluice demo --no-generator`), and how far
#     behind the views were at the end (SHOW VIEWS, lag).
#  3. comparisons, in the same run: $ROUNDS rounds, each of which measures, one after the
#     other for $ROUND_DURATION each and on fresh instances, (a) Sluice validating against the
#     fulfilment schema, (b) Sluice with validation off ([streams.fulfilment] subject = ""),
#     (c) ClickHouse 18.16 (scripts/clickhouse-peer.sh, docs/bench-peers.md) with the same
#     client, events and batches. These machines are noisy, so each round's ratios are
#     computed from neighbouring runs and the median round is reported.
#  4. the cost of exactly-once (issue #5): on one fresh server, $ROUNDS rounds of
#     `--delivery at_least_once` then `--delivery exactly_once` (copies of the fulfilment
#     stream that differ only in delivery) for $ROUND_DURATION each; median ratio.
#  5. the micro-benchmarks (Google Benchmark).
#  6. the dashboard in chromium: event posted -> feed item in the DOM at 120 and 10,000
#     events/s for $DOM_LATENCY_SECONDS (60) each (tests/e2e/dashboard_latency.test.js, which
#     holds the bars: p99 <= 50 ms and <= 100 ms).
#
# Output: human-readable, and JSON lines in build/bench-results.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
sluice=${1:-build/src/app/sluice}
latency_duration=${LATENCY_DURATION:-60s}
throughput_duration=${THROUGHPUT_DURATION:-30s}
round_duration=${ROUND_DURATION:-10s}
six_view_rate=${SIX_VIEW_RATE:-102000}
rounds=${ROUNDS:-3}
# The peer figure we were given used 10,000-event batches, but 10,000 of these events come to
# ~17 MB and Sluice refuses bodies over 16 MiB: both engines get the same 9,000.
batch=${THROUGHPUT_BATCH:-9000}
results=build/bench-results.jsonl
work=$(mktemp -d /tmp/sluice-bench.XXXXXX)
server=""
export CLICKHOUSE_PEER_DIR=$work/clickhouse

stop_server() {
  [ -n "$server" ] || return 0
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=""
}
cleanup() {
  stop_server
  scripts/clickhouse-peer.sh stop 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Starts a fresh server over a new data directory; extra arguments go to `sluice serve` (or,
# with SLUICE_COMMAND=demo, to `sluice demo`). Sets $url.
start_server() {
  local data port
  data=$(mktemp -d "$work/data.XXXXXX")
  port=$((20000 + RANDOM % 20000))
  "$sluice" "${SLUICE_COMMAND:-serve}" --data-dir "$data" --http-port "$port" --log-level warn \
    "$@" >/dev/null &
  server=$!
  url="http://127.0.0.1:$port"
  for _ in $(seq 100); do curl -sf "$url/readyz" >/dev/null && return; sleep 0.1; done
  echo "bench: the server did not start" >&2
  exit 1
}

throughput() {  # duration, bench arguments...
  local duration=$1
  shift
  "$sluice" bench --mode throughput --connections 2 --batch "$batch" --duration "$duration" \
    --json "$@"
}
events_per_s() { sed -n 's/.*"events_per_s":\([0-9.]*\).*/\1/p' <<<"$1"; }

echo "== latency: 120 events/s, one event per request, $latency_duration"
start_server
"$sluice" bench --url "$url" --mode latency --rate 120 --duration "$latency_duration" --json |
  tee -a "$results"
stop_server

echo "== throughput: 0.8-3.2 KB events, batches of $batch over 2 connections, $throughput_duration"
start_server
throughput "$throughput_duration" --url "$url" | tee -a "$results"
stop_server

echo "== throughput with the demo's views (sluice demo --no-generator), $throughput_duration"
SLUICE_COMMAND=demo start_server --no-generator
throughput "$throughput_duration" --url "$url" | tee -a "$results"
# The views must keep up, not just the ingest: what they still had to process at the end.
"$sluice" sql --url "$url" 'SHOW VIEWS'
stop_server
echo "== the demo's views at a sustained ${six_view_rate} events/s: do they keep up?"
SLUICE_COMMAND=demo start_server --no-generator
throughput "$throughput_duration" --url "$url" --max-rate "$six_view_rate" | tee -a "$results"
"$sluice" sql --url "$url" 'SHOW VIEWS'  # at most ~1 s of input behind
sleep 1
"$sluice" sql --url "$url" 'SHOW VIEWS'  # and caught up a second later
stop_server

no_validation=$work/no-validation.toml
printf '[streams.fulfilment]\nsubject = ""\n' >"$no_validation"
ratios=$work/ratios
: >"$ratios"
echo "== comparisons: $rounds rounds of $round_duration per engine, fresh instances each time"
for round in $(seq "$rounds"); do
  start_server
  validated=$(throughput "$round_duration" --url "$url")
  stop_server
  start_server --config "$no_validation"
  unvalidated=$(throughput "$round_duration" --url "$url")
  stop_server
  clickhouse_url=$(scripts/clickhouse-peer.sh start)
  clickhouse=$(throughput "$round_duration" --url "$clickhouse_url" --target clickhouse)
  scripts/clickhouse-peer.sh stop
  printf '%s\n%s\n%s\n' "$validated" "$unvalidated" "$clickhouse" >>"$results"
  v=$(events_per_s "$validated")
  n=$(events_per_s "$unvalidated")
  c=$(events_per_s "$clickhouse")
  awk -v r="$round" -v v="$v" -v n="$n" -v c="$c" 'BEGIN {
    printf "round %d: sluice validated %.0f ev/s, unvalidated %.0f ev/s, clickhouse %.0f ev/s;", r, v, n, c
    printf " validated/unvalidated %.3f, sluice/clickhouse %.2f\n", v / n, v / c
  }'
  echo "$v $n $c" >>"$ratios"
done
awk '{ vn[NR] = $1 / $2; vc[NR] = $1 / $3 }
  function median(a, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    printf "median validated/unvalidated: %.3f (validation costs %.1f%% of throughput)\n",
      median(vn, NR), (1 - median(vn, NR)) * 100
    printf "median throughput ratio sluice/clickhouse: %.2f\n", median(vc, NR)
  }' "$ratios"

echo "== exactly-once cost: $rounds rounds of at_least_once then exactly_once, $round_duration each"
start_server
: >"$ratios"
for round in $(seq "$rounds"); do
  alo=$(throughput "$round_duration" --url "$url" --delivery at_least_once)
  eo=$(throughput "$round_duration" --url "$url" --delivery exactly_once)
  printf '%s\n%s\n' "$alo" "$eo" >>"$results"
  a=$(events_per_s "$alo")
  e=$(events_per_s "$eo")
  awk -v r="$round" -v a="$a" -v e="$e" 'BEGIN {
    printf "round %d: at_least_once %.0f ev/s, exactly_once %.0f ev/s, ratio %.3f\n", r, a, e, e / a }'
  echo "$a $e" >>"$ratios"
done
stop_server
awk '{ r[NR] = $2 / $1 }
  function median(a, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END { printf "median exactly_once/at_least_once: %.3f (bar: >= 0.70)\n", median(r, NR) }' "$ratios"

echo "== micro-benchmarks"
build/bench/sluice_microbench --benchmark_min_time=0.5

echo "== dashboard: event posted -> visible in chromium's DOM, ${DOM_LATENCY_SECONDS:-60} s per rate"
rm -f test-artifacts/dom-latency-*.json
sluice_path=$(realpath "$sluice")
(cd tests/e2e && SLUICE_BIN=$sluice_path DOM_LATENCY_SECONDS=${DOM_LATENCY_SECONDS:-60} \
   node --test --test-concurrency=1 dashboard_latency.test.js) || echo "dashboard latency: bar not met (see above)"
for rate in 120 10k; do
  if [ -f "test-artifacts/dom-latency-$rate.json" ]; then
    jq -c '{dom_latency: .}' "test-artifacts/dom-latency-$rate.json" >>"$results"
  fi
done
