#!/usr/bin/env bash
# Recovery time after kill -9 with a big log and a big state (issue #5's bar: 1 GiB of log and
# 1 million keys of state, serving again in <= 2 s).
#
#   scripts/recovery-bench.sh [sluice binary] [events (default 1,000,000)]
#
# 1. A fresh server; a view with one group per event (GROUP BY event_id: 1 M keys of state)
#    besides the default events_per_minute; N generated events (1.7 KB on average: 1 M events
#    are ~1.7 GB of log) ingested in 9,000-event batches.
# 2. Waits for the views to catch up and for a checkpoint, then kill -9.
# 3. Restarts and measures (a) until /readyz answers 200 ("serving again": ingest, queries and
#    views answer), (b) until GET /v1/views/per_event answers with all its rows, and (c) until
#    every view's lag is 0.
set -euo pipefail
cd "$(dirname "$0")/.."
sluice=${1:-build/src/app/sluice}
events=${2:-1000000}
work=$(mktemp -d /tmp/sluice-recovery.XXXXXX)
port=$((20000 + RANDOM % 20000))
url="http://127.0.0.1:$port"
server=""
cleanup() {
  [ -n "$server" ] && kill -9 "$server" 2>/dev/null || true
  cp "$work/server.log" /tmp/recovery-server.log 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }
start() {
  "$sluice" serve --data-dir "$work/data" --http-port "$port" --log-level info >>"$work/server.log" 2>&1 &
  server=$!
}
sql() { curl -sf -XPOST -H 'content-type: application/sql' "$url/v1/sql" --data-binary "$1"; }
lag_zero() { sql 'SHOW VIEWS' | python3 -c 'import json,sys; r=json.load(sys.stdin)["results"][0]; i=r["columns"].index("lag"); sys.exit(0 if all(x[i]==0 for x in r["rows"]) else 1)'; }

start
for _ in $(seq 100); do curl -sf "$url/readyz" >/dev/null && break; sleep 0.1; done
sql "CREATE MATERIALIZED VIEW per_event AS SELECT event_id, count(*) AS n, max(occurred_at) AS at
     FROM fulfilment GROUP BY event_id" >/dev/null
echo "ingesting $events events"
"$sluice" gen --url "$url" --rate max --count "$events" --batch 9000 --seed 11 >/dev/null 2>&1
until lag_zero; do sleep 1; done
sleep 2  # a checkpoint (every 1 s) after the last change
log_bytes=$(du -sb "$work/data/streams/fulfilment" | cut -f1)
rows=$(curl -sf "$url/v1/views" | python3 -c 'import json,sys; print({v["name"]: v["rows"] for v in json.load(sys.stdin)["views"]}["per_event"])')
echo "log: $((log_bytes / 1048576)) MiB; per_event: $rows keys; kill -9"
kill -9 "$server"
wait "$server" 2>/dev/null || true

t0=$(now_ms)
start
until curl -sf "$url/readyz" >/dev/null; do sleep 0.01; done
t_ready=$(now_ms)
until [ "$(curl -sf "$url/v1/views" | python3 -c 'import json,sys; print({v["name"]: v["rows"] for v in json.load(sys.stdin)["views"]}.get("per_event", 0))')" = "$rows" ]; do sleep 0.01; done
t_rows=$(now_ms)
until lag_zero; do sleep 0.01; done
t_caught_up=$(now_ms)
echo "serving again (readyz 200): $((t_ready - t0)) ms"
echo "per_event answering with all $rows rows: $((t_rows - t0)) ms"
echo "every view caught up (lag 0): $((t_caught_up - t0)) ms"
grep -E "restored|recovery|dedup" "$work/server.log" | tail -5 || true
