#!/usr/bin/env bash
# Runs one fuzzer for a while: scripts/fuzz.sh TARGET SECONDS
# (scripts/fuzz.sh --list names them). libFuzzer under cargo-fuzz needs
# nightly: this script installs nightly and cargo-fuzz when missing. Each
# target starts from fuzz/seeds/TARGET and keeps its corpus in
# fuzz/corpus/TARGET; a crash lands in fuzz/targets/artifacts/TARGET (copy it
# to fuzz/regressions/TARGET, where CI replays it, and fix it). Prints
# libFuzzer's final figures (executions, coverage) at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--list" ] || [ $# -ne 2 ]; then
  [ "${1:-}" = "--list" ] || echo "usage: scripts/fuzz.sh TARGET SECONDS   (targets below)" >&2
  sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/targets/Cargo.toml | grep -v '^vepa-fuzz$'
  [ "${1:-}" = "--list" ]
  exit
fi
target=$1 seconds=$2
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
cargo +nightly fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
mkdir -p "fuzz/corpus/$target"
[ -d "fuzz/seeds/$target" ] && cp -n "fuzz/seeds/$target"/* "fuzz/corpus/$target"/ 2>/dev/null || true
# One job, bounded memory and input size: this runs beside other work.
cargo +nightly fuzz run --fuzz-dir fuzz/targets -O "$target" "fuzz/corpus/$target" -- \
  -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=70000 -print_final_stats=1 2>&1 |
  tee "fuzz/$target.log" | grep -E '^(#[0-9]+.*(DONE|pulse)|stat::|INFO: seed|==[0-9]+==|SUMMARY|Done)' || true
grep -q '^Done [0-9]* runs' "fuzz/$target.log" || { echo "fuzz: $target stopped early (see fuzz/$target.log)" >&2; exit 1; }
