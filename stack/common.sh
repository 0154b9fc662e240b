# What stack.sh and cluster.sh share; sourced by both (which define `log`).

# `http_ok URL` exits 0 when URL answers 2xx within 1 s. Python's urllib, as the venv has
# it and a fresh machine may lack curl.
http_ok() {
  "$PY" - "$1" <<'PY' 2>/dev/null
import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=1).read()
except Exception:
    sys.exit(1)
PY
}

# `wait_for NAME CHECK SECONDS LOG`: poll CHECK (a command) until it succeeds; after
# SECONDS, show the end of LOG and fail.
wait_for() {
  local deadline=$((SECONDS + $3))
  until $2; do
    if ((SECONDS >= deadline)); then
      log "$1 did not answer within $3 s; its log follows ($4)"
      tail -n 30 "$4" >&2 || true
      exit 1
    fi
    sleep 0.2
  done
  log "$1 is up"
}

# The development passwords of compose's ClickHouse users (compose/clickhouse/users.d)
# and the networks they may connect from, unless the environment sets them as compose's
# does: the services from 127.0.0.1 only, analysts from anywhere on loopback
# (tests/tests/access.rs tells the two apart with 127.0.0.2).
clickhouse_dev_logins() {
  local role var
  for role in migrator consumer aggregator analyst dashboard grafana; do
    var="CLICKHOUSE_${role^^}_PASSWORD"
    export "$var=${!var:-dev-$role}"
  done
  export CLICKHOUSE_SERVICE_NETWORK=${CLICKHOUSE_SERVICE_NETWORK:-127.0.0.1/32}
  export ANALYST_NETWORKS=${ANALYST_NETWORKS:-127.0.0.0/8}
}
