// Package demo starts a demo home in one process, on loopback: a homenode
// with a demo domain and accounts, and simulated things run by package thing.
// The app's first run and `thingctl demo` use it, and so do end-to-end tests,
// which get a real mail server on real sockets from it.
package demo
