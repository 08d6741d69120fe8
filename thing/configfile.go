package thing

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/template"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/thing/driver"
	"github.com/thingpost/thingpost/transport"
)

// ConfigFile is the name of a thing's TOML configuration in its data directory.
const ConfigFile = "thing.toml"

// File is the TOML form of a thing's configuration.
type File struct {
	Name string `toml:"name"`
	Kind string `toml:"kind"`
	Addr string `toml:"addr"`
	Mail struct {
		IMAP      string `toml:"imap"`
		SMTP      string `toml:"smtp"`
		Security  string `toml:"security"`
		User      string `toml:"user"`
		Password  string `toml:"password"`
		PinSHA256 string `toml:"pin_sha256"`
	} `toml:"mail"`
	Processed     string        `toml:"processed_folder"`
	Quarantine    string        `toml:"quarantine_folder"`
	ReplayWindow  time.Duration `toml:"replay_window"`
	InviteTTL     time.Duration `toml:"invite_ttl"`
	MaxSize       int64         `toml:"max_message_size"`
	GuestCommands []string      `toml:"guest_commands"`
	RatePerMinute int           `toml:"rate_per_minute"`
	AuthservID    string        `toml:"authserv_id"`
	Driver        driver.Config `toml:"device"`

	// The quarantine keeps the newest refused messages within these.
	QuarantineMessages int           `toml:"quarantine_max_messages"`
	QuarantineBytes    int64         `toml:"quarantine_max_bytes"`
	QuarantineAge      time.Duration `toml:"quarantine_max_age"`
}

// LoadConfig reads dir/thing.toml and checks it; errors name the file and
// the problem in one line.
func LoadConfig(dir string) (Config, error) {
	path := filepath.Join(dir, ConfigFile)
	var f File
	md, err := toml.DecodeFile(path, &f)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return Config{}, fmt.Errorf("%s:%d: %s", path, perr.Position.Line, perr.Message)
		}
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	if un := md.Undecoded(); len(un) > 0 {
		return Config{}, fmt.Errorf("%s: unknown setting %q", path, un[0].String())
	}
	cfg, err := f.config(dir)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Account is the mail account the file describes, checked.
func (f *File) Account() (transport.Account, error) {
	sec, err := transport.ParseSecurity(f.Mail.Security)
	if err != nil {
		return transport.Account{}, fmt.Errorf("mail.security: %w", err)
	}
	addr, err := keystore.NormalizeAddr(f.Addr)
	if err != nil {
		return transport.Account{}, fmt.Errorf("addr: %w", err)
	}
	acct := transport.Account{
		Address:   addr,
		IMAP:      transport.Server{HostPort: f.Mail.IMAP, Security: sec},
		SMTP:      transport.Server{HostPort: f.Mail.SMTP, Security: sec},
		User:      f.Mail.User,
		Password:  f.Mail.Password,
		PinSHA256: f.Mail.PinSHA256,
	}
	if err := acct.Validate(); err != nil {
		return transport.Account{}, fmt.Errorf("mail: %w", err)
	}
	return acct, nil
}

func (f *File) config(dir string) (Config, error) {
	acct, err := f.Account()
	if err != nil {
		return Config{}, err
	}
	cfg := Config{
		DataDir:       dir,
		Name:          f.Name,
		Kind:          f.Kind,
		Account:       acct,
		Driver:        f.Driver,
		Window:        f.ReplayWindow,
		MaxSize:       f.MaxSize,
		Processed:     f.Processed,
		Quarantine:    f.Quarantine,
		InviteTTL:     f.InviteTTL,
		GuestCommands: f.GuestCommands,
		Rate:          f.RatePerMinute,
		AuthservID:    f.AuthservID,
	}
	if err := CheckAuthservID(f.AuthservID); err != nil {
		return Config{}, err
	}
	cfg.QuarantineKeep = QuarantineLimits{Messages: f.QuarantineMessages, Bytes: f.QuarantineBytes, Age: f.QuarantineAge}
	if err := cfg.Driver.Check(f.Kind); err != nil {
		return Config{}, fmt.Errorf("kind %q: %w", f.Kind, err)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"replay_window", f.ReplayWindow}, {"invite_ttl", f.InviteTTL}} {
		if d.v < 0 {
			return Config{}, fmt.Errorf("%s: must not be negative", d.name)
		}
	}
	if f.MaxSize < 0 || f.RatePerMinute < 0 {
		return Config{}, errors.New("max_message_size and rate_per_minute must not be negative")
	}
	if err := checkQuarantine(cmp.Or(f.Quarantine, DefaultQuarantine), f.Processed, cfg.QuarantineKeep); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

var fileTemplate = template.Must(template.New("thing.toml").Parse(`# thingd configuration for one thing. Edit and restart thingd.

# The name people see (the owner can change it with "rename").
name = {{printf "%q" .Name}}
# The device: light, thermostat, lock, sensor or exec.
kind = {{printf "%q" .Kind}}
# The thing's own mail address; its key (identity.key) is bound to it.
addr = {{printf "%q" .Addr}}

# Where handled mail goes; "" deletes it instead.
processed_folder = {{printf "%q" .Processed}}
# Where refused mail is kept, never answered. Anyone can send such mail, so
# the folder keeps only the newest: at most quarantine_max_messages, together
# at most quarantine_max_bytes, none older than quarantine_max_age (0 or no
# line: the default). The thing counts every refused message by reason; the
# owner's "status" shows the counts. Must be neither INBOX nor
# processed_folder.
quarantine_folder = {{printf "%q" .Quarantine}}
quarantine_max_messages = 100
quarantine_max_bytes = 8388608
quarantine_max_age = "720h"
# How old a command's protected Date may be.
replay_window = "10m"
# How long an owner's invite code works.
invite_ttl = "15m"
# Largest message the thing opens, in bytes.
max_message_size = 1048576
# Device commands guests may send; remove the line to allow them all.
# guest_commands = ["on", "off", "toggle", "set"]
# Messages one person may send per minute.
rate_per_minute = 30
# The mail server whose Authentication-Results headers (RFC 8601) show that a
# person pairing through an invite really sends from his address: a login
# there, or a DKIM signature it checked. On homenode: its hostname. Name only
# a server that removes incoming such headers in its name (homenode does; for
# Postfix with OpenDKIM, set its AuthservID and RemoveARAll or RemoveARFrom).
# Empty: every person pairing through an invite waits until the owner
# sends "confirm ADDRESS".
authserv_id = {{printf "%q" .AuthservID}}

[mail]
# IMAP and SMTP submission servers of the thing's mail account, host:port.
imap = {{printf "%q" .Mail.IMAP}}
smtp = {{printf "%q" .Mail.SMTP}}
# tls (implicit TLS), starttls, or plain (only to a loopback address).
security = {{printf "%q" .Mail.Security}}
# Login name; empty means the address.
user = {{printf "%q" .Mail.User}}
# The account password (this file is mode 0600: a thing boots unattended).
password = {{printf "%q" .Mail.Password}}
# SHA-256 fingerprint of the server certificate, for a self-signed home node;
# empty means ordinary certificate checks.
pin_sha256 = {{printf "%q" .Mail.PinSHA256}}

[device]
# What sentences call the device ("The lamp is on.").
# noun = "lamp"
# How often simulated values change (thermostat, sensor).
# tick = "10s"
#
# An exec thing maps commands to programs, run without a shell:
# [[device.exec.command]]
# name = "backup"
# program = "/usr/local/bin/backup"
# args = [{ name = "level", type = "int", min = 0, max = 9 }]
# argv = ["--level", "{level}"]
# timeout = "30s"
`))

// WriteConfig writes a commented dir/thing.toml (mode 0600) for f.
func WriteConfig(dir string, f *File) error {
	var b bytes.Buffer
	if err := fileTemplate.Execute(&b, f); err != nil {
		return fmt.Errorf("render %s: %w", ConfigFile, err)
	}
	var check File
	if _, err := toml.Decode(b.String(), &check); err != nil {
		return fmt.Errorf("render %s: %w", ConfigFile, err)
	}
	path := filepath.Join(dir, ConfigFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
