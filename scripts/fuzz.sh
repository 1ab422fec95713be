#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for N seconds
# (default 60) from its seed corpus. A crash leaves the reproducer in build-fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
out=build-fuzz
mkdir -p "$out"
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -Isrc)
base_sources=(src/base/status.cc src/base/time.cc src/base/clock.cc src/base/json_writer.cc)

build() {  # name, sources...
  local name=$1; shift
  local bin="$out/$name"
  local newest
  newest=$(ls -t "$@" src/*/*.h 2>/dev/null | head -1)
  if [ ! -x "$bin" ] || [ "$newest" -nt "$bin" ]; then
    echo "fuzz: building $name"
    clang++ "${flags[@]}" "$@" -o "$bin" -lsimdjson -lfmt -lre2 -lzstd -lsnappy -lcrypto
  fi
}

run() {  # name
  local name=$1
  local corpus="$out/corpus-$name"
  mkdir -p "$corpus"
  cp -n fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null || true
  echo "fuzz: running $name for ${seconds}s"
  (cd "$out" && ./"$name" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
      -print_final_stats=0 "corpus-$name" 2>&1 | tail -n 3)
}

# The JSON Schema compiler and validator: every event goes through them at ingest.
schema_sources=(src/schema/json_schema.cc src/schema/json_schema_formats.cc
                src/schema/json_schema_validator.cc)

build ingest_body fuzz/ingest_body_fuzz.cc src/ingest/event_parser.cc "${schema_sources[@]}" \
  "${base_sources[@]}"
run ingest_body
build json_schema fuzz/json_schema_fuzz.cc "${schema_sources[@]}" "${base_sources[@]}"
run json_schema
# The SQL parser: DDL and queries arrive over HTTP, and ToSql() output is what gets persisted.
build sql_parse fuzz/sql_parse_fuzz.cc src/sql/*.cc "${base_sources[@]}"
run sql_parse
# SQL expressions: binding, compilation and evaluation over odd events (views arrive over HTTP;
# events are whatever producers send).
build sql_expr fuzz/sql_expr_fuzz.cc src/sql/*.cc "${base_sources[@]}"
run sql_expr
# Materialized views: the planner on arbitrary DDL, the operator on what it accepts, and the
# operator's checkpoint round trip; streams' exactly_once_when predicates as ingest runs them.
build sql_view fuzz/sql_view_fuzz.cc src/sql/*.cc src/ingest/delivery.cc src/stream/aggregation.cc \
  src/stream/sketches.cc src/stream/view_operator.cc src/stream/join_values.cc \
  src/stream/watermarks.cc "${base_sources[@]}"
run sql_view
# Queries over views: arbitrary SELECTs over a view whose rows hold odd values.
build sql_query fuzz/sql_query_fuzz.cc src/sql/*.cc "${base_sources[@]}"
run sql_query
# Parquet files: the lake's reader serves time-travel queries over files on disk, which may be
# damaged or planted; it must fail with a Status, never crash.
build parquet_reader fuzz/parquet_reader_fuzz.cc src/lake/columns.cc src/lake/encoding.cc \
  src/lake/thrift_compact.cc src/lake/parquet_reader.cc "${base_sources[@]}"
run parquet_reader
# The archive's write path: arbitrary events through EventColumns and the writer (every
# encoding, tiny pages and row groups) must always read back, one row and its raw bytes per event.
build lake_events fuzz/lake_events_fuzz.cc src/lake/*.cc "${base_sources[@]}"
run lake_events
# Avro container files: the lake reads its Iceberg manifests and manifest lists back from disk,
# where they may be damaged or planted.
build avro_reader fuzz/avro_reader_fuzz.cc src/lake/avro.cc "${base_sources[@]}"
run avro_reader
# What a WebSocket subscriber sends: the frame reader of the subscription sessions.
build websocket_frames fuzz/websocket_frames_fuzz.cc src/server/websocket_frames.cc
run websocket_frames
echo "fuzz: all targets ran clean"
