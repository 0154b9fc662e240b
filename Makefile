# The two commands: `make run` and `make test`. Each installs what it needs into this
# checkout (.stack/ for NATS and ClickHouse, target/ for the build) and is idempotent.

SHELL := /bin/bash
CARGO ?= cargo

.PHONY: help run test bench stack stack-down build check-tools browser fmt lint

help:
	@echo "make run         build, start NATS + ClickHouse, run ingest, consumer and aggregator (Ctrl-C stops all)"
	@echo "make test        start the stack if needed, then fmt check, clippy and every test"
	@echo "make bench       measure throughput and cost against this machine's limits (target/bench/report.md)"
	@echo "make stack       start NATS (127.0.0.1:4222) and ClickHouse (127.0.0.1:8123) in the background"
	@echo "make stack-down  stop them"

check-tools:
	@command -v $(CARGO) >/dev/null || { \
	  echo "Rust is needed: install it with  curl https://sh.rustup.rs -sSf | sh  (then open a new shell)"; exit 1; }
	@command -v cc >/dev/null || { \
	  echo "A C compiler is needed for some crates: sudo apt-get install -y build-essential"; exit 1; }

stack:
	@stack/stack.sh up

# The dashboard's browser test needs Debian's Chromium; installed once, when missing.
browser:
	@command -v chromium >/dev/null || { \
	  echo "[make] installing Debian's chromium for the dashboard's browser test"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; \
	  else sudo apt-get install -y chromium || { sudo apt-get update && sudo apt-get install -y chromium; }; fi; }

stack-down:
	@stack/stack.sh down

build: check-tools
	$(CARGO) build --workspace --bins

run: build
	@stack/run.sh

fmt: check-tools
	$(CARGO) fmt --all --check

lint: check-tools
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The fault tests run the consumer as a process of its own (to SIGKILL it), so the
# binaries are built before the tests run.
test: check-tools stack browser fmt lint
	$(CARGO) build --workspace --bins
	$(CARGO) test --workspace

# Release builds: the numbers are about the code as it runs in production.
bench: check-tools stack
	$(CARGO) build --release -p consumer -p ingest -p aggregator -p bench
	target/release/bench drain
	target/release/bench stats
