package app_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/demo"
	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/transport"
)

// mapKeyring is a working keyring in memory.
type mapKeyring struct {
	mu sync.Mutex
	m  map[string]string
}

func (k *mapKeyring) Set(service, user, secret string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[string]string{}
	}
	k.m[service+"/"+user] = secret
	return nil
}

func (k *mapKeyring) Get(service, user string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s, ok := k.m[service+"/"+user]
	if !ok {
		return "", app.ErrSecretNotFound
	}
	return s, nil
}

func (k *mapKeyring) Delete(service, user string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, service+"/"+user)
	return nil
}

// onDisk reports whether s appears in any file of dir.
func onDisk(t *testing.T, dir, s string) bool {
	t.Helper()
	found := false
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			found = found || bytes.Contains(b, []byte(s))
		}
		return nil
	})
	return found
}

func TestAccountPasswordStorage(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	d := startDemo(t, demo.Options{})
	for _, tc := range []struct {
		name    string
		secrets app.SecretStore
		where   app.PasswordPlace
	}{
		{"keyring", &mapKeyring{}, app.PasswordInKeyring},
		{"no keyring", app.NoKeyring{}, app.PasswordEncrypted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			a := openApp(t, app.Options{Dir: dir, Secrets: tc.secrets})
			if err := a.SetAccount(ctx, d.Person, false); !errors.Is(err, app.ErrNoProfile) {
				t.Fatalf("account before profile: %v", err)
			}
			if _, err := a.CreateProfile(ctx, "Alice", d.Person.Address, passphrase); err != nil {
				t.Fatal(err)
			}
			wrong := d.Person
			wrong.Password = "not the password"
			if err := a.SetAccount(ctx, wrong, true); !errors.Is(err, transport.ErrAuth) {
				t.Fatalf("wrong password: %v, want ErrAuth", err)
			}
			if _, _, err := a.AccountSettings(); !errors.Is(err, app.ErrNoAccount) {
				t.Fatalf("a failed check stored the account: %v", err)
			}
			other := d.Person
			other.Address = "mallory@" + demo.DefaultDomain
			if err := a.SetAccount(ctx, other, false); err == nil {
				t.Fatal("an account of another address was accepted")
			}
			if err := a.SetAccount(ctx, d.Person, true); err != nil {
				t.Fatal(err)
			}
			if _, where, _ := a.AccountSettings(); where != tc.where {
				t.Fatalf("password kept in %q, want %q", where, tc.where)
			}
			a.Close()
			if onDisk(t, dir, d.Person.Password) {
				t.Fatal("the mail password is on disk in plain text")
			}
			a = openApp(t, app.Options{Dir: dir, Secrets: tc.secrets})
			if tc.where == app.PasswordEncrypted {
				if _, err := a.Account(ctx); !errors.Is(err, app.ErrLocked) {
					t.Fatalf("encrypted password read while locked: %v", err)
				}
			}
			if err := a.Unlock(ctx, []byte("wrong")); !errors.Is(err, keystore.ErrWrongPassphrase) {
				t.Fatalf("wrong passphrase: %v", err)
			}
			if err := a.Unlock(ctx, passphrase); err != nil {
				t.Fatal(err)
			}
			acct, err := a.Account(ctx)
			if err != nil || acct.Password != d.Person.Password || acct.IMAP.HostPort != d.Person.IMAP.HostPort {
				t.Fatalf("account read back: %+v %v", acct, err)
			}
			if err := a.Start(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestProfileExportImport(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	a := openApp(t, app.Options{})
	p, err := a.CreateProfile(ctx, "Alice Liddell", "Alice@Example.org", passphrase)
	if err != nil {
		t.Fatal(err)
	}
	if p.Addr != "alice@example.org" || p.Name != "Alice Liddell" || len(p.Fingerprint) != 40 {
		t.Fatalf("profile %+v", p)
	}
	if _, err := a.CreateProfile(ctx, "Again", "alice@example.org", passphrase); !errors.Is(err, app.ErrProfileExists) {
		t.Fatalf("second profile: %v", err)
	}
	armored, err := a.ExportKey([]byte("backup pass"))
	if err != nil {
		t.Fatal(err)
	}
	b := openApp(t, app.Options{})
	if _, err := b.ImportProfile(ctx, []byte(armored), []byte("wrong"), passphrase); !errors.Is(err, keystore.ErrWrongPassphrase) {
		t.Fatalf("import with a wrong passphrase: %v", err)
	}
	q, err := b.ImportProfile(ctx, []byte(armored), []byte("backup pass"), []byte("new pass"))
	if err != nil || q.Fingerprint != p.Fingerprint || q.Addr != p.Addr {
		t.Fatalf("imported %+v %v", q, err)
	}

	// Through GnuPG and back: what gpg exports, the app imports.
	if testing.Short() {
		t.Skip("GnuPG round trip (its agent takes 2-5 s to export a locked key) not run with -short; the full suite runs it")
	}
	gpg, err := exec.LookPath("gpg")
	if err != nil {
		t.Skip("gpg not installed: GnuPG round trip not run")
	}
	home := t.TempDir()
	run := func(stdin string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(gpg, append([]string{"--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", "backup pass"}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("gpg %v: %v", args, err)
		}
		return out
	}
	run(armored, "--import")
	exported := run("", "--armor", "--export-secret-keys", p.Addr)
	c := openApp(t, app.Options{})
	r, err := c.ImportProfile(ctx, exported, []byte("backup pass"), passphrase)
	if err != nil || r.Fingerprint != p.Fingerprint {
		t.Fatalf("import from gpg: %+v %v", r, err)
	}
}
