package envelope

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/thingpost/thingpost/internal/testutil"
	"github.com/thingpost/thingpost/keystore"
)

// gpgHome is a throw-away GnuPG home directory.
type gpgHome struct {
	t   *testing.T
	dir string
}

// newGPG makes a GnuPG home in a short temporary path (the agent's socket
// path must stay short). Without gpg the test is skipped, except under CI,
// where a missing gpg fails the test.
func newGPG(t *testing.T) *gpgHome {
	t.Helper()
	if _, err := exec.LookPath("gpg"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("gpg is required in CI: %v", err)
		}
		t.Skipf("GnuPG interop test needs gpg (apt-get install gnupg): %v", err)
	}
	dir, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	testutil.QuickGPGAgent(t, dir)
	g := &gpgHome{t: t, dir: dir}
	t.Cleanup(func() {
		kill := exec.Command("gpgconf", "--kill", "gpg-agent")
		kill.Env = g.env()
		kill.Run() // no agent running is fine
		os.RemoveAll(dir)
	})
	return g
}

func (g *gpgHome) env() []string { return append(os.Environ(), "GNUPGHOME="+g.dir) }

// run runs gpg in batch mode and returns stdout and stderr (with the
// machine-readable status lines).
func (g *gpgHome) run(stdin []byte, args ...string) (stdout, stderr []byte, err error) {
	g.t.Helper()
	base := []string{"--batch", "--no-tty", "--pinentry-mode", "loopback", "--trust-model", "always", "--status-fd", "2"}
	cmd := exec.Command("gpg", append(base, args...)...)
	cmd.Env = g.env()
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.Bytes(), errb.Bytes(), err
}

func (g *gpgHome) must(stdin []byte, args ...string) []byte {
	g.t.Helper()
	out, stderr, err := g.run(stdin, args...)
	if err != nil {
		g.t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	return out
}

// genKey makes an Ed25519/Curve25519 key for addr in gpg, without
// passphrase, and returns its public key as keystore reads it.
func (g *gpgHome) genKey(addr string) *keystore.PublicKey {
	g.t.Helper()
	g.must(nil, "--passphrase", "", "--quick-gen-key", "<"+addr+">", "future-default", "default", "never")
	k, err := keystore.ImportPublic(g.must(nil, "--export", "<"+addr+">"))
	if err != nil {
		g.t.Fatalf("import gpg's key: %v", err)
	}
	return k
}

// armoredPayload returns the armored OpenPGP message of a PGP/MIME message.
func armoredPayload(t *testing.T, raw []byte) []byte {
	t.Helper()
	_, arm, err := parseOuter(raw, DefaultMaxSize)
	if err != nil {
		t.Fatal(err)
	}
	return arm
}

// TestGPGDecryptsSealed: GnuPG decrypts what Seal makes and reports a good
// signature, as the recipient and as the sender (with our secret key
// imported into GnuPG).
func TestGPGDecryptsSealed(t *testing.T) {
	g := newGPG(t)
	carol := g.genKey("carol@home.example")
	var tk testKeys
	alice := tk.id(t, "alice@home.example")
	g.must([]byte(alice.Public().Armor()), "--import")

	s := seal(t, &Draft{From: alice, To: []*keystore.PublicKey{carol}, Subject: "hello gpg", Text: "set brightness 40"})
	if s.SEIPDv2 {
		t.Error("SEIPDv2 chosen although gpg's key does not advertise it")
	}
	arm := armoredPayload(t, s.Raw)

	check := func(who string, g *gpgHome) {
		// gpg exits 2 after trying its key on the other recipient's
		// anonymous PKESK ("Checksum error"); the status lines tell.
		out, stderr, _ := g.run(arm, "--decrypt")
		if !bytes.Contains(stderr, []byte("Good signature from")) || !bytes.Contains(stderr, []byte("[GNUPG:] VALIDSIG "+alice.Fingerprint().String())) ||
			bytes.Contains(stderr, []byte("[GNUPG:] BADSIG")) || bytes.Contains(stderr, []byte("[GNUPG:] DECRYPTION_FAILED")) {
			t.Errorf("%s: no good signature by %s:\n%s", who, alice.Fingerprint(), stderr)
		}
		if !bytes.Contains(stderr, []byte("[GNUPG:] DECRYPTION_OKAY")) || !bytes.Contains(stderr, []byte("[GNUPG:] GOODMDC")) {
			t.Errorf("%s: decryption not reported okay:\n%s", who, stderr)
		}
		for _, want := range []string{"Subject: hello gpg\r\n", "protected-headers=\"v1\"", "\r\n\r\nset brightness 40"} {
			if !bytes.Contains(out, []byte(want)) {
				t.Errorf("%s: decrypted entity lacks %q:\n%s", who, want, out)
			}
		}
	}
	check("recipient", g)

	// The sender's own copy, with her secret key exported for GnuPG.
	g2 := newGPG(t)
	exp, err := alice.ExportPrivate([]byte("export-pw"))
	if err != nil {
		t.Fatal(err)
	}
	g2.must([]byte(exp), "--passphrase", "export-pw", "--import")
	out, stderr, _ := g2.run(arm, "--passphrase", "export-pw", "--decrypt")
	if !bytes.Contains(stderr, []byte("[GNUPG:] GOODSIG")) || !bytes.Contains(stderr, []byte("[GNUPG:] DECRYPTION_OKAY")) || !bytes.Contains(out, []byte("set brightness 40")) {
		t.Errorf("sender copy:\n%s", stderr)
	}

	// GnuPG's view of the packets: anonymous recipients, ZLIB, the
	// intended recipient subpackets.
	pk, _, _ := g.run(arm, "--list-packets") // exits 2 like --decrypt
	for _, want := range []string{"keyid 0000000000000000", "compressed packet: algo=2", "subpkt 35 len 21", "subpkt 33 len 21", "subpkt 2 len 4"} {
		if !bytes.Contains(pk, []byte(want)) {
			t.Errorf("gpg --list-packets lacks %q:\n%s", want, pk)
		}
	}
}

// gpgMessage has gpg sign and encrypt inner (a MIME entity) from carol to
// alice and wraps it as PGP/MIME.
func gpgMessage(t *testing.T, g *gpgHome, inner string, extra ...string) []byte {
	t.Helper()
	args := append([]string{"--sign", "--encrypt", "--armor", "-r", "<alice@home.example>", "--local-user", "<carol@home.example>"}, extra...)
	arm := g.must([]byte(inner), args...)
	return []byte("From: Carol <carol@home.example>\r\nTo: <alice@home.example>\r\nSubject: outer subject\r\n" +
		"Date: " + time.Now().Format(time.RFC1123Z) + "\r\nMessage-ID: <gpg-1@home.example>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"b\"\r\n\r\n" +
		"--b\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\n\r\n" + string(arm) + "\r\n--b--\r\n")
}

// TestOpenGPGMessage: Open accepts what GnuPG signs and encrypts, with key
// IDs or anonymous (--throw-keyids), binary or text signatures, with or
// without protected headers inside.
func TestOpenGPGMessage(t *testing.T) {
	g := newGPG(t)
	carol := g.genKey("carol@home.example")
	var tk testKeys
	alice := tk.id(t, "alice@home.example")
	g.must([]byte(alice.Public().Armor()), "--import")

	legacy := "Content-Type: text/plain; charset=utf-8\r\n\r\nhello from gpg\r\n"
	protected := "Content-Type: text/plain; charset=utf-8; protected-headers=\"v1\"\r\nFrom: <carol@home.example>\r\n" +
		"To: <alice@home.example>\r\nSubject: inner subject\r\nMessage-ID: <gpg-1@home.example>\r\n\r\nhello from gpg\r\n"
	for _, tt := range []struct {
		name, inner string
		args        []string
		protected   bool
	}{
		{"legacy inner part", legacy, nil, false},
		{"protected headers", protected, nil, true},
		{"anonymous recipient", protected, []string{"--throw-keyids"}, true},
		{"text signature, LF line ends", strings.ReplaceAll(protected, "\r\n", "\n"), []string{"--textmode"}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			raw := gpgMessage(t, g, tt.inner, tt.args...)
			m, err := Open(context.Background(), raw, OpenOptions{Self: alice, Trusted: trust(carol)})
			if err != nil {
				t.Fatal(err)
			}
			wantSubject := "outer subject"
			if tt.protected {
				wantSubject = "inner subject"
			}
			if m.Signer.Fingerprint() != carol.Fingerprint() || m.From != "carol@home.example" || m.Protected != tt.protected ||
				m.Subject != wantSubject || strings.TrimSpace(m.Text) != "hello from gpg" {
				t.Errorf("signer %s from %s protected %v subject %q text %q", m.Signer.Fingerprint(), m.From, m.Protected, m.Subject, m.Text)
			}
			if m, err := Open(context.Background(), raw, OpenOptions{Self: alice}); m != nil || !errors.Is(err, ErrUnknownSigner) {
				t.Errorf("untrusted signer: %v %v", m != nil, err)
			}
		})
	}
}

// TestTamperedPayload flips one byte at every position of the binary
// OpenPGP message, of one made by GnuPG and of one made by Seal, and
// requires that Open never returns a Message for any of them.
func TestTamperedPayload(t *testing.T) {
	g := newGPG(t)
	carol := g.genKey("carol@home.example")
	var tk testKeys
	alice := tk.id(t, "alice@home.example")
	g.must([]byte(alice.Public().Armor()), "--import")
	opts := OpenOptions{Self: alice, Trusted: trust(carol, alice.Public())}
	open := func(raw []byte) (bool, error) {
		m, err := Open(context.Background(), raw, opts)
		return m != nil, err
	}
	pass := []byte("securejoin/" + alice.Fingerprint().String() + "/AUTH")
	sym, err := SealSymmetric(context.Background(), &Draft{From: alice, ToAddrs: []string{"carol@home.example"}, Text: "vc-pubkey"}, pass, true)
	if err != nil {
		t.Fatal(err)
	}
	openSym := func(raw []byte) (bool, error) {
		m, err := OpenSymmetric(context.Background(), raw, SymmetricOptions{Passphrases: [][]byte{pass}, Signer: alice.Public()})
		return m != nil, err
	}

	for _, tt := range []struct {
		name string
		raw  []byte
		open func([]byte) (bool, error)
	}{
		{"gpg (SEIPDv1, key IDs)", gpgMessage(t, g, "Content-Type: text/plain\r\n\r\nunlock the door\r\n"), open},
		{"gpg (anonymous)", gpgMessage(t, g, "Content-Type: text/plain\r\n\r\nunlock the door\r\n", "--throw-keyids"), open},
		{"Seal (SEIPDv2)", seal(t, &Draft{From: alice, To: []*keystore.PublicKey{alice.Public()}, Text: "unlock the door"}).Raw, open},
		{"Seal (SEIPDv1)", seal(t, &Draft{From: alice, To: []*keystore.PublicKey{carol}, Text: "unlock the door"}).Raw, open},
		{"SealSymmetric", sym.Raw, openSym},
	} {
		if ok, err := tt.open(tt.raw); !ok || err != nil {
			t.Fatalf("%s: untampered message refused: %v", tt.name, err)
		}
		bin := payload(t, tt.raw)
		others := othersPKESKs(t, bin, alice)
		reasons := map[string]int{}
		for i := range bin {
			if others[i] {
				continue
			}
			for _, mask := range []byte{0x01, 0x80} {
				mod := bytes.Clone(bin)
				mod[i] ^= mask
				ok, err := tt.open(rewrap(t, tt.raw, mod))
				if ok || err == nil {
					t.Fatalf("%s: byte %d ^ %#x accepted (error %v)", tt.name, i, mask, err)
				}
				reasons[sentinel(err)]++
			}
		}
		t.Logf("%s: %d bytes, all %d one-byte changes refused: %v; %d bytes of other recipients' PKESKs not tried",
			tt.name, len(bin), 2*(len(bin)-len(others)), reasons, len(others))
	}
}

// othersPKESKs marks the bytes of the PKESK packets that self cannot
// decrypt. A recipient cannot notice a change there: it is another
// recipient's encrypted session key, which nothing authenticates, and
// go-crypto skips a PKESK it cannot read or decrypt, as it must to read
// messages with recipients of newer algorithms.
func othersPKESKs(t *testing.T, bin []byte, self *keystore.Identity) map[int]bool {
	t.Helper()
	skip := map[int]bool{}
	off := 0
	for _, op := range packets(t, bin) {
		// Header size: the packet's octets minus its contents (one-octet
		// tag, lengths below 8384 here).
		size := 2
		if len(op.Contents) >= 192 {
			size = 3
		}
		if op.Tag == tagPKESK {
			if _, _, ok := withKey(self)(mustParse(t, op)); !ok {
				for i := off; i < off+size+len(op.Contents); i++ {
					skip[i] = true
				}
			}
		}
		off += size + len(op.Contents)
	}
	return skip
}

func mustParse(t *testing.T, op *packet.OpaquePacket) packet.Packet {
	t.Helper()
	p, err := op.Parse()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// sentinel names the sentinel error err wraps, for the test log.
func sentinel(err error) string {
	for _, s := range []error{ErrDecrypt, ErrMalformed, ErrBadSignature, ErrUnknownSigner, ErrUnsigned, ErrNotEncrypted, ErrTooLarge, ErrSignerMismatch, ErrNotIntendedRecipient} {
		if errors.Is(err, s) {
			return strings.TrimPrefix(s.Error(), "envelope: ")
		}
	}
	return fmt.Sprintf("other: %v", err)
}
