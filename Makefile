# The two commands: `make run` and `make test`. Each installs what it needs into this
# checkout (.stack/ for NATS and ClickHouse, target/ for the build) and is idempotent.

SHELL := /bin/bash
CARGO ?= cargo

.PHONY: help run test unit bench chaos fuzz stack stack-down cluster cluster-down build check-tools browser edge-tools perf-tool deploy-tools check-deploy fmt lint

help:
	@echo "make run         build, start NATS + ClickHouse, run ingest, consumer and aggregator (Ctrl-C stops all)"
	@echo "make test        start the stack if needed, then fmt check, clippy and every test"
	@echo "make unit        fmt check, clippy and every test that needs no NATS or ClickHouse (no stack, no apt)"
	@echo "make bench       measure throughput and cost against this machine's limits (target/bench/report.md)"
	@echo "make chaos       the fault suite over real processes, with more load (CHAOS_CLIENTS, CHAOS_EVENTS)"
	@echo "make fuzz        mutation-fuzz parse/repair/validate for FUZZ_SECONDS (default 60)"
	@echo "make stack       start NATS (127.0.0.1:4222) and ClickHouse (127.0.0.1:8123) in the background"
	@echo "make stack-down  stop them"
	@echo "make cluster     a 3-node NATS cluster (4232-4234) and 2 ClickHouse shards (8133, 8134) on loopback"
	@echo "make cluster-down stop it"

check-tools:
	@command -v $(CARGO) >/dev/null || { \
	  echo "Rust is needed: install it with  curl https://sh.rustup.rs -sSf | sh  (then open a new shell)"; exit 1; }
	@command -v cc >/dev/null || { \
	  echo "A C compiler is needed for some crates: sudo apt-get install -y build-essential"; exit 1; }

stack:
	@stack/stack.sh up

# Debian packages the tests need, installed once when missing (root, or sudo).
APT_INSTALL = if [ "$$(id -u)" = 0 ]; then apt-get install -y $(1) || { apt-get update && apt-get install -y $(1); }; \
	  else sudo apt-get install -y $(1) || { sudo apt-get update && sudo apt-get install -y $(1); }; fi

# The deployment checks: Debian's docker-compose (validates the file, no engine needed),
# prometheus (promtool, and a real Prometheus scraping the services) and
# prometheus-alertmanager (amtool).
deploy-tools:
	@command -v docker-compose >/dev/null && command -v promtool >/dev/null && command -v prometheus >/dev/null \
	  && command -v amtool >/dev/null || { \
	  echo "[make] installing Debian's docker-compose, prometheus and prometheus-alertmanager for the deployment checks"; \
	  $(call APT_INSTALL,docker-compose prometheus prometheus-alertmanager); }

check-deploy: deploy-tools edge-tools
	docker-compose -f compose/docker-compose.yml --env-file compose/.env.example config -q
	TELEMETRY_HOST=telemetry.example.org TLS_ISSUER=ops@example.org INGEST_UPSTREAM=ingest:8080 \
	  AGGREGATOR_UPSTREAM=aggregator:8081 caddy validate --adapter caddyfile --config compose/caddy/Caddyfile >/dev/null 2>&1 \
	  || { echo "compose/caddy/Caddyfile is not valid"; exit 1; }
	promtool check config compose/prometheus/prometheus.yml
	promtool check rules compose/prometheus/alerts.yml
	promtool test rules compose/prometheus/alerts.test.yml
	@mkdir -p target
	set -a && . compose/.env.example && set +a && \
	  compose/alertmanager/render.sh compose/alertmanager/alertmanager.yml > target/alertmanager.yml
	amtool check-config target/alertmanager.yml
	@# The placeholders of .env.example must stop the deployment at its preflight.
	@! (set -a && . compose/.env.example && set +a && sh compose/preflight.sh) 2>/dev/null \
	  || { echo "compose/preflight.sh accepted the placeholders of .env.example"; exit 1; }

# The proxy test runs compose/caddy/Caddyfile with Debian's caddy; installed once.
edge-tools:
	@command -v caddy >/dev/null || { \
	  echo "[make] installing Debian's caddy for the TLS proxy test"; \
	  $(call APT_INSTALL,caddy); }

# The dashboard's browser test needs Debian's Chromium; installed once, when missing.
browser:
	@command -v chromium >/dev/null || { \
	  echo "[make] installing Debian's chromium for the dashboard's browser test"; \
	  $(call APT_INSTALL,chromium); }

stack-down:
	@stack/stack.sh down

cluster:
	@stack/cluster.sh up

cluster-down:
	@stack/cluster.sh down

build: check-tools
	$(CARGO) build --workspace --bins

run: build
	@stack/run.sh

# The quick loop: everything that runs without the stack (unit tests of every crate,
# schemas' property and fuzz-seed tests). The end-to-end suite is the `tests` crate.
unit: fmt lint
	$(CARGO) test --workspace --exclude tests
	$(CARGO) test -p tests --test docs --test shape

fmt: check-tools
	$(CARGO) fmt --all --check

lint: check-tools
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The fault tests run the consumer as a process of its own (to SIGKILL it), so the
# binaries are built before the tests run.
test: check-tools stack cluster browser edge-tools check-deploy fmt lint
	$(CARGO) build --workspace --bins
	$(CARGO) test --workspace --no-fail-fast

# Release builds: the numbers are about the code as it runs in production.
# perf for the CPU profile in the bench report; the bench runs without it, and says so.
perf-tool:
	@command -v perf >/dev/null || { \
	  echo "[make] installing Debian's linux-perf for the bench report's CPU profile"; \
	  $(call APT_INSTALL,linux-perf) || echo "[make] no perf: the report will say there is no CPU profile"; }

bench: check-tools stack cluster perf-tool
	$(CARGO) build --release -p consumer -p ingest -p aggregator -p bench
	rm -f target/bench/report.json   # one run, one report: each step below adds its section
	target/release/bench parse
	target/release/bench drain
	target/release/bench ingest
	target/release/bench connections
	target/release/bench stats
	target/release/bench analysts
	target/release/bench import
	target/release/bench cluster

# The fault suite with more load than `make test` gives it (which runs the same
# scenarios, shorter): SIGKILLs of ingest and of the consumer, NATS restarted, a
# ClickHouse outage, a full queue. Each ends with an exact account.
CHAOS_CLIENTS ?= 16
CHAOS_EVENTS ?= 400
chaos: check-tools stack cluster
	$(CARGO) build --workspace --bins
	CHAOS_CLIENTS=$(CHAOS_CLIENTS) CHAOS_EVENTS=$(CHAOS_EVENTS) \
	  $(CARGO) test -p tests --test chaos --test exactly_once --test cluster -- --test-threads=1 --include-ignored

FUZZ_SECONDS ?= 60
fuzz: check-tools
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(CARGO) test --release -p schemas --test fuzz -- --ignored --nocapture fuzz_for_a_while
