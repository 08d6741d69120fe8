#!/usr/bin/env bash
# run.sh: build and start the Thingpost app. On its first run it offers "Try
# the demo home": a mail node and three simulated things (a light, a
# thermostat and a lock) inside the app, ready to pair by their QR codes.
# Installs what it needs first (bootstrap.sh). The first build of the app
# takes a few minutes (OpenGL bindings); later builds take seconds.
#
# Without a display (no $DISPLAY or $WAYLAND_DISPLAY) it runs the same demo
# home on the terminal instead: `thingctl demo --pair`.
# Extra arguments go to the app (e.g. -data DIR, -debug) or to thingctl demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
. scripts/env.sh
mkdir -p bin
# Fyne wants a UTF-8 locale.
case "${LANG:-C}" in C | POSIX) export LANG=C.UTF-8 ;; esac
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "building the app (the first build takes a few minutes)..." >&2
  go build -o bin/thingpost .
  exec bin/thingpost "$@"
fi
echo "no display: running the demo home on the terminal (thingctl demo)" >&2
go build -o bin/thingctl ./cmd/thingctl
export THINGPOST_DATA=${THINGPOST_DATA:-$PWD/.cache/demo-data}
export THINGPOST_PASSPHRASE=${THINGPOST_PASSPHRASE:-demo passphrase}
exec bin/thingctl --no-keyring demo --pair "$@"
