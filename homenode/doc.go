// Package homenode is the home mail node: configuration (a commented TOML file
// in the data directory), "init" (self-signed TLS certificate, DKIM key,
// config), and the Node that runs every listener over one mail store.
//
// The protocol front ends live in the sub-packages (smtpd, imapd, queue,
// accounts) and the only code that knows bbolt is mailstore; this package
// wires them together and knows no message crypto: the node never holds a
// private key of a mail user and never needs plaintext.
//
// API summary
//
//	Init(InitOptions) (*InitResult, error)    // DIR 0700: homenode.toml, tls/, dkim/ (files 0600)
//	LoadConfig(dir) (*Config, error)          // errors are *ConfigError: file:line: key: problem
//	ParseConfig(name, data), (*Config).Validate
//	(*Config).StoreLimits() mailstore.Limits  // [quota]: per account (overrides by address), store, free disk
//	Start(ctx, cfg, log) (*Node, error)       // binds every listener, then serves
//	(*Node).Shutdown(ctx)                     // SMTP in flight finishes, IMAP closes, queue stops, store closes
//	(*Node).Status(ctx), (*Node).Addr(name)   // Addr: bound address of a listener (port 0 in tests)
//	OpenAdmin(ctx, cfg) (Admin, error)        // status and accounts: the running node's control
//	                                          // socket, or the store when no node runs
//	GenerateCert, LoadTLS, CertFingerprint, GenerateDKIMKey, LoadDKIMKey, DKIMRecords
//
// Listeners (config [listen], "" = off): smtp (MX, no login), submission and
// imap (STARTTLS before login), submissions and imaps (implicit TLS),
// plain_submission and plain_imap (login without TLS, loopback addresses only;
// refused otherwise).
//
// A running node holds the bbolt file lock, so "homenode status" and "homenode
// user ..." talk to it over a Unix socket in the data directory
// (homenode.sock, 0600 in a 0700 directory): one JSON request and answer per
// connection. Passwords are hashed (argon2id) in the CLI process; only the
// hash crosses the socket. AddUser and SetPassword refuse weak passwords
// (accounts.CheckPassword) before hashing.
package homenode
