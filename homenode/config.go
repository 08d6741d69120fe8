package homenode

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/thingpost/thingpost/homenode/mailstore"
	"github.com/thingpost/thingpost/homenode/smtpd"
)

// ConfigFile is the name of the configuration file inside the data directory.
const ConfigFile = "homenode.toml"

// DefaultMaxMessageSize is the SMTP size limit when the config names none.
const DefaultMaxMessageSize = 32 << 20

// ErrBadConfig marks every configuration problem (errors.Is); the error itself
// is a *ConfigError.
var ErrBadConfig = errors.New("bad config")

// ConfigError is one configuration problem, located as precisely as known.
type ConfigError struct {
	File string // may be empty for configs built in code
	Line int    // 0 when unknown
	Key  string // e.g. "listen.plain_imap"; may be empty
	Msg  string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	// One line, for logs and for people: TOML messages quote the input,
	// line breaks included ("not a binary number: '0b\n'").
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(b.String())
}

// Is makes errors.Is(err, ErrBadConfig) true.
func (e *ConfigError) Is(target error) bool { return target == ErrBadConfig }

// Config is the whole node configuration. Relative paths are relative to Dir.
type Config struct {
	// Dir is the data directory (config, keys, mail.db). Not read from the file.
	Dir string `toml:"-"`

	// Hostname is the node's own name: SMTP greeting, EHLO when delivering out.
	Hostname string `toml:"hostname"`
	// Domains are the mail domains this node is the final destination for.
	Domains []Domain `toml:"domains"`
	// MaxMessageSize is the SMTP SIZE limit in bytes ("25MiB" style accepted).
	MaxMessageSize Size `toml:"max_message_size"`
	// LogLevel is debug, info, warn or error.
	LogLevel LogLevel `toml:"log_level"`
	// MemoryLimit is the soft memory limit of the Go runtime ("16MiB" style
	// accepted); the GOMEMLIMIT environment variable overrides it.
	MemoryLimit Size `toml:"memory_limit"`

	// SMTPLimits cap what one client may take of the SMTP listeners.
	SMTPLimits SMTPLimits `toml:"smtp_limits"`
	// Spool holds message bodies while they are received.
	Spool SpoolLimits `toml:"spool"`
	// Quota limits the mail kept per account and in all.
	Quota Quota `toml:"quota"`

	Listen    Listen          `toml:"listen"`
	TLS       TLSFiles        `toml:"tls"`
	DKIM      DKIM            `toml:"dkim"`
	MX        map[string]Addr `toml:"mx"`
	Smarthost *Smarthost      `toml:"smarthost"`
	IMAP      IMAPLimits      `toml:"imap"`
}

// Defaults of [quota].
const (
	DefaultQuota       = 1 << 30
	DefaultMinFreeDisk = 64 << 20
)

// Quota limits the mail kept, so that mail from anyone through the MX
// cannot fill the disk.
type Quota struct {
	// Bytes of mail each account may keep in all its mailboxes (default
	// DefaultQuota).
	Bytes Size `toml:"bytes"`
	// Messages each account may keep; 0 means no count limit.
	Messages int64 `toml:"messages"`
	// Store bounds the mail of all accounts together; 0 means no bound
	// but the disk's.
	Store Size `toml:"store"`
	// MinFreeDisk is the free space new mail must leave on the data
	// directory's file system (default DefaultMinFreeDisk).
	MinFreeDisk Size `toml:"min_free_disk"`
	// Accounts override the limits of single accounts, by address: a
	// thing's account, say, gets a small quota and max_message_size.
	Accounts map[string]AccountQuota `toml:"accounts"`
}

// AccountQuota is one account's override; a zero field keeps the default.
type AccountQuota struct {
	Bytes    Size  `toml:"bytes"`
	Messages int64 `toml:"messages"`
	// MaxMessageSize is the largest message the account takes (default:
	// max_message_size).
	MaxMessageSize Size `toml:"max_message_size"`
}

// StoreLimits are the quotas for the mail store.
func (c *Config) StoreLimits() mailstore.Limits {
	q := c.Quota
	l := mailstore.Limits{
		Default:     mailstore.Quota{Bytes: int64(q.Bytes), Messages: q.Messages},
		StoreBytes:  int64(q.Store),
		MinFreeDisk: int64(q.MinFreeDisk),
	}
	for addr, a := range q.Accounts {
		aq := l.Default
		if a.Bytes > 0 {
			aq.Bytes = int64(a.Bytes)
		}
		if a.Messages > 0 {
			aq.Messages = a.Messages
		}
		aq.MaxMessageSize = int64(a.MaxMessageSize)
		if l.Accounts == nil {
			l.Accounts = map[string]mailstore.Quota{}
		}
		l.Accounts[strings.ToLower(addr)] = aq
	}
	return l
}

// Listen holds one address per listener; an empty address turns it off.
type Listen struct {
	SMTP        Addr `toml:"smtp"`        // inbound MX, no AUTH
	Submission  Addr `toml:"submission"`  // STARTTLS, AUTH after TLS
	Submissions Addr `toml:"submissions"` // implicit TLS
	IMAP        Addr `toml:"imap"`        // STARTTLS, LOGIN after TLS
	IMAPS       Addr `toml:"imaps"`       // implicit TLS
	// Plain-text listeners where AUTH/LOGIN works without TLS (STARTTLS is
	// still offered). Loopback addresses only.
	PlainSubmission LoopbackAddr `toml:"plain_submission"`
	PlainIMAP       LoopbackAddr `toml:"plain_imap"`
}

// SMTPLimits are the connection caps of each SMTP listener and the rate
// limits of the MX, counted in recipients; zero takes the default.
type SMTPLimits struct {
	MaxConnections          int `toml:"max_connections"`            // default 100
	MaxConnectionsPerClient int `toml:"max_connections_per_client"` // IPv4 address or IPv6 /64; default 10
	MXPerClientPerHour      int `toml:"mx_per_client_per_hour"`
	MXPerClientBurst        int `toml:"mx_per_client_burst"`
	// Per envelope sender at one client: a sender's budget is never spent
	// by mail in its name from elsewhere.
	MXPerSenderPerHour int `toml:"mx_per_sender_per_hour"`
	MXPerSenderBurst   int `toml:"mx_per_sender_burst"`
}

// SpoolLimits are the budgets of bodies in transfer: on disk (default four
// times max_message_size) and loaded into memory to be stored (default
// max_message_size).
type SpoolLimits struct {
	Disk   Size `toml:"disk"`
	Memory Size `toml:"memory"`
}

// TLSFiles names the PEM certificate chain and private key.
type TLSFiles struct {
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
}

// DKIM names the signing key for outbound mail.
type DKIM struct {
	Selector string `toml:"selector"`
	Key      string `toml:"key"`
}

// Smarthost relays all outbound mail through one server instead of MX lookups.
type Smarthost struct {
	Addr     Addr   `toml:"addr"`
	User     string `toml:"user"`
	Password string `toml:"password"`
	// TLS is "starttls" (required), "implicit" (port 465 style) or "none"
	// (loopback smarthosts only).
	TLS string `toml:"tls"`
}

// Addr is a listen or dial address "host:port"; empty means off.
type Addr string

// UnmarshalText validates while decoding, so that errors carry the line.
func (a *Addr) UnmarshalText(b []byte) error {
	return setChecked(a, strings.TrimSpace(string(b)), checkHostPort)
}

// LoopbackAddr is an Addr that must be on a loopback interface.
type LoopbackAddr string

// UnmarshalText validates while decoding, so that errors carry the line.
func (a *LoopbackAddr) UnmarshalText(b []byte) error {
	return setChecked(a, strings.TrimSpace(string(b)), checkLoopback)
}

// Domain is a lower-case mail domain.
type Domain string

// UnmarshalText validates while decoding, so that errors carry the line.
func (d *Domain) UnmarshalText(b []byte) error {
	return setChecked(d, strings.ToLower(strings.TrimSpace(string(b))), checkDomain)
}

// setChecked sets *v to s if check accepts s.
func setChecked[T ~string](v *T, s string, check func(string) error) error {
	if err := check(s); err != nil {
		return err
	}
	*v = T(s)
	return nil
}

// Size is a byte count; the file may say 26214400, "25MiB", "25MB" or "512KiB".
type Size int64

// UnmarshalText validates while decoding, so that errors carry the line.
func (z *Size) UnmarshalText(b []byte) error {
	n, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*z = Size(n)
	return nil
}

// ParseSize reads a byte count with an optional KB/KiB/MB/MiB/GB/GiB suffix.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mul    int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mul := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mul = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mul
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mul {
		return 0, fmt.Errorf("size %q: want a positive byte count such as 26214400 or \"25MiB\"", s)
	}
	return n * mul, nil
}

// LogLevel is a slog level written as debug, info, warn or error.
type LogLevel struct{ slog.Level }

// UnmarshalText validates while decoding, so that errors carry the line.
func (l *LogLevel) UnmarshalText(b []byte) error {
	switch strings.ToLower(strings.TrimSpace(string(b))) {
	case "debug":
		l.Level = slog.LevelDebug
	case "info", "":
		l.Level = slog.LevelInfo
	case "warn", "warning":
		l.Level = slog.LevelWarn
	case "error":
		l.Level = slog.LevelError
	default:
		return fmt.Errorf("log level %q: want debug, info, warn or error", b)
	}
	return nil
}

// String is the lower-case name UnmarshalText reads.
func (l LogLevel) String() string { return strings.ToLower(l.Level.String()) }

// MarshalText writes the level the way UnmarshalText reads it.
func (l LogLevel) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// LoadConfig reads DIR/homenode.toml. Every error is one line naming the file,
// the line and the key where the decoder knows them.
func LoadConfig(dir string) (*Config, error) {
	path := filepath.Join(dir, ConfigFile)
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, &ConfigError{File: path, Msg: fmt.Sprintf("does not exist (run \"homenode init --data %s\" first)", dir)}
		}
		return nil, &ConfigError{File: path, Msg: err.Error()}
	}
	cfg, err := ParseConfig(path, data)
	if err != nil {
		return nil, err
	}
	cfg.Dir = dir
	if err := cfg.Validate(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ce.File = path
		}
		return nil, err
	}
	return cfg, nil
}

var tomlErrRe = regexp.MustCompile(`^toml: line (\d+) \(last key "(.*?)"\): (.*)$`)

// ParseConfig decodes TOML without validating cross-key rules; name is used in
// error messages only.
func ParseConfig(name string, data []byte) (*Config, error) {
	var cfg Config
	md, err := toml.Decode(string(data), &cfg)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &ConfigError{File: name, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message}
		}
		// Type mismatches come as plain errors: `toml: line N (last key "k"): msg`.
		if m := tomlErrRe.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			return nil, &ConfigError{File: name, Line: line, Key: m[2], Msg: m[3]}
		}
		return nil, &ConfigError{File: name, Msg: strings.TrimPrefix(err.Error(), "toml: ")}
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, &ConfigError{File: name, Key: und[0].String(), Msg: "unknown key"}
	}
	return &cfg, nil
}

// Validate checks the rules that span keys and fills defaults. It repeats the
// per-value checks too, for configs built in code.
func (c *Config) Validate() error {
	if c.Dir == "" {
		return badKey("data", "no data directory")
	}
	for _, step := range []func() error{
		c.validateDomains,
		c.validateLimits,
		c.validateQuota,
		c.validateListeners,
		c.validateKeys,
		c.validateMX,
		c.validateSmarthost,
		c.validateIMAPLimits,
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// badKey is a ConfigError about key.
func badKey(key, format string, args ...any) error {
	return &ConfigError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// validateDomains lower-cases the mail domains and defaults the hostname to
// the first.
func (c *Config) validateDomains() error {
	if len(c.Domains) == 0 {
		return badKey("domains", "at least one mail domain is required")
	}
	seen := map[Domain]bool{}
	for i, d := range c.Domains {
		d = Domain(strings.ToLower(string(d)))
		c.Domains[i] = d
		if err := checkDomain(string(d)); err != nil {
			return badKey("domains", "%v", err)
		}
		if seen[d] {
			return badKey("domains", "%q listed twice", d)
		}
		seen[d] = true
	}
	if c.Hostname == "" {
		c.Hostname = string(c.Domains[0])
	}
	if err := checkDomain(c.Hostname); err != nil {
		return badKey("hostname", "%v", err)
	}
	return nil
}

// validateLimits fills in the default sizes.
func (c *Config) validateLimits() error {
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.MaxMessageSize < 0 {
		return badKey("max_message_size", "must be positive")
	}
	if c.MemoryLimit == 0 {
		c.MemoryLimit = DefaultMemoryLimit
	}
	if c.MemoryLimit < 0 {
		return badKey("memory_limit", "must be positive")
	}
	if c.Spool.Disk < 0 || c.Spool.Memory < 0 {
		return badKey("spool", "disk and memory must be positive")
	}
	c.Spool = c.Spool.withDefaults(c.MaxMessageSize)
	return c.SMTPLimits.validate()
}

// withDefaults fills in the budgets not set, for messages up to maxSize.
func (s SpoolLimits) withDefaults(maxSize Size) SpoolLimits {
	s.Disk = cmp.Or(s.Disk, 4*maxSize)
	s.Memory = cmp.Or(s.Memory, maxSize)
	return s
}

// validate fills in the default SMTP limits.
func (l *SMTPLimits) validate() error {
	for _, v := range []struct {
		key string
		n   *int
		def int
	}{
		{"max_connections", &l.MaxConnections, 100},
		{"max_connections_per_client", &l.MaxConnectionsPerClient, 10},
		{"mx_per_client_per_hour", &l.MXPerClientPerHour, smtpd.DefaultClientPerHour},
		{"mx_per_client_burst", &l.MXPerClientBurst, smtpd.DefaultClientBurst},
		{"mx_per_sender_per_hour", &l.MXPerSenderPerHour, smtpd.DefaultSenderPerHour},
		{"mx_per_sender_burst", &l.MXPerSenderBurst, smtpd.DefaultSenderBurst},
	} {
		if *v.n < 0 {
			return badKey("smtp_limits."+v.key, "must be positive")
		}
		*v.n = cmp.Or(*v.n, v.def)
	}
	if l.MaxConnectionsPerClient > l.MaxConnections {
		return badKey("smtp_limits.max_connections_per_client", "%d is more than max_connections (%d)", l.MaxConnectionsPerClient, l.MaxConnections)
	}
	return nil
}

// validateQuota fills in the default quotas and checks the overrides.
func (c *Config) validateQuota() error {
	q := &c.Quota
	if q.Bytes == 0 {
		q.Bytes = DefaultQuota
	}
	if q.MinFreeDisk == 0 {
		q.MinFreeDisk = DefaultMinFreeDisk
	}
	for key, v := range map[string]int64{"bytes": int64(q.Bytes), "messages": q.Messages, "store": int64(q.Store), "min_free_disk": int64(q.MinFreeDisk)} {
		if v < 0 {
			return badKey("quota."+key, "must not be negative")
		}
	}
	if q.Store > 0 && q.Store < q.Bytes {
		return badKey("quota.store", "%d bytes is less than one account's quota (%d)", q.Store, q.Bytes)
	}
	for addr, a := range q.Accounts {
		key := fmt.Sprintf("quota.accounts.%q", addr)
		if _, err := c.CheckAddress(addr); err != nil {
			return badKey(key, "%v", err)
		}
		if a.Bytes < 0 || a.Messages < 0 || a.MaxMessageSize < 0 {
			return badKey(key, "limits must not be negative")
		}
	}
	return nil
}

// validateListeners wants at least one listener, plain ones on loopback.
func (c *Config) validateListeners() error {
	someListener := false
	for _, l := range c.Listeners() {
		if l.Plain {
			if err := checkLoopback(l.Addr); err != nil {
				return badKey("listen."+l.Name, "%v", err)
			}
		} else if err := checkHostPort(l.Addr); err != nil {
			return badKey("listen."+l.Name, "%v", err)
		}
		if l.Addr != "" {
			someListener = true
		}
	}
	if !someListener {
		return badKey("listen", "no listener configured")
	}
	return nil
}

// validateKeys wants the TLS and DKIM key files named.
func (c *Config) validateKeys() error {
	if c.TLS.Cert == "" || c.TLS.Key == "" {
		return badKey("tls", "cert and key are both required (homenode init makes a self-signed pair)")
	}
	if c.DKIM.Selector == "" || c.DKIM.Key == "" {
		return badKey("dkim", "selector and key are both required (homenode init makes a key)")
	}
	if err := checkDomain(c.DKIM.Selector); err != nil {
		return badKey("dkim.selector", "%v", err)
	}
	return nil
}

// validateMX checks the static MX addresses by domain.
func (c *Config) validateMX() error {
	for dom, addr := range c.MX {
		if err := checkDomain(strings.ToLower(dom)); err != nil {
			return badKey("mx", "%v", err)
		}
		if addr == "" {
			return badKey("mx."+dom, "empty address")
		}
		if err := checkHostPort(string(addr)); err != nil {
			return badKey("mx."+dom, "%v", err)
		}
	}
	return nil
}

// validateSmarthost allows clear text to a smarthost on loopback only.
func (c *Config) validateSmarthost() error {
	s := c.Smarthost
	if s == nil {
		return nil
	}
	if s.Addr == "" {
		return badKey("smarthost.addr", "required when [smarthost] is present")
	}
	if err := checkHostPort(string(s.Addr)); err != nil {
		return badKey("smarthost.addr", "%v", err)
	}
	switch s.TLS {
	case "", "starttls", "implicit":
	case "none":
		if err := checkLoopback(string(s.Addr)); err != nil {
			return badKey("smarthost.tls", "\"none\" sends the password in clear text: %v", err)
		}
	default:
		return badKey("smarthost.tls", "%q: want starttls, implicit or none", s.TLS)
	}
	if (s.User == "") != (s.Password == "") {
		return badKey("smarthost", "user and password go together")
	}
	return nil
}

// Path resolves a config path against the data directory.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// StoreFile is where the mail store lives.
func (c *Config) StoreFile() string { return filepath.Join(c.Dir, "mail.db") }

// ListenerSpec is one configured listener.
type ListenerSpec struct {
	Name     string // the config key under [listen]
	Addr     string
	Protocol string // "smtp" (MX), "submission" or "imap"
	// ImplicitTLS: TLS from the first byte. Otherwise STARTTLS is offered.
	ImplicitTLS bool
	// Plain: AUTH/LOGIN allowed without TLS (loopback only).
	Plain bool
}

// Listeners lists every listener in a fixed order, configured or not.
func (c *Config) Listeners() []ListenerSpec {
	l := c.Listen
	return []ListenerSpec{
		{Name: "smtp", Addr: string(l.SMTP), Protocol: "smtp"},
		{Name: "submission", Addr: string(l.Submission), Protocol: "submission"},
		{Name: "submissions", Addr: string(l.Submissions), Protocol: "submission", ImplicitTLS: true},
		{Name: "imap", Addr: string(l.IMAP), Protocol: "imap"},
		{Name: "imaps", Addr: string(l.IMAPS), Protocol: "imap", ImplicitTLS: true},
		{Name: "plain_submission", Addr: string(l.PlainSubmission), Protocol: "submission", Plain: true},
		{Name: "plain_imap", Addr: string(l.PlainIMAP), Protocol: "imap", Plain: true},
	}
}

// StaticMX returns the [mx] map with lower-case domains.
func (c *Config) StaticMX() map[string]string {
	if len(c.MX) == 0 {
		return nil
	}
	m := make(map[string]string, len(c.MX))
	for d, a := range c.MX {
		m[strings.ToLower(d)] = string(a)
	}
	return m
}

// DomainNames returns the domains as plain strings.
func (c *Config) DomainNames() []string {
	out := make([]string, len(c.Domains))
	for i, d := range c.Domains {
		out[i] = string(d)
	}
	return out
}

func checkHostPort(s string) error {
	if s == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("address %q: want host:port, e.g. 127.0.0.1:2525 or :25", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("address %q: port must be a number from 0 to 65535", s)
	}
	return nil
}

func checkLoopback(s string) error {
	if s == "" {
		return nil
	}
	if err := checkHostPort(s); err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(s)
	if !isLoopbackHost(host) {
		return fmt.Errorf("plain-text listener %q refused: it must bind a loopback address (127.0.0.1, ::1 or localhost)", s)
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkDomain(s string) error {
	if s == "" {
		return errors.New("empty name")
	}
	if len(s) > 253 {
		return fmt.Errorf("%q: longer than 253 characters", s)
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("%q: not a valid domain name", s)
		}
		for _, r := range label {
			ok := r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
			if !ok {
				return fmt.Errorf("%q: not a valid domain name (character %q)", s, r)
			}
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("%q: not a valid domain name (label starts or ends with '-')", s)
		}
	}
	return nil
}

// sortedKeys returns m's keys in order, for stable output.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
