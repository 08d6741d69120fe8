package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/demo"
	"github.com/thingpost/thingpost/internal/qr"
	"github.com/thingpost/thingpost/keystore"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "thingctl-test-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "thingctl")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// passphrase locks the tests' identities (THINGPOST_PASSPHRASE).
const passphrase = "test passphrase"

// command is the binary with the data directory and the passphrase.
func command(ctx context.Context, data string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, binary, append([]string{"--data", data, "--no-keyring"}, args...)...)
	cmd.Env = append(os.Environ(), "THINGPOST_PASSPHRASE="+passphrase)
	return cmd
}

// thingctl runs the binary with the data directory and the passphrase.
func thingctl(t *testing.T, data string, stdin io.Reader, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := command(ctx, data, args...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func (r result) ok(t *testing.T, what string) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("%s: exit %d, stderr %q", what, r.code, r.stderr)
	}
	return r
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// lightenKey locks the identity in data again with cheap argon2id costs:
// every later command still unlocks it, without a third of a second of
// DefaultKDF each. The commands before it unlocked it at the real costs.
func lightenKey(t *testing.T, data string) {
	t.Helper()
	id, err := keystore.Load(data, []byte(passphrase))
	if err != nil {
		t.Fatal(err)
	}
	if err := keystore.SaveWithKDF(data, id, []byte(passphrase), keystore.KDFParams{Time: 1, MemoryKiB: 8 << 10, Threads: 1}); err != nil {
		t.Fatal(err)
	}
}

func TestThingctl(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	d, err := demo.Start(ctx, demo.Options{Dir: t.TempDir(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	data := t.TempDir()
	code, err := d.Person.DCLOGIN()
	if err != nil {
		t.Fatal(err)
	}

	r := thingctl(t, data, nil, "init", "--addr", d.Person.Address, "--name", "Alice", "--dclogin", code).ok(t, "init")
	if !strings.Contains(r.stdout, "encrypted to your key") {
		t.Errorf("init said %q", r.stdout)
	}
	lampPNG := filepath.Join(t.TempDir(), "lamp.png")
	if err := os.WriteFile(lampPNG, d.Thing("light").QR, 0o600); err != nil {
		t.Fatal(err)
	}
	r = thingctl(t, data, nil, "pair", lampPNG).ok(t, "pair image")
	if !strings.Contains(r.stdout, "paired with Desk lamp") || !strings.Contains(r.stdout, "owner") {
		t.Errorf("pair said %q", r.stdout)
	}
	lightenKey(t, data)
	r = thingctl(t, data, nil, "pair", "--json", d.Thing("lock").Invite).ok(t, "pair code")
	var lock app.Thing
	if err := json.Unmarshal([]byte(r.stdout), &lock); err != nil || lock.Kind != "lock" || lock.Capabilities == nil {
		t.Fatalf("pair --json: %v %q", err, r.stdout)
	}

	r = thingctl(t, data, nil, "send", "desk lamp", "set", "brightness", "40%").ok(t, "send")
	if !strings.Contains(r.stdout, "40%") {
		t.Errorf("send said %q", r.stdout)
	}
	thingctl(t, data, nil, "send", "front door", "unlock").ok(t, "unlock")
	if err := d.OpenDoor(); err != nil {
		t.Fatal(err)
	}
	r = thingctl(t, data, nil, "send", "--json", lock.Addr, "lock")
	if r.code != 1 {
		t.Fatalf("refused command: exit %d, stderr %q", r.code, r.stderr)
	}
	var c app.Command
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil || c.Status != app.StatusRefused {
		t.Fatalf("send --json: %v %q", err, r.stdout)
	}
	if lines := strings.Split(strings.TrimSpace(r.stderr), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "thingctl send: refused by the thing: ") {
		t.Errorf("refusal error %q", r.stderr)
	}
	if err := d.CloseDoor(); err != nil {
		t.Fatal(err)
	}

	r = thingctl(t, data, nil, "send", "nothing-like-this", "on")
	if r.code != 2 || !strings.HasPrefix(r.stderr, "thingctl send: ") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("unknown thing: exit %d, stderr %q", r.code, r.stderr)
	}
	r = thingctl(t, data, nil, "send", "desk lamp", "set", "brightness", "400")
	if r.code != 2 || !strings.Contains(r.stderr, "brightness") {
		t.Fatalf("bad value: exit %d, stderr %q", r.code, r.stderr)
	}

	// No answer in time: the home is down, the command expires unsent.
	if err := d.Home.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	r = thingctl(t, data, nil, "send", "--timeout", "1s", "desk lamp", "off")
	if r.code != 2 || !strings.Contains(r.stderr, "no answer from the thing in time") {
		t.Fatalf("expired: exit %d, stderr %q", r.code, r.stderr)
	}
	if err := d.Home.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if on, _ := d.Thing("light").Agent.Device().Status().State["power"].AsBool(); !on {
		t.Fatal("the expired command was executed")
	}

	r = thingctl(t, data, nil, "things", "--json").ok(t, "things")
	var things []app.Thing
	if err := json.Unmarshal([]byte(r.stdout), &things); err != nil || len(things) != 2 {
		t.Fatalf("things --json: %v %q", err, r.stdout)
	}
	r = thingctl(t, data, nil, "history", "--json", "desk lamp").ok(t, "history")
	var page app.HistoryPage
	if err := json.Unmarshal([]byte(r.stdout), &page); err != nil || len(page.Entries) < 4 {
		t.Fatalf("history --json: %v %q", err, r.stdout)
	}
	if page.Entries[0].Kind != app.EntryCommand || page.Entries[0].Status != app.StatusExpired {
		t.Errorf("newest entry %+v, want the expired command", page.Entries[0])
	}
	r = thingctl(t, data, nil, "invite", "--json", "desk lamp", "guest", "2h").ok(t, "invite")
	var inv app.Invite
	if err := json.Unmarshal([]byte(r.stdout), &inv); err != nil || inv.Role != "guest" || inv.For != 2*time.Hour {
		t.Fatalf("invite --json: %v %q", err, r.stdout)
	}
	r = thingctl(t, data, nil, "users", "desk lamp").ok(t, "users")
	if !strings.Contains(r.stdout, "owner\t"+d.Person.Address) {
		t.Errorf("users said %q", r.stdout)
	}
	codePNG := filepath.Join(t.TempDir(), "me.png")
	r = thingctl(t, data, nil, "my-code", "--json", "--qr", codePNG).ok(t, "my-code")
	var me app.ContactCode
	if err := json.Unmarshal([]byte(r.stdout), &me); err != nil || me.Addr != d.Person.Address ||
		!strings.HasPrefix(me.Text, "OPENPGP4FPR:"+me.Fingerprint+"#a=") {
		t.Fatalf("my-code --json: %v %q", err, r.stdout)
	}
	if png, err := os.ReadFile(codePNG); err != nil {
		t.Fatal(err)
	} else if text, err := qr.Decode(png); err != nil || text != me.Text {
		t.Fatalf("my-code QR says %q, %v", text, err)
	}
	r = thingctl(t, data, nil, "my-code").ok(t, "my-code")
	if !strings.Contains(r.stdout, me.Text+"\n") || !strings.Contains(r.stdout, me.FingerprintGroups) {
		t.Errorf("my-code said %q", r.stdout)
	}
	r = thingctl(t, data, nil, "export-key").ok(t, "export-key")
	if !strings.HasPrefix(r.stdout, "-----BEGIN PGP PRIVATE KEY BLOCK-----") {
		t.Errorf("export-key wrote %.60q", r.stdout)
	}
	watchEvent(t, data, d)

	r = thingctl(t, data, nil, "send", "--help").ok(t, "send --help")
	if !strings.Contains(r.stdout, "Usage: thingctl send") {
		t.Errorf("send --help said %q", r.stdout)
	}
}

// watchEvent runs "thingctl watch --json" and opens the demo's door: the
// lock's event is printed as a JSON line.
func watchEvent(t *testing.T, data string, d *demo.Demo) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := command(ctx, data, "watch", "--json")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	opened, got := false, false
	for !got && sc.Scan() {
		var e app.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("watch printed %q: %v", sc.Text(), err)
		}
		if e.Kind == app.EventConnection && e.Conn.State == "idle" && !opened {
			if err := d.OpenDoor(); err != nil {
				t.Fatal(err)
			}
			opened = true
		}
		got = e.Kind == app.EventThingEvent && e.Entry.Event != nil && e.Entry.Event.Kind == "door-opened"
	}
	if !got {
		t.Fatalf("watch printed no door-opened event (connected: %v)", opened)
	}
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("watch exit: %v", err)
	}
}

// TestThingctlDemo runs "thingctl demo" as a process and pairs with its
// lamp from another thingctl process, by the QR file it wrote.
func TestThingctlDemo(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := command(ctx, data, "demo", "--json")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := false
	defer func() {
		if !done {
			cmd.Process.Signal(os.Interrupt)
			cmd.Wait()
		}
	}()
	out := bufio.NewReader(stdout)
	line, err := out.ReadString('\n')
	if err != nil {
		t.Fatalf("demo printed nothing: %v, stderr %q", err, stderr.String())
	}
	var info struct {
		Account string
		Things  []struct {
			Kind, Invite string
			QRFile       string `json:"qr_file"`
		} `json:"things"`
	}
	if err := json.Unmarshal([]byte(line), &info); err != nil || len(info.Things) != 3 {
		t.Fatalf("demo --json: %v %q", err, line)
	}
	thingctl(t, data, nil, "pair", info.Things[0].QRFile).ok(t, "pair with the demo lamp")
	lightenKey(t, data)
	r := thingctl(t, data, nil, "send", "desk lamp", "toggle").ok(t, "toggle")
	if !strings.Contains(r.stdout, "on") {
		t.Errorf("toggle said %q", r.stdout)
	}
	if _, err := io.WriteString(stdin, "quit\n"); err != nil {
		t.Fatal(err)
	}
	done = true
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo exit: %v, stderr %q", err, stderr.String())
	}
	// With "thingctl demo" gone, the next command starts the demo home
	// in its own process (the account is the demo's), and the lamp obeys.
	r = thingctl(t, data, nil, "send", "desk lamp", "on").ok(t, "on after the demo stopped")
	if !strings.Contains(r.stdout, "lamp is on") {
		t.Errorf("on said %q", r.stdout)
	}
}
