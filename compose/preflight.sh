#!/bin/sh
# preflight.sh: refuse to start the deployment while a secret is still the placeholder
# of .env.example, or the admin token is short. Every service that holds a secret waits
# for this one-shot (depends_on: service_completed_successfully), the third-party images
# (ClickHouse, NATS, Grafana) included, which cannot check for themselves.
status=0
for name in CLICKHOUSE_ADMIN_PASSWORD CLICKHOUSE_MIGRATOR_PASSWORD CLICKHOUSE_CONSUMER_PASSWORD \
  CLICKHOUSE_AGGREGATOR_PASSWORD CLICKHOUSE_ANALYST_PASSWORD CLICKHOUSE_DASHBOARD_PASSWORD \
  CLICKHOUSE_GRAFANA_PASSWORD NATS_ADMIN_PASSWORD NATS_INGEST_PASSWORD NATS_CONSUMER_PASSWORD \
  NATS_AGGREGATOR_PASSWORD \
  ADMIN_TOKEN GRAFANA_ADMIN_PASSWORD SMTP_PASSWORD; do
  eval "value=\${$name:-}"
  case "$(printf '%s' "$value" | tr -cd '[:alnum:]' | tr '[:upper:]' '[:lower:]')" in
    changeme*) echo "preflight: $name is still the placeholder of .env.example: set a secret of your own (openssl rand -hex 32)" >&2; status=1 ;;
  esac
done
if [ "${#ADMIN_TOKEN}" -lt 32 ]; then
  echo "preflight: ADMIN_TOKEN has ${#ADMIN_TOKEN} characters: it needs at least 32 (openssl rand -hex 32)" >&2
  status=1
fi
[ "$status" = 0 ] && echo "preflight: every secret is set"
exit "$status"
