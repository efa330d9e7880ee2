#!/usr/bin/env bash
# The main job on a fresh Debian machine, as root: builds vepa (which needs
# protoc for the etcd client's gRPC code) and runs `vepa demo`, which shows
# the VEPA modes working in throw-away namespaces. Arguments go to `vepa demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v protoc >/dev/null 2>&1; then
  echo "== installing protobuf-compiler (protoc, to build the etcd client)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends protobuf-compiler >/dev/null
fi
exec cargo run --release -- demo "$@"
