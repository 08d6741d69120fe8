package homenode

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Files that init writes, relative to the data directory.
const (
	certFile    = "tls/cert.pem"
	certKeyFile = "tls/key.pem"
	dkimKeyFile = "dkim/private.pem"
	// DefaultDKIMSelector is the selector init writes.
	DefaultDKIMSelector = "homenode"
)

// Default listener addresses for "homenode init". A public node listens on the
// standard ports on every interface; a --plain node is a loopback-only demo or
// test node on unprivileged ports, with no TLS-only listeners.
const (
	DefaultSMTP        = ":25"
	DefaultSubmission  = ":587"
	DefaultSubmissions = ":465"
	DefaultIMAP        = ":143"
	DefaultIMAPS       = ":993"

	DefaultPlainSMTP       = "127.0.0.1:2525"
	DefaultPlainSubmission = "127.0.0.1:1587"
	DefaultPlainIMAP       = "127.0.0.1:1143"
)

// InitOptions are the inputs of Init. Empty listener fields take the
// defaults above; "off" turns a listener off.
type InitOptions struct {
	Dir      string
	Domain   string
	Hostname string // defaults to Domain
	// SMTP is the inbound MX listener.
	SMTP string
	// Submission and IMAP are STARTTLS listeners, or with Plain the plain-text
	// (loopback only) listeners.
	Submission string
	IMAP       string
	// Submissions and IMAPS are implicit-TLS listeners (off by default with Plain).
	Submissions string
	IMAPS       string
	Plain       bool
	Now         time.Time // zero means time.Now
}

// InitResult is what Init made and what the operator has to publish.
type InitResult struct {
	Config          *Config
	ConfigPath      string
	CertFingerprint string // SHA-256, colon-separated hex
	DKIM            []DKIMRecord
}

// ErrAlreadyInitialised is returned when the data directory already has a config.
var ErrAlreadyInitialised = errors.New("data directory already initialised")

// Init creates the data directory (0700) with a commented config, a
// self-signed TLS certificate and a DKIM key (files 0600). It refuses to touch
// a directory that already has a config.
func Init(o InitOptions) (*InitResult, error) {
	if o.Dir == "" {
		return nil, &ConfigError{Key: "--data", Msg: "required"}
	}
	if o.Domain == "" {
		return nil, &ConfigError{Key: "--domain", Msg: "required"}
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	cfg, err := initConfig(o)
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(o.Dir, ConfigFile)
	if _, err := os.Stat(cfgPath); err == nil {
		return nil, fmt.Errorf("%w: %s exists", ErrAlreadyInitialised, cfgPath)
	}
	if err := makePrivateDirs(o.Dir, filepath.Join(o.Dir, "tls"), filepath.Join(o.Dir, "dkim")); err != nil {
		return nil, err
	}
	if err := writeInitFiles(cfg, cfgPath, o.Now); err != nil {
		return nil, err
	}
	fp, err := CertFingerprint(cfg.Path(cfg.TLS.Cert))
	if err != nil {
		return nil, err
	}
	key, err := LoadDKIMKey(cfg.Path(cfg.DKIM.Key))
	if err != nil {
		return nil, err
	}
	recs, err := DKIMRecords(key, cfg.DKIM.Selector, cfg.DomainNames())
	if err != nil {
		return nil, err
	}
	return &InitResult{Config: cfg, ConfigPath: cfgPath, CertFingerprint: fp, DKIM: recs}, nil
}

// initConfig makes the configuration that Init writes, checked, with errors
// naming the init flags.
func initConfig(o InitOptions) (*Config, error) {
	cfg := &Config{Dir: o.Dir, Hostname: o.Hostname, Domains: []Domain{Domain(o.Domain)}}
	cfg.TLS = TLSFiles{Cert: certFile, Key: certKeyFile}
	cfg.DKIM = DKIM{Selector: DefaultDKIMSelector, Key: dkimKeyFile}
	cfg.MaxMessageSize = DefaultMaxMessageSize
	cfg.MemoryLimit = DefaultMemoryLimit
	cfg.Listen = initListen(o)
	if err := cfg.Validate(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ce.Key = initFlagName(ce.Key)
		}
		return nil, err
	}
	return cfg, nil
}

// initListen picks the listen addresses: a flag's value, the default if it
// is empty, none if it is "off".
func initListen(o InitOptions) Listen {
	pick := func(v, def string) string {
		switch v {
		case "":
			return def
		case "off":
			return ""
		}
		return v
	}
	if o.Plain {
		return Listen{
			SMTP:            Addr(pick(o.SMTP, DefaultPlainSMTP)),
			PlainSubmission: LoopbackAddr(pick(o.Submission, DefaultPlainSubmission)),
			PlainIMAP:       LoopbackAddr(pick(o.IMAP, DefaultPlainIMAP)),
			Submissions:     Addr(pick(o.Submissions, "")),
			IMAPS:           Addr(pick(o.IMAPS, "")),
		}
	}
	return Listen{
		SMTP:        Addr(pick(o.SMTP, DefaultSMTP)),
		Submission:  Addr(pick(o.Submission, DefaultSubmission)),
		Submissions: Addr(pick(o.Submissions, DefaultSubmissions)),
		IMAP:        Addr(pick(o.IMAP, DefaultIMAP)),
		IMAPS:       Addr(pick(o.IMAPS, DefaultIMAPS)),
	}
}

// makePrivateDirs creates dirs readable by the owner only, also when they
// already exist.
func makePrivateDirs(dirs ...string) error {
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("init: %w", err)
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return fmt.Errorf("init: %w", err)
		}
	}
	return nil
}

// writeInitFiles generates the TLS certificate and the DKIM key and writes
// them with the configuration to cfgPath.
func writeInitFiles(cfg *Config, cfgPath string, now time.Time) error {
	var addrs []string
	for _, l := range cfg.Listeners() {
		addrs = append(addrs, l.Addr)
	}
	certPEM, keyPEM, err := GenerateCert(CertNames(cfg.Hostname, cfg.DomainNames(), addrs), now)
	if err != nil {
		return err
	}
	dkimPEM, err := GenerateDKIMKey()
	if err != nil {
		return err
	}
	text := RenderConfig(cfg)
	// Keys first, config last: a config on disk means init finished.
	for _, f := range []struct {
		path string
		data []byte
	}{
		{cfg.Path(cfg.TLS.Cert), certPEM},
		{cfg.Path(cfg.TLS.Key), keyPEM},
		{cfg.Path(cfg.DKIM.Key), dkimPEM},
		{cfgPath, text},
	} {
		if err := writeFileSync(f.path, f.data, 0o600); err != nil {
			return fmt.Errorf("init: %w", err)
		}
	}
	return nil
}

// initFlagName maps a config key to the init flag that set it.
func initFlagName(key string) string {
	switch key {
	case "domains":
		return "--domain"
	case "hostname":
		return "--hostname"
	case "listen.smtp":
		return "--smtp"
	case "listen.submission", "listen.plain_submission":
		return "--submission"
	case "listen.imap", "listen.plain_imap":
		return "--imap"
	case "listen.submissions":
		return "--submissions"
	case "listen.imaps":
		return "--imaps"
	}
	return key
}

// writeFileSync writes a new file with mode perm and fsyncs it, so that a
// power cut right after init leaves no empty key file behind.
func writeFileSync(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// RenderConfig writes cfg as a commented TOML file that LoadConfig reads back.
// It is written with fmt, not text/template: text/template makes the linker
// keep every exported method in the program, about 1.3 MiB more of the
// binary resident on a router.
func RenderConfig(cfg *Config) []byte {
	q := func(v any) string { return strconv.Quote(fmt.Sprint(v)) }
	var b bytes.Buffer
	domains := make([]string, len(cfg.Domains))
	for i, d := range cfg.Domains {
		domains[i] = q(d)
	}
	l := cfg.Listen
	fmt.Fprintf(&b, configHead, q(cfg.Hostname), strings.Join(domains, ", "), int64(cfg.MaxMessageSize),
		int64(cfg.MemoryLimit), q(cfg.LogLevel), q(l.SMTP), q(l.Submission), q(l.Submissions), q(l.IMAP),
		q(l.IMAPS), q(l.PlainSubmission), q(l.PlainIMAP), q(cfg.TLS.Cert), q(cfg.TLS.Key),
		q(cfg.DKIM.Selector), q(cfg.DKIM.Key))
	for _, k := range sortedKeys(cfg.MX) {
		fmt.Fprintf(&b, "\n%s = %s", q(k), q(cfg.MX[k]))
	}
	b.WriteString(configSmarthostDoc)
	if h := cfg.Smarthost; h != nil {
		fmt.Fprintf(&b, "[smarthost]\naddr = %s\nuser = %s\npassword = %s\ntls = %s\n", q(h.Addr), q(h.User), q(h.Password), q(h.TLS))
	} else {
		b.WriteString(configSmarthostExample)
	}
	renderSMTPLimits(&b, cfg)
	b.WriteString(renderIMAPLimits(cfg.IMAP))
	renderQuota(&b, cfg.Quota)
	return b.Bytes()
}

// renderSMTPLimits writes the [smtp_limits] and [spool] tables, with the
// defaults for what cfg leaves unset.
func renderSMTPLimits(b *bytes.Buffer, cfg *Config) {
	l := cfg.SMTPLimits
	_ = l.validate() // fills in the defaults; LoadConfig reports bad values
	sp := cfg.Spool.withDefaults(cmp.Or(cfg.MaxMessageSize, DefaultMaxMessageSize))
	fmt.Fprintf(b, configSMTPLimits, l.MaxConnections, l.MaxConnectionsPerClient, l.MXPerClientPerHour,
		l.MXPerClientBurst, l.MXPerSenderPerHour, l.MXPerSenderBurst, int64(sp.Disk), int64(sp.Memory))
}

const configSMTPLimits = `
# [smtp_limits]: what one client may take of each SMTP listener.
#   max_connections: connections held at once per listener, counted from
#     accept; more are answered "421 4.7.0 Too many connections".
#   max_connections_per_client: of those, from one IPv4 address or IPv6 /64
#     (on plain loopback listeners only the total applies).
#   mx_per_client_per_hour, mx_per_client_burst: recipients one client may
#     send to through the MX (a token bucket); more get 451 4.7.1.
#   mx_per_sender_per_hour, mx_per_sender_burst: the same per envelope
#     sender at one client, so mail in someone's name from elsewhere never
#     spends that sender's budget.
# Fixed, not set here: a connection is closed 5 minutes after it opened or
# after its last accepted message, whatever it sends meanwhile, and after an
# hour in any case; a DATA transfer gets a minute plus a second per 32 KiB.
[smtp_limits]
max_connections = %d
max_connections_per_client = %d
mx_per_client_per_hour = %d
mx_per_client_burst = %d
mx_per_sender_per_hour = %d
mx_per_sender_burst = %d

# [spool]: message bodies in transfer (SMTP DATA, IMAP APPEND) wait on disk
# in DIR/spool, not in memory.
#   disk: bytes all bodies in transfer may hold there (default 4 x
#     max_message_size); when full, senders get 452 / NO [UNAVAILABLE] and
#     try again later.
#   memory: bytes of bodies loaded at once to be stored (default
#     max_message_size).
[spool]
disk = %d
memory = %d
`

// renderQuota writes the [quota] table; sizes of 0 (no limit) are left
// out, since a size in the file must be positive.
func renderQuota(b *bytes.Buffer, qt Quota) {
	b.WriteString(configQuotaDoc)
	size := func(key string, v Size) {
		if v > 0 {
			fmt.Fprintf(b, "%s = %d\n", key, int64(v))
		}
	}
	size("bytes", qt.Bytes)
	fmt.Fprintf(b, "messages = %d\n", qt.Messages)
	size("store", qt.Store)
	size("min_free_disk", qt.MinFreeDisk)
	for _, addr := range sortedKeys(qt.Accounts) {
		a := qt.Accounts[addr]
		fmt.Fprintf(b, "\n[quota.accounts.%s]\n", strconv.Quote(addr))
		size("bytes", a.Bytes)
		if a.Messages > 0 {
			fmt.Fprintf(b, "messages = %d\n", a.Messages)
		}
		size("max_message_size", a.MaxMessageSize)
	}
}

// configHead is the config file up to the [mx] table's entries.
const configHead = `# homenode configuration.
# Paths are relative to this file's directory (the data directory).
# Change it, then restart "homenode run". Check it with "homenode status".

# hostname: this node's own DNS name. It is the SMTP greeting and the EHLO name
# when delivering to other servers; the MX record of each domain should point here.
hostname = %s

# domains: the mail domains whose addresses live on this node. Mail to these
# domains is delivered into local mailboxes; for any other domain it is refused
# on the MX listener (this node never relays for strangers).
domains = [%s]

# max_message_size: the largest message accepted over SMTP, in bytes; suffixes
# KiB, MiB, GiB (powers of 1024) and KB, MB, GB (powers of 1000) are allowed,
# e.g. "25MiB".
max_message_size = %d

# memory_limit: the soft memory limit of the node's Go runtime, in bytes
# (suffixes as above). Near it the garbage collector works harder so that the
# resident size stays small; it is not a cap: a large message still gets the
# memory it needs. The GOMEMLIMIT environment variable overrides it.
memory_limit = %d

# log_level: debug, info, warn or error. Logs go to standard error, one line
# per delivery and per refused connection or login.
log_level = %s

# [listen]: one "host:port" per listener; "" turns a listener off.
# ":25" means every interface; "127.0.0.1:2525" only this machine.
[listen]
# smtp: inbound mail from other servers (the MX role). No login; only mail for
# existing local addresses is accepted.
smtp = %s
# submission: mail clients send here (usually port 587). STARTTLS first, then
# AUTH PLAIN or LOGIN; the From address must be the logged-in account.
submission = %s
# submissions: the same with TLS from the first byte (usually port 465).
submissions = %s
# imap: mail clients read here (usually port 143). STARTTLS first, then LOGIN.
imap = %s
# imaps: the same with TLS from the first byte (usually port 993).
imaps = %s
# plain_submission and plain_imap: plain-text listeners where passwords may
# be sent without TLS (STARTTLS is still offered). Only loopback addresses
# (127.0.0.1, ::1, localhost) are accepted: for a demo, tests, or a client on
# the same machine such as Delta Chat configured with security "plain".
plain_submission = %s
plain_imap = %s

# [tls]: the certificate (PEM, leaf first) and its private key. "homenode init"
# made a self-signed ECDSA P-256 certificate; clients pin its SHA-256
# fingerprint ("homenode status" prints it). Replace both with a certificate
# from a CA if you have one.
[tls]
cert = %s
key = %s

# [dkim]: outbound mail is DKIM-signed with this key for its From domain.
# Publish the public key as a TXT record at <selector>._domainkey.<domain>
# ("homenode init" printed it; "homenode status" prints it again).
[dkim]
selector = %s
key = %s

# [mx]: static routes that replace the DNS MX lookup for a domain:
#   "other.example" = "127.0.0.1:2525"
# Used by tests and by homes that deliver to each other on a private network.
[mx]`

// configSmarthostDoc follows the [mx] entries.
const configSmarthostDoc = `

# [smarthost]: send all outbound mail through one relay (for example your
# provider's submission server) instead of looking up MX records. Leave the
# section commented out to deliver directly.
#   addr: "host:port" of the relay
#   user, password: AUTH PLAIN credentials (both or neither)
#   tls: "starttls" (required, the default), "implicit" (TLS from the first
#        byte, port 465) or "none" (only for a relay on a loopback address)
`

// configSmarthostExample stands where no smarthost is configured.
const configSmarthostExample = `# [smarthost]
# addr = "smtp.provider.example:587"
# user = "me@provider.example"
# password = "secret"
# tls = "starttls"
`

// configQuotaDoc heads the [quota] table.
const configQuotaDoc = `
# [quota]: how much mail is kept. The MX listener takes mail for your
# addresses from anyone, so without a bound a stranger can fill the disk.
#   bytes: mail one account may keep in all its mailboxes (default 1GiB)
#   messages: messages one account may keep (0: no count limit)
#   store: mail all accounts together may keep (leave out: only the disk
#          bounds it)
#   min_free_disk: free space new mail must leave on the disk of the data
#                  directory (default 64MiB)
# Sizes count the messages' bytes. Mail that does not fit is refused and
# never lost: over SMTP with 452 4.2.2 (the sender tries again later; the
# full account is refused at RCPT when the sender announced the size, which
# mail servers do, so the other recipients get the message), with 552 5.2.2
# for a message larger than the whole quota, 452 4.3.1 when the store or
# disk is full; over IMAP (APPEND, COPY) with NO [OVERQUOTA]. Expunging or
# deleting mail frees its room.
# [quota.accounts."ADDR"]: bytes, messages and max_message_size (the
# largest message it takes; default the global max_message_size) for one
# account. Give each thing's account little, for example:
#   [quota.accounts."lamp@home.example"]
#   bytes = "16MiB"
#   max_message_size = "1MiB"
[quota]
`
