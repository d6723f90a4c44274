#!/usr/bin/env bash
# Installs the Debian packages the build, the demo and the tests need, only
# when some are missing. Runs as root on a fresh Debian 12 machine (CI does),
# or through sudo for a normal user.
set -euo pipefail

pkgs=(
  gcc pkg-config
  libusb-1.0-0-dev      # gousb (cgo)
  libpcsclite-dev       # ebfe/scard (cgo)
  pcscd pcsc-tools      # the real PC/SC daemon for the chip tests
  vsmartcard-vpcd python3-virtualsmartcard python3-pycryptodome   # virtual reader + card
  sqlite3               # tamper tests edit the DB with the real tool
  chromium              # browser tests
  fonts-dejavu-core
  zbar-tools            # card tests read the printed QR code back
  systemd               # systemd-analyze for the unit checks
  prometheus            # promtool test rules deploy/prometheus/alerts_test.yml
  lintian               # make deb checks the package
  cups cups-ipp-utils   # the IPP driver's tests: a real cupsd and ippeveprinter
  avahi-daemon dbus     # ippeveprinter needs DNS-SD even with -r off
  poppler-utils         # pdftoppm: the duplex PDF sent to a queue is rasterized back
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing missing Debian packages: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq </dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
