#!/usr/bin/env bash
# A private ClickHouse (Debian's 18.16) to compare Sluice against, see docs/bench-peers.md.
#
#   scripts/clickhouse-peer.sh start   installs clickhouse-server/-client if missing, starts an
#                                      instance as the current user with all its files in
#                                      $CLICKHOUSE_PEER_DIR, creates the sluice_bench schema and
#                                      prints its HTTP URL (the only output on stdout)
#   scripts/clickhouse-peer.sh url     prints the URL of the running instance
#   scripts/clickhouse-peer.sh stop    stops it and removes $CLICKHOUSE_PEER_DIR
#
# Environment: CLICKHOUSE_PEER_DIR (default /tmp/sluice-clickhouse-peer), CLICKHOUSE_HTTP_PORT
# and CLICKHOUSE_TCP_PORT (default 8123 and 9000 when free, otherwise random free ports).
set -euo pipefail

dir=${CLICKHOUSE_PEER_DIR:-/tmp/sluice-clickhouse-peer}
# Written last by `start`: the marker that the folder is ours to delete.
state=$dir/peer.env

log() { echo "clickhouse-peer: $*" >&2; }

install_if_missing() {
  command -v clickhouse-server >/dev/null && command -v clickhouse-client >/dev/null && return
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  log "installing clickhouse-server and clickhouse-client"
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo[@]}" apt-get install -y -q clickhouse-server clickhouse-client >&2; then
    "${sudo[@]}" apt-get update -q >&2
    "${sudo[@]}" apt-get install -y -q clickhouse-server clickhouse-client >&2
  fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The preferred port when it is free, otherwise a random free one.
pick_port() {
  local p=$1
  for _ in $(seq 50); do
    port_free "$p" && { echo "$p"; return; }
    p=$((20000 + RANDOM % 20000))
  done
  log "no free port found"
  return 1
}

# A zombie counts as gone: `start` is the server's parent until it exits.
alive() {
  local stat
  stat=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $stat != Z* ]]
}

# The pid from the state file if that process is still our server (pids get reused).
running_pid() {
  [ -f "$state" ] || return 1
  local pid cmdline
  pid=$(sed -n 's/^pid=//p' "$state")
  [ -n "$pid" ] && alive "$pid" || return 1
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == *"$dir/config.xml"* ]] && echo "$pid"
}

query() {
  curl -sS --fail-with-body "http://127.0.0.1:$http_port/" --data-binary "$1" >/dev/null
}

write_config() {
  # Only what 18.16 needs to run one node: ports, paths, a logger at warning level. No
  # query_log/part_log sections, so no system tables are written behind the benchmark's back.
  cat >"$dir/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$dir/log/server.log</log>
        <errorlog>$dir/log/server.err.log</errorlog>
        <size>100M</size>
        <count>1</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$http_port</http_port>
    <tcp_port>$tcp_port</tcp_port>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <format_schema_path>$dir/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mark_cache_size>268435456</mark_cache_size>
</yandex>
EOF
  # Our own users file: the packaged one refers to an include ("networks") that only exists in
  # a full installation and logs a complaint about it.
  cat >"$dir/users.xml" <<'EOF'
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default></default>
    </quotas>
</yandex>
EOF
}

# Mirrors what Sluice's default pipeline reads from a fulfilment event, and its
# events_per_minute view. amount_minor is 0 (not NULL) for events without an amount: the sums
# come out the same and ClickHouse avoids the Nullable overhead.
create_schema() {
  query "CREATE DATABASE IF NOT EXISTS sluice_bench"
  query "CREATE TABLE sluice_bench.fulfilment (
      event_id String,
      event_type String,
      occurred_at DateTime('UTC'),
      warehouse_id String,
      order_id String,
      amount_minor Int64 DEFAULT 0,
      currency String
    ) ENGINE = MergeTree
    PARTITION BY toDate(occurred_at)
    ORDER BY (warehouse_id, event_type, occurred_at)"
  query "CREATE MATERIALIZED VIEW sluice_bench.events_per_minute
    ENGINE = SummingMergeTree
    PARTITION BY toYYYYMM(window_start)
    ORDER BY (warehouse_id, event_type, window_start)
    AS SELECT warehouse_id, event_type, toStartOfMinute(occurred_at) AS window_start,
              count() AS events, sum(amount_minor) AS amount_minor
    FROM sluice_bench.fulfilment
    GROUP BY warehouse_id, event_type, window_start"
}

start() {
  if pid=$(running_pid); then
    log "already running (pid $pid) in $dir; stop it first"
    exit 1
  fi
  install_if_missing
  if [ -e "$dir" ] && [ ! -f "$state" ] && [ -n "$(ls -A "$dir")" ]; then
    log "$dir exists and is not a peer folder; set CLICKHOUSE_PEER_DIR"
    exit 1
  fi
  rm -rf "${dir:?}"/{data,tmp,log,user_files,format_schemas}
  mkdir -p "$dir"/{data,tmp,log,user_files,format_schemas}
  http_port=${CLICKHOUSE_HTTP_PORT:-$(pick_port 8123)}
  tcp_port=${CLICKHOUSE_TCP_PORT:-$(pick_port 9000)}
  write_config
  clickhouse-server --config-file="$dir/config.xml" </dev/null >"$dir/log/stdout.log" 2>&1 &
  local pid=$!
  printf 'pid=%s\nhttp_port=%s\ntcp_port=%s\n' "$pid" "$http_port" "$tcp_port" >"$state"
  for _ in $(seq 300); do
    [ "$(curl -sf "http://127.0.0.1:$http_port/?query=SELECT%201" 2>/dev/null)" = 1 ] && break
    if ! alive "$pid"; then
      log "clickhouse-server exited during start-up:"
      tail -n 20 "$dir/log/stdout.log" "$dir/log/server.err.log" >&2 2>/dev/null || true
      exit 1
    fi
    sleep 0.1
  done
  if ! query "SELECT 1"; then
    log "no answer on port $http_port after 30 s"
    exit 1
  fi
  create_schema
  log "running (pid $pid, tcp port $tcp_port, files in $dir)"
  echo "http://127.0.0.1:$http_port"
}

stop() {
  if pid=$(running_pid); then
    kill -TERM "$pid"
    for _ in $(seq 300); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      log "pid $pid still running after 30 s; killing it"
      kill -KILL "$pid"
    fi
  fi
  if [ -f "$state" ]; then rm -rf "${dir:?}"; fi
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  url)
    running_pid >/dev/null || { log "not running in $dir"; exit 1; }
    echo "http://127.0.0.1:$(sed -n 's/^http_port=//p' "$state")"
    ;;
  *)
    echo "usage: $0 start|stop|url" >&2
    exit 2
    ;;
esac
