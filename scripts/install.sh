#!/usr/bin/env bash
# Installs a release build on this machine (a Samba AD DC): the binary, the hook, the systemd
# unit, the D-Bus policy, the tmpfiles entry and an example config (never overwriting one).
# Build first: cargo build --release && make -C samba-hook. Run as root. DESTDIR is honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${DESTDIR:-}
[ -x target/release/samba-entra-sync ] || { echo "install: build first (cargo build --release)" >&2; exit 1; }
[ -x samba-hook/samba-entra-sync-hook ] || make -s -C samba-hook
install -D -m 0755 target/release/samba-entra-sync "$D/usr/bin/samba-entra-sync"
make -s -C samba-hook install DESTDIR="$D" PREFIX=/usr
install -D -m 0644 systemd/samba-entra-sync.service "$D/lib/systemd/system/samba-entra-sync.service"
install -D -m 0644 systemd/dbus-policy.d/io.github.SambaEntraSync1.conf "$D/usr/share/dbus-1/system.d/io.github.SambaEntraSync1.conf"
install -D -m 0644 systemd/samba-entra-sync.tmpfiles "$D/usr/lib/tmpfiles.d/samba-entra-sync.conf"
install -d -m 0700 "$D/etc/samba-entra-sync" "$D/var/lib/samba-entra-sync"
if [ ! -e "$D/etc/samba-entra-sync/config.toml" ]; then
  install -m 0600 etc/samba-entra-sync.toml "$D/etc/samba-entra-sync/config.toml"
fi
install -D -m 0644 README.md "$D/usr/share/doc/samba-entra-sync/README.md"
echo "installed; next: edit /etc/samba-entra-sync/config.toml, run samba-entra-sync check-config and login (README: Installing on a real DC)"
