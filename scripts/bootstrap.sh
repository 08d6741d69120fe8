#!/usr/bin/env bash
# bootstrap.sh installs what building and testing Thingpost needs on a Debian or
# Ubuntu machine, and only what is missing, so running it again is cheap:
#   - Go (the version go.mod names) from the Go module proxy when the system Go is
#     missing or older, into .cache/go (the Makefile puts it first on PATH);
#   - Debian packages: gnupg (OpenPGP interop tests), curl (independent SMTP/IMAP
#     client in tests), nodejs + npm (to fetch the Delta Chat core);
#   - the Delta Chat core JSON-RPC server from npm into .cache/deltachat, the
#     independent Delta Chat peer the interop tests drive.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cache=$root/.cache
mkdir -p "$cache"

say() { printf 'bootstrap: %s\n' "$*" >&2; }

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# --- Debian packages -------------------------------------------------------
need_pkgs=()
command -v gpg >/dev/null 2>&1 || need_pkgs+=(gnupg)
command -v gpgconf >/dev/null 2>&1 || need_pkgs+=(gnupg)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl ca-certificates)
command -v unzip >/dev/null 2>&1 || need_pkgs+=(unzip)
command -v npm >/dev/null 2>&1 || need_pkgs+=(nodejs npm)
command -v git >/dev/null 2>&1 || need_pkgs+=(git)
command -v make >/dev/null 2>&1 || need_pkgs+=(make)
# The Fyne app (root package) builds with cgo against OpenGL and X11; the
# GUI smoke test runs it under Xvfb inside a D-Bus session.
command -v gcc >/dev/null 2>&1 || need_pkgs+=(gcc libc6-dev)
command -v pkg-config >/dev/null 2>&1 || need_pkgs+=(pkg-config)
for p in libgl-dev libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev libgles-dev; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
command -v Xvfb >/dev/null 2>&1 || need_pkgs+=(xvfb xauth)
command -v dbus-run-session >/dev/null 2>&1 || need_pkgs+=(dbus-bin)
command -v xdotool >/dev/null 2>&1 || need_pkgs+=(xdotool)
command -v convert >/dev/null 2>&1 || need_pkgs+=(imagemagick)
# Postfix + Dovecot: the standard mail server that internal/mailserver runs
# privately on loopback for the tests (never as a system service). Postfix's
# debconf answer "No configuration" leaves the system instance unconfigured.
for p in postfix dovecot-imapd dovecot-lmtpd; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
if [[ " ${need_pkgs[*]} " == *" postfix "* ]]; then
  echo "postfix postfix/main_mailer_type select No configuration" | sudo_if_needed debconf-set-selections
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
  say "installing Debian packages: ${need_pkgs[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
fi

# --- Go --------------------------------------------------------------------
want_go=$(sed -n 's/^go \([0-9.]*\)$/\1/p' go.mod)
have_go() {
  local v
  v=$("$1" env GOVERSION 2>/dev/null) || return 1
  v=${v#go}
  [ "$(printf '%s\n%s\n' "$want_go" "$v" | sort -V | head -n1)" = "$want_go" ]
}
if ! { [ -x "$cache/go/bin/go" ] && have_go "$cache/go/bin/go"; } &&
   ! { command -v go >/dev/null 2>&1 && have_go "$(command -v go)"; }; then
  arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
  case "$arch" in
    amd64|x86_64) arch=amd64 ;;
    arm64|aarch64) arch=arm64 ;;
    *) say "no Go toolchain download for architecture $arch; install Go $want_go yourself"; exit 1 ;;
  esac
  zip="v0.0.1-go${want_go}.linux-${arch}.zip"
  say "installing Go $want_go into .cache/go (from the Go module proxy)"
  tmp=$(mktemp -d)
  curl -fsSL -o "$tmp/go.zip" "https://proxy.golang.org/golang.org/toolchain/@v/$zip"
  unzip -q "$tmp/go.zip" -d "$tmp"
  rm -rf "$cache/go"
  mv "$tmp/golang.org/toolchain@v0.0.1-go${want_go}.linux-${arch}" "$cache/go"
  chmod +x "$cache/go/bin/"* "$cache/go/pkg/tool/"*/* 2>/dev/null || true
  rm -rf "$tmp"
fi

# --- Delta Chat core (npm) -------------------------------------------------
dc_version=2.62.0
case "$(uname -m)" in
  x86_64) dc_pkg=@deltachat/stdio-rpc-server-linux-x64 ;;
  aarch64) dc_pkg=@deltachat/stdio-rpc-server-linux-arm64 ;;
  *) dc_pkg= ;;
esac
if [ -n "$dc_pkg" ]; then
  dc_bin="$cache/deltachat/node_modules/$dc_pkg/deltachat-rpc-server"
  if [ ! -x "$dc_bin" ] || ! grep -q "\"version\": \"$dc_version\"" "$cache/deltachat/node_modules/$dc_pkg/package.json" 2>/dev/null; then
    say "installing $dc_pkg@$dc_version into .cache/deltachat (npm)"
    mkdir -p "$cache/deltachat"
    npm install --silent --no-audit --no-fund --prefix "$cache/deltachat" "$dc_pkg@$dc_version" >&2
  fi
  [ -x "$dc_bin" ] || { say "npm did not install $dc_bin"; exit 1; }
else
  say "no Delta Chat core build for $(uname -m): its interop tests will skip"
fi
