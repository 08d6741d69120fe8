// Package homenode is the home mail node: configuration (a commented TOML file
// in the data directory), "init" (self-signed TLS certificate, DKIM key,
// config), and the Node that runs every listener over one mail store.
//
// The protocol front ends live in the sub-packages (smtpd, imapd, queue,
// accounts) and the only code that knows bbolt is mailstore; this package
// wires them together and knows no message crypto: the node never holds a
// private key of a mail user and never needs plaintext.
package homenode
