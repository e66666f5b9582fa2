#!/usr/bin/env bash
# Checks the systemd unit: `systemd-analyze verify` passes, `systemd-analyze security` rates
# its exposure at 3.0 or less, and the unit does not cut the daemon off from Entra with an IP
# deny list. Prints the exposure. Needs a built binary (cargo build).
# UNIT=FILE checks another unit file (e.g. an older revision) instead of the shipped one.
set -euo pipefail
cd "$(dirname "$0")/.."
UNIT=${UNIT:-systemd/samba-entra-sync.service}
BIN=${BIN:-${CARGO_TARGET_DIR:-$PWD/target}/debug/samba-entra-sync}
[ -x "$BIN" ] || cargo build --quiet
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The daemon talks to login.microsoftonline.com and the sync endpoint (or a proxy the config
# names), none of which a shipped unit can know: an IPAddressDeny= that covers more than
# loopback must be undone by an IPAddressAllow= of every address, or `systemctl enable --now`
# gives a daemon that cannot sign in. systemd semantics: both lists accumulate, an empty
# assignment clears one, and an allowed address wins over a denied one.
ip_policy_problem() {
  awk '
    function loopback(e) { return e == "localhost" || e ~ /^127\./ || e ~ /^::1(\/128)?$/ }
    # Adds the entries of one assignment to list; an empty assignment clears it.
    function assign(list,    v, n, a, i) {
      v = $0; sub(/^[^=]*=/, "", v)
      if (v ~ /^[ \t]*$/) { for (i in list) delete list[i]; return }
      n = split(v, a, /[ \t]+/)
      for (i = 1; i <= n; i++) if (a[i] != "") list[a[i]] = 1
    }
    /^[ \t]*IPAddressDeny=/  { assign(deny) }
    /^[ \t]*IPAddressAllow=/ { assign(allow) }
    END {
      for (e in deny) if (!loopback(e)) denied = denied " " e
      everything = ("any" in allow) || (("0.0.0.0/0" in allow) && ("::/0" in allow))
      if (denied == "" || everything) exit
      for (e in allow) allowed = allowed " " e
      printf "IPAddressDeny=%s with IPAddressAllow=%s: the daemon could not reach Entra\n",
        substr(denied, 2), (allowed == "" ? "(nothing)" : substr(allowed, 2))
    }' "$1"
}
problem=$(ip_policy_problem "$UNIT")
if [ -n "$problem" ]; then
  echo "$UNIT: $problem (leave egress limits to the administrator: README, Security model)" >&2
  exit 1
fi

# A leak or a runaway read must not take the DC (Samba, the KDC) down with it: the unit caps the
# daemon's memory. The cap must leave room above the load bench's peak (README, Performance: the
# full reconcile of 100,000 users and 10,000 groups): at least three times it, so a domain several
# times larger still fits.
bench_peak_mib=171
memory_max=$(sed -n -E 's/^[ \t]*MemoryMax=[ \t]*([0-9]+)([KMG]?)[ \t]*$/\1 \2/p' "$UNIT" | tail -n 1)
if [ -z "$memory_max" ]; then
  echo "$UNIT: no MemoryMax= (in bytes, K, M or G): a runaway daemon could take the DC's memory" >&2
  exit 1
fi
read -r mm_value mm_unit <<<"$memory_max"
case "$mm_unit" in
  G) mm_mib=$((mm_value * 1024)) ;;
  M) mm_mib=$mm_value ;;
  K) mm_mib=$((mm_value / 1024)) ;;
  *) mm_mib=$((mm_value / 1048576)) ;;
esac
if [ "$mm_mib" -lt $((3 * bench_peak_mib)) ]; then
  echo "$UNIT: MemoryMax=${mm_value}${mm_unit} is under 3x the 100,000-user bench peak (${bench_peak_mib} MiB)" >&2
  exit 1
fi
echo "MemoryMax ${mm_mib} MiB (bench peak ${bench_peak_mib} MiB)"

# verify wants the ExecStart binary to exist: point a copy of the unit at the built one.
sed "s#/usr/bin/samba-entra-sync#$BIN#" "$UNIT" > "$tmp/samba-entra-sync.service"
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
