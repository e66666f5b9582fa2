#!/usr/bin/env bash
# The Debian package under a booted systemd: a Debian 12 root file system made by mmdebstrap
# (cached under /var/cache/samba-entra-sync-test), booted with `systemd-nspawn --boot`, into which
# the .deb is installed next to Samba; the container provisions a DC, wires the hook with
# `install-hook --apply` and runs `systemctl enable --now samba-entra-sync` against the emulator,
# which runs on the host (the container shares the host's network, so 127.0.0.1 is the same).
# Checks: READY=1 makes the unit active (running); a password change reaches the emulator;
# `systemctl reload` re-reads the config and keeps the old one when the new one is invalid; a
# stopped (SIGSTOP) daemon is restarted by the watchdog; `journalctl -o json` has our structured
# fields and no secret; `systemctl stop` is clean; `apt-get remove` is refused while smb.conf runs
# the hook and works once it does not; purge leaves only what the README says is kept.
#
# Usage: scripts/booted-test.sh [DEB] (default: the newest target/debian/samba-entra-sync_*.deb).
# Needs root, systemd-container and mmdebstrap (scripts/install-deps.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
fail() { echo "booted-test: FAIL: $*" >&2; exit 1; }

DEB=${1:-$(ls -t target/debian/samba-entra-sync_*.deb 2>/dev/null | head -n 1)}
[ -f "$DEB" ] || fail "no .deb (run scripts/deb.sh first, or give its path)"
EMU_BIN=${EMU_BIN:-$PWD/target/release/samba-entra-sync}
[ -x "$EMU_BIN" ] || EMU_BIN=$PWD/target/debug/samba-entra-sync
[ -x "$EMU_BIN" ] || fail "no samba-entra-sync binary to run the emulator with"

# What the container needs besides a minimal system: systemd as PID 1, the package's
# dependencies (so dpkg -i needs no network inside), and the tools the test drives.
PACKAGES="systemd,systemd-sysv,dbus,ca-certificates,samba,samba-ad-dc,samba-ad-provision,samba-dsdb-modules,winbind,python3-samba,krb5-user,ldb-tools,smbclient,procps,libdbus-1-3"
CACHE=/var/cache/samba-entra-sync-test
KEY=$(printf '%s' "bookworm $PACKAGES" | sha256sum | cut -c1-12)
TAR=$CACHE/bookworm-$KEY.tar
mkdir -p "$CACHE"
if [ ! -s "$TAR" ]; then
  step "making the Debian 12 root file system (once; cached in $TAR)"
  mmdebstrap --quiet --format=tar --variant=minbase --include="$PACKAGES" bookworm "$TAR.tmp" \
    || fail "mmdebstrap could not build the root file system"
  mv "$TAR.tmp" "$TAR"
fi

NAME=ses-booted-$$
ROOT=/var/lib/machines/$NAME
LAB=$(mktemp -d /tmp/ses-booted.XXXXXX)
EMU_PID=
NSPAWN_PID=
cleanup() {
  local rc=$?
  set +e  # best effort from here: the test's verdict is rc
  [ -n "$EMU_PID" ] && kill "$EMU_PID" 2>/dev/null
  if [ -n "$NSPAWN_PID" ]; then
    kill -TERM "$NSPAWN_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$NSPAWN_PID" 2>/dev/null
  fi
  wait 2>/dev/null
  rm -rf "$ROOT" "$LAB"
  exit "$rc"
}
trap cleanup EXIT

step "unpacking and booting the container"
mkdir -p "$ROOT"
tar -C "$ROOT" -xf "$TAR"
cp "$DEB" "$ROOT/root/samba-entra-sync.deb"
echo dc1 > "$ROOT/etc/hostname"
# nspawn refuses to clean up its propagation directory on a /run that is not a tmpfs.
if ! mountpoint -q /run/systemd/nspawn 2>/dev/null && [ "$(stat -f -c %T /run)" != tmpfs ]; then
  mkdir -p /run/systemd/nspawn && mount -t tmpfs tmpfs /run/systemd/nspawn
fi
# --keep-unit and --register=no: the host's PID 1 need not be systemd (CI's is not).
systemd-nspawn --quiet --directory="$ROOT" --machine="$NAME" --boot --register=no --keep-unit \
  --console=pipe < /dev/null > "$LAB/console.log" 2>&1 &
NSPAWN_PID=$!
INIT=
for _ in $(seq 1 150); do
  # nspawn's first children are its own set-up processes; the container's PID 1 is the one
  # that became systemd.
  INIT=$( (ps -o pid=,comm= --ppid "$NSPAWN_PID" 2>/dev/null || true) | awk '$2 == "systemd" {print $1; exit}')
  [ -n "$INIT" ] && break
  sleep 0.2
done
[ -n "$INIT" ] || { cat "$LAB/console.log"; fail "the container did not start"; }
in_ct() { nsenter --target "$INIT" --all -- "$@"; }
state=
for _ in $(seq 1 150); do
  state=$(in_ct systemctl is-system-running 2>/dev/null || true)
  case "$state" in running|degraded) break ;; esac
  sleep 0.2
done
case "$state" in running|degraded) echo "container booted: $state" ;; *) cat "$LAB/console.log"; fail "the container's systemd did not finish booting ($state)" ;; esac

step "installing the package and provisioning a DC inside"
in_ct dpkg -i /root/samba-entra-sync.deb > "$LAB/dpkg.log" 2>&1 || { cat "$LAB/dpkg.log"; fail "dpkg -i"; }
in_ct systemctl is-enabled samba-entra-sync > /dev/null 2>&1 && fail "the package enabled the unit at install"
in_ct systemctl stop smbd nmbd winbind samba-ad-dc > /dev/null 2>&1 || true
in_ct rm -f /etc/samba/smb.conf
in_ct samba-tool domain provision --realm=LAB.TEST --domain=LAB --adminpass='Adm1n!Passw0rd' \
  --server-role=dc --dns-backend=NONE --host-name=dc1 --host-ip=127.0.0.1 \
  --option="interfaces=lo" --option="bind interfaces only=yes" > "$LAB/provision.log" 2>&1 \
  || { tail -n 30 "$LAB/provision.log"; fail "provision"; }
in_ct samba-entra-sync install-hook --apply > "$LAB/install-hook.log" 2>&1 || { cat "$LAB/install-hook.log"; fail "install-hook --apply"; }
in_ct systemctl disable --now smbd nmbd winbind > /dev/null 2>&1 || true
in_ct systemctl unmask samba-ad-dc > /dev/null 2>&1 || true
in_ct systemctl enable --now samba-ad-dc > /dev/null 2>&1 || fail "samba-ad-dc did not start"
for _ in $(seq 1 150); do
  in_ct ldbsearch -H ldap://127.0.0.1 -s base -b '' dnsHostName 2>/dev/null | grep -q dnsHostName && break
  sleep 0.2
done
in_ct samba-tool user create alice 'Al1ce!Pass-1' --mail-address=alice@lab.test > /dev/null

step "the emulator on the host; config and sign-in inside"
TENANT=$(cat /proc/sys/kernel/random/uuid)
# --password-hash-sync: the tenant's administrator turned it on (the daemon never does).
"$EMU_BIN" emulator --listen 127.0.0.1:0 --auto-approve --poll-interval 1 --tenant-id "$TENANT" --password-hash-sync \
  --data "$LAB/emu" > "$LAB/emu.out" 2> "$LAB/emu.log" &
EMU_PID=$!
URL=
for _ in $(seq 1 100); do
  URL=$(head -n 1 "$LAB/emu.out" 2>/dev/null | awk '{print $NF}' | sed 's#/$##')
  case "$URL" in http*) break ;; esac
  sleep 0.1
done
case "$URL" in http*) ;; *) fail "the emulator did not start" ;; esac
write_config() { # extra [sync] lines
  in_ct sh -c "umask 077; cat > /etc/samba-entra-sync/config.toml" <<EOF
version = 1
[samba]
sam_ldb = "/var/lib/samba/private/sam.ldb"
[entra]
tenant_id = "$TENANT"
authority = "$URL"
sync_endpoint = "$URL/provisioningservice.svc"
[sync]
source_anchor = "ms-DS-ConsistencyGuid"
$1
EOF
}
write_config 'interval = "1h"'
in_ct samba-entra-sync check-config --config /etc/samba-entra-sync/config.toml || fail "check-config"
in_ct samba-entra-sync login --config /etc/samba-entra-sync/config.toml > "$LAB/login.log" 2>&1 || { cat "$LAB/login.log"; fail "login"; }
# A short watchdog for the SIGSTOP check (the shipped unit says 60 s).
in_ct mkdir -p /run/systemd/system/samba-entra-sync.service.d
in_ct sh -c 'printf "[Service]\nWatchdogSec=6\nRestartSec=1\n" > /run/systemd/system/samba-entra-sync.service.d/test.conf'
in_ct systemctl daemon-reload

verify() { # password -> 0 when the emulator signs alice in with it
  grep -q '"valid":true' <<< "$(curl -s -X POST "$URL/admin/verify-password" -H 'Content-Type: application/json' \
    -d "{\"userPrincipalName\": \"alice@lab.test\", \"password\": \"$1\"}")"
}
wait_verify() { # password seconds
  for _ in $(seq 1 $(( $2 * 5 ))); do verify "$1" && return 0; sleep 0.2; done
  return 1
}

step "systemctl enable --now: active (running) through READY=1"
in_ct systemctl enable --now samba-entra-sync || { in_ct journalctl -u samba-entra-sync --no-pager | tail -n 30; fail "enable --now"; }
[ "$(in_ct systemctl show -p ActiveState --value samba-entra-sync)" = active ] || fail "not active"
[ "$(in_ct systemctl show -p SubState --value samba-entra-sync)" = running ] || fail "not running"
in_ct samba-entra-sync status --json > "$LAB/status.json" || fail "status over the system bus"
grep -q '"state": "running"' "$LAB/status.json" || { cat "$LAB/status.json"; fail "status does not say running"; }
echo "ok active (running), status running"

step "a password change reaches the emulator"
wait_verify 'Al1ce!Pass-1' 60 || fail "the initial sync did not deliver alice's password"
in_ct samba-tool user setpassword alice --newpassword='Al1ce!Pass-2' -H ldap://127.0.0.1 -U 'Administrator%Adm1n!Passw0rd' > /dev/null
wait_verify 'Al1ce!Pass-2' 10 || fail "the change did not reach the emulator"
echo "ok"

step "systemctl reload: an invalid config is refused, a valid one is taken"
MAIN=$(in_ct systemctl show -p MainPID --value samba-entra-sync)
in_ct sh -c 'echo "this is not toml" >> /etc/samba-entra-sync/config.toml'
in_ct systemctl reload samba-entra-sync || fail "reload"
sleep 1
[ "$(in_ct systemctl show -p MainPID --value samba-entra-sync)" = "$MAIN" ] || fail "the daemon restarted on a bad reload"
in_ct samba-tool user setpassword alice --newpassword='Al1ce!Pass-3' -H ldap://127.0.0.1 -U 'Administrator%Adm1n!Passw0rd' > /dev/null
wait_verify 'Al1ce!Pass-3' 10 || fail "password sync stopped after a refused reload"
grep -q '"reloadError"' <<< "$(in_ct samba-entra-sync status --json)" || fail "status does not show the refused reload"
write_config 'interval = "2h"'
in_ct systemctl reload samba-entra-sync || fail "reload"
sleep 1
grep -q 'config reloaded' <<< "$(in_ct journalctl -u samba-entra-sync --no-pager)" || fail "the valid config was not taken"
echo "ok"

step "SIGSTOP: the watchdog restarts the daemon"
MAIN=$(in_ct systemctl show -p MainPID --value samba-entra-sync)
in_ct kill -STOP "$MAIN"
NEW=$MAIN
for _ in $(seq 1 150); do
  NEW=$(in_ct systemctl show -p MainPID --value samba-entra-sync)
  [ "$NEW" != "$MAIN" ] && [ "$NEW" != 0 ] && [ "$(in_ct systemctl is-active samba-entra-sync)" = active ] && break
  sleep 0.2
done
[ "$NEW" != "$MAIN" ] || fail "the watchdog did not restart a stopped daemon"
grep -qi 'watchdog' <<< "$(in_ct journalctl -u samba-entra-sync --no-pager)" || fail "the journal does not say the watchdog fired"
echo "ok restarted ($MAIN -> $NEW)"

step "the journal: structured fields, no secret"
in_ct journalctl -u samba-entra-sync -o json --no-pager > "$LAB/journal.json"
grep -q '"F_ACCOUNT":"alice"' "$LAB/journal.json" || fail "no F_ACCOUNT field (tracing-journald's prefix) in the journal"
grep -q '"F_ANCHOR":' "$LAB/journal.json" || fail "no F_ANCHOR field in the journal"
# The passwords, the credential format, any JWT, and the refresh token itself (from the cache).
RT=$(in_ct python3 -c 'import json; print(json.load(open("/var/lib/samba-entra-sync/token.json"))["refresh_token"])')
[ ${#RT} -ge 16 ] || fail "no refresh token in the token cache"
for secret in 'Al1ce!Pass' 'Adm1n!Passw0rd' 'PPH1_MD4' 'eyJ' "$RT"; do
  grep -qF -- "$secret" "$LAB/journal.json" && fail "the journal holds a secret (${secret:0:8}...)"
done
echo "ok"

step "systemctl stop is clean"
in_ct systemctl stop samba-entra-sync
[ "$(in_ct systemctl show -p Result --value samba-entra-sync)" = success ] || fail "stop did not end cleanly"
echo "ok"

step "apt-get remove: refused while smb.conf runs the hook"
if in_ct env DEBIAN_FRONTEND=noninteractive apt-get remove -y samba-entra-sync > "$LAB/remove.log" 2>&1; then
  fail "the package was removed while smb.conf runs the hook"
fi
grep -q 'still runs the hook' "$LAB/remove.log" || { cat "$LAB/remove.log"; fail "the refusal does not say why"; }
in_ct samba-entra-sync install-hook --remove --apply > "$LAB/unhook.log" 2>&1 || { cat "$LAB/unhook.log"; fail "install-hook --remove --apply"; }
in_ct grep -qi 'check password script' /etc/samba/smb.conf && fail "install-hook --remove left the hook in smb.conf"
in_ct env DEBIAN_FRONTEND=noninteractive apt-get remove -y samba-entra-sync > "$LAB/remove.log" 2>&1 || { cat "$LAB/remove.log"; fail "remove"; }
in_ct test -d /var/lib/samba-entra-sync || fail "remove deleted the state (only purge may)"
in_ct env DEBIAN_FRONTEND=noninteractive apt-get purge -y samba-entra-sync > "$LAB/purge.log" 2>&1 || { cat "$LAB/purge.log"; fail "purge"; }
for p in /var/lib/samba-entra-sync /etc/samba-entra-sync /usr/bin/samba-entra-sync /usr/libexec/samba-entra-sync \
         /usr/lib/systemd/system/samba-entra-sync.service; do
  in_ct test -e "$p" && fail "purge left $p"
done
echo "ok"
echo "booted-test: PASS"
