# syntax=docker/dockerfile:1
# CipherTalk server image.
#   docker build -t ciphertalk .                      # server: NATS and Postgres elsewhere
#   docker build -t ciphertalk:trial --target embedded .
#   docker run -p 8080:8080 -v ciphertalk:/var/lib/ciphertalk ciphertalk:trial
# The `embedded` target also holds nats-server and Postgres 15 and starts them
# itself (no DATABASE_URL/NATS_URL): a one-container trial, not a production layout.

# Dependencies are built from the lock file alone (cargo-chef), so a change to
# CipherTalk's own code reuses that layer instead of rebuilding every crate.
FROM rust:1.95-bookworm AS chef
RUN cargo install cargo-chef --locked
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
# (The recipe carries Cargo.lock; the final build below checks it with --locked.)
RUN cargo chef cook --release -p ciphertalk-gateway --recipe-path recipe.json
COPY . .
# `docker build --build-arg CIPHERTALK_GIT_COMMIT=$(git rev-parse --short HEAD)`
# puts the commit on ciphertalk_build_info; without it the label is left out.
ARG CIPHERTALK_GIT_COMMIT
ENV CIPHERTALK_GIT_COMMIT=${CIPHERTALK_GIT_COMMIT}
RUN cargo build --release --locked -p ciphertalk-gateway --bin ciphertalk

# The web client (web/dist), served by the gateway at /.
FROM node:22-bookworm-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM debian:bookworm-slim AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/ciphertalk --create-home ciphertalk
COPY --from=build /src/target/release/ciphertalk /usr/local/bin/ciphertalk
COPY --from=web /web/dist /usr/share/ciphertalk/web
ENV CIPHERTALK_LISTEN=0.0.0.0:8080 \
    CIPHERTALK_WEB_DIR=/usr/share/ciphertalk/web \
    CIPHERTALK_DATA_DIR=/var/lib/ciphertalk \
    CIPHERTALK_LOG_FORMAT=json
# The generated JWT and franking keys live here (and, embedded, the NATS and
# Postgres data): mount a volume so they survive a re-created container.
VOLUME ["/var/lib/ciphertalk"]
WORKDIR /var/lib/ciphertalk
USER ciphertalk:ciphertalk
EXPOSE 8080
# Liveness only: an outage of NATS or Postgres makes the server not ready, and
# restarting it would not help. Readiness is GET /health/ready.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/health/live || exit 1
ENTRYPOINT ["ciphertalk"]
CMD ["serve"]

FROM runtime AS embedded
USER root
# Debian's Postgres package would create and start a cluster of its own; CipherTalk
# runs its own under the data dir. nats-server is the static binary of the official image.
RUN mkdir -p /etc/postgresql-common \
    && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf \
    && apt-get update && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=nats:2.11 /nats-server /usr/local/bin/nats-server
ENV CIPHERTALK_NATS_SERVER=/usr/local/bin/nats-server \
    CIPHERTALK_POSTGRES_BIN_DIR=/usr/lib/postgresql/15/bin
USER ciphertalk:ciphertalk

# The default target: the gateway alone, for compose.yaml and clusters.
FROM runtime AS server
