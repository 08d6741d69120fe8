// Package rssbench holds only a benchmark: BenchmarkRouterSession runs the
// real homenode and thingd binaries through a home router's working day (20
// accounts, Delta Chat pairing with three things and commands to them, 1,000
// messages submitted and fetched) and reports the peak (VmHWM) and steady
// (VmRSS after a short idle) resident memory of both processes.
//
//	go test ./internal/rssbench -run '^$' -bench RouterSession -benchtime 1x -v
package rssbench
