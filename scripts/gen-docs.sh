#!/usr/bin/env bash
# Regenerates the man pages (dist/man) and shell completions
# (dist/completions) from vepa's command line definition; the .deb ships
# them. A unit test (crates/vepa, `generated_docs_are_current`) fails when
# they are out of step with the command line: run this script then.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p vepa
bin=target/release/vepa
rm -rf dist/man && "$bin" man --dir dist/man
mkdir -p dist/completions
"$bin" completions bash >dist/completions/vepa.bash
"$bin" completions zsh >dist/completions/_vepa
"$bin" completions fish >dist/completions/vepa.fish
echo "dist/man: $(ls dist/man | wc -l) pages; dist/completions: bash, zsh, fish"
