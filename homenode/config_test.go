package homenode

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/thingpost/thingpost/homenode/mailstore"
	"github.com/thingpost/thingpost/internal/certpin"
)

const goodConfig = `hostname = "mail.home.test"
domains = ["home.test", "Other.Test"]
max_message_size = "10MiB"
log_level = "debug"

[listen]
smtp = "127.0.0.1:2525"
submission = ":587"
plain_imap = "127.0.0.1:1143"

[tls]
cert = "tls/cert.pem"
key = "/abs/key.pem"

[dkim]
selector = "s1"
key = "dkim/private.pem"

[mx]
"far.test" = "127.0.0.1:2526"

[smarthost]
addr = "relay.test:587"
user = "u"
password = "p"
`

func TestParseConfigGood(t *testing.T) {
	cfg, err := ParseConfig("x.toml", []byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Dir = "/data"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := cfg.DomainNames(); len(got) != 2 || got[1] != "other.test" {
		t.Errorf("domains = %v, want lower-cased", got)
	}
	if cfg.MaxMessageSize != 10<<20 {
		t.Errorf("max size = %d", cfg.MaxMessageSize)
	}
	if cfg.LogLevel.String() != "debug" {
		t.Errorf("log level = %v", cfg.LogLevel)
	}
	if cfg.Path(cfg.TLS.Cert) != "/data/tls/cert.pem" || cfg.Path(cfg.TLS.Key) != "/abs/key.pem" {
		t.Errorf("paths: %s %s", cfg.Path(cfg.TLS.Cert), cfg.Path(cfg.TLS.Key))
	}
	if cfg.StaticMX()["far.test"] != "127.0.0.1:2526" {
		t.Errorf("mx = %v", cfg.StaticMX())
	}
	if cfg.Smarthost == nil || cfg.Smarthost.User != "u" {
		t.Errorf("smarthost = %+v", cfg.Smarthost)
	}
}

// TestMemoryLimit: memory_limit takes a size; without it the node gets
// DefaultMemoryLimit.
func TestMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		line string
		want Size
	}{
		{"", DefaultMemoryLimit},
		{`memory_limit = "12MiB"`, 12 << 20},
		{"memory_limit = 33554432", 32 << 20},
	} {
		cfg, err := ParseConfig("x.toml", []byte(tc.line+"\n"+goodConfig))
		if err != nil {
			t.Fatalf("%q: %v", tc.line, err)
		}
		cfg.Dir = "/data"
		if err := cfg.Validate(); err != nil || cfg.MemoryLimit != tc.want {
			t.Errorf("%q: memory limit %d, %v; want %d", tc.line, cfg.MemoryLimit, err, tc.want)
		}
	}
	if _, err := ParseConfig("x.toml", []byte(`memory_limit = "lots"`+"\n"+goodConfig)); !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), "memory_limit") {
		t.Errorf("memory_limit = \"lots\": %v", err)
	}
}

func TestParseConfigBad(t *testing.T) {
	tests := []struct {
		name     string
		old, new string // goodConfig with old replaced by new; all of it if old is ""
		wantLine int
		want     string // substring of the one-line error
	}{
		{"plain imap on all interfaces", `plain_imap = "127.0.0.1:1143"`, `plain_imap = "0.0.0.0:1143"`, 9, "listen.plain_imap: plain-text listener \"0.0.0.0:1143\" refused"},
		{"plain submission on empty host", `[tls]`, "plain_submission = \":1587\"\n[tls]", 11, "listen.plain_submission: plain-text listener"},
		{"bad port", `:587"`, `:99999"`, 8, "listen.submission: address \":99999\": port must be"},
		{"no port", `"127.0.0.1:2525"`, `"127.0.0.1"`, 7, "listen.smtp: address \"127.0.0.1\": want host:port"},
		{"bad size", `"10MiB"`, `"ten"`, 3, "max_message_size: size"},
		{"bad log level", `"debug"`, `"loud"`, 4, "log_level: log level \"loud\""},
		{"bad domain", `"Other.Test"`, `"bad domain"`, 2, "not a valid domain name"},
		{"bad mx address", `"127.0.0.1:2526"`, `"nowhere"`, 20, "x.toml:20: mx.\"far.test\": address \"nowhere\""},
		{"syntax error", `[dkim]`, `[dkim`, 16, "x.toml:16"},
		{"wrong type", `selector = "s1"`, `selector = 5`, 16, "x.toml:16: dkim.selector: incompatible types"},
		{"unknown key", `smtp = `, `smpt = `, 0, "x.toml: listen.smpt: unknown key"},
		// Found by FuzzParseConfig: the message quotes the input, newline too.
		{"line break quoted", "", "0=0b\n", 1, `x.toml:1: 0: not a binary number: '0b\n'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := tt.new
			if tt.old != "" {
				text = strings.Replace(goodConfig, tt.old, tt.new, 1)
			}
			_, err := ParseConfig("x.toml", []byte(text))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrBadConfig) {
				t.Errorf("not ErrBadConfig: %v", err)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("not a *ConfigError: %T %v", err, err)
			}
			if ce.Line != tt.wantLine {
				t.Errorf("line = %d, want %d (%v)", ce.Line, tt.wantLine, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) || strings.Contains(msg, "\n") {
				t.Errorf("error = %q, want one line containing %q", msg, tt.want)
			}
		})
	}
}

func TestValidateRules(t *testing.T) {
	base := func() *Config {
		c, err := ParseConfig("x.toml", []byte(goodConfig))
		if err != nil {
			t.Fatal(err)
		}
		c.Dir = "/d"
		return c
	}
	tests := []struct {
		name    string
		edit    func(*Config)
		wantKey string
	}{
		{"no domains", func(c *Config) { c.Domains = nil }, "domains"},
		{"duplicate domain", func(c *Config) { c.Domains = append(c.Domains, "HOME.test") }, "domains"},
		{"no listeners", func(c *Config) { c.Listen = Listen{} }, "listen"},
		{"plain set in code", func(c *Config) { c.Listen.PlainSubmission = "[::]:1587" }, "listen.plain_submission"},
		{"no tls", func(c *Config) { c.TLS.Key = "" }, "tls"},
		{"no dkim", func(c *Config) { c.DKIM.Selector = "" }, "dkim"},
		{"smarthost without addr", func(c *Config) { c.Smarthost.Addr = "" }, "smarthost.addr"},
		{"smarthost clear text off loopback", func(c *Config) { c.Smarthost.TLS = "none" }, "smarthost.tls"},
		{"smarthost user without password", func(c *Config) { c.Smarthost.Password = "" }, "smarthost"},
		{"no data dir", func(c *Config) { c.Dir = "" }, "data"},
		{"negative connection cap", func(c *Config) { c.SMTPLimits.MaxConnections = -1 }, "smtp_limits.max_connections"},
		{"client cap over the total", func(c *Config) { c.SMTPLimits.MaxConnections = 5 }, "smtp_limits.max_connections_per_client"},
		{"negative rate", func(c *Config) { c.SMTPLimits.MXPerSenderBurst = -3 }, "smtp_limits.mx_per_sender_burst"},
		{"negative spool", func(c *Config) { c.Spool.Disk = -1 }, "spool"},
		{"negative quota", func(c *Config) { c.Quota.Messages = -1 }, "quota.messages"},
		{"store below one account", func(c *Config) { c.Quota.Store = 1 << 20 }, "quota.store"},
		{"quota for a foreign address", func(c *Config) {
			c.Quota.Accounts = map[string]AccountQuota{"lamp@far.test": {Bytes: 1 << 20}}
		}, `quota.accounts."lamp@far.test"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.edit(c)
			err := c.Validate()
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *ConfigError", err)
			}
			if ce.Key != tt.wantKey {
				t.Errorf("key = %q, want %q (%v)", ce.Key, tt.wantKey, err)
			}
		})
	}
	c := base()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if l := c.SMTPLimits; l.MaxConnections != 100 || l.MaxConnectionsPerClient != 10 || l.MXPerClientBurst != 100 || l.MXPerSenderPerHour != 300 ||
		c.Spool.Disk != 4*c.MaxMessageSize || c.Spool.Memory != c.MaxMessageSize {
		t.Errorf("defaults: %+v, spool %+v", l, c.Spool)
	}
	c.Smarthost.Addr, c.Smarthost.TLS = "127.0.0.1:25", "none"
	if err := c.Validate(); err != nil {
		t.Errorf("loopback smarthost without TLS refused: %v", err)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "25MiB": 25 << 20, "25 MB": 25e6, "512KiB": 512 << 10, "1GiB": 1 << 30, "7B": 7} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "MiB", "1.5MiB", "2000GiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

func TestInitWritesWorkingNode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	res, err := Init(InitOptions{Dir: dir, Domain: "Home.Test", Plain: true, SMTP: "127.0.0.1:2600"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(dir)
	if err != nil {
		t.Fatalf("init's config does not load: %v", err)
	}
	if cfg.Hostname != "home.test" || cfg.DomainNames()[0] != "home.test" {
		t.Errorf("hostname %q domains %v", cfg.Hostname, cfg.Domains)
	}
	if cfg.Listen.SMTP != "127.0.0.1:2600" || cfg.Listen.PlainIMAP != DefaultPlainIMAP ||
		cfg.Listen.PlainSubmission != DefaultPlainSubmission || cfg.Listen.IMAPS != "" || cfg.Listen.Submission != "" {
		t.Errorf("listeners = %+v", cfg.Listen)
	}

	// Every key is explained: each "key =" line follows a comment mentioning it.
	text, _ := os.ReadFile(res.ConfigPath)
	lines := strings.Split(string(text), "\n")
	for i, l := range lines {
		key, _, ok := strings.Cut(l, " = ")
		if !ok || strings.HasPrefix(l, "#") || strings.HasPrefix(l, `"`) {
			continue
		}
		// Walk back over the block of comments and keys this line belongs to.
		explained := false
		for j := i - 1; j >= 0 && !explained && (strings.HasPrefix(lines[j], "#") || strings.HasPrefix(lines[j], "[") || strings.Contains(lines[j], " = ")); j-- {
			if strings.HasPrefix(lines[j], "#") && strings.Contains(lines[j], key) {
				explained = true
			}
		}
		if !explained {
			t.Errorf("config line %d %q has no comment explaining %q", i+1, l, key)
		}
	}

	for path, want := range map[string]os.FileMode{
		dir:                        0o700,
		filepath.Join(dir, "tls"):  0o700,
		filepath.Join(dir, "dkim"): 0o700,
		res.ConfigPath:             0o600,
		cfg.Path(cfg.TLS.Cert):     0o600,
		cfg.Path(cfg.TLS.Key):      0o600,
		cfg.Path(cfg.DKIM.Key):     0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}

	// The certificate covers the names clients use and matches the printed fingerprint.
	certPEM, _ := os.ReadFile(cfg.Path(cfg.TLS.Cert))
	b, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if certpin.Fingerprint(b.Bytes) != res.CertFingerprint || len(res.CertFingerprint) != 95 {
		t.Errorf("fingerprint %q", res.CertFingerprint)
	}
	for _, name := range []string{"home.test", "127.0.0.1"} {
		if err := cert.VerifyHostname(name); err != nil {
			t.Errorf("certificate does not cover %s: %v", name, err)
		}
	}
	if _, err := LoadTLS(cfg.Path(cfg.TLS.Cert), cfg.Path(cfg.TLS.Key)); err != nil {
		t.Error(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1"}); err != nil {
		t.Errorf("pinned certificate does not verify against itself: %v", err)
	}

	if len(res.DKIM) != 1 || res.DKIM[0].Name != "homenode._domainkey.home.test." ||
		!strings.HasPrefix(res.DKIM[0].Value, "v=DKIM1; k=rsa; p=MIIBIjAN") {
		t.Errorf("DKIM record %+v", res.DKIM)
	}
	// p= is the DER public key of the key file, as a receiver decodes it.
	_, p, _ := strings.Cut(res.DKIM[0].Value, "p=")
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := LoadDKIMKey(cfg.Path(cfg.DKIM.Key))
	if err != nil {
		t.Fatal(err)
	}
	if !priv.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
		t.Error("DNS record does not publish the key in the key file")
	}
	if s := res.DKIM[0].String(); !strings.Contains(s, `" "`) {
		t.Errorf("a 2048-bit key record must be split into 255-byte strings: %s", s)
	}

	if _, err := Init(InitOptions{Dir: dir, Domain: "home.test"}); !errors.Is(err, ErrAlreadyInitialised) {
		t.Errorf("second init: %v, want ErrAlreadyInitialised", err)
	}
}

func TestInitRefusesPublicPlain(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	_, err := Init(InitOptions{Dir: dir, Domain: "home.test", Plain: true, IMAP: "0.0.0.0:143"})
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Key != "--imap" || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("err = %v, want a --imap loopback refusal", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("refused init left %s behind", dir)
	}
}

// FuzzParseConfig: any file gives a config or one error line, never a panic.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(goodConfig))
	f.Add([]byte("domains = [\"a.test\"]\n[listen]\nplain_imap = \"0.0.0.0:1\"\n"))
	f.Add([]byte("max_message_size = \"5 GiB\"\nlog_level = 3\n[mx]\n\"x\" = 5\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig("f.toml", data)
		if err != nil {
			if !errors.Is(err, ErrBadConfig) {
				t.Fatalf("error not ErrBadConfig: %v", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is more than one line: %q", err)
			}
			return
		}
		cfg.Dir = "/d"
		if err := cfg.Validate(); err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("validation error is more than one line: %q", err)
		}
	})
}

func TestInitDefaults(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	res, err := Init(InitOptions{Dir: dir, Domain: "home.test", Hostname: "mx.home.test", IMAPS: "off", Submission: "192.0.2.7:587"})
	if err != nil {
		t.Fatal(err)
	}
	want := Listen{SMTP: DefaultSMTP, Submission: "192.0.2.7:587", Submissions: DefaultSubmissions, IMAP: DefaultIMAP}
	if res.Config.Listen != want {
		t.Errorf("listeners = %+v, want %+v", res.Config.Listen, want)
	}
	cert, err := firstCertDER(res.Config.Path(res.Config.TLS.Cert))
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(cert)
	if err != nil {
		t.Fatal(err)
	}
	// Wildcard listener hosts add nothing; concrete ones are covered.
	if got := strings.Join(c.DNSNames, ","); got != "mx.home.test,home.test" {
		t.Errorf("DNS SANs = %s", got)
	}
	if len(c.IPAddresses) != 1 || c.IPAddresses[0].String() != "192.0.2.7" {
		t.Errorf("IP SANs = %v", c.IPAddresses)
	}
	if c.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("key algorithm %v, want ECDSA P-256", c.PublicKeyAlgorithm)
	}
}

// TestQuotaConfig: [quota] with an override per account reaches the store
// as limits, overrides keeping the defaults they do not name, and survives
// RenderConfig.
func TestQuotaConfig(t *testing.T) {
	text := goodConfig + `
[quota]
bytes = "100MiB"
messages = 5000
min_free_disk = "1GiB"

[quota.accounts."Lamp@home.test"]
bytes = "16MiB"
max_message_size = "1MiB"
`
	cfg := validConfig(t, []byte(text))
	want := mailstore.Limits{
		Default:     mailstore.Quota{Bytes: 100 << 20, Messages: 5000},
		Accounts:    map[string]mailstore.Quota{"lamp@home.test": {Bytes: 16 << 20, Messages: 5000, MaxMessageSize: 1 << 20}},
		MinFreeDisk: 1 << 30,
	}
	if got := cfg.StoreLimits(); !reflect.DeepEqual(got, want) {
		t.Errorf("StoreLimits = %+v, want %+v", got, want)
	}
	again := validConfig(t, RenderConfig(cfg))
	if got := again.StoreLimits(); !reflect.DeepEqual(got, want) {
		t.Errorf("StoreLimits after RenderConfig = %+v, want %+v", got, want)
	}

	// Without [quota]: the defaults.
	cfg = validConfig(t, []byte(goodConfig))
	if got := cfg.StoreLimits(); got.Default.Bytes != DefaultQuota || got.MinFreeDisk != DefaultMinFreeDisk || got.StoreBytes != 0 {
		t.Errorf("default limits = %+v", got)
	}
}

// TestSMTPLimitsRender: [smtp_limits] and [spool] survive RenderConfig, set
// values and filled-in defaults alike.
func TestSMTPLimitsRender(t *testing.T) {
	text := goodConfig + `
[smtp_limits]
max_connections = 40
mx_per_sender_burst = 7

[spool]
disk = "64MiB"
`
	cfg := validConfig(t, []byte(text))
	if cfg.SMTPLimits.MaxConnections != 40 || cfg.SMTPLimits.MXPerSenderBurst != 7 || cfg.SMTPLimits.MaxConnectionsPerClient != 10 ||
		cfg.Spool.Disk != 64<<20 || cfg.Spool.Memory != cfg.MaxMessageSize {
		t.Fatalf("parsed %+v, spool %+v", cfg.SMTPLimits, cfg.Spool)
	}
	again := validConfig(t, RenderConfig(cfg))
	if again.SMTPLimits != cfg.SMTPLimits || again.Spool != cfg.Spool {
		t.Errorf("after RenderConfig: %+v, spool %+v; want %+v, spool %+v", again.SMTPLimits, again.Spool, cfg.SMTPLimits, cfg.Spool)
	}
}

// validConfig parses and validates a config file's text (with Dir /d).
func validConfig(t *testing.T, text []byte) *Config {
	t.Helper()
	cfg, err := ParseConfig("x.toml", text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	cfg.Dir = "/d"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}
