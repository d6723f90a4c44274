#!/usr/bin/env bash
# Starts the real PC/SC daemon (with the vpcd virtual readers) for the chip
# tests, unless one is already answering. Idempotent.
set -euo pipefail
if pgrep -x pcscd >/dev/null 2>&1; then
  exit 0
fi
mkdir -p /run/pcscd
pcscd --auto-exit 2>/dev/null || pcscd
# give it a moment to load the vpcd driver and open its ports
for i in $(seq 1 50); do
  if pgrep -x pcscd >/dev/null; then break; fi
  sleep 0.1
done
