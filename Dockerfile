# syntax=docker/dockerfile:1
# One image for the three services: ingest, consumer and aggregator; a container's
# command picks which. Build: docker build -t telemetry-pipeline .  (compose does)

# --- build -----------------------------------------------------------------------------
# The toolchain the tests run with here (the workspace needs 1.88 or newer).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# Cache mounts keep the registry and the target directory between builds, so a source
# change rebuilds only what changed.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p ingest -p consumer -p aggregator \
 && mkdir -p /out \
 && cp target/release/ingest target/release/consumer target/release/aggregator /out/

# --- run -------------------------------------------------------------------------------
# Debian slim (an official image): glibc for the binaries, bash for the healthchecks
# (`/dev/tcp`, no curl needed), and CA certificates, which async-nats reads from the
# system store for a `tls://` NATS URL. The ClickHouse client is built without TLS
# (ClickHouse is reached over compose's internal network), so it needs none.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin telemetry
COPY --from=build /out/ /usr/local/bin/
COPY compose/healthcheck.sh /usr/local/bin/healthcheck
USER 10001:10001
ENV TELEMETRY__LOG__FORMAT=json
CMD ["ingest"]
