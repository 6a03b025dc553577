#!/usr/bin/env bash
# Regenerates Sources/PromStore/Generated/remote_write.pb.swift from Sources/PromStore/Proto/remote_write.proto
# (Prometheus remote write 1.0's messages). The generated Swift is committed; this is only needed when the proto
# changes. Needs protoc (apt-get install protobuf-compiler); the Swift plugin is built in a scratch directory
# outside the repository (shared with generate_numaflow_proto.sh) and never committed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
scratch="${TMPDIR:-/tmp}/aeflow-protoc-plugins"
mkdir -p "$scratch"
cat > "$scratch/Package.swift" <<'SWIFT'
// swift-tools-version:6.1
import PackageDescription
let package = Package(name: "plugins",
  dependencies: [
    .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.0.0"),
    .package(url: "https://github.com/apple/swift-protobuf", from: "1.28.0"),
  ],
  targets: [])
SWIFT
(cd "$scratch" && swift build -c release --product protoc-gen-swift)
bin="$scratch/.build/release"
cd "$root/Sources/PromStore"
mkdir -p Generated
protoc -I Proto --plugin=protoc-gen-swift="$bin/protoc-gen-swift" --swift_out=Generated remote_write.proto
echo "regenerated Generated/remote_write.pb.swift"
