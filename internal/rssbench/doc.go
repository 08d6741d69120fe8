// Package rssbench holds only a benchmark: BenchmarkRouterSession runs the
// real homenode and thingd binaries through a home router's working day (20
// accounts, Delta Chat pairing with three things and commands to them, 1,000
// messages submitted and fetched) and reports the peak (VmHWM) and steady
// (VmRSS after a short idle) resident memory of both processes.
//
//	go test ./internal/rssbench -run '^$' -bench RouterSession -benchtime 1x -v
//
// The binaries are built without cgo, as cross-compiled for a router;
// RSSBENCH_CGO=1 builds them as a plain "go build" here does. The memory of
// each phase is logged; RSSBENCH_LOG_DIR=dir keeps the processes' logs (with
// GODEBUG=gctrace=1, say). It needs the Delta Chat core (DELTACHAT_RPC_SERVER
// or scripts/bootstrap.sh) and is skipped with -short.
package rssbench
