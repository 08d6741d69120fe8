#!/usr/bin/env bash
# run.sh: the demo. Installs what it needs (bootstrap.sh), then starts a demo
# home on loopback (a mail node and three simulated things: a light, a
# thermostat and a lock), pairs a person with them, and leaves it running.
# Extra arguments go to `thingctl demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
. scripts/env.sh
mkdir -p bin
go build -o bin/thingctl ./cmd/thingctl
go build -o bin/thingd ./cmd/thingd
go build -o bin/homenode ./cmd/homenode
export THINGPOST_DATA=${THINGPOST_DATA:-$PWD/.cache/demo-data}
export THINGPOST_PASSPHRASE=${THINGPOST_PASSPHRASE:-demo passphrase}
exec bin/thingctl --no-keyring demo --pair "$@"
