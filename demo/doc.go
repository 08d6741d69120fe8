// Package demo starts a demo home in one process, on loopback: a homenode
// with a demo domain and accounts, and simulated things run by package thing.
// End-to-end tests get a real mail server on real sockets from Start.
//
// Host runs the demo home for an app: the GUI's first run and `thingctl
// demo` start it with Host.Run, which makes the profile when there is none
// and makes the home's person account the app's. Package app knows nothing
// of the demo: the Host keeps its own record (demo.json in the app's data
// directory) saying that the account is the demo's, and Host.Start starts
// the home again before the app when nothing answers on its port, so after
// a restart a GUI only unlocks and starts the app through its Host.
package demo
