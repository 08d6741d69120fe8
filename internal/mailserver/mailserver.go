package mailserver

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/thingpost/thingpost/internal/testutil"
	"github.com/thingpost/thingpost/transport"
)

// ErrUnavailable is wrapped by Available (and Start) when this machine
// cannot run an instance: not root, or the packages are not installed.
var ErrUnavailable = errors.New("postfix and dovecot unavailable")

// errAddrInUse marks a start that lost a port to another process between
// choosing it and binding it; Start then tries again with other ports.
var errAddrInUse = errors.New("address already in use")

// startAttempts bounds those retries.
const startAttempts = 3

// stopGrace is how long Close waits for a clean exit before SIGKILL.
const stopGrace = 10 * time.Second

// Server is a running private Postfix + Dovecot instance. Its addresses
// are "127.0.0.1:port".
type Server struct {
	Domain string
	// IMAP offers STARTTLS and also allows plain login (loopback only);
	// IMAPS is implicit TLS.
	IMAP, IMAPS string
	// MX accepts mail for Domain from anyone, without login, as an
	// internet-facing server does.
	MX string
	// Submission requires login and offers STARTTLS; Submissions is
	// submission over implicit TLS.
	Submission, Submissions string
	// CertSHA256 is the pin of the self-signed certificate both servers
	// present (certpin.Fingerprint), as transport.Account.PinSHA256 takes it.
	CertSHA256 string

	l        *layout
	dovecot  *proc
	postfix  *proc
	watchdog *exec.Cmd
	alive    *os.File // the watchdog's stdin; see startWatchdog
	mu       sync.Mutex
	closeErr error
	closed   bool
}

// User is a mail account on the instance.
type User struct {
	Address  string
	Password string
}

// binaries are the programs an instance runs.
type binaries struct {
	postfix, master, dovecot string
}

// Available says whether an instance can run here; the error (wrapping
// ErrUnavailable) says what is missing.
func Available() error {
	_, err := findBinaries()
	return err
}

func findBinaries() (binaries, error) {
	if os.Geteuid() != 0 {
		return binaries{}, fmt.Errorf("%w: Postfix's master must run as root", ErrUnavailable)
	}
	var b binaries
	var missing []string
	look := func(name string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, dir := range []string{"/usr/sbin", "/usr/local/sbin"} {
			if p := filepath.Join(dir, name); isExecutable(p) {
				return p
			}
		}
		missing = append(missing, name)
		return ""
	}
	b.postfix, b.dovecot = look("postfix"), look("dovecot")
	if b.postfix != "" {
		out, err := exec.Command(filepath.Join(filepath.Dir(b.postfix), "postconf"), "-dh", "daemon_directory").Output()
		if d := strings.TrimSpace(string(out)); err == nil && isExecutable(filepath.Join(d, "master")) {
			b.master = filepath.Join(d, "master")
		} else {
			missing = append(missing, "postfix master")
		}
	}
	if b.dovecot != "" {
		// dovecot-core alone has neither IMAP nor LMTP.
		// /dev/null: the compiled-in default, whatever the system config says.
		out, err := exec.Command(b.dovecot, "-c", os.DevNull, "config", "-h", "libexec_dir").Output()
		d := strings.TrimSpace(string(out))
		for _, p := range []string{"imap", "lmtp"} {
			if err != nil || !isExecutable(filepath.Join(d, p)) {
				missing = append(missing, "dovecot "+p)
			}
		}
	}
	for _, u := range []string{"postfix", "dovecot", "dovenull", "mail"} {
		if _, err := user.Lookup(u); err != nil {
			missing = append(missing, "user "+u)
		}
	}
	if len(missing) > 0 {
		return binaries{}, fmt.Errorf("%w: missing %s (Debian packages postfix, dovecot-imapd, dovecot-lmtpd; scripts/bootstrap.sh installs them)",
			ErrUnavailable, strings.Join(missing, ", "))
	}
	return b, nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// StartForTest runs an instance for domain for the test t and closes it when
// t ends, logging the servers' logs if t failed. Where this machine cannot
// run one it skips t, except under CI, which installs the packages.
func StartForTest(t testing.TB, domain string) *Server {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI must run Postfix and Dovecot (scripts/bootstrap.sh installs them): %v", err)
		}
		t.Skipf("no private Postfix and Dovecot here: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	begin := time.Now()
	s, err := Start(ctx, domain)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Postfix and Dovecot ready in %v", time.Since(begin).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("Postfix and Dovecot logs:\n%s", s.Logs())
		}
		if err := s.Close(); err != nil {
			t.Errorf("stop mail server: %v", err)
		}
	})
	return s
}

// Start runs a new instance for domain in a fresh temporary directory and
// returns once both servers answer on all their ports. Close stops it and
// removes the directory. The first error says what failed and includes the
// servers' logs.
func Start(ctx context.Context, domain string) (*Server, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		s, err := start(ctx, bin, domain)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, errAddrInUse) || attempt == startAttempts {
			return nil, err
		}
	}
}

func start(ctx context.Context, bin binaries, domain string) (_ *Server, err error) {
	root, err := os.MkdirTemp("", "mailserver-")
	if err != nil {
		return nil, fmt.Errorf("mail server: %w", err)
	}
	s := &Server{Domain: domain, l: newLayout(root, domain)}
	defer func() {
		if err != nil {
			logs := s.Logs()
			s.Close()
			if strings.Contains(logs, "ddress already in use") {
				err = fmt.Errorf("%w (%w)", err, errAddrInUse)
			}
			err = fmt.Errorf("mail server: %w\n%s", err, logs)
		}
	}()
	if err := s.prepare(); err != nil {
		return nil, err
	}
	l := s.l
	if s.dovecot, err = startProc(bin.dovecot, "-F", "-c", l.DovecotConf); err != nil {
		return nil, err
	}
	// This creates the queue's directories with the owners Postfix wants
	// (what "postfix check" does first, without its slow survey of the
	// system's Postfix files).
	if out, err := exec.CommandContext(ctx, bin.postfix, "-c", l.PostfixConf, "post-install", "create-missing").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("postfix post-install: %w: %s", err, out)
	}
	// Without -d the master makes itself a session leader, so its group
	// can be signalled as a whole.
	if s.postfix, err = startProc(bin.master, "-c", l.PostfixConf); err != nil {
		return nil, err
	}
	if s.watchdog, s.alive, err = startWatchdog(l.Root, s.dovecot.cmd.Process.Pid, s.postfix.cmd.Process.Pid); err != nil {
		return nil, err
	}
	if err := s.waitReady(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// prepare makes the directories (with the owners the servers' users
// need), the certificate and the configuration files, and chooses the
// ports.
func (s *Server) prepare() error {
	l := s.l
	// Postfix and Dovecot drop to their own users, which must reach the
	// sockets and the mail store under the instance's directory.
	if err := os.Chmod(l.Root, 0o755); err != nil {
		return err
	}
	for _, d := range []string{filepath.Dir(l.DovecotConf), l.PostfixConf, l.Queue, filepath.Dir(l.Cert), l.MailDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	mail, err := user.Lookup("mail")
	if err != nil {
		return err
	}
	l.MailUID, _ = strconv.Atoi(mail.Uid)
	l.MailGID, _ = strconv.Atoi(mail.Gid)
	dovecot, err := user.LookupGroup("dovecot")
	if err != nil {
		return err
	}
	l.DovecotGID, _ = strconv.Atoi(dovecot.Gid)
	if err := os.Chown(l.MailDir, l.MailUID, l.MailGID); err != nil {
		return err
	}
	if err := os.Chmod(l.MailDir, 0o700); err != nil {
		return err
	}
	// Both servers read the key as root, before dropping privileges.
	cert, err := testutil.NewTLSCert(l.Hostname)
	if err != nil {
		return err
	}
	if err := cert.WritePEM(l.Cert, l.Key); err != nil {
		return err
	}
	s.CertSHA256 = cert.Pin()
	if err := os.Mkdir(l.Users, 0o750); err != nil {
		return err
	}
	if err := os.Chown(l.Users, 0, l.DovecotGID); err != nil {
		return err
	}
	ports, err := freePorts(5)
	if err != nil {
		return err
	}
	l.IMAPPort, l.IMAPSPort, l.MXPort, l.SubPort, l.SubsPort = ports[0], ports[1], ports[2], ports[3], ports[4]
	hp := func(p int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p)) }
	s.IMAP, s.IMAPS, s.MX, s.Submission, s.Submissions = hp(l.IMAPPort), hp(l.IMAPSPort), hp(l.MXPort), hp(l.SubPort), hp(l.SubsPort)
	return l.writeConfigs()
}

// freePorts asks the kernel for n distinct free loopback ports. They are
// released before the servers bind them; a port taken in between makes
// the start fail with errAddrInUse and Start tries again.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("choose port: %w", err)
		}
		defer ln.Close() // held until all are chosen, so they differ
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// AddUser creates the mailbox local@Domain with a random password. It
// works while the instance runs.
func (s *Server) AddUser(local string) (User, error) {
	if local == "" || local == "." || local == ".." || strings.ContainsAny(local, ":@/\n\r\t ") {
		return User{}, fmt.Errorf("mail server: bad local part %q", local)
	}
	pw := make([]byte, 12)
	if _, err := rand.Read(pw); err != nil {
		return User{}, fmt.Errorf("mail server: %w", err)
	}
	u := User{Address: local + "@" + s.Domain, Password: hex.EncodeToString(pw)}
	home := filepath.Join(s.l.MailDir, local)
	if err := os.Mkdir(home, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return User{}, fmt.Errorf("mail server: %s exists", u.Address)
		}
		return User{}, fmt.Errorf("mail server: %w", err)
	}
	if err := os.Chown(home, s.l.MailUID, s.l.MailGID); err != nil {
		return User{}, fmt.Errorf("mail server: %w", err)
	}
	// user:password:uid:gid:gecos:home:shell, written whole before it
	// appears under its name, so Dovecot never reads half of it.
	line := fmt.Sprintf("%s:{PLAIN}%s:%d:%d::%s::\n", u.Address, u.Password, s.l.MailUID, s.l.MailGID, home)
	path := filepath.Join(s.l.Users, u.Address)
	if err := os.WriteFile(path+".new", []byte(line), 0o640); err != nil {
		return User{}, fmt.Errorf("mail server: %w", err)
	}
	// Dovecot's auth process reads it as the dovecot user.
	if err := os.Chown(path+".new", 0, s.l.DovecotGID); err != nil {
		return User{}, fmt.Errorf("mail server: %w", err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		return User{}, fmt.Errorf("mail server: %w", err)
	}
	return u, nil
}

// Account is a transport account for u with the given security: plain
// login and STARTTLS use the IMAP and Submission ports, implicit TLS the
// IMAPS and Submissions ports. With TLS the certificate is pinned.
func (s *Server) Account(u User, sec transport.Security) transport.Account {
	a := transport.Account{Address: u.Address, Password: u.Password,
		IMAP: transport.Server{HostPort: s.IMAP, Security: sec},
		SMTP: transport.Server{HostPort: s.Submission, Security: sec}}
	if sec == transport.SecurityTLS || sec == "" {
		a.IMAP.HostPort, a.SMTP.HostPort = s.IMAPS, s.Submissions
	}
	if sec != transport.SecurityPlain {
		a.PinSHA256 = s.CertSHA256
	}
	return a
}

// waitReady polls until Dovecot greets on both IMAP ports and Postfix on
// its three SMTP ports, failing early when either process exits.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	anyCert := &tls.Config{InsecureSkipVerify: true} // only the greeting is checked here
	checks := []struct {
		addr, greeting string
		tls            bool
		p              *proc
	}{
		{s.IMAP, "* OK", false, s.dovecot},
		{s.IMAPS, "* OK", true, s.dovecot},
		{s.MX, "220 ", false, s.postfix},
		{s.Submission, "220 ", false, s.postfix},
		{s.Submissions, "220 ", true, s.postfix},
	}
	for _, c := range checks {
		for {
			if err := c.p.exited(); err != nil {
				return err
			}
			err := greet(ctx, c.addr, c.greeting, c.tls, anyCert)
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("no greeting on %s: %w", c.addr, err)
			case <-c.p.done:
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

// greet connects to addr and reads its first line.
func greet(ctx context.Context, addr, want string, useTLS bool, cfg *tls.Config) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	conn.SetDeadline(dl)
	if useTLS {
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return err
		}
		conn = tc
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, want) {
		return fmt.Errorf("greeting %q", strings.TrimSpace(line))
	}
	return nil
}

// Logs returns what both servers logged so far, for a failing test.
func (s *Server) Logs() string {
	var b strings.Builder
	for _, f := range []struct{ name, path string }{{"dovecot", s.l.DovecotLog}, {"postfix", s.l.PostfixLog}} {
		data, err := os.ReadFile(f.path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(&b, "--- %s log: %v\n", f.name, err)
		}
		if len(data) > 0 {
			fmt.Fprintf(&b, "--- %s log (%s)\n%s", f.name, f.path, data)
		}
	}
	for _, p := range []*proc{s.dovecot, s.postfix} {
		if p != nil {
			if out := p.output(); out != "" {
				fmt.Fprintf(&b, "--- %s output\n%s\n", p.name, out)
			}
		}
	}
	return b.String()
}

// Close stops both servers, waiting for them to exit, and removes the
// instance's directory.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.closeErr
	}
	s.closed = true
	var errs []error
	for _, p := range []*proc{s.postfix, s.dovecot} {
		if p != nil {
			errs = append(errs, p.stop())
		}
	}
	if s.watchdog != nil {
		s.watchdog.Process.Kill()
		s.watchdog.Wait()
		s.alive.Close()
	}
	errs = append(errs, os.RemoveAll(s.l.Root))
	s.closeErr = errors.Join(errs...)
	return s.closeErr
}

// watchdogScript waits for EOF on stdin, then ends the process groups
// named by its arguments after the first, politely, then for good, and
// removes the instance's directory, the first argument. (It is POSIX sh:
// dash takes "kill -TERM -PGID" but not "--".)
const watchdogScript = `dir=$1; shift
read -r _
for g; do kill -TERM "-$g"; done 2>/dev/null
sleep 1
for g; do kill -KILL "-$g"; done 2>/dev/null
rm -rf -- "$dir"`

// startWatchdog starts a shell that ends the servers' process groups and
// removes dir when the test process dies without Close (a panic, go test's
// timeout, a SIGKILL): its stdin is a pipe whose only writer, alive, is
// held by this process (close-on-exec, so no child inherits it), and the
// kernel closes it when this process dies. A death signal (Pdeathsig)
// would not do: Postfix's master changes its effective IDs, which clears
// it. The watchdog has its own process group, so a Ctrl-C that stops the
// tests does not stop it first.
func startWatchdog(dir string, pgids ...int) (*exec.Cmd, *os.File, error) {
	r, alive, err := os.Pipe()
	if err != nil {
		return nil, nil, fmt.Errorf("watchdog: %w", err)
	}
	defer r.Close()
	args := []string{"-c", watchdogScript, "watchdog", dir}
	for _, g := range pgids {
		args = append(args, strconv.Itoa(g))
	}
	cmd := exec.Command("/bin/sh", args...)
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		alive.Close()
		return nil, nil, fmt.Errorf("watchdog: %w", err)
	}
	return cmd, alive, nil
}

// proc is one server's main process.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *testutil.SyncBuffer
	done chan struct{}
	err  error // set before done closes
}

func startProc(path string, args ...string) (*proc, error) {
	p := &proc{name: filepath.Base(path), out: &testutil.SyncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(path, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group, so that Close can end every process it
		// forked (Postfix's master makes its own session).
		Setpgid: p.name != "master",
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", p.name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited returns an error when the process has ended.
func (p *proc) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited: %v", p.name, p.err)
	default:
		return nil
	}
}

// stop sends SIGTERM (both masters then stop their children) and, after
// stopGrace, SIGKILL to the whole process group.
func (p *proc) stop() error {
	pid := p.cmd.Process.Pid
	select {
	case <-p.done:
		return nil
	default:
	}
	syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		syscall.Kill(-pid, syscall.SIGKILL)
		<-p.done
		return fmt.Errorf("%s did not stop within %v: killed", p.name, stopGrace)
	}
	// Children that outlive their master would hold the directory.
	syscall.Kill(-pid, syscall.SIGKILL)
	return nil
}

func (p *proc) output() string { return strings.TrimSpace(p.out.String()) }
