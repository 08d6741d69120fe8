#!/usr/bin/env bash
# bootstrap.sh installs what building and testing Thingpost needs on a Debian or
# Ubuntu machine, and only what is missing, so running it again is cheap:
#   - Debian packages, each decided by dpkg-query (whether the package itself is
#     installed), never by a program name that another package can own: a stand-in
#     `convert` is not ImageMagick, whose `import` the GUI smoke test calls;
#   - Node.js and npm, decided by the programs' versions (NodeSource's nodejs
#     carries its own npm and conflicts with Debian's npm package);
#   - Go: when the Go on PATH is older than go.mod's `go` line, the go command
#     itself fetches that toolchain from the module proxy it is set up with
#     (GOPROXY), into .cache/go (scripts/env.sh and the Makefile put it first on
#     PATH). Without any Go it says what to install;
#   - the Delta Chat core JSON-RPC server from npm into .cache/deltachat, the
#     independent Delta Chat peer the interop tests drive.
#
# --dry-run prints the decisions (lines "apt: ...", "go: ...", "npm: ...") and
# installs nothing; scripts/bootstrap_test.go checks them.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cache=$root/.cache
dry=
case "${1:-}" in
  --dry-run) dry=1 ;;
  "") ;;
  *) echo "usage: scripts/bootstrap.sh [--dry-run]" >&2; exit 2 ;;
esac

say() { printf 'bootstrap: %s\n' "$*" >&2; }
decide() { [ -n "$dry" ] && printf '%s\n' "$*"; return 0; }

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

# version_at_least WANT HAVE: true when HAVE (dotted numbers) >= WANT.
version_at_least() {
  [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" = "$1" ]
}

# --- Debian packages -------------------------------------------------------
wanted_pkgs=(
  gnupg                     # gpg and gpgconf: OpenPGP interop tests
  curl                      # an independent SMTP/IMAP client in homenode/e2e
  git make                  # the clone, the go command's VCS stamp, make targets
  gcc libc6-dev pkg-config  # the Fyne app builds with cgo ...
  libgl-dev libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev libgles-dev
  xvfb xauth                # ... and its smoke test runs it under Xvfb (xvfb-run needs xauth)
  dbus-bin                  # dbus-run-session: Fyne's tray needs a session bus (fyne#6403)
  xdotool                   # drives the window
  imagemagick               # import: the screenshots
  postfix dovecot-imapd dovecot-lmtpd  # the standard mail server of internal/mailserver
)
need_pkgs=()
for p in "${wanted_pkgs[@]}"; do
  installed "$p" || need_pkgs+=("$p")
done

# Node.js >= 18 with npm installs the Delta Chat core.
node_ok() {
  local v
  v=$(node --version 2>/dev/null) || return 1
  v=${v#v}
  version_at_least 18 "$v" && npm --version >/dev/null 2>&1
}
if ! node_ok; then
  if installed nodejs; then
    say "Node.js $(node --version 2>/dev/null || echo '(none)') with npm is needed at version 18 or newer: install a newer Node.js, then run this again"
    [ -n "$dry" ] || exit 1
    decide "node: too old"
  else
    need_pkgs+=(nodejs npm)
  fi
fi

if [ ${#need_pkgs[@]} -gt 0 ]; then
  decide "apt: ${need_pkgs[*]}"
  if [ -z "$dry" ]; then
    if [[ " ${need_pkgs[*]} " == *" postfix "* ]]; then
      # "No configuration" leaves the system's own Postfix instance unconfigured:
      # the tests run a private one on loopback.
      echo "postfix postfix/main_mailer_type select No configuration" | sudo_if_needed debconf-set-selections
    fi
    say "installing Debian packages: ${need_pkgs[*]}"
    sudo_if_needed apt-get update -qq
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
  fi
else
  decide "apt: nothing"
fi

# --- Go --------------------------------------------------------------------
want_go=$(sed -n 's/^go \([0-9.]*\)$/\1/p' go.mod)
# go_version GO: the version GO says it is, without the "go" prefix.
go_version() {
  local v
  v=$("$1" env GOVERSION 2>/dev/null) || return 1
  printf '%s\n' "${v#go}"
}
go_ok() {
  local v
  v=$(go_version "$1") && version_at_least "$want_go" "$v"
}
if [ -x "$cache/go/bin/go" ] && go_ok "$cache/go/bin/go"; then
  decide "go: ok $want_go in .cache/go"
elif command -v go >/dev/null 2>&1 && go_ok "$(command -v go)"; then
  decide "go: ok $(go_version go) at $(command -v go)"
elif ! command -v go >/dev/null 2>&1; then
  say "no Go found: install Go (Debian: apt-get install golang-go), then run this again; it fetches Go $want_go itself"
  [ -n "$dry" ] || exit 1
  decide "go: missing"
else
  have=$(go_version go || echo unknown)
  case "$(uname -m)" in
    x86_64) arch=amd64 ;;
    aarch64) arch=arm64 ;;
    armv7l | armv6l) arch=armv6l ;;
    *) say "Go $have is older than go.mod's $want_go and no toolchain is known for $(uname -m): install Go $want_go yourself"; exit 1 ;;
  esac
  mod=golang.org/toolchain@v0.0.1-go$want_go.linux-$arch
  decide "go: fetch $want_go (have $have)"
  if [ -z "$dry" ]; then
    say "Go $have is older than go.mod's $want_go: fetching $mod with the go command into .cache/go"
    tmp=$(mktemp -d)
    # Outside any module, so that go.mod's newer go line does not stop an old go;
    # GOTOOLCHAIN=local keeps a newer-than-1.21 go from switching by itself.
    dir=$(cd "$tmp" && GO111MODULE=on GOTOOLCHAIN=local GOFLAGS=-modcacherw go mod download -json "$mod" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
    [ -n "$dir" ] && [ -d "$dir" ] || { say "the go command did not fetch $mod"; exit 1; }
    rm -rf "$cache/go"
    mkdir -p "$cache"
    cp -R "$dir" "$cache/go"
    # Module zips carry no file modes.
    chmod -R u+w "$cache/go"
    chmod +x "$cache/go/bin/"* "$cache/go/pkg/tool/"*/*
    rm -rf "$tmp"
    go_ok "$cache/go/bin/go" || { say "the fetched Go in .cache/go does not run"; exit 1; }
  fi
fi

# --- Delta Chat core (npm) -------------------------------------------------
dc_version=2.62.0
case "$(uname -m)" in
  x86_64) dc_pkg=@deltachat/stdio-rpc-server-linux-x64 ;;
  aarch64) dc_pkg=@deltachat/stdio-rpc-server-linux-arm64 ;;
  *) dc_pkg= ;;
esac
if [ -n "$dc_pkg" ]; then
  dc_dir=$cache/deltachat/node_modules/$dc_pkg
  if [ -x "$dc_dir/deltachat-rpc-server" ] && grep -q "\"version\": \"$dc_version\"" "$dc_dir/package.json" 2>/dev/null; then
    decide "npm: ok $dc_pkg@$dc_version"
  else
    decide "npm: $dc_pkg@$dc_version"
    if [ -z "$dry" ]; then
      say "installing $dc_pkg@$dc_version into .cache/deltachat (npm)"
      mkdir -p "$cache/deltachat"
      npm install --silent --no-audit --no-fund --prefix "$cache/deltachat" "$dc_pkg@$dc_version" >&2
      [ -x "$dc_dir/deltachat-rpc-server" ] || { say "npm did not install $dc_dir/deltachat-rpc-server"; exit 1; }
    fi
  fi
else
  say "no Delta Chat core build for $(uname -m): its interop tests will skip"
  decide "npm: none for $(uname -m)"
fi
