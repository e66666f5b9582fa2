#!/usr/bin/env bash
# The package install test: builds the .deb, installs it on this machine with `dpkg -i`, checks
# what went where (files, modes, conffile, dependencies, nothing enabled or started), then runs
# the INSTALLED binary against a lab: a throwaway DC (own netns) wired with the installed hook
# by `samba-entra-sync install-hook --apply`, a private dbus-daemon that enforces the installed
# D-Bus policy, the emulator (installed binary) on 127.0.0.1, and the installed daemon run
# directly (PID 1 is not systemd here). A password changed on the DC must sign in at the
# emulator. The package is purged at the end. Run as root on a throwaway Debian 12 machine.
set -euo pipefail
cd "$(dirname "$0")/.."
PKG=samba-entra-sync
BIN=/usr/bin/samba-entra-sync
HOOK=/usr/libexec/samba-entra-sync/samba-entra-sync-hook

[ "$(id -u)" = 0 ] || { echo "deb-test: run as root (it installs the package)" >&2; exit 1; }
if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q 'install ok installed'; then
  echo "deb-test: $PKG is already installed on this machine; remove it first (dpkg -r $PKG)" >&2
  exit 1
fi

step() { printf '\n==> %s\n' "$*"; }
fail() { echo "deb-test: FAIL: $*" >&2; exit 1; }

step "building the package"
# --fast: lighter compression; the contents are those of the release package.
DEB=$(./scripts/deb.sh --fast)
[ -f "$DEB" ] || fail "scripts/deb.sh did not produce a .deb ($DEB)"
echo "$DEB"

LAB=$(mktemp -d /tmp/ses-deb-test.XXXXXX)
NS=ses-deb-$$
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if ip netns list 2>/dev/null | grep -qw "$NS"; then
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
  fi
  wait 2>/dev/null || true
  if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q 'installed'; then
    dpkg --purge "$PKG" > "$LAB/purge.log" 2>&1 || { cat "$LAB/purge.log"; echo "deb-test: purge failed" >&2; }
  fi
  rm -rf "$LAB"
}
trap cleanup EXIT

step "dpkg -i"
dpkg -i "$DEB" | tee "$LAB/install.log"
grep -q 'installed but not running' "$LAB/install.log" || fail "postinst did not tell the administrator what to do next"

step "files, modes, conffile, dependencies"
check_mode() { # path mode
  [ -e "$1" ] || fail "$1 is missing"
  m=$(stat -c %a "$1"); [ "$m" = "$2" ] || fail "$1 has mode $m, want $2"
  echo "ok $2 $1"
}
check_mode "$BIN" 755
check_mode "$HOOK" 755
check_mode /usr/lib/systemd/system/samba-entra-sync.service 644
check_mode /usr/share/dbus-1/system.d/io.github.SambaEntraSync1.conf 644
check_mode /usr/lib/tmpfiles.d/samba-entra-sync.conf 644
check_mode /etc/samba-entra-sync 700
check_mode /etc/samba-entra-sync/config.toml 600
check_mode /var/lib/samba-entra-sync 700
check_mode /usr/share/doc/samba-entra-sync/README.md 644
check_mode /usr/share/bash-completion/completions/samba-entra-sync 644
grep -q 'complete .*samba-entra-sync' /usr/share/bash-completion/completions/samba-entra-sync || fail "the bash completion does not complete samba-entra-sync"
for page in /usr/share/man/man8/samba-entra-sync.8 /usr/share/man/man5/samba-entra-sync.toml.5; do
  f=
  for candidate in "$page" "$page.gz"; do [ -e "$candidate" ] && f=$candidate; done
  [ -n "$f" ] || fail "$page is not installed"
  text=$(MANWIDTH=80 man -l "$f" 2>&1) || fail "man -l $f failed: $text"
  grep -q 'samba-entra-sync' <<< "$text" || fail "man -l $f rendered nothing useful"
  echo "ok man -l $f ($(wc -l <<< "$text") lines)"
done
grep -q 'deletion_threshold' <<< "$(MANWIDTH=80 man -l /usr/share/man/man5/samba-entra-sync.toml.5.gz)" \
  || fail "the config man page lacks deletion_threshold"
dpkg-query -W -f='${Conffiles}\n' "$PKG" | grep -q '/etc/samba-entra-sync/config.toml' || fail "config.toml is not a conffile"
deps=$(dpkg-query -W -f='${Depends}' "$PKG")
echo "Depends: $deps"
for d in samba dbus ca-certificates libdbus-1-3 libc6; do
  echo "$deps" | grep -Eq "(^|, )$d( |,|$)" || fail "Depends lacks $d"
done
# Nothing may be enabled or started before the administrator configured it.
[ ! -e /etc/systemd/system/multi-user.target.wants/samba-entra-sync.service ] || fail "the unit was enabled at install"
cmp -s etc/samba-entra-sync.toml /etc/samba-entra-sync/config.toml || fail "config.toml is not the example config"
"$BIN" --version
"$HOOK" --help < /dev/null > /dev/null 2>&1 || true
ldd "$BIN" "$HOOK" | grep -q 'not found' && fail "a shared library of the installed binaries is missing"
readelf -W -S "$BIN" | grep -Eq '\.debug_(info|line) ' && fail "the installed binary carries debug info (it belongs in the -dbgsym package)"

step "a private D-Bus system bus enforcing the installed policy"
cat > "$LAB/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path=$LAB/bus.sock</listen><auth>EXTERNAL</auth>
<policy context="default">
  <allow user="*"/><deny own="*"/><deny send_type="method_call"/><allow send_type="signal"/>
  <allow send_requested_reply="true" send_type="method_return"/><allow send_requested_reply="true" send_type="error"/>
  <allow receive_type="method_call"/><allow receive_type="method_return"/><allow receive_type="error"/><allow receive_type="signal"/>
  <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
  <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
</policy>
<includedir>/usr/share/dbus-1/system.d</includedir>
</busconfig>
CONF
dbus-daemon --config-file="$LAB/bus.conf" --nofork --nopidfile > /dev/null 2>&1 &
PIDS+=($!)
BUS=unix:path=$LAB/bus.sock
for _ in $(seq 50); do [ -S "$LAB/bus.sock" ] && break; sleep 0.1; done
[ -S "$LAB/bus.sock" ] || fail "dbus-daemon did not start"

step "the emulator (installed binary) on 127.0.0.1"
mkfifo "$LAB/emu.out"
"$BIN" emulator --listen 127.0.0.1:0 --auto-approve --poll-interval 1 --password-hash-sync --data "$LAB/emulator" > "$LAB/emu.out" 2> "$LAB/emulator.log" &
PIDS+=($!)
exec 3< "$LAB/emu.out"
read -r -u 3 banner
read -r -u 3 tenant_line
URL=${banner##* }
URL=${URL%/}
TENANT=${tenant_line##* }
echo "emulator at $URL, tenant $TENANT"

step "a lab DC, wired with the installed hook by install-hook --apply"
: > "$LAB/empty.conf"
samba-tool domain provision -s "$LAB/empty.conf" --targetdir="$LAB/dc" \
  --realm=LAB.TEST --domain=LAB --adminpass='Adm1n!Passw0rd' --server-role=dc --dns-backend=NONE \
  --host-name=dc1 --host-ip=127.0.0.1 --option="interfaces=lo" --option="bind interfaces only=yes" \
  --option="server services=rpc, ldap, cldap, kdc, drepl, kcc" --option="disable netbios=yes" \
  --option="log file=$LAB/dc/log.samba" --option="pid directory=$LAB/dc/run" > "$LAB/provision.log" 2>&1 \
  || { tail -20 "$LAB/provision.log"; fail "provisioning the lab DC failed"; }
SAM=$LAB/dc/private/sam.ldb
CONF=$LAB/dc/etc/smb.conf
samba-tool domain passwordsettings set -H "$SAM" -s "$CONF" --min-pwd-age=0 --history-length=0 > /dev/null
samba-tool user create alice 'Alice!Pass-1' --mail-address=alice@lab.test -H "$SAM" -s "$CONF" > /dev/null
"$BIN" install-hook --smb-conf "$CONF" --apply | tee "$LAB/install-hook.log"
grep -Eq "^[[:space:]]*check password script = $HOOK\$" "$CONF" || fail "install-hook did not write the line"
ls "$CONF".bak-* > /dev/null || fail "install-hook kept no backup"
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
(DBUS_SYSTEM_BUS_ADDRESS=$BUS ip netns exec "$NS" samba -i -s "$CONF" < /dev/zero > "$LAB/samba.out" 2>&1) &
PIDS+=($!)
for _ in $(seq 150); do
  ip netns exec "$NS" ldbsearch -H ldap://127.0.0.1 -s base -b '' dnsHostName 2>/dev/null | grep -q '^dnsHostName' && break
  sleep 0.2
done

step "the installed daemon, run directly"
mkdir -m 0700 "$LAB/state"
cat > "$LAB/config.toml" <<CONF
version = 1
[samba]
sam_ldb = "$SAM"
[entra]
tenant_id = "$TENANT"
authority = "$URL"
sync_endpoint = "$URL/provisioningservice.svc"
[entra.auth]
method = "refresh_token"
token_cache = "$LAB/state/token.json"
[sync]
source_anchor = "ms-DS-ConsistencyGuid"
[state]
db = "$LAB/state/state.db"
[dbus]
bus = "$BUS"
CONF
"$BIN" check-config --config "$LAB/config.toml"
"$BIN" login --config "$LAB/config.toml" > "$LAB/login.log" 2>&1 || { cat "$LAB/login.log"; fail "login"; }
RUST_LOG=info,samba_entra_sync=debug "$BIN" daemon --config "$LAB/config.toml" > "$LAB/daemon.log" 2>&1 &
PIDS+=($!)
verify() { curl -s -X POST "$URL/admin/verify-password" -H 'Content-Type: application/json' \
  --data "{\"userPrincipalName\": \"$1\", \"password\": \"$2\"}" | grep -q '"valid":true'; }
for _ in $(seq 300); do verify alice@lab.test 'Alice!Pass-1' && break; sleep 0.1; done
verify alice@lab.test 'Alice!Pass-1' || { tail -30 "$LAB/daemon.log"; fail "the initial sync did not deliver alice's password"; }
echo "initial sync: alice's password signs in at the emulator"

step "a password change on the DC reaches the emulator through the installed hook"
ip netns exec "$NS" samba-tool user setpassword alice --newpassword='Alice!Pass-2' -s "$CONF" \
  -H ldap://127.0.0.1 -U 'Administrator%Adm1n!Passw0rd' > /dev/null
for _ in $(seq 200); do verify alice@lab.test 'Alice!Pass-2' && break; sleep 0.05; done
verify alice@lab.test 'Alice!Pass-2' || { tail -30 "$LAB/daemon.log"; fail "the change did not reach the emulator"; }
verify alice@lab.test 'Alice!Pass-1' && fail "the old password still signs in"
# The hook (not only the safety-net poll) told the daemon: its call passed the installed policy.
grep -q 'password change committed account=alice' "$LAB/daemon.log" \
  || { tail -30 "$LAB/daemon.log"; fail "the hook's notice did not reach the daemon"; }
"$BIN" user alice --bus "$BUS" | tee "$LAB/user.txt"
"$BIN" status --bus "$BUS" > /dev/null || fail "status over the policy-enforcing bus"
mode=$(stat -c %a "$LAB/state/state.db"); [ "$mode" = 600 ] || fail "state.db has mode $mode"

step "dpkg -r / purge"
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
PIDS=()
ip netns del "$NS" 2>/dev/null || true
# While an smb.conf still runs the hook, removing it would make Samba refuse every password change.
if SAMBA_ENTRA_SYNC_SMB_CONF=$CONF dpkg -r "$PKG" > "$LAB/remove.log" 2>&1; then
  fail "dpkg -r went ahead although smb.conf still runs the hook"
fi
grep -q 'still runs the hook' "$LAB/remove.log" || { cat "$LAB/remove.log"; fail "prerm did not say why"; }
[ -x "$HOOK" ] || fail "the refused removal still removed the hook"
dpkg -r "$PKG" > /dev/null
[ ! -e "$BIN" ] && [ ! -e "$HOOK" ] || fail "dpkg -r left the binaries"
[ -e /etc/samba-entra-sync/config.toml ] || fail "dpkg -r removed the conffile (only purge may)"
dpkg --purge "$PKG" > /dev/null
[ ! -e /etc/samba-entra-sync ] && [ ! -e /var/lib/samba-entra-sync ] || fail "purge left /etc or /var/lib behind"
echo
echo "deb-test: ok"
