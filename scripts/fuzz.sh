#!/bin/sh
# Fuzz the msbin1 reader for SECONDS (default 60), starting from the committed seeds.
# Runs on stable Rust: `-s none` turns off the sanitizer that would need nightly
# . Needs cargo-fuzz: `cargo install cargo-fuzz --locked`.
# New interesting inputs go to fuzz/corpus/ (not committed); crashes to fuzz/artifacts/.
set -eu

seconds="${1:-60}"
case "$seconds" in
    ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/../fuzz"
mkdir -p corpus/nbfx_decode
exec cargo fuzz run -s none nbfx_decode corpus/nbfx_decode seeds/nbfx_decode -- \
    -max_total_time="$seconds" -max_len=65536 -print_final_stats=1
