#!/usr/bin/env bash
# Builds the Swift protoc plugins (protoc-gen-swift, protoc-gen-grpc-swift-2) in a scratch directory outside the
# repository, never committed, and prints the directory holding them. Used by generate_numaflow_proto.sh and
# generate_remote_write_proto.sh; arguments are the plugin products to build.
set -euo pipefail
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
for product in "$@"; do (cd "$scratch" && swift build -c release --product "$product" >&2); done
echo "$scratch/.build/release"
