package keystore

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/thingpost/thingpost/internal/testutil"
)

// gpgHome is a throw-away GnuPG home for interop tests with the real gpg.
type gpgHome struct {
	t   *testing.T
	dir string
}

// newGPG makes a GnuPG home, or skips the test when gpg is not installed,
// except under CI, where these tests must run.
func newGPG(t *testing.T) *gpgHome {
	t.Helper()
	for _, tool := range []string{"gpg", "gpgconf"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found (%v): CI must run the GnuPG interop tests", tool, err)
			}
			t.Skipf("%s not found (%v): GnuPG interop not tested", tool, err)
		}
	}
	// A short path: gpg-agent's socket path must fit in about 100 bytes.
	dir, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	testutil.QuickGPGAgent(t, dir)
	g := &gpgHome{t: t, dir: dir}
	t.Cleanup(func() {
		cmd := exec.Command("gpgconf", "--kill", "gpg-agent")
		cmd.Env = g.env()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("gpgconf --kill gpg-agent: %v %s", err, out)
		}
		os.RemoveAll(dir)
	})
	return g
}

func (g *gpgHome) env() []string { return append(os.Environ(), "GNUPGHOME="+g.dir) }

// run runs gpg in batch mode with stdin; it returns stdout, stderr and the error.
func (g *gpgHome) run(stdin []byte, args ...string) ([]byte, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "gpg", append([]string{"--batch", "--no-tty", "--pinentry-mode", "loopback"}, args...)...)
	cmd.Env = g.env()
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.Bytes(), stderr.Bytes(), err
}

func (g *gpgHome) must(stdin []byte, args ...string) []byte {
	g.t.Helper()
	out, stderr, err := g.run(stdin, args...)
	if err != nil {
		g.t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

// file writes b to a file in the GnuPG home and returns its path.
func (g *gpgHome) file(name string, b []byte) string {
	g.t.Helper()
	p := filepath.Join(g.dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		g.t.Fatal(err)
	}
	return p
}

// colons returns the --with-colons records of the given type ("sec", "fpr", ...).
func colons(out []byte, typ string) [][]string {
	var recs [][]string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, ":")
		if f[0] == typ {
			recs = append(recs, f)
		}
	}
	return recs
}

// decrypt has id decrypt a binary message and checks the plaintext.
func decryptWith(t *testing.T, id *Identity, ct []byte, want string) {
	t.Helper()
	md, err := openpgp.ReadMessage(bytes.NewReader(ct), openpgp.EntityList{id.Entity()}, nil, Config(nil))
	if err != nil {
		t.Fatalf("decrypt gpg's message: %v", err)
	}
	got, err := io.ReadAll(md.UnverifiedBody)
	if err != nil {
		t.Fatalf("read gpg's message: %v", err)
	}
	if string(got) != want {
		t.Fatalf("gpg's message reads %q, want %q", got, want)
	}
}

// gpgVerifies has gpg check a detached signature id made over msg.
func gpgVerifies(g *gpgHome, id *Identity, msg string) {
	g.t.Helper()
	var sig bytes.Buffer
	if err := openpgp.DetachSign(&sig, []*openpgp.Entity{id.Entity()}, strings.NewReader(msg), Config(nil)); err != nil {
		g.t.Fatal(err)
	}
	_, stderr, err := g.run(nil, "--verify", g.file("msg.sig", sig.Bytes()), g.file("msg", []byte(msg)))
	if err != nil || !bytes.Contains(stderr, []byte("Good signature")) {
		g.t.Fatalf("gpg --verify: %v\n%s", err, stderr)
	}
}

// TestGPGSecretKeyImport: a key GnuPG made and exported with a passphrase is
// imported with that passphrase, and works both ways with gpg.
func TestGPGSecretKeyImport(t *testing.T) {
	g := newGPG(t)
	const pass, addr = "gpg pass phrase", "x@y.z"
	g.must(nil, "--passphrase", pass, "--quick-gen-key", "<"+addr+">", "ed25519", "sign", "0")
	fpr := colons(g.must(nil, "--with-colons", "--list-keys", addr), "fpr")[0][9]
	g.must(nil, "--passphrase", pass, "--quick-add-key", fpr, "cv25519", "encr", "0")
	exported := g.must(nil, "--passphrase", pass, "--armor", "--export-secret-keys", fpr)

	if _, err := ImportPrivate(exported, []byte("not the pass phrase")); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v, want ErrWrongPassphrase", err)
	}
	id, err := ImportPrivate(exported, []byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	if id.Fingerprint().String() != fpr || id.Addr() != addr {
		t.Fatalf("imported %s %s, gpg has %s %s", id.Fingerprint(), id.Addr(), fpr, addr)
	}

	// gpg encrypts to its key, we decrypt; we sign, gpg verifies.
	const msg = "status"
	ct := g.must([]byte(msg), "--trust-model", "always", "--recipient", addr, "--encrypt")
	decryptWith(t, id, ct, msg)
	gpgVerifies(g, id, "turn on")

	// The imported identity survives our own store.
	dir := t.TempDir()
	if err := SaveWithKDF(dir, id, []byte("ours"), testKDF); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir, []byte("ours"))
	if err != nil {
		t.Fatal(err)
	}
	decryptWith(t, back, ct, msg)
}

// TestGPGImportsOurSecretKey: our passphrase-protected export imports into
// GnuPG 2.2, which then decrypts and signs with it.
func TestGPGImportsOurSecretKey(t *testing.T) {
	g := newGPG(t)
	id, err := New("lamp@home.example", "Desk Lamp")
	if err != nil {
		t.Fatal(err)
	}
	const pass = "our pass phrase"
	exported, err := id.ExportPrivate([]byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	packets := g.must(nil, "--list-packets", g.file("secret.asc", []byte(exported)))
	if n := bytes.Count(packets, []byte("iter+salt S2K, algo: 9, SHA1 protection")); n != 2 {
		t.Fatalf("want 2 secret keys under iterated S2K, AES-256, SHA-1 check; gpg sees:\n%s", packets)
	}

	g.must([]byte(exported), "--passphrase", pass, "--import")
	list := g.must(nil, "--with-colons", "--list-secret-keys")
	sec, ssb := colons(list, "sec"), colons(list, "ssb")
	fprs := colons(list, "fpr")
	if len(sec) != 1 || len(ssb) != 1 || fprs[0][9] != id.Fingerprint().String() {
		t.Fatalf("gpg --list-secret-keys:\n%s", list)
	}
	// Field 15 is "+" when the secret key is present (not a stub).
	if sec[0][14] != "+" || ssb[0][14] != "+" {
		t.Fatalf("secret key material missing in gpg:\n%s", list)
	}

	// gpg needs our passphrase to use the key: wrong fails, right decrypts.
	// gpg encrypts the message itself: go-crypto would write SEIPDv2, which
	// our key advertises and gpg 2.2 cannot read.
	ct := g.must([]byte("on"), "--trust-model", "always", "--recipient", id.Addr(), "--encrypt")
	if _, stderr, err := g.run(ct, "--passphrase", "wrong", "--decrypt"); err == nil || !bytes.Contains(stderr, []byte("Bad passphrase")) {
		t.Fatalf("gpg with a wrong passphrase: %v\n%s", err, stderr)
	}
	if out := g.must(ct, "--passphrase", pass, "--decrypt"); string(out) != "on" {
		t.Fatalf("gpg decrypted %q", out)
	}

	// gpg signs with the imported key; we verify with our public key.
	sig := g.must([]byte("off"), "--passphrase", pass, "--local-user", id.Fingerprint().String(), "--detach-sign")
	if _, _, err := openpgp.VerifyDetachedSignature(openpgp.EntityList{id.Public().Entity()},
		strings.NewReader("off"), bytes.NewReader(sig), Config(nil)); err != nil {
		t.Fatalf("verify gpg's signature: %v", err)
	}
}

// TestGPGImportsOurPublicKey: gpg imports our armored public key and our
// Autocrypt keydata, encrypts to them and verifies our signatures.
func TestGPGImportsOurPublicKey(t *testing.T) {
	g := newGPG(t)
	lamp := newID(t, "lamp@home.example")
	sensor := newID(t, "sensor@home.example")
	keydata, err := base64.StdEncoding.DecodeString(sensor.Keydata())
	if err != nil {
		t.Fatal(err)
	}
	g.must([]byte(lamp.Armor()), "--import")
	g.must(keydata, "--import")

	for _, id := range []*Identity{lamp, sensor} {
		list := g.must(nil, "--with-colons", "--list-keys", id.Fingerprint().String())
		uids := colons(list, "uid")
		if fpr := colons(list, "fpr")[0][9]; fpr != id.Fingerprint().String() ||
			len(uids) != 1 || uids[0][9] != "<"+id.Addr()+">" {
			t.Fatalf("gpg --list-keys:\n%s", list)
		}
		ct := g.must([]byte("on"), "--trust-model", "always", "--recipient", id.Addr(), "--encrypt")
		decryptWith(t, id, ct, "on")
		gpgVerifies(g, id, "event: door opened")
	}
}
