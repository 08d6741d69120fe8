#!/usr/bin/env bash
# test.sh: the whole test suite. Installs what it needs first (bootstrap.sh).
# Extra arguments go to `go test` (e.g. scripts/test.sh -run TestOpen ./envelope).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
. scripts/env.sh
go vet ./...
if [ $# -eq 0 ]; then set -- ./...; fi
go test -race -timeout 25m "$@"
