#!/usr/bin/env bash
# A view's backfill from the lake against one from the log, same events, same run (issue #6):
#   scripts/lake-backfill-bench.sh [sluice binary] [events (default 300000)]
# A fresh server with an archived stream whose log keeps events 90 s: ingest N events
# (`sluice gen`'s fulfilment events), time a view backfilling them from the log, let the log's
# retention delete them (the archive has them), then time the same view with backfill = 'lake'.
set -euo pipefail
sluice=${1:-build/src/app/sluice}; n=${2:-300000}
d=$(mktemp -d /tmp/lbf.XXXX); port=24230; url=http://127.0.0.1:$port
printf '[lake]\ncommit_interval = "1s"\n[log]\nsegment_bytes = 8388608\nhousekeeping_interval = "1s"\n' > $d/c.toml
"$sluice" serve --data-dir $d/data --http-port $port --config $d/c.toml --log-level warn >$d/log 2>&1 & pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf $d' EXIT
until curl -sf $url/readyz >/dev/null; do sleep 0.1; done
sql() { curl -sf -XPOST -H 'content-type: application/sql' $url/v1/sql --data-binary "$1"; }
sql "CREATE STREAM orders WITH (subject = 'fulfilment-value', event_time = 'occurred_at', partition_key = 'order_id', archive = 'on', retention = '90 seconds')" >/dev/null
"$sluice" gen --rate max --count $n > $d/events.ndjson
split -l 5000 $d/events.ndjson $d/part.
for f in $d/part.*; do curl -sf -XPOST -H 'content-type: application/x-ndjson' $url/v1/streams/orders/events --data-binary @$f >/dev/null; done
lag() { sql 'SHOW VIEWS' | python3 -c "import json,sys; r=json.load(sys.stdin)['results'][0]; i=r['columns'].index('lag'); print([x[i] for x in r['rows'] if x[0]=='$1'][0])"; }
view() {  # name, backfill: prints seconds until lag 0 and the count
  local t0 t1; t0=$(date +%s.%N)
  sql "CREATE MATERIALIZED VIEW $1 WITH (backfill = '$2') AS SELECT event_type, count(*) AS n, count(DISTINCT order_id) AS orders, sum(amount_minor) AS amount FROM orders GROUP BY event_type" >/dev/null
  until [ "$(lag $1)" = "0" ]; do sleep 0.05; done
  t1=$(date +%s.%N)
  local total; total=$(curl -sf $url/v1/views/$1 | python3 -c "import json,sys; print(sum(r['n'] for r in json.load(sys.stdin)['rows']))")
  python3 -c "print('$1 (backfill $2): %d events in %.2f s: %d events/s' % ($total, $t1-$t0, $total/($t1-$t0)))"
}
echo "ingested $n"; view from_log log
sql 'DROP MATERIALIZED VIEW from_log' >/dev/null
# Wait for every event to be archived and for the log's retention to delete the old segments.
until [ "$(curl -sf $url/metrics | awk '$1 ~ /^sluice_archive_lag_records/ {s+=$2} END {print s+0}')" = "0" ]; do sleep 0.5; done
sleep 95
echo "log bytes left: $(du -sb $d/data/streams/orders | cut -f1)"
view from_lake lake
