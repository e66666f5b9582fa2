#!/usr/bin/env bash
# The test command of the README: installs what is missing, then runs the formatting check,
# clippy and the whole test suite against real throwaway Samba DCs. Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."

# install-deps.sh installs Rust with rustup into ~/.cargo/bin when cargo is missing or too old
# (Debian 12's is): that must be on PATH for the cargo commands below.
export PATH="$HOME/.cargo/bin:$PATH"
./scripts/install-deps.sh
export CARGO_TERM_COLOR=never

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --quiet --all-targets -- -D warnings

step "systemd unit and D-Bus policy checks"
# The checks need a built binary: the test build's (a plain `cargo build` would compile the
# dependency tree a second time without the dev-dependencies' features, about 85 s on 2 cores).
cargo test --quiet --no-run
./scripts/check-units.sh

step "cargo test (unit, integration, real Samba DCs)"
# Benchmarks are type-checked by clippy above and run with `cargo bench` (CI runs only the load bench, below).
# Includes the fault suite (tests/faults_e2e.rs) and the bad-input tests (tests/bad_input.rs).
cargo test --no-fail-fast

step "the sam.ldb wrapper tests under valgrind memcheck"
./scripts/valgrind-ldb.sh

step "Debian package: build, dpkg -i, the installed daemon syncs a lab DC, dpkg -r"
./scripts/deb-test.sh 2>&1 | tail -n 40

step "the package under a booted systemd (systemd-nspawn --boot): READY, reload, watchdog, journal, remove, purge"
# Reuses the .deb the step above built; the container's root file system is cached between runs.
./scripts/booted-test.sh 2>&1 | tail -n 40

step "bounded fuzz run of the msbin1 reader (60 s)"
command -v cargo-fuzz > /dev/null || cargo install --quiet cargo-fuzz --locked
./scripts/fuzz.sh "${FUZZ_SECONDS:-60}" 2>&1 | tail -n 12

step "load: 1,000 concurrent password changes; a 50,000-user domain's full reconcile (benches/load.rs)"
# Last, as its own step: its targets depend on the machine. It measures the release binary the
# .deb step built (the build below only checks that it is current), driven by the harness from
# the debug test build: `cargo bench` would compile the dependency tree a third time, in release
# with the dev-dependencies' features (about 3 minutes on 2 cores). Building the 50,000-user
# domain takes about 70 s, its reconcile about 3 minutes (the whole step about 6).
cargo build --release --quiet --locked --bin samba-entra-sync
USERS=50000 SAMBA_ENTRA_SYNC_BIN="$PWD/target/release/samba-entra-sync" cargo test --quiet --bench load
