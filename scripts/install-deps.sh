#!/usr/bin/env bash
# Install the Debian 12 packages samba-entra-sync needs to build, test and demo.
# Idempotent and quiet when everything is already present. Runs as root.
set -euo pipefail

RUNTIME="samba samba-ad-dc samba-ad-provision samba-dsdb-modules winbind python3-samba ldb-tools ldap-utils krb5-user smbclient dbus-daemon"
BUILD="libldb-dev libtalloc-dev libtevent-dev samba-dev pkg-config libclang-dev clang gcc make libdbus-1-dev libsqlite3-dev"
# chromium: tests/tenant_page.rs renders the emulator's page headless.
TEST="valgrind systemd sqlite3 iproute2 curl chromium"
WANT="$RUNTIME $BUILD $TEST ${EXTRA_PACKAGES:-}"

missing=()
for p in $WANT; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "install-deps: missing Debian packages (${missing[*]}); run this script as root" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Debian's samba postinst starts smbd/nmbd/samba-ad-dc through invoke-rc.d when nothing forbids it:
# forbid it for the duration of the install, so the host never gets a running DC by accident.
made_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1
fi
trap '[ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq
apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null
