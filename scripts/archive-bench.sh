#!/usr/bin/env bash
# The compliance archive keeping up (issue #6): ingest into a stream with archive = on and
# report ingest events/s, archived events/s over the same window, and the log / Parquet sizes.
#   scripts/archive-bench.sh [sluice binary] [seconds (default 30)]
# Archive keeping up: ingest 2x9000-event batches for 30 s into a stream with archive='on'
# (the fulfilment schema), then report ingest ev/s and archived ev/s over the same window.
sluice=${1:-build/src/app/sluice}; dur=${2:-30}
d=$(mktemp -d /tmp/arch.XXXX); port=24200; url=http://127.0.0.1:$port
printf '[lake]\ncommit_interval = "10s"\n' > $d/c.toml
"$sluice" serve --data-dir $d/data --http-port $port --config $d/c.toml --log-level warn >$d/log 2>&1 & pid=$!
until curl -sf $url/readyz >/dev/null; do sleep 0.1; done
curl -sf -XPOST -H 'content-type: application/sql' $url/v1/sql --data-binary "CREATE STREAM orders WITH (subject = 'fulfilment-value', event_time = 'occurred_at', partition_key = 'order_id', archive = 'on')" >/dev/null
m() { curl -sf $url/metrics | awk -v k="$1" '$1 ~ k {s+=$2} END {printf "%d", s}'; }
a0=$(m '^sluice_archive_events_total'); t0=$(date +%s.%N)
r=$("$sluice" bench --url $url --mode throughput --stream orders --connections 2 --batch 9000 --duration ${dur}s --warmup 0s --json 2>/dev/null | tail -1)
t1=$(date +%s.%N); a1=$(m '^sluice_archive_events_total'); lag=$(m '^sluice_archive_lag_records')
sleep 12; a2=$(m '^sluice_archive_events_total'); lag2=$(m '^sluice_archive_lag_records')
echo "$r" | python3 -c "import json,sys; j=json.load(sys.stdin); print('ingest', int(j['events_per_s']), 'ev/s,', j['events'], 'events')"
python3 -c "print('archived during the run', int(($a1-$a0)/($t1-$t0)), 'ev/s; lag at end', $lag, '; 12 s later lag', $lag2)"
raw=$(du -sb $d/data/streams/orders | cut -f1); pq=$(du -sb $d/data/lake/orders/data | cut -f1)
python3 -c "print('log bytes', $raw, 'parquet bytes', $pq, 'ratio %.2f' % ($raw/max($pq,1)))"
kill $pid; wait $pid 2>/dev/null; rm -rf $d
