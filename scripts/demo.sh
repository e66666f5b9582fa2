#!/usr/bin/env bash
# The demo of the README: a throwaway Samba AD DC in a temp dir, a few users, and what
# samba-entra-sync reads from its sam.ldb. Run as root on Debian 12; touches nothing of the host's
# Samba (/etc/samba is never read or written) and removes everything when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

echo "==> building samba-entra-sync (release)"
cargo build --release --quiet
BIN=$PWD/target/release/samba-entra-sync

LAB=$(mktemp -d /tmp/samba-entra-sync-demo.XXXXXX)
trap 'rm -rf "$LAB"' EXIT
: > "$LAB/empty.conf"
echo "==> provisioning a throwaway domain LAB.TEST in $LAB"
samba-tool domain provision -s "$LAB/empty.conf" --targetdir="$LAB/dc" \
  --realm=LAB.TEST --domain=LAB --adminpass='Adm1n!Passw0rd' --server-role=dc --dns-backend=NONE \
  --host-name=dc1 --host-ip=127.0.0.1 --option="interfaces=lo" --option="bind interfaces only=yes" \
  > "$LAB/provision.log" 2>&1 || { tail -20 "$LAB/provision.log"; exit 1; }
SAM=$LAB/dc/private/sam.ldb
tool() { samba-tool "$@" -H "$SAM" -s "$LAB/dc/etc/smb.conf" > /dev/null; }

echo "==> creating users alice, bob (disabled), carol (must change password) and a group"
tool user create alice 'Al1ce!Pass-1' --given-name=Alice --surname=Liddell --mail-address=alice@lab.test
tool user create bob 'B0b!Pass-1'
tool user disable bob
tool user create carol 'Car0l!Pass-1' --must-change-at-next-login
tool group add staff
tool group addmembers staff alice,bob

echo "==> samba-entra-sync directory dump --sam-ldb $SAM"
"$BIN" directory dump --sam-ldb "$SAM"

echo
echo "==> alice as JSON, with her NT hash, compared with an independent MD4 of her password"
"$BIN" directory dump --sam-ldb "$SAM" --json --show-nt-hash 2>/dev/null \
  | python3 -c 'import json,sys; print(json.dumps([o for o in json.load(sys.stdin) if o["sAMAccountName"]=="alice"][0], indent=2))'
printf 'MD4(UTF-16LE(password)) = '
printf '%s' 'Al1ce!Pass-1' | iconv -f UTF-8 -t UTF-16LE | openssl dgst -md4 -provider legacy -provider default | awk '{print toupper($NF)}'
