# The tierwatch server. Build from the repository root:
#   docker build -f docker/server.Dockerfile -t tierwatch-server .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --locked --release -p tierwatch

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/tierwatch /usr/local/bin/tierwatch
COPY policy /etc/tierwatch/policy
ENV TIERWATCH_POLICY=/etc/tierwatch/policy/wasmtime.yaml \
    TIERWATCH_BIND=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD ["curl", "-fsS", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["tierwatch"]
CMD ["serve"]
