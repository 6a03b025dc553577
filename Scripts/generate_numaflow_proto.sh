#!/usr/bin/env bash
# Regenerates Sources/NumaflowUDF/Generated from Sources/NumaflowUDF/Proto (Numaflow's map.proto v1 and
# sourcetransform.proto v1, and the common protos they import, copied unchanged from numaproj/numaflow pkg/apis/proto, Apache-2.0).
# The generated Swift is committed; this is only needed when the protos change. Needs protoc
# (apt-get install protobuf-compiler); the two Swift plugins are built by
# build_protoc_plugins.sh outside the repository and never committed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$("$root/Scripts/build_protoc_plugins.sh" protoc-gen-grpc-swift-2 protoc-gen-swift)"
cd "$root/Sources/NumaflowUDF"
rm -rf Generated && mkdir -p Generated
protoc -I Proto -I Proto/common -I /usr/include \
  --plugin=protoc-gen-swift="$bin/protoc-gen-swift" --plugin=protoc-gen-grpc-swift-2="$bin/protoc-gen-grpc-swift-2" \
  --swift_out=Generated --swift_opt=Visibility=Public \
  --grpc-swift-2_out=Generated --grpc-swift-2_opt=Visibility=Public,Client=false,Server=true \
  map/v1/map.proto sourcetransform/v1/sourcetransform.proto metadata.proto common/nack_options.proto
# Protos without services yield empty service files.
rm -f Generated/metadata.grpc.swift Generated/common/nack_options.grpc.swift
echo "regenerated $(find Generated -name '*.swift' | wc -l) files"
