#!/usr/bin/env bash
# Installs the Debian packages wause builds and tests with, if any are missing. Idempotent: when
# everything is present it changes nothing and touches no network.
#   scripts/setup-system.sh [EXTRA_PACKAGE...]   (extra packages for one target, e.g. `make bench`)
set -euo pipefail

packages=(
  libsodium-dev libsqlite3-dev libmicrohttpd-dev libqrencode-dev zlib1g-dev   # linked by libwause / wause-mcp
  libturbojpeg0-dev libpng-dev libwebp-dev libopusfile-dev                   # media: thumbnails, image sizes, voice waveforms
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

# Another apt process (a colleague's build, unattended-upgrades) may hold apt's locks. apt-get's
# DPkg::Lock::Timeout waits for dpkg's frontend lock only: `apt-get update` still fails at once on
# the lists lock ("Could not get lock /var/lib/apt/lists/lock"). So apt_get waits while any process
# holds one of apt's lock files (POSIX or flock locks, as /proc/locks lists them), and runs apt-get
# again when it failed on a lock anyway, until WAUSE_APT_LOCK_TIMEOUT seconds (default 600) passed.
lock_deadline=$((SECONDS + ${WAUSE_APT_LOCK_TIMEOUT:-600}))
apt_lock_files=(/var/lib/apt/lists/lock /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/cache/apt/archives/lock)

apt_lock_held() {
  local file inode
  for file in "${apt_lock_files[@]}"; do
    [ -e "$file" ] || continue
    inode=$(stat -c %i "$file")
    # /proc/locks: "1: POSIX  ADVISORY  WRITE PID MAJOR:MINOR:INODE START END"
    if grep -Eq " [0-9a-f]+:[0-9a-f]+:$inode " /proc/locks 2>/dev/null; then return 0; fi
  done
  return 1
}

wait_for_apt_locks() {
  local said=""
  while apt_lock_held && [ "$SECONDS" -lt "$lock_deadline" ]; do
    if [ -z "$said" ]; then echo "setup: another apt process holds apt's locks; waiting for it"; said=1; fi
    sleep 2
  done
}

apt_get() {
  local errors status
  errors=$(mktemp)
  while :; do
    wait_for_apt_locks
    status=0
    "${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=$((lock_deadline > SECONDS ? lock_deadline - SECONDS : 0)) \
      "$@" 2> "$errors" || status=$?
    cat "$errors" >&2
    if [ "$status" -eq 0 ]; then rm -f "$errors"; return 0; fi
    if ! grep -Eqi 'could not get lock|unable to (acquire|lock)' "$errors" || [ "$SECONDS" -ge "$lock_deadline" ]; then
      rm -f "$errors"; return "$status"
    fi
    echo "setup: apt-get $1 found a lock held; trying again"
    sleep 2
  done
}

apt_get update -qq
apt_get install -y -qq --no-install-recommends "${missing[@]}"
