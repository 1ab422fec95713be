#!/usr/bin/env bash
# Time-travel queries over one hour of the archive (issue 6's bar: <= 1 s for ~430,000 events):
# ingest N generated fulfilment events (default 450,000) whose occurred_at is moved into one
# event hour (2026-11-27 08:00-08:59 UTC) into a stream with archive = 'on', wait until the
# archive has committed them all, commit a later snapshot (a few more events), then time
# queries FOR SYSTEM_TIME AS OF the moment between the two through POST /v1/sql with curl (the
# best of 5 runs, end to end: HTTP, snapshot selection, manifests, Parquet decoding, the
# engine, the JSON answer), and the same queries in DuckDB (@duckdb/node-api, from
# tests/e2e/node_modules) over the same Parquet files in the same run.
#   scripts/lake-query-bench.sh [path/to/sluice] [N]
set -euo pipefail
BIN=${1:-build/src/app/sluice}
N=${2:-450000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=$(mktemp -d /tmp/lakeq.XXXX)
PORT=${PORT:-24210}
URL=http://127.0.0.1:$PORT
printf '[lake]\ncommit_interval = "5s"\n' > "$DIR/c.toml"
"$BIN" serve --data-dir "$DIR/data" --http-port "$PORT" --config "$DIR/c.toml" --log-level warn \
  > "$DIR/out.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 1 100); do curl -sf "$URL/readyz" > /dev/null && break; sleep 0.1; done
sql() { curl -s -XPOST -H 'content-type: application/sql' "$URL/v1/sql" --data-binary "$1"; }
sql "CREATE STREAM orders WITH (subject = 'fulfilment-value', event_time = 'occurred_at',
       partition_key = 'order_id', archive = 'on')" > /dev/null

# One event hour: the generator stamps events with the wall clock; spread them over 08:00-08:59
# in arrival order (as a live stream would deliver them).
"$BIN" gen --count "$N" --rate max --seed 7 --run-id lakeq 2> /dev/null |
  perl -pe 's/"occurred_at":"\d{4}-\d\d-\d\dT\d\d:\d\d/sprintf(q{"occurred_at":"2026-11-27T08:%02d}, int(($.-1)*60\/'"$N"'))/e' \
  > "$DIR/events.ndjson"
split -l 5000 "$DIR/events.ndjson" "$DIR/chunk."
t0=$(date +%s.%N)
for f in "$DIR"/chunk.*; do
  curl -sf -XPOST -H 'Expect:' -H 'content-type: application/x-ndjson' "$URL/v1/streams/orders/events" \
    --data-binary @"$f" > /dev/null
done
t1=$(date +%s.%N)
count() { sql 'SELECT count(*) FROM lake.orders' |
          python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["rows"][0][0])'; }
for _ in $(seq 1 600); do [ "$(count)" = "$N" ] && break; sleep 0.2; done
t2=$(date +%s.%N)
echo "ingested $N events in $(python3 -c "print(round($t1-$t0,1))") s; all archived after $(python3 -c "print(round($t2-$t0,1))") s"
[ "$(count)" = "$N" ] || { echo "the archive did not commit every event"; exit 1; }
FILES=$(cd "$DIR/data/lake/orders" && find data -name '*.parquet' | sort)
echo "data files: $(echo "$FILES" | wc -l), $(du -sb "$DIR/data/lake/orders/data" | cut -f1) bytes" \
  "($(du -sb "$DIR/events.ndjson" | cut -f1) bytes of NDJSON)"
sleep 0.05
AS_OF=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
sleep 0.05
# A later snapshot, so that AS OF really selects an earlier one.
head -n 1000 "$DIR/events.ndjson" | sed 's/"event_id":"evt-/"event_id":"evt-later-/' |
  curl -sf -XPOST -H 'Expect:' -H 'content-type: application/x-ndjson' "$URL/v1/streams/orders/events" \
    --data-binary @- > /dev/null
for _ in $(seq 1 600); do [ "$(count)" = "$((N + 1000))" ] && break; sleep 0.2; done

HOUR="occurred_at >= '2026-11-27T08:00:00Z' AND occurred_at < '2026-11-27T09:00:00Z'"
QUERIES=(
  "SELECT count(*) FROM lake.orders FOR SYSTEM_TIME AS OF '$AS_OF' WHERE $HOUR"
  "SELECT warehouse_id, count(*), sum(amount_minor) FROM lake.orders FOR SYSTEM_TIME AS OF '$AS_OF' WHERE $HOUR GROUP BY warehouse_id ORDER BY warehouse_id"
  "SELECT count(DISTINCT order_id) FROM lake.orders FOR SYSTEM_TIME AS OF '$AS_OF' WHERE $HOUR"
  "SELECT event_id, amount_minor FROM lake.orders FOR SYSTEM_TIME AS OF '$AS_OF' WHERE $HOUR AND warehouse_id = 'WH-03' AND amount_minor > 90000 ORDER BY amount_minor DESC LIMIT 10"
  "SELECT count(*) FROM lake.orders FOR SYSTEM_TIME AS OF '$AS_OF' WHERE occurred_at >= '2026-11-27T08:10:00Z' AND occurred_at < '2026-11-27T08:11:00Z'"
)
echo "AS OF $AS_OF; Sluice (curl, best of 5) vs DuckDB (node-api, best of 5) over the same files"
: > "$DIR/sluice.tsv"
for q in "${QUERIES[@]}"; do
  best=999
  for _ in 1 2 3 4 5; do
    t=$(curl -s -o "$DIR/answer.json" -w '%{time_total}' -XPOST -H 'content-type: application/sql' \
          "$URL/v1/sql" --data-binary "$q")
    best=$(python3 -c "print(min($best, $t))")
  done
  python3 - "$DIR/answer.json" "$best" "$q" >> "$DIR/sluice.tsv" <<'EOF'
import json, sys
a = json.load(open(sys.argv[1]))
if "error" in a: sys.exit("query failed: " + a["error"])
r = a["results"][0]
print(json.dumps({"s": float(sys.argv[2]), "rows": r["rows"], "scan": r["scan"], "q": sys.argv[3]}))
EOF
done
cd "$ROOT/tests/e2e"
node --input-type=module - "$DIR" "$DIR/data/lake/orders" "$FILES" <<'EOF'
import { readFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
const [dir, table, files] = process.argv.slice(2);
const list = files.split('\n').filter(Boolean).map((f) => `'${table}/${f}'`).join(', ');
const duck = await (await DuckDBInstance.create(':memory:')).connect();
await duck.run("SET TimeZone = 'UTC'");
const plain = (v) => (typeof v === 'bigint' ? Number(v) : v?.micros !== undefined ? String(v) : v?.toString?.() ?? v);
for (const line of readFileSync(`${dir}/sluice.tsv`, 'utf8').split('\n').filter(Boolean)) {
  const ours = JSON.parse(line);
  const q = ours.q.replace(/lake\.orders FOR SYSTEM_TIME AS OF '[^']*'/,
                           `read_parquet([${list}])`);
  let best = Infinity, rows;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    rows = (await duck.runAndReadAll(q)).getRows();
    best = Math.min(best, (performance.now() - t) / 1000);
  }
  const same = JSON.stringify(rows.map((r) => r.map(plain))) === JSON.stringify(ours.rows);
  console.log(`${ours.s.toFixed(3)} s Sluice, ${best.toFixed(3)} s DuckDB, ratio ${(ours.s / best).toFixed(2)}, ` +
              `answers ${same ? 'equal' : 'DIFFER'}; files read ${ours.scan.files_read}/${ours.scan.files}, ` +
              `row groups pruned ${ours.scan.row_groups_pruned}/${ours.scan.row_groups}, rows ${ours.scan.rows_scanned}` +
              `\n    ${ours.q.replace(/ FOR SYSTEM_TIME AS OF '[^']*'/, ' FOR SYSTEM_TIME AS OF ...').slice(0, 150)}`);
  if (!same) console.log('    Sluice', JSON.stringify(ours.rows).slice(0, 300), '\n    DuckDB', JSON.stringify(rows.map((r) => r.map(plain))).slice(0, 300));
}
EOF
