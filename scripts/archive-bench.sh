#!/usr/bin/env bash
# The compliance archive keeping up with ingest (issue #6), in one run: a fresh server, a stream
# with archive = 'on' (the fulfilment schema, `sluice bench`'s 1.7 KB events), and
#   scripts/archive-bench.sh [sluice binary] [seconds (default 30)] [rate (default 0)]
# rate 0: ingest as fast as it goes (2 connections x 9,000-event batches); reports ingest and
#   archived events/s over the same window.
# rate N: ingest at N events/s (sluice bench --max-rate) and sample the archive's lag every 5 s:
#   "sustained" means the archive kept pace: it wrote at least 97% of the events sent during the
#   run, and the lag at the end is below 5 s of ingest.
# LAKE_CONFIG adds lines to the server's [lake] section (e.g. LAKE_CONFIG='zstd_literals = false').
# Both report the raw JSON bytes sent, the Parquet bytes committed and their ratio.
set -euo pipefail
sluice=${1:-build/src/app/sluice}; dur=${2:-30}; rate=${3:-0}
d=$(mktemp -d /tmp/arch.XXXX); port=24200; url=http://127.0.0.1:$port
printf '[lake]\ncommit_interval = "10s"\n%s\n' "${LAKE_CONFIG:-}" > $d/c.toml
"$sluice" serve --data-dir $d/data --http-port $port --config $d/c.toml --log-level warn >$d/log 2>&1 & pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf $d' EXIT
until curl -sf $url/readyz >/dev/null; do sleep 0.1; done
curl -sf -XPOST -H 'content-type: application/sql' $url/v1/sql --data-binary "CREATE STREAM orders WITH (subject = 'fulfilment-value', event_time = 'occurred_at', partition_key = 'order_id', archive = 'on')" >/dev/null
m() { curl -sf $url/metrics | awk -v k="$1" '$1 ~ k {s+=$2} END {printf "%d", s}'; }
a0=$(m '^sluice_archive_events_total'); t0=$(date +%s.%N)
"$sluice" bench --url $url --mode throughput --stream orders --connections 2 --batch 9000 \
  --max-rate $rate --duration ${dur}s --warmup 0s --json >$d/bench.json 2>/dev/null & bench=$!
lags=""
while kill -0 $bench 2>/dev/null; do
  sleep 5; kill -0 $bench 2>/dev/null && lags="$lags $(m '^sluice_archive_lag_records')"
done
wait $bench
t1=$(date +%s.%N); a1=$(m '^sluice_archive_events_total'); lag=$(m '^sluice_archive_lag_records')
r=$(tail -1 $d/bench.json)
sleep 12; lag2=$(m '^sluice_archive_lag_records')
echo "$r" | python3 -c "import json,sys; j=json.load(sys.stdin); print('ingest', int(j['events_per_s']), 'ev/s,', j['events'], 'events')"
python3 -c "print('archived during the run', int(($a1-$a0)/($t1-$t0)), 'ev/s, archived/ingested %.2f' % (($a1-$a0)/max(1,$(echo "$r" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])'))), '; lag at end', $lag, '; 12 s later', $lag2)"
if [ "$rate" != 0 ]; then
  python3 -c "
lags=[int(x) for x in '$lags'.split()]
print('lag every 5 s:', lags)
ok = $lag <= 5 * $rate and ($a1 - $a0) >= 0.97 * $(echo "$r" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
print('sustained at $rate ev/s:', 'yes, the lag stays bounded' if ok else 'no, the archive falls behind')"
fi
# Sizes once everything sent is archived and committed (at most 2 minutes more).
sent=$(echo "$r" | python3 -c 'import json,sys; print(json.load(sys.stdin)["events"])')
for i in $(seq 1 120); do [ "$(m '^sluice_archive_events_total')" -ge "$((a0 + sent))" ] && break; sleep 1; done
sleep 11
raw=$(echo "$r" | python3 -c "import json,sys; j=json.load(sys.stdin); print(int(j['mb_per_s']*1e6*j['duration_s']))")
pq=$(du -sb $d/data/lake/orders/data | cut -f1); lb=$(du -sb $d/data/streams/orders | cut -f1)
python3 -c "print('raw JSON sent', $raw, 'bytes; log', $lb, '; Parquet', $pq, '; raw/Parquet %.2f' % ($raw/max($pq,1)))"
