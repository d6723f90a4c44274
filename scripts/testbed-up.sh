#!/usr/bin/env bash
# Starts the real PC/SC daemon (with the vpcd virtual readers) for the chip
# tests, unless one is already running. Idempotent. No --auto-exit: the
# daemon must outlive idle gaps between test packages.
set -euo pipefail

# Avahi (and the system D-Bus it needs) for ippeveprinter in the IPP tests,
# which would otherwise start them themselves.
if command -v avahi-daemon >/dev/null 2>&1 && ! avahi-daemon --check 2>/dev/null; then
  mkdir -p /run/dbus
  # A socket nobody listens on (and its pid file) are left from the image
  # the machine was started from; dbus-daemon refuses to start over them.
  if ! timeout 5 dbus-send --system --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.GetId >/dev/null 2>&1; then
    rm -f /run/dbus/system_bus_socket /run/dbus/pid
    dbus-daemon --system --fork || true
  fi
  avahi-daemon -D || echo "testbed-up: avahi-daemon did not start; the IPP tests will try again" >&2
fi
if [ -s /run/pcscd/pcscd.pid ] && kill -0 "$(tr -d '\000' < /run/pcscd/pcscd.pid)" 2>/dev/null; then
  exit 0
fi
if pgrep -x pcscd >/dev/null 2>&1; then
  exit 0
fi
mkdir -p /run/pcscd
# no pcscd runs: a socket or pid file left from the machine's image is stale
rm -f /run/pcscd/pcscd.comm /run/pcscd/pcscd.pid
pcscd   # daemonizes
# wait until it answers (its socket exists) and has written its pid file,
# so `go test` and `make demo` right after find it and its readers
for _ in $(seq 1 100); do
  if [ -S /run/pcscd/pcscd.comm ] && [ -s /run/pcscd/pcscd.pid ]; then exit 0; fi
  sleep 0.1
done
echo "testbed-up: pcscd started but its socket /run/pcscd/pcscd.comm never appeared" >&2
exit 1
