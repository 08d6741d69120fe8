package scripts

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The programs bootstrap.sh itself runs; the test gives it these and its
// stand-ins, nothing else, so no real go, node or dpkg of this machine decides.
var shellTools = []string{"bash", "sed", "sort", "head", "dirname", "id", "cat", "mkdir", "grep", "uname", "mktemp", "rm", "cp", "chmod", "env"}

// allPackages is every Debian package bootstrap.sh may ask for.
var allPackages = []string{
	"gnupg", "curl", "git", "make", "gcc", "libc6-dev", "pkg-config",
	"libgl-dev", "libx11-dev", "libxcursor-dev", "libxrandr-dev", "libxinerama-dev", "libxi-dev", "libxxf86vm-dev", "libgles-dev",
	"xvfb", "xauth", "dbus-bin", "xdotool", "imagemagick", "postfix", "dovecot-imapd", "dovecot-lmtpd", "nodejs",
}

type machine struct {
	installed []string          // Debian packages dpkg-query reports as installed
	programs  map[string]string // stand-in name -> shell script body
}

// runBootstrap runs `bootstrap.sh --dry-run` in a copy of the repository's
// layout (so no .cache of this checkout counts) on the machine m describes.
func runBootstrap(t *testing.T, m machine) (stdout, stderr string) {
	t.Helper()
	repo := t.TempDir()
	if err := os.MkdirAll(filepath.Join(repo, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ from, to string }{{"bootstrap.sh", "scripts/bootstrap.sh"}, {"../go.mod", "go.mod"}} {
		b, err := os.ReadFile(f.from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, f.to), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := t.TempDir()
	for _, tool := range shellTools {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("bootstrap.sh needs %s: %v", tool, err)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	list := filepath.Join(t.TempDir(), "installed")
	if err := os.WriteFile(list, []byte(strings.Join(m.installed, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	programs := map[string]string{
		// dpkg-query -W -f='${Status}' PKG
		"dpkg-query": `for a; do pkg=$a; done; grep -qx "$pkg" '` + list + `' && printf 'install ok installed'`,
	}
	for name, body := range m.programs {
		programs[name] = body
	}
	for name, body := range programs {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("bash", filepath.Join(repo, "scripts", "bootstrap.sh"), "--dry-run")
	cmd.Env = []string{"PATH=" + bin, "HOME=" + t.TempDir()}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("bootstrap.sh --dry-run: %v\nstderr:\n%s", err, errb.String())
	}
	return out.String(), errb.String()
}

func wantGo(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go ([0-9.]+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	return string(m[1])
}

func except(all []string, drop ...string) []string {
	var out []string
	for _, p := range all {
		if !strings.Contains(" "+strings.Join(drop, " ")+" ", " "+p+" ") {
			out = append(out, p)
		}
	}
	return out
}

func TestBootstrapDecisions(t *testing.T) {
	want := wantGo(t)
	goSays := func(v string) string { return `[ "$1 $2" = "env GOVERSION" ] && echo go` + v }
	node := map[string]string{"node": "echo v20.19.2", "npm": "echo 10.8.2"}
	with := func(base map[string]string, extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name    string
		m       machine
		want    []string // lines stdout must hold
		stderr  string   // text stderr must hold
		notWant []string // lines stdout must not hold
	}{{
		name: "a stand-in convert is not ImageMagick; an old go is replaced",
		m: machine{
			installed: except(allPackages, "imagemagick"),
			programs:  with(node, map[string]string{"convert": "exit 0", "import": "exit 0", "go": goSays("1.20.3")}),
		},
		want: []string{"apt: imagemagick", "go: fetch " + want + " (have 1.20.3)"},
	}, {
		name: "everything present",
		m: machine{
			installed: allPackages,
			programs:  with(node, map[string]string{"go": goSays(want)}),
		},
		want: []string{"apt: nothing", "go: ok " + want + " at "},
	}, {
		name: "a newer go is kept",
		m: machine{
			installed: allPackages,
			programs:  with(node, map[string]string{"go": goSays(want + ".1")}),
		},
		want: []string{"apt: nothing", "go: ok " + want + ".1 at "},
	}, {
		name: "programs present but their packages not: the packages decide",
		m: machine{
			installed: except(allPackages, "gnupg", "curl", "xvfb", "xdotool", "postfix"),
			programs: with(node, map[string]string{
				"gpg": "exit 0", "curl": "exit 0", "Xvfb": "exit 0", "xdotool": "exit 0", "postfix": "exit 0",
				"go": goSays(want),
			}),
		},
		want: []string{"apt: gnupg curl xvfb xdotool postfix"},
	}, {
		name: "no Node.js: Debian's nodejs and npm",
		m: machine{
			installed: except(allPackages, "nodejs"),
			programs:  map[string]string{"go": goSays(want)},
		},
		want: []string{"apt: nodejs npm"},
	}, {
		name: "an npm without a working node is not enough",
		m: machine{
			installed: except(allPackages, "nodejs"),
			programs:  map[string]string{"npm": "echo 10.8.2", "go": goSays(want)},
		},
		want: []string{"apt: nodejs npm"},
	}, {
		name: "an old Node.js from Debian is reported, not reinstalled",
		m: machine{
			installed: allPackages,
			programs:  map[string]string{"node": "echo v12.22.12", "npm": "echo 7.5.2", "go": goSays(want)},
		},
		want:    []string{"apt: nothing", "node: too old"},
		stderr:  "version 18 or newer",
		notWant: []string{"apt: nodejs npm"},
	}, {
		name: "no Go at all: one line saying what to install",
		m: machine{
			installed: allPackages,
			programs:  node,
		},
		want:   []string{"go: missing"},
		stderr: "no Go found: install Go",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut := runBootstrap(t, tc.m)
			lines := strings.Split(out, "\n")
			has := func(prefix string) bool {
				for _, l := range lines {
					if l == prefix || (strings.HasSuffix(prefix, " ") && strings.HasPrefix(l, prefix)) {
						return true
					}
				}
				return false
			}
			for _, w := range tc.want {
				if !has(w) {
					t.Errorf("decisions lack %q:\n%s", w, out)
				}
			}
			for _, w := range tc.notWant {
				if has(w) {
					t.Errorf("decisions hold %q:\n%s", w, out)
				}
			}
			if !strings.Contains(errOut, tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, errOut)
			}
			if !has("npm: ") {
				t.Errorf("no decision about the Delta Chat core:\n%s", out)
			}
		})
	}
}
