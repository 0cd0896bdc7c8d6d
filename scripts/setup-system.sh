#!/usr/bin/env bash
# Installs the Debian packages wause builds and tests with, if any are missing. Idempotent: when
# everything is present it changes nothing and touches no network.
#   scripts/setup-system.sh [EXTRA_PACKAGE...]   (extra packages for one target, e.g. `make bench`)
set -euo pipefail

packages=(
  libsodium-dev libsqlite3-dev libmicrohttpd-dev libqrencode-dev zlib1g-dev   # linked by libwause / wause-mcp
  pkg-config gcc make binutils util-linux                                     # build, pkg-config, nm/readelf, unshare
  nodejs sqlite3 openssl                                                      # node headers for the addon; sqlite3 CLI and certificates for tests
  "$@"
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq
"${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}"
