#!/usr/bin/env bash
# A local ClickHouse cluster of N shards on loopback, for the ClickHouse backend and its tests.
#   npm run clickhouse:up -- [--shards N] [--http-port P]   starts it (idempotent), prints its URL
#   npm run clickhouse:down                                  stops it, by the pids it recorded
#   bash scripts/clickhouse.sh install                       installs clickhouse-server if it can (npm test's pretest)
# Shard i (0-based) answers HTTP on P + i, its native protocol on P + 100 + i and replication on P + 200 + i.
# Every node knows the cluster `sessionizer` of all N shards, so the node on P can serve a Distributed table
# over them. Each node keeps its config, data, logs and pid under CLICKHOUSE_HOME (default: .clickhouse/ in
# the project, git-ignored). Debian's clickhouse-server (18.16) is installed with apt when missing and root.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
HOME_DIR=${CLICKHOUSE_HOME:-"$ROOT/.clickhouse"}
SERVER=${CLICKHOUSE_SERVER:-clickhouse-server}
READY_SECONDS=${CLICKHOUSE_READY_SECONDS:-60}

usage () {
  echo "usage: clickhouse.sh up [--shards N] [--http-port P] | down | install" >&2
  exit 2
}

# Installs clickhouse-server when missing and we may; false when it is missing and we may not.
install () {
  if command -v "$SERVER" >/dev/null; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "clickhouse: installing Debian's clickhouse-server" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server >/dev/null
    return 0
  fi
  echo "clickhouse: $SERVER is missing and cannot be installed here (needs root and apt-get);" \
    "install it with: sudo apt-get install clickhouse-server" >&2
  return 1
}

# Whether the process whose pid is recorded in $1 is alive.
alive () {
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

stop_all () {
  for pid_file in "$HOME_DIR"/shard-*/pid; do
    [ -f "$pid_file" ] || continue
    if alive "$pid_file"; then
      local pid
      pid=$(cat "$pid_file")
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pid_file"
  done
  rm -f "$HOME_DIR/cluster"
}

write_config () { # shard index, shard count, http port base
  local index=$1 shards=$2 base=$3 dir="$HOME_DIR/shard-$1"
  mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas"
  local replicas=""
  for ((shard = 0; shard < shards; shard++)); do
    replicas+="      <shard><replica><host>127.0.0.1</host><port>$((base + 100 + shard))</port></replica></shard>"$'\n'
  done
  cat > "$dir/users.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <profiles><default/></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default/></quotas>
</yandex>
EOF
  # <yandex> is the root both ClickHouse 18.16 and current versions read.
  cat > "$dir/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>$dir/server.log</log>
    <errorlog>$dir/server.err.log</errorlog>
    <size>10M</size>
    <count>2</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$((base + index))</http_port>
  <tcp_port>$((base + 100 + index))</tcp_port>
  <interserver_http_port>$((base + 200 + index))</interserver_http_port>
  <max_concurrent_queries>100</max_concurrent_queries>
  <mark_cache_size>268435456</mark_cache_size>
  <path>$dir/data/</path>
  <tmp_path>$dir/tmp/</tmp_path>
  <user_files_path>$dir/user_files/</user_files_path>
  <format_schema_path>$dir/format_schemas/</format_schema_path>
  <users_config>$dir/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <remote_servers>
    <sessionizer>
$replicas    </sessionizer>
  </remote_servers>
</yandex>
EOF
}

# Each shard's share of the page views (CLICKHOUSE_DATABASE, default sessionizer): this cluster has no
# distributed DDL, so the tables every shard holds are created on each; the service creates the rest.
create_schema () { # shard count, http port base
  local urls=()
  for ((index = 0; index < $1; index++)); do urls+=("http://127.0.0.1:$(($2 + index))"); done
  node "$ROOT/dist/scripts/clickhouse-schema.js" --database "${CLICKHOUSE_DATABASE:-sessionizer}" "${urls[@]}" >/dev/null
}

ping () {
  curl -sf --max-time 2 "http://127.0.0.1:$1/ping" >/dev/null
}

up () {
  local shards=1 base=8123
  while [ $# -gt 0 ]; do
    case "$1" in
      --shards) shards=${2:?--shards needs a number}; shift 2 ;;
      --http-port) base=${2:?--http-port needs a port}; shift 2 ;;
      *) usage ;;
    esac
  done
  if ! [[ "$shards" =~ ^[1-9][0-9]?$ ]]; then echo "clickhouse: --shards must be 1 to 99, got $shards" >&2; exit 2; fi
  if ! [[ "$base" =~ ^[0-9]+$ ]] || [ "$base" -lt 1024 ] || [ "$base" -gt 65300 ]; then
    echo "clickhouse: --http-port must be 1024 to 65300, got $base" >&2; exit 2
  fi
  install || exit 1
  mkdir -p "$HOME_DIR"
  local wanted="shards=$shards http_port=$base"
  # The same cluster, every node alive and answering: nothing to do.
  if [ "$(cat "$HOME_DIR/cluster" 2>/dev/null)" = "$wanted" ]; then
    local running=true
    for ((index = 0; index < shards; index++)); do
      if ! alive "$HOME_DIR/shard-$index/pid" || ! ping $((base + index)); then running=false; fi
    done
    if $running; then
      create_schema "$shards" "$base"
      echo "http://127.0.0.1:$base"
      return
    fi
  fi
  stop_all
  for ((index = 0; index < shards; index++)); do
    write_config "$index" "$shards" "$base"
    local dir="$HOME_DIR/shard-$index"
    # Detached from this shell (setsid), so that it outlives npm; stopped by its recorded pid only.
    setsid "$SERVER" --config-file="$dir/config.xml" >"$dir/stdout.log" 2>&1 < /dev/null &
    echo $! > "$dir/pid"
  done
  echo "$wanted" > "$HOME_DIR/cluster"
  for ((index = 0; index < shards; index++)); do
    local waited=0
    until ping $((base + index)); do
      if ! alive "$HOME_DIR/shard-$index/pid"; then
        echo "clickhouse: shard $index exited; its log: $HOME_DIR/shard-$index/stdout.log" >&2
        tail -5 "$HOME_DIR/shard-$index/stdout.log" "$HOME_DIR/shard-$index/server.err.log" >&2 2>/dev/null || true
        stop_all
        exit 1
      fi
      if [ $waited -ge $((READY_SECONDS * 10)) ]; then
        echo "clickhouse: shard $index did not answer on port $((base + index)) within $READY_SECONDS s" >&2
        stop_all
        exit 1
      fi
      sleep 0.1
      waited=$((waited + 1))
    done
  done
  create_schema "$shards" "$base"
  echo "http://127.0.0.1:$base"
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) stop_all ;;
  # For npm test: a machine that cannot install it runs the tests that need it only under CI, where they fail.
  install) install || true ;;
  *) usage ;;
esac
