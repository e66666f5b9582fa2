#!/usr/bin/env bash
# Install the Debian 12 packages samba-entra-sync needs to build, test and demo, and a Rust
# toolchain that can build it (Debian 12's own rustc, 1.63, cannot build edition 2024).
# Idempotent and quiet when everything is already present. Runs as root.
#
# A toolchain it installs lives in $HOME/.cargo/bin, which this script cannot put on its caller's
# PATH: the scripts that call it and then run cargo (test.sh, demo.sh) put $HOME/.cargo/bin on
# PATH themselves, before calling it.
#
# INSTALL_DEPS_DRY_RUN=1 says on stderr what it would install and installs nothing (the check of
# the toolchain is tested that way, with a fake cargo: tests/install_deps.rs).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DRY_RUN=${INSTALL_DEPS_DRY_RUN:-0}

RUNTIME="samba samba-ad-dc samba-ad-provision samba-dsdb-modules winbind python3-samba ldb-tools ldap-utils krb5-user smbclient dbus-daemon"
BUILD="libldb-dev libtalloc-dev libtevent-dev samba-dev pkg-config libclang-dev clang gcc make libdbus-1-dev libsqlite3-dev"
# chromium: tests/tenant_page.rs renders the emulator's page headless. curl: also rustup's installer.
# systemd-container, mmdebstrap: scripts/booted-test.sh boots a Debian 12 container with systemd.
# prometheus: its promtool checks the metrics file (tests/metrics_e2e.rs).
TEST="valgrind systemd sqlite3 iproute2 curl chromium systemd-container mmdebstrap prometheus"
WANT="$RUNTIME $BUILD $TEST ${EXTRA_PACKAGES:-}"

install_packages() {
  if [ "$DRY_RUN" = 1 ]; then
    echo "install-deps: would install the Debian packages $*" >&2
    return
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing Debian packages ($*); run this script as root" >&2
    exit 1
  fi
  echo "install-deps: installing $*" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Debian's samba postinst starts smbd/nmbd/samba-ad-dc through invoke-rc.d when nothing forbids it:
  # forbid it for the duration of the install, so the host never gets a running DC by accident.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "$@" >/dev/null
}

# The oldest Rust that builds the crate: Cargo.toml's rust-version (1.85 at least, for edition 2024).
required_rust() {
  local v
  v=$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' "$ROOT/Cargo.toml" | head -n 1)
  echo "${v:-1.85}"
}

# Succeeds when version $1 (e.g. 1.63.0) is $2 (e.g. 1.89) or newer.
version_at_least() {
  [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$2" ]
}

# Prints why the cargo on PATH cannot build the crate; prints nothing when it can.
rust_problem() {
  local need have
  need=$(required_rust)
  # "cargo 1.95.0 (f2d3ce0bd 2026-03-21)"; a nightly's "1.96.0-nightly" counts as 1.96.0.
  have=$(cargo --version 2>/dev/null | awk '{ print $2 }') || have=
  have=${have%%-*}
  if [ -z "$have" ]; then
    echo "no cargo on PATH (the crate needs Rust $need or newer)"
  elif ! version_at_least "$have" "$need"; then
    echo "cargo $have is too old (the crate needs Rust $need or newer: Cargo.toml's rust-version)"
  fi
}

ensure_rust() {
  local problem
  problem=$(rust_problem)
  if [ -z "$problem" ]; then
    return
  fi
  local how="rustup's installer (https://sh.rustup.rs, -y --profile minimal)"
  if [ -x "$HOME/.cargo/bin/rustup" ]; then
    how="$HOME/.cargo/bin/rustup"
  fi
  if [ "$DRY_RUN" = 1 ]; then
    echo "install-deps: $problem; would install the stable Rust toolchain with $how" >&2
    return
  fi
  echo "install-deps: $problem; installing the stable Rust toolchain with $how" >&2
  if [ -x "$HOME/.cargo/bin/rustup" ]; then
    # rustup is there already (e.g. its default toolchain is too old): no second installer run.
    "$HOME/.cargo/bin/rustup" toolchain install stable --profile minimal -c clippy,rustfmt >/dev/null
    "$HOME/.cargo/bin/rustup" default stable >/dev/null
  else
    # clippy and rustfmt: test.sh runs them.
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
      sh -s -- -y --profile minimal -c clippy,rustfmt >/dev/null
  fi
  # shellcheck source=/dev/null
  . "$HOME/.cargo/env"
  problem=$(rust_problem)
  if [ -n "$problem" ]; then
    echo "install-deps: still $problem: is an older cargo ahead of $HOME/.cargo/bin on PATH?" >&2
    exit 1
  fi
  echo "install-deps: $(cargo --version) is in $HOME/.cargo/bin: put that on PATH (. \"\$HOME/.cargo/env\")" >&2
}

missing=()
for p in $WANT; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# First the packages: rustup's installer needs curl, and building needs gcc.
if [ ${#missing[@]} -gt 0 ]; then
  install_packages "${missing[@]}"
fi
ensure_rust
