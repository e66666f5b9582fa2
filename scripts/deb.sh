#!/usr/bin/env bash
# Builds the Debian package with cargo-deb (3.8): the hook first (make), then `cargo deb`, which
# builds the release binary and packs the assets of [package.metadata.deb] in Cargo.toml.
# Prints the path of the .deb on its last line (the debug symbols go to a -dbgsym.ddeb beside it).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-deb > /dev/null || cargo install --quiet cargo-deb --locked --version '^3.8'
make -s -C samba-hook
# The man pages and the completion come from the binary itself (clap and the example config),
# so it is built first and cargo deb packs that build.
cargo build --release --locked --quiet --bin samba-entra-sync
target/release/samba-entra-sync generate-docs --out target/assets > /dev/null
out=$(cargo deb --locked --quiet --no-build "$@")
printf '%s\n' "$out" | grep '\.deb$' | tail -n 1
