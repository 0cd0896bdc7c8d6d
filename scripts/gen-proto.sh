#!/usr/bin/env bash
# Regenerates Sources/WauseProto/Generated/*.pb.swift from proto/*.proto.
#
# Idempotent, and never part of a normal build: the generated files are committed (README.md, "Protobufs").
#   1. protoc (3.21.12 from Debian's `protobuf-compiler`) is installed with apt-get if missing;
#   2. protoc-gen-swift 1.39.0 — the same version as the SwiftProtobuf runtime pinned in
#      Package.swift — is built once, from a clone outside this repository, into a cache directory;
#   3. protoc runs with public visibility so the engine's other modules can use the types.
# We never use SwiftPM's protobuf plugin: it compiles the vendored C++ protoc (~10 minutes).
#
# Environment:
#   WAUSE_TOOL_CACHE     where protoc-gen-swift is built (default ~/.cache/wause)
#   SWIFT_PROTOBUF_GIT   the swift-protobuf repository to clone (default: SwiftPM's own clone of it in
#                        this checkout's .build/repositories if `swift build` made one, else GitHub)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
swift_protobuf_version=1.39.0
cache=${WAUSE_TOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wause}
plugin_dir="$cache/protoc-gen-swift-$swift_protobuf_version"
plugin="$plugin_dir/protoc-gen-swift"
out="$root/Sources/WauseProto/Generated"

if ! command -v protoc >/dev/null 2>&1; then
  echo "gen-proto: installing protobuf-compiler"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq
  "${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq protobuf-compiler
fi

if [ ! -x "$plugin" ]; then
  default_git=https://github.com/apple/swift-protobuf.git
  for mirror in "$root"/.build/repositories/swift-protobuf-*; do
    if [ -d "$mirror" ]; then default_git=$mirror; fi
  done
  source_git=${SWIFT_PROTOBUF_GIT:-$default_git}
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "gen-proto: building protoc-gen-swift $swift_protobuf_version from $source_git (about a minute)"
  depth=(--depth 1)
  if [ -d "$source_git" ]; then depth=(); fi   # a local clone ignores --depth and warns
  git -c advice.detachedHead=false clone --quiet "${depth[@]}" --branch "$swift_protobuf_version" \
    "$source_git" "$work/swift-protobuf"
  (cd "$work/swift-protobuf" && swift build -c release --product protoc-gen-swift >/dev/null)
  mkdir -p "$plugin_dir"
  cp "$work/swift-protobuf/.build/release/protoc-gen-swift" "$plugin.tmp"
  mv "$plugin.tmp" "$plugin"
fi

actual=$("$plugin" --version | awk '{print $NF}')
if [ "$actual" != "$swift_protobuf_version" ]; then
  echo "gen-proto: $plugin is version $actual, expected $swift_protobuf_version" >&2
  exit 1
fi

# Replace the whole directory so a .proto that was removed leaves no stale Swift behind.
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
(cd "$root/proto" && protoc --plugin=protoc-gen-swift="$plugin" \
  --swift_out="$out.tmp" --swift_opt=Visibility=Public -I . ./*.proto)
rm -rf "$out"
mv "$out.tmp" "$out"
echo "gen-proto: $(protoc --version), protoc-gen-swift $actual -> ${out#"$root"/}: $(cd "$out" && ls | tr '\n' ' ')"
