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

# The consumer applies the ClickHouse migrations before it consumes.
"$BIN/consumer" & pids+=($!)
"$BIN/ingest" & pids+=($!)
"$BIN/aggregator" & pids+=($!)

cat >&2 <<MSG
[run] ingest     http://127.0.0.1:8080  (POST /telemetry)     internal http://127.0.0.1:9100 (/metrics, /readyz)
[run] consumer                                           internal http://127.0.0.1:9101 (/metrics)
[run] aggregator http://127.0.0.1:8081  (the dashboard)      internal http://127.0.0.1:9102 (/metrics, /admin/v1)
[run] ClickHouse http://127.0.0.1:${CLICKHOUSE_HTTP_PORT:-8123}  NATS nats://127.0.0.1:${NATS_PORT:-4222}
[run] Ctrl-C stops everything this started.
MSG
# Whichever service ends first (or Ctrl-C) brings the rest down.
wait -n "${pids[@]}" || true
