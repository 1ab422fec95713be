#!/usr/bin/env bash
# Ingest throughput with and without 1,000 WebSocket subscribers (issue 7, push protocol):
#   scripts/subscribers-bench.sh [sluice binary] [duration (default 30s)] [rounds (default 2)] [extra bench args...]
# A fresh `sluice serve`; `sluice bench --mode subscribers` posts 100 single-event requests/s
# to the `bench_ticks` stream (a view over it updates 100 times/s) and drives the fulfilment
# stream in throughput mode, in rounds with 0 and 1,000 subscribers of that view (ABBA order) (raw
# WebSocket clients on one epoll thread that check every delta's version). Run it twice: as is
# (ingest saturating the machine) and with `--max-rate 50000` (ingest capped).
set -euo pipefail
sluice=${1:-build/src/app/sluice}; duration=${2:-30s}; rounds=${3:-2}; shift $(( $# < 3 ? $# : 3 ))
d=$(mktemp -d /tmp/subs.XXXX); port=24240; url=http://127.0.0.1:$port
# Saturated ingest writes ~200 MB/s: keep one minute of log so that a run cannot fill the disk.
printf '[log]\nretention = "1m"\nhousekeeping_interval = "10s"\n' >$d/sluice.toml
"$sluice" serve --data-dir $d/data --config $d/sluice.toml --http-port $port --log-level warn \
  >$d/log 2>&1 & pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf $d' EXIT
until curl -sf $url/readyz >/dev/null; do sleep 0.1; done
"$sluice" bench --mode subscribers --url $url --subscribers 1000 --view-rate 100 \
  --duration "$duration" --rounds "$rounds" "$@"
