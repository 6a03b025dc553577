# syntax=docker/dockerfile:1
# AEFlow container image: the entrypoint is `aeflow`, the subcommand its first argument (`serve` by default);
# the same image runs `aeflow retrain` (the Helm chart's sidecar), `aeflow udf` (Numaflow) and every other
# subcommand.
#
#   docker build -t registry.example.com/team/aeflow:0.7.0 .
#   docker run --rm -p 5555:5555 -p 5556:5556 -p 8490:8490 -v aeflow-data:/var/lib/aeflow registry.example.com/team/aeflow:0.7.0
#   docker run --rm registry.example.com/team/aeflow:0.7.0 --version
#
# Build stage: the Swift toolchain image plus the -dev packages of the C libraries AEFlow links.
ARG SWIFT_VERSION=6.3
FROM swift:${SWIFT_VERSION}-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas-dev libzmq3-dev libsqlite3-dev zlib1g-dev libjemalloc-dev libsnappy-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies before sources: the manifest alone resolves them (a layer that only changes with Package.swift),
# and the build directory lives in a BuildKit cache, so a change to Sources/ rebuilds AEFlow's own targets and
# reuses every compiled dependency.
COPY Package.swift ./
RUN --mount=type=cache,id=aeflow-build,target=/src/.build swift package resolve
COPY . .
RUN --mount=type=cache,id=aeflow-build,target=/src/.build \
    swift build -c release --product aeflow \
 && install -D -m 0755 "$(swift build -c release --show-bin-path)/aeflow" /out/usr/local/bin/aeflow

# Runtime stage: slim Debian with only the runtime libraries (their dependencies come with them) and the
# Swift runtime libraries from the build stage.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopenblas0-pthread libzmq5 libsqlite3-0 libjemalloc2 libsnappy1v5 libstdc++6 libgcc-s1 zlib1g tzdata \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/lib/swift/linux/*.so /usr/lib/swift/linux/
COPY --from=build /out/usr/local/bin/aeflow /usr/local/bin/aeflow
COPY pipelines/container.yaml /etc/aeflow/aeflow.yaml
RUN groupadd --system --gid 10001 aeflow \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/aeflow --shell /usr/sbin/nologin aeflow \
 && mkdir -p /var/lib/aeflow/run \
 && chown -R 10001:10001 /var/lib/aeflow
ENV LD_LIBRARY_PATH=/usr/lib/swift/linux
# The port `aeflow health` (the health check below) asks; a container serving HTTP elsewhere (a UDF on
# another port) sets it.
ENV AEFLOW_HTTP_PORT=8490
USER 10001:10001
WORKDIR /var/lib/aeflow
# Store (models), history (SQLite) and the daemon↔retrain sockets.
VOLUME ["/var/lib/aeflow"]
# 5555 points in (ZeroMQ SUB), 5556 scores out (ZeroMQ PUB), 8490 daemon HTTP, 8491 retrain stage HTTP.
EXPOSE 5555 5556 8490 8491
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/usr/local/bin/aeflow", "health"]
ENTRYPOINT ["/usr/local/bin/aeflow"]
CMD ["serve", "--config", "/etc/aeflow/aeflow.yaml"]
