#!/usr/bin/env bash
# The main job on a fresh Debian machine, as root, with a Rust toolchain:
# builds vepa (cargo and a C compiler are all the build needs) and runs
# `vepa demo`, which shows the VEPA modes working in throw-away namespaces.
# Arguments go to `vepa demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/demo.sh: the demo creates namespaces and devices; run it as root" >&2
  exit 1
fi
# The linker (and the C parts of a few crates) need cc; iproute2 is not
# needed: vepa makes namespaces and devices over netlink itself.
if [ ! -x /usr/bin/cc ] || [ ! -e "/usr/lib/$(uname -m)-linux-gnu/crt1.o" ]; then
  echo "== installing gcc and libc6-dev (cc, the linker cargo uses, and the C runtime it links)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null
fi
exec cargo run --release -- demo "$@"
