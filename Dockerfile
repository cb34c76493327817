# CipherTalk server image: `docker build -t ciphertalk .`
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p ciphertalk-gateway --bin ciphertalk

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/ciphertalk --create-home ciphertalk
COPY --from=build /src/target/release/ciphertalk /usr/local/bin/ciphertalk
USER ciphertalk
WORKDIR /var/lib/ciphertalk
ENV CIPHERTALK_LISTEN=0.0.0.0:8080 \
    CIPHERTALK_DATA_DIR=/var/lib/ciphertalk \
    CIPHERTALK_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["ciphertalk"]
CMD ["serve"]
