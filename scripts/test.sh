#!/usr/bin/env bash
# test.sh: the whole test suite, then the app's smoke test under Xvfb.
# Installs what it needs first (bootstrap.sh). With arguments it runs only
# `go test` with them (e.g. scripts/test.sh -run TestOpen ./envelope).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
. scripts/env.sh
go vet ./...
if [ $# -gt 0 ]; then
  exec go test -race -timeout 25m "$@"
fi
go test -race -timeout 25m ./...
# The real app binary under Xvfb: the demo, by keyboard, with no Fyne
# threading errors. Its screenshots go to a temporary directory here, so a
# test run leaves docs/ alone.
shots=$(mktemp -d)
trap 'rm -rf "$shots"' EXIT
THINGPOST_SCREENSHOTS=$shots scripts/smoke-gui.sh
