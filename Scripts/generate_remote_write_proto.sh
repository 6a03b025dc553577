#!/usr/bin/env bash
# Regenerates Sources/PromStore/Generated/remote_write.pb.swift from Sources/PromStore/Proto/remote_write.proto
# (Prometheus remote write 1.0's messages). The generated Swift is committed; this is only needed when the proto
# changes. Needs protoc (apt-get install protobuf-compiler); the Swift plugin is built by
# build_protoc_plugins.sh outside the repository and never committed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$("$root/Scripts/build_protoc_plugins.sh" protoc-gen-swift)"
cd "$root/Sources/PromStore"
mkdir -p Generated
protoc -I Proto --plugin=protoc-gen-swift="$bin/protoc-gen-swift" --swift_out=Generated remote_write.proto
echo "regenerated Generated/remote_write.pb.swift"
