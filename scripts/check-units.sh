#!/usr/bin/env bash
# Checks the systemd unit: `systemd-analyze verify` passes and `systemd-analyze security` rates
# its exposure at 3.0 or less. Prints the exposure. Needs a built binary (cargo build).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$PWD/target/debug/samba-entra-sync}
[ -x "$BIN" ] || cargo build --quiet
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# verify wants the ExecStart binary to exist: point a copy of the unit at the built one.
sed "s#/usr/bin/samba-entra-sync#$BIN#" systemd/samba-entra-sync.service > "$tmp/samba-entra-sync.service"
systemd-analyze verify "$tmp/samba-entra-sync.service"
line=$(systemd-analyze security --offline=yes "$tmp/samba-entra-sync.service" 2>&1 | grep 'Overall exposure level')
echo "$line"
exposure=$(echo "$line" | sed -E 's/.*: ([0-9.]+) .*/\1/')
awk -v e="$exposure" 'BEGIN { exit !(e <= 3.0) }' || { echo "exposure $exposure is above 3.0" >&2; exit 1; }
# The D-Bus policy must be well-formed XML that dbus-daemon accepts.
cfg="$tmp/bus.conf"
cat > "$cfg" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path=$tmp/bus.sock</listen><auth>EXTERNAL</auth>
<includedir>$PWD/systemd/dbus-policy.d</includedir></busconfig>
CONF
dbus-daemon --config-file="$cfg" --print-address --fork --print-pid > "$tmp/bus.out"
kill "$(sed -n 2p "$tmp/bus.out")"
echo "units ok"
