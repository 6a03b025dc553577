# AEFlow container image: `aeflow serve` by default; the same image runs `aeflow retrain` (the Helm chart's
# sidecar) and every other subcommand.
#
#   docker build -t aeflow .
#   docker run --rm -p 5555:5555 -p 5556:5556 -p 8490:8490 -v aeflow-data:/var/lib/aeflow aeflow
#
# Build stage: the Swift toolchain image plus the -dev packages of the three C libraries AEFlow links.
ARG SWIFT_VERSION=6.3
FROM swift:${SWIFT_VERSION}-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas-dev libzmq3-dev libsqlite3-dev zlib1g-dev libjemalloc-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN swift build -c release --product aeflow \
 && install -D -m 0755 "$(swift build -c release --show-bin-path)/aeflow" /out/usr/local/bin/aeflow

# Runtime stage: slim Debian with only the runtime libraries (their dependencies come with them) and the
# Swift runtime libraries from the build stage.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas0-pthread libzmq5 libsqlite3-0 libjemalloc2 libstdc++6 libgcc-s1 zlib1g tzdata \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/lib/swift/linux/*.so /usr/lib/swift/linux/
COPY --from=build /out/usr/local/bin/aeflow /usr/local/bin/aeflow
COPY pipelines/container.yaml /etc/aeflow/aeflow.yaml
RUN groupadd --system --gid 10001 aeflow \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/aeflow --shell /usr/sbin/nologin aeflow \
 && mkdir -p /var/lib/aeflow/run \
 && chown -R 10001:10001 /var/lib/aeflow
ENV LD_LIBRARY_PATH=/usr/lib/swift/linux
USER 10001:10001
WORKDIR /var/lib/aeflow
# Store (models), history (SQLite) and the daemon↔retrain sockets.
VOLUME ["/var/lib/aeflow"]
# 5555 points in (ZeroMQ SUB), 5556 scores out (ZeroMQ PUB), 8490 daemon HTTP, 8491 retrain stage HTTP.
EXPOSE 5555 5556 8490 8491
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/aeflow", "health", "--url", "http://127.0.0.1:8490/healthz"]
ENTRYPOINT ["/usr/local/bin/aeflow", "serve"]
CMD ["--config", "/etc/aeflow/aeflow.yaml"]
