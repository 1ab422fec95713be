#!/usr/bin/env bash
# Queries over a materialized view of N rows (default 100,000: one row per generated event),
# through POST /v1/sql with curl: the best of 5 runs of each query, end to end (HTTP, the copy
# of the rows under the view's lock, extraction, evaluation, the JSON answer).
#   scripts/query-bench.sh [path/to/sluice] [N]
set -euo pipefail
BIN=${1:-build/src/app/sluice}
N=${2:-100000}
DIR=$(mktemp -d)
PORT=${PORT:-18631}
"$BIN" serve --data-dir "$DIR" --http-port "$PORT" --log-level warn > "$DIR/out.log" 2>&1 &
PID=$!
trap 'kill $PID; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
URL=http://127.0.0.1:$PORT
for _ in $(seq 1 100); do curl -sf "$URL/readyz" > /dev/null && break; sleep 0.1; done
sql() { curl -s -XPOST -H 'content-type: application/sql' "$URL/v1/sql" --data-binary "$1"; }
sql "CREATE STREAM perf WITH (event_time = 'occurred_at', partition_key = 'order_id');
     CREATE MATERIALIZED VIEW per_event AS
       SELECT event_id, order_id, warehouse_id, count(*) AS events, sum(amount_minor) AS amount,
              max(occurred_at) AS latest
       FROM perf GROUP BY event_id, order_id, warehouse_id" > /dev/null
"$BIN" gen --count "$N" --rate max --seed 5 --run-id perf 2> /dev/null > "$DIR/events.ndjson"
split -l 5000 "$DIR/events.ndjson" "$DIR/chunk."
for f in "$DIR"/chunk.*; do
  curl -s -XPOST -H 'content-type: application/x-ndjson' "$URL/v1/streams/perf/events" \
    --data-binary @"$f" > /dev/null
done
for _ in $(seq 1 300); do
  lag=$(sql 'SHOW VIEWS' | python3 -c 'import json,sys; print(sum(r[6] for r in json.load(sys.stdin)["results"][0]["rows"]))')
  [ "$lag" = 0 ] && break
  sleep 0.2
done
echo "rows: $(sql 'SELECT count(*) FROM per_event' | python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["rows"][0][0])')"
query() {
  local best=999
  for _ in 1 2 3 4 5; do
    t=$(curl -s -o /dev/null -w '%{time_total}' -XPOST -H 'content-type: application/sql' \
          "$URL/v1/sql" --data-binary "$1")
    best=$(python3 -c "print(min($best, $t))")
  done
  printf '%8.1f ms  %s\n' "$(python3 -c "print($best * 1000)")" "$1"
}
query 'SELECT count(*) FROM per_event'
query 'SELECT warehouse_id, count(*) AS n, sum(events) AS events, avg(amount) AS amount FROM per_event GROUP BY warehouse_id ORDER BY n DESC'
query 'SELECT event_id, amount FROM per_event WHERE amount > 10000 ORDER BY amount DESC, event_id LIMIT 10'
query 'SELECT * FROM per_event ORDER BY latest DESC LIMIT 100'
query "SELECT * FROM per_event WHERE warehouse_id = 'WH-03' AND events > 0 ORDER BY event_id LIMIT 1000"
