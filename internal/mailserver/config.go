package mailserver

import (
	"fmt"
	"os"
	"path/filepath"
	"text/template"
)

// layout is where an instance keeps everything, and the values the
// configuration templates fill in.
type layout struct {
	Root     string // the instance's directory
	Domain   string
	Hostname string

	// Dovecot.
	DovecotConf string
	BaseDir     string // sockets (auth-postfix, lmtp) and runtime state
	StateDir    string
	MailDir     string // homes of the mail users
	// Users holds one passwd-file per user (passdb and userdb), named by
	// the address: Dovecot rereads a changed file at most once a second, so
	// a user added to a shared file right after a lookup would stay unknown
	// for up to a second; a new file is read at its first lookup.
	Users      string
	DovecotLog string
	MailUID    int // the mail user the stores belong to
	MailGID    int
	DovecotGID int // the group Dovecot's auth process reads Users as
	IMAPPort   int
	IMAPSPort  int

	// Postfix.
	PostfixConf string // config_directory: main.cf and master.cf
	Queue       string
	Data        string
	PostfixLog  string
	MXPort      int
	SubPort     int // submission, STARTTLS offered
	SubsPort    int // submission over implicit TLS

	Cert, Key string // PEM files, shared by both servers
}

func newLayout(root, domain string) *layout {
	return &layout{
		Root:        root,
		Domain:      domain,
		Hostname:    "mail." + domain,
		DovecotConf: filepath.Join(root, "dovecot", "dovecot.conf"),
		BaseDir:     filepath.Join(root, "dovecot", "run"),
		StateDir:    filepath.Join(root, "dovecot", "state"),
		MailDir:     filepath.Join(root, "mail"),
		Users:       filepath.Join(root, "dovecot", "users"),
		DovecotLog:  filepath.Join(root, "dovecot.log"),
		PostfixConf: filepath.Join(root, "postfix", "etc"),
		Queue:       filepath.Join(root, "postfix", "spool"),
		Data:        filepath.Join(root, "postfix", "data"),
		PostfixLog:  filepath.Join(root, "postfix.log"),
		Cert:        filepath.Join(root, "tls", "cert.pem"),
		Key:         filepath.Join(root, "tls", "key.pem"),
	}
}

// LMTP and AuthSocket are Dovecot's listeners that Postfix uses.
func (l *layout) LMTP() string       { return filepath.Join(l.BaseDir, "lmtp") }
func (l *layout) AuthSocket() string { return filepath.Join(l.BaseDir, "auth-postfix") }

// dovecotConf is a complete dovecot.conf: nothing is read from /etc/dovecot.
// Plain IMAP login is allowed because the instance listens on loopback only.
var dovecotConf = template.Must(template.New("dovecot.conf").Parse(`# Private Dovecot for tests (written by internal/mailserver).
instance_name = thingpost-{{.IMAPPort}}
base_dir = {{.BaseDir}}
state_dir = {{.StateDir}}
log_path = {{.DovecotLog}}
protocols = imap lmtp
listen = 127.0.0.1
hostname = {{.Hostname}}
shutdown_clients = yes

ssl = yes
ssl_cert = <{{.Cert}}
ssl_key = <{{.Key}}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
# Tests check refused logins; the brute-force delay would only slow them.
auth_failure_delay = 0

first_valid_uid = {{.MailUID}}
last_valid_uid = {{.MailUID}}
first_valid_gid = {{.MailGID}}
last_valid_gid = {{.MailGID}}
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
}

passdb {
  driver = passwd-file
  args = scheme=PLAIN {{.Users}}/%u
}
userdb {
  driver = passwd-file
  args = {{.Users}}/%u
}

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = {{.IMAPPort}}
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = {{.IMAPSPort}}
    ssl = yes
  }
}
service lmtp {
  unix_listener lmtp {
    user = postfix
    group = postfix
    mode = 0600
  }
}
service auth {
  unix_listener auth-postfix {
    user = postfix
    group = postfix
    mode = 0600
  }
}
protocol lmtp {
  postmaster_address = postmaster@{{.Domain}}
}
`))

// mainCF is Postfix's main.cf. Mail for the domain goes to Dovecot by LMTP;
// mail for anywhere else bounces at once (default_transport), and no DNS is
// ever asked, so the instance is hermetic.
var mainCF = template.Must(template.New("main.cf").Parse(`# Private Postfix for tests (written by internal/mailserver).
compatibility_level = 3.6
queue_directory = {{.Queue}}
data_directory = {{.Data}}
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = {{.PostfixLog}}
maillog_file_prefixes = {{.Root}}
syslog_name = postfix-test

myhostname = {{.Hostname}}
mydomain = {{.Domain}}
myorigin = $mydomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
alias_maps =
alias_database =
local_recipient_maps =
biff = no
append_dot_mydomain = no
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled

virtual_mailbox_domains = {{.Domain}}
virtual_transport = lmtp:unix:{{.LMTP}}
default_transport = error:no mail leaves this test instance
relay_transport = error:no mail leaves this test instance

# Retry soon: a delivery that met Dovecot still starting is not held long.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
delay_warning_time = 0

smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_sasl_type = dovecot
smtpd_sasl_path = {{.AuthSocket}}
smtpd_sasl_auth_enable = no
smtpd_tls_chain_files = {{.Key}}, {{.Cert}}
smtpd_tls_security_level = none
`))

// masterCF runs only the services this instance needs, none chrooted (the
// sockets live in the instance's directory).
var masterCF = template.Must(template.New("master.cf").Parse(`# Private Postfix for tests (written by internal/mailserver).
127.0.0.1:{{.MXPort}} inet n - n - - smtpd
127.0.0.1:{{.SubPort}} inet n - n - - smtpd
  -o syslog_name=postfix-test/submission
  -o smtpd_tls_security_level=may
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
127.0.0.1:{{.SubsPort}} inet n - n - - smtpd
  -o syslog_name=postfix-test/submissions
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
smtp      unix  - - n - - smtp
lmtp      unix  - - n - - lmtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
`))

// writeConfigs renders the three configuration files.
func (l *layout) writeConfigs() error {
	for _, f := range []struct {
		tmpl *template.Template
		path string
	}{
		{dovecotConf, l.DovecotConf},
		{mainCF, filepath.Join(l.PostfixConf, "main.cf")},
		{masterCF, filepath.Join(l.PostfixConf, "master.cf")},
	} {
		if err := writeTemplate(f.tmpl, f.path, l); err != nil {
			return err
		}
	}
	return nil
}

func writeTemplate(t *template.Template, path string, data any) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", t.Name(), err)
	}
	if err := t.Execute(f, data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", t.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", t.Name(), err)
	}
	return nil
}
