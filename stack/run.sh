#!/usr/bin/env bash
# `make run`: the whole pipeline in the foreground. Ctrl-C stops the three services and,
# if this script started them, NATS and ClickHouse too.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug

started_stack=0
if ! stack/stack.sh status 2>/dev/null; then
  stack/stack.sh up
  started_stack=1
fi

export TELEMETRY__LOG__FORMAT=${TELEMETRY__LOG__FORMAT:-pretty}
# Locally, see a posted event in the statistics within seconds, not a minute.
export TELEMETRY__AGGREGATOR__REFRESH_INTERVAL=${TELEMETRY__AGGREGATOR__REFRESH_INTERVAL:-5s}
pids=()
cleanup() {
  trap - INT TERM EXIT
  echo "[run] stopping services" >&2
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if ((started_stack)); then stack/stack.sh down; fi
}
trap cleanup INT TERM EXIT

# As compose runs them: `consumer migrate` first (ClickHouse as the migrator, NATS as the
# admin, the only ones allowed to change the schema and the streams), then each service
# logged in as its own user, with the local stack's development passwords.
as_service() { # SERVICE NATS_USER CLICKHOUSE_USER|- COMMAND...
  local nats_user=$2 ch_user=$3
  shift 3
  local logins=(TELEMETRY__NATS__USER="$nats_user"
    TELEMETRY__NATS__PASSWORD="${NATS_PASSWORDS[$nats_user]}"
    TELEMETRY__NATS__MANAGE_STREAMS=false)
  if [[ $ch_user != - ]]; then
    logins+=(TELEMETRY__CLICKHOUSE__USER="$ch_user"
      TELEMETRY__CLICKHOUSE__PASSWORD="${CLICKHOUSE_PASSWORDS[$ch_user]}")
  fi
  exec env "${logins[@]}" "$@"
}
declare -A NATS_PASSWORDS CLICKHOUSE_PASSWORDS
for user in admin ingest consumer aggregator; do
  var="NATS_${user^^}_PASSWORD"
  NATS_PASSWORDS[$user]=${!var:-dev-$user}
done
for user in migrator consumer aggregator; do
  var="CLICKHOUSE_${user^^}_PASSWORD"
  CLICKHOUSE_PASSWORDS[$user]=${!var:-dev-$user}
done
export TELEMETRY__CONSUMER__MIGRATE=false
# A local admin token, so that the admin API (erasures) can be tried; never in production.
export TELEMETRY__AGGREGATOR__ADMIN_TOKEN=${TELEMETRY__AGGREGATOR__ADMIN_TOKEN:-local-admin-token-for-make-run-only}

# In a subshell: as_service execs the program (so that a background service's pid is the
# program's own, which the cleanup signals).
(as_service migrate admin migrator "$BIN/consumer" migrate --deadline 2m)
as_service consumer consumer consumer "$BIN/consumer" & pids+=($!)
as_service ingest ingest - "$BIN/ingest" & pids+=($!)
as_service aggregator aggregator aggregator "$BIN/aggregator" & pids+=($!)

cat >&2 <<MSG
[run] ingest     http://127.0.0.1:8080  (POST /telemetry)     internal http://127.0.0.1:9100 (/metrics, /readyz)
[run] consumer                                           internal http://127.0.0.1:9101 (/metrics)
[run] aggregator http://127.0.0.1:8081  (the dashboard)      internal http://127.0.0.1:9102 (/metrics, /admin/v1)
[run] each service logs in as its own NATS and ClickHouse user (compose's), with dev-<user> passwords
[run] admin API token: \$TELEMETRY__AGGREGATOR__ADMIN_TOKEN
[run] ClickHouse http://127.0.0.1:${CLICKHOUSE_HTTP_PORT:-8123}  NATS nats://127.0.0.1:${NATS_PORT:-4222}
[run] Ctrl-C stops everything this started.
MSG
# Whichever service ends first (or Ctrl-C) brings the rest down.
wait -n "${pids[@]}" || true
