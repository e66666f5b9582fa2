#!/usr/bin/env bash
# The demo of the README: a throwaway Samba AD DC (in its own network namespace, with the
# samba-entra-sync hook as its check password script), a private D-Bus, the Entra emulator and
# the daemon. A password changed on the DC signs in at the emulator; the script measures how
# long that took. Run as root on Debian 12. Touches nothing of the host's Samba and removes
# everything when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# install-deps.sh installs Rust with rustup into ~/.cargo/bin when cargo is missing or too old
# (Debian 12's is): that must be on PATH for the cargo commands below.
export PATH="$HOME/.cargo/bin:$PATH"
./scripts/install-deps.sh

echo "==> building samba-entra-sync (release) and the hook"
cargo build --release --quiet
make -s -C samba-hook
BIN=$ROOT/target/release/samba-entra-sync
HOOK=$ROOT/samba-hook/samba-entra-sync-hook

LAB=$(mktemp -d /tmp/samba-entra-sync-demo.XXXXXX)
NS=ses-demo-$$
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if ip netns list 2>/dev/null | grep -qw "$NS"; then
    for p in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
  fi
  wait 2>/dev/null || true
  rm -rf "$LAB"
}
trap cleanup EXIT
step() { printf '\n==> %s\n' "$*"; }
ms() { date +%s%3N; }

step "a private D-Bus system bus"
cat > "$LAB/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path=$LAB/bus.sock</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/></policy>
</busconfig>
EOF
dbus-daemon --config-file="$LAB/bus.conf" --nofork --nopidfile > /dev/null 2>&1 &
PIDS+=($!)
BUS=unix:path=$LAB/bus.sock
for _ in $(seq 50); do [ -S "$LAB/bus.sock" ] && break; sleep 0.1; done

step "the Entra emulator on 127.0.0.1"
mkfifo "$LAB/emu.out"
"$BIN" emulator --listen 127.0.0.1:0 --auto-approve --poll-interval 1 --password-hash-sync --data "$LAB/emulator" > "$LAB/emu.out" 2> "$LAB/emulator.log" &
PIDS+=($!)
exec 3< "$LAB/emu.out"
read -r -u 3 banner
read -r -u 3 tenant_line
URL=${banner##* }
TENANT=${tenant_line##* }
echo "emulator at $URL, tenant $TENANT"

step "a throwaway Samba AD DC (LAB.TEST) with the hook as its check password script"
: > "$LAB/empty.conf"
samba-tool domain provision -s "$LAB/empty.conf" --targetdir="$LAB/dc" \
  --realm=LAB.TEST --domain=LAB --adminpass='Adm1n!Passw0rd' --server-role=dc --dns-backend=NONE \
  --host-name=dc1 --host-ip=127.0.0.1 --option="interfaces=lo" --option="bind interfaces only=yes" \
  --option="server services=rpc, ldap, cldap, kdc, drepl, kcc" --option="disable netbios=yes" \
  --option="check password script=$HOOK" --option="log file=$LAB/dc/log.samba" \
  --option="pid directory=$LAB/dc/run" > "$LAB/provision.log" 2>&1 || { tail -20 "$LAB/provision.log"; exit 1; }
SAM=$LAB/dc/private/sam.ldb
CONF=$LAB/dc/etc/smb.conf
samba-tool domain passwordsettings set -H "$SAM" -s "$CONF" --min-pwd-age=0 --history-length=0 > /dev/null
for u in alice bob carol; do
  samba-tool user create "$u" "${u^}!Pass-1" --mail-address="$u@lab.test" -H "$SAM" -s "$CONF" > /dev/null
done
samba-tool group add staff -H "$SAM" -s "$CONF" > /dev/null
samba-tool group addmembers staff alice,bob -H "$SAM" -s "$CONF" > /dev/null
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
(DBUS_SYSTEM_BUS_ADDRESS=$BUS ip netns exec "$NS" samba -i -s "$CONF" < /dev/zero > "$LAB/samba.out" 2>&1) &
PIDS+=($!)
for _ in $(seq 150); do
  ip netns exec "$NS" ldbsearch -H ldap://127.0.0.1 -s base -b '' dnsHostName 2>/dev/null | grep -q '^dnsHostName' && break
  sleep 0.2
done
echo "samba is up (users alice, bob, carol; group staff)"

step "the daemon: config, device-code sign-in, start"
mkdir -p "$LAB/state"
cat > "$LAB/config.toml" <<EOF
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
EOF
"$BIN" check-config --config "$LAB/config.toml"
"$BIN" login --config "$LAB/config.toml"
"$BIN" daemon --config "$LAB/config.toml" > "$LAB/daemon.log" 2>&1 &
PIDS+=($!)
verify() { curl -s -X POST "$URL/admin/verify-password" -H 'Content-Type: application/json' \
  --data "{\"userPrincipalName\": \"$1\", \"password\": \"$2\"}" | grep -q '"valid":true'; }
for _ in $(seq 300); do verify alice@lab.test 'Alice!Pass-1' && break; sleep 0.1; done
verify alice@lab.test 'Alice!Pass-1' || { tail -30 "$LAB/daemon.log"; echo "the initial sync did not arrive"; exit 1; }
echo "initial sync done: alice's current password signs in at the emulator"

step "changing alice's password on the DC (samba-tool over LDAP, as an administrator would)"
ip netns exec "$NS" samba-tool user setpassword alice --newpassword='Alice!Pass-2' -s "$CONF" \
  -H ldap://127.0.0.1 -U 'Administrator%Adm1n!Passw0rd' > /dev/null
t0=$(ms)
until verify alice@lab.test 'Alice!Pass-2'; do
  [ $(( $(ms) - t0 )) -gt 20000 ] && { tail -30 "$LAB/daemon.log"; echo "not delivered"; exit 1; }
  sleep 0.005
done
t1=$(ms)
echo "Entra (the emulator) accepts alice's new password $((t1 - t0)) ms after samba-tool returned."
verify alice@lab.test 'Alice!Pass-1' && echo "BUG: the old password still signs in" || echo "The old password no longer signs in."

step "samba-entra-sync status"
"$BIN" status --bus "$BUS"
step "samba-entra-sync user alice"
"$BIN" user alice --bus "$BUS"
step "what the tenant holds (GET $URL/admin/objects)"
curl -s "$URL/admin/objects?type=User" | python3 -c '
import json, sys
for o in json.load(sys.stdin):
    upn = o["attributes"].get("userPrincipalName", "")
    got = (o.get("credential") or {}).get("receivedAt", "-")
    print("%-6s %-22s anchor %s  password received %s" % (o["objectType"], upn, o["sourceAnchor"], got))'
curl -s "$URL/admin/objects?type=Group" | python3 -c '
import json, sys
for o in json.load(sys.stdin):
    name = o["attributes"].get("displayName", "")
    print("%-6s %-22s members %d" % (o["objectType"], name, len(o.get("members") or [])))'
echo
echo "demo finished; everything it made is being removed."
