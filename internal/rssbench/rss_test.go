package rssbench_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/thingpost/thingpost/internal/dcrpc"
	"github.com/thingpost/thingpost/internal/testutil"
)

const (
	domain   = "router.test"
	accounts = 20   // 3 things, the Delta Chat user, 16 mail users
	messages = 1000 // submitted among the mail users, then fetched
	workers  = 4    // concurrent SMTP and IMAP clients
	// idle is how long the processes sit with only the things' and Delta
	// Chat's connections open before the steady figure is read.
	idle = 10 * time.Second
)

// things are the three things thingd serves, with a few commands each and a
// piece of the answer each command gets.
var things = []struct {
	kind     string
	commands [][2]string
}{
	{"light", [][2]string{{"on", "is on"}, {"set brightness 40", "40%"}, {"status", "is on"}}},
	{"thermostat", [][2]string{{"set target 21", "21"}, {"status", "The "}}},
	{"lock", [][2]string{{"unlock", "unlocked"}, {"lock", "is locked"}}},
}

// BenchmarkRouterSession is one working session of a home router, with both
// programs as real processes on loopback: homenode with 20 accounts; thingd
// serving a light, a thermostat and a lock; a real Delta Chat core pairing
// with all three (Securejoin) and commanding them; 1,000 messages of 2-16
// KiB (every hundredth 512 KiB, a photo) submitted over authenticated SMTP
// by 16 users and fetched whole over IMAP. It reports each process's peak
// (VmHWM) and steady (VmRSS after 10 s idle) resident size in MiB. A session
// takes about a minute: run it with -benchtime 1x.
func BenchmarkRouterSession(b *testing.B) {
	if testing.Short() {
		b.Skip("-short: builds both binaries and runs a session of about a minute")
	}
	dcBin := dcrpc.BinaryForTest(b)
	bin := b.TempDir()
	build(b, bin, "homenode", "thingd")
	b.ReportMetric(0, "ns/op") // wall time says nothing here
	for range b.N {
		s := runSession(b, bin, dcBin)
		b.ReportMetric(mib(s.node.hwm), "homenode-peak-RSS-MiB")
		b.ReportMetric(mib(s.node.rss), "homenode-steady-RSS-MiB")
		b.ReportMetric(mib(s.thingd.hwm), "thingd-peak-RSS-MiB")
		b.ReportMetric(mib(s.thingd.rss), "thingd-steady-RSS-MiB")
	}
}

type result struct{ node, thingd memStatus }

func runSession(b *testing.B, bin, dcBin string) result {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	tmp := b.TempDir()
	smtpAddr, submission, imapAddr := freePort(b), freePort(b), freePort(b)
	data := filepath.Join(tmp, "node")
	run(b, "", filepath.Join(bin, "homenode"), "init", "--data", data, "--domain", domain, "--plain",
		"--smtp", smtpAddr.String(), "--submission", submission.String(), "--imap", imapAddr.String())
	pass := map[string]string{}
	var users []string
	for i := range accounts {
		local := fmt.Sprintf("user%02d", i)
		switch {
		case i < len(things):
			local = things[i].kind
		case i == len(things):
			local = "person"
		}
		addr := local + "@" + domain
		pass[addr] = "pw-" + local + "-secret"
		run(b, pass[addr]+"\n", filepath.Join(bin, "homenode"), "user", "add", addr, "--password-stdin", "--data", data)
		if i > len(things) {
			users = append(users, addr)
		}
	}
	node := start(b, filepath.Join(bin, "homenode"), "run", "--data", data)
	waitListening(b, imapAddr.String())

	args := []string{"run"}
	invites := make([]string, len(things))
	for i, th := range things {
		dir := filepath.Join(tmp, th.kind)
		addr := th.kind + "@" + domain
		out := run(b, pass[addr]+"\n", filepath.Join(bin, "thingd"), "init", "--data", dir, "--addr", addr,
			"--name", th.kind, "--kind", th.kind, "--imap", imapAddr.String(), "--smtp", submission.String(), "--security", "plain", "--password-stdin")
		invites[i] = strings.TrimSpace(out)
		args = append(args, "--data", dir)
	}
	thingd := start(b, filepath.Join(bin, "thingd"), args...)
	waitSockets(b, thingd.Process.Pid, len(things)) // one IMAP connection per thing
	time.Sleep(time.Second)

	ph := &phases{b: b, pids: []int{node.Process.Pid, thingd.Process.Pid}, peak: make([]int, 2)}
	ph.end("start")
	pairAndCommand(b, ctx, dcBin, tmp, "person@"+domain, pass["person@"+domain], imapAddr, submission, invites)
	ph.end("pair and command")
	sent := submitAll(b, submission.String(), users, pass)
	ph.end("submit")
	fetchAll(b, imapAddr.String(), users, pass, sent)
	ph.end("fetch")
	time.Sleep(idle)
	last := ph.end("idle")
	b.Logf("homenode after idle, resident by mapping: %s", mappings(b, node.Process.Pid))
	b.Logf("thingd after idle, resident by mapping: %s", mappings(b, thingd.Process.Pid))
	res := result{node: last[0], thingd: last[1]}
	res.node.hwm, res.thingd.hwm = ph.peak[0], ph.peak[1]
	return res
}

// phases logs each process's memory at the end of each phase of the
// session, with the peak during the phase: the kernel's peak (VmHWM) is
// reset after each reading (clear_refs 5), and the overall peak kept.
type phases struct {
	b    *testing.B
	pids []int
	peak []int // KiB, over all phases so far
}

func (p *phases) end(name string) []memStatus {
	out := make([]memStatus, len(p.pids))
	for i, pid := range p.pids {
		out[i] = readStatus(p.b, pid)
		p.peak[i] = max(p.peak[i], out[i].hwm)
		if err := os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0); err != nil {
			p.b.Fatalf("reset the peak RSS of %d: %v", pid, err)
		}
	}
	p.b.Logf("%-16s homenode %s | thingd %s", name+":", out[0], out[1])
	return out
}

// pairAndCommand configures a Delta Chat account, joins each thing with its
// factory invite, waits for the welcome and sends the thing's commands, each
// answered before the next.
func pairAndCommand(b *testing.B, ctx context.Context, dcBin, tmp, addr, password string, imapAddr, submission *net.TCPAddr, invites []string) {
	dc, err := dcrpc.Start(dcBin, filepath.Join(tmp, "deltachat"), io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { dc.Close() })
	acc, err := dc.AddAccount(ctx)
	if err != nil {
		b.Fatal(err)
	}
	err = dc.AddTransport(ctx, acc, dcrpc.Transport{Addr: addr, Password: password,
		IMAPServer: imapAddr.IP.String(), IMAPPort: imapAddr.Port, IMAPSecurity: "plain",
		SMTPServer: submission.IP.String(), SMTPPort: submission.Port, SMTPSecurity: "plain",
		CertificateChecks: "acceptInvalidCertificates"})
	if err != nil {
		b.Fatalf("configure Delta Chat: %v", err)
	}
	mark := dc.Mark()
	if err := dc.StartIO(ctx, acc); err != nil {
		b.Fatal(err)
	}
	// Mail that arrives before Delta Chat's first SELECT is never fetched.
	waitEvent(b, ctx, dc, mark, "IMAP IDLE", func(e dcrpc.Event) bool { return e.ContextID == acc && e.Kind == "ImapInboxIdle" })
	for i, th := range things {
		mark := dc.Mark()
		chat, err := dc.SecureJoin(ctx, acc, invites[i])
		if err != nil {
			b.Fatalf("join %s: %v", th.kind, err)
		}
		answer(b, ctx, dc, acc, chat, mark, "You are my owner")
		for _, c := range th.commands {
			mark := dc.Mark()
			if _, err := dc.SendText(ctx, acc, chat, c[0]); err != nil {
				b.Fatal(err)
			}
			answer(b, ctx, dc, acc, chat, mark, c[1])
		}
	}
}

// answer waits for a message in chat after mark whose text contains want.
func answer(b *testing.B, ctx context.Context, dc *dcrpc.Client, acc, chat uint32, mark int, want string) {
	for {
		e := waitEvent(b, ctx, dc, mark, strconv.Quote(want), func(e dcrpc.Event) bool {
			return e.ContextID == acc && e.Kind == "IncomingMsg" && e.ChatID == chat
		})
		mark = e.Seq + 1
		m, err := dc.GetMessage(ctx, acc, e.MsgID)
		if err != nil {
			b.Fatal(err)
		}
		if strings.Contains(m.Text, want) {
			return
		}
	}
}

func waitEvent(b *testing.B, ctx context.Context, dc *dcrpc.Client, mark int, what string, match func(dcrpc.Event) bool) dcrpc.Event {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	e, err := dc.WaitEvent(ctx, mark, match)
	if err != nil {
		b.Fatalf("Delta Chat: waiting for %s: %v\n%s", what, err, dc.Recent(40))
	}
	return e
}

// submitAll sends the messages, user i to user i+1 (round robin), each
// sender on one authenticated submission connection, workers at a time. It
// returns the Message-IDs each recipient should find.
func submitAll(b *testing.B, submission string, users []string, pass map[string]string) map[string][]string {
	sent := map[string][]string{}
	for n := range messages {
		to := users[(n+1)%len(users)]
		sent[to] = append(sent[to], messageID(n))
	}
	parallel(b, users, func(i int, from string) error {
		c, err := smtp.Dial(submission)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Auth(sasl.NewPlainClient("", from, pass[from])); err != nil {
			return fmt.Errorf("auth %s: %w", from, err)
		}
		for n := i; n < messages; n += len(users) {
			to := users[(n+1)%len(users)]
			if err := c.SendMail(from, []string{to}, bytes.NewReader(message(n, from, to))); err != nil {
				return fmt.Errorf("message %d: %w", n, err)
			}
		}
		return c.Quit()
	})
	return sent
}

// fetchAll fetches every message of every user's INBOX whole (BODY.PEEK[],
// streamed) and checks that exactly the sent ones are there.
func fetchAll(b *testing.B, imapAddr string, users []string, pass map[string]string, sent map[string][]string) {
	parallel(b, users, func(_ int, user string) error {
		c, err := imapclient.DialInsecure(imapAddr, nil)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Login(user, pass[user]).Wait(); err != nil {
			return fmt.Errorf("login %s: %w", user, err)
		}
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			return err
		}
		var all imap.UIDSet
		all.AddRange(1, 0)
		fetch := c.Fetch(all, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
		var got []string
		for m := fetch.Next(); m != nil; m = fetch.Next() {
			for item := m.Next(); item != nil; item = m.Next() {
				if body, ok := item.(imapclient.FetchItemDataBodySection); ok {
					id, err := readMessageID(body.Literal)
					if err != nil {
						return fmt.Errorf("%s: %w", user, err)
					}
					got = append(got, id)
				}
			}
		}
		if err := fetch.Close(); err != nil {
			return fmt.Errorf("fetch %s: %w", user, err)
		}
		if want := strings.Join(sent[user], " "); strings.Join(got, " ") != want {
			return fmt.Errorf("INBOX of %s holds %d message(s) %v, want %d", user, len(got), got, len(sent[user]))
		}
		return c.Logout().Wait()
	})
}

// parallel runs fn for each user, workers at a time, and fails on the first
// error.
func parallel(b *testing.B, users []string, fn func(i int, user string) error) {
	sem := make(chan struct{}, workers)
	errs := make([]error, len(users))
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = fn(i, u)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
}

func messageID(n int) string { return fmt.Sprintf("<m%d@%s>", n, domain) }

// message n is an RFC 5322 message whose body is base64 of random bytes (as
// incompressible as an encrypted one): 2, 4, 8 or 16 KiB, every hundredth
// 512 KiB.
func message(n int, from, to string) []byte {
	size := 2 << (n % 4) << 10
	if n%100 == 99 {
		size = 512 << 10
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "From: <%s>\r\nTo: <%s>\r\nSubject: bench %d\r\nDate: %s\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n",
		from, to, n, time.Now().Format(time.RFC1123Z), messageID(n))
	rnd := rand.New(rand.NewPCG(uint64(n), 1))
	line := make([]byte, 57) // 76 base64 characters
	for buf.Len() < size {
		for i := range line {
			line[i] = byte(rnd.Uint32())
		}
		buf.WriteString(base64.StdEncoding.EncodeToString(line))
		buf.WriteString("\r\n")
	}
	return buf.Bytes()
}

// readMessageID reads a whole fetched message and returns its Message-ID.
func readMessageID(r io.Reader) (string, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(raw), "\r\n") {
		if id, ok := strings.CutPrefix(l, "Message-ID: "); ok {
			return id, nil
		}
		if l == "" {
			break
		}
	}
	return "", errors.New("fetched message without a Message-ID")
}

// memStatus is the memory part of /proc/PID/status, in KiB.
type memStatus struct{ hwm, rss, anon, file int }

func (m memStatus) String() string {
	return fmt.Sprintf("peak %4.1f, now %4.1f MiB (anon %4.1f, file %4.1f)", mib(m.hwm), mib(m.rss), mib(m.anon), mib(m.file))
}

func mib(kib int) float64 { return float64(kib) / 1024 }

func readStatus(b *testing.B, pid int) memStatus {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	defer f.Close()
	var m memStatus
	fields := map[string]*int{"VmHWM:": &m.hwm, "VmRSS:": &m.rss, "RssAnon:": &m.anon, "RssFile:": &m.file}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if p := fields[f[0]]; p != nil && len(f) >= 2 {
			if *p, err = strconv.Atoi(f[1]); err != nil {
				b.Fatal(err)
			}
			delete(fields, f[0])
		}
	}
	if len(fields) > 0 {
		b.Fatalf("/proc/%d/status lacks %v", pid, fields)
	}
	return m
}

// mappings sums the resident size in /proc/PID/smaps by mapped file
// (anonymous memory as "anon"), largest first.
func mappings(b *testing.B, pid int) string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps")
	if err != nil {
		b.Fatal(err)
	}
	kib := map[string]int{}
	name := ""
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":"):
			name = "anon"
			if len(f) >= 6 {
				name = filepath.Base(f[5])
			}
		case len(f) >= 2 && f[0] == "Rss:":
			n, _ := strconv.Atoi(f[1])
			kib[name] += n
		}
	}
	names := slices.SortedFunc(maps.Keys(kib), func(x, y string) int { return kib[y] - kib[x] })
	var out []string
	for _, n := range names {
		if kib[n] >= 100 {
			out = append(out, fmt.Sprintf("%s %.1f", n, mib(kib[n])))
		}
	}
	return strings.Join(out, ", ")
}

// cgoEnv, when set, builds the commands as a plain "go build" on this
// machine does (with cgo: libc is mapped too, about 1.3 MiB more each).
const cgoEnv = "RSSBENCH_CGO"

// build compiles the commands into dir as they are built for a router:
// cross-compiled, so without cgo, unless $RSSBENCH_CGO is set.
func build(b *testing.B, dir string, cmds ...string) {
	for _, c := range cmds {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, c), "github.com/thingpost/thingpost/cmd/"+c)
		if os.Getenv(cgoEnv) == "" {
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("build %s: %v\n%s", c, err, out)
		}
	}
}

// run runs a short command and returns its standard output.
func run(b *testing.B, stdin, bin string, args ...string) string {
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, stderr.Bytes())
	}
	return string(out)
}

// logDirEnv names a directory where the long-lived processes' logs are
// kept (for a look at GODEBUG=gctrace=1 output, say).
const logDirEnv = "RSSBENCH_LOG_DIR"

// start runs a long-lived command until the benchmark ends; its log is shown
// if the benchmark fails, and kept in $RSSBENCH_LOG_DIR when set.
func start(b *testing.B, bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	log := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if dir := os.Getenv(logDirEnv); dir != "" {
		f, err := os.Create(filepath.Join(dir, filepath.Base(bin)+".log"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		cmd.Stdout, cmd.Stderr = io.MultiWriter(log, f), io.MultiWriter(log, f)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if b.Failed() {
			b.Logf("log of %s:\n%s", filepath.Base(bin), log)
		}
	})
	return cmd
}

func waitListening(b *testing.B, addr string) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s not accepting after 20 s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitSockets waits until process pid has n sockets open.
func waitSockets(b *testing.B, pid, n int) {
	fds := "/proc/" + strconv.Itoa(pid) + "/fd"
	deadline := time.Now().Add(30 * time.Second)
	for {
		entries, _ := os.ReadDir(fds)
		open := 0
		for _, e := range entries {
			if l, err := os.Readlink(filepath.Join(fds, e.Name())); err == nil && strings.HasPrefix(l, "socket:") {
				open++
			}
		}
		if open >= n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("process %d has %d sockets open after 30 s, want %d", pid, open, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort reserves a loopback port for a child process to bind.
func freePort(b *testing.B) *net.TCPAddr {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr)
}
