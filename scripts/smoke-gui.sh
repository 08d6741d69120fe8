#!/usr/bin/env bash
# smoke-gui.sh runs the real Thingpost binary in a real (virtual) X display
# and drives it the way a newcomer would, with the keyboard alone:
#
#   first run -> "Try the demo home" -> name and passphrase -> pair the desk
#   lamp by scanning its code -> open it -> switch it on -> pair the
#   thermostat and the lock -> home
#
# It saves screenshots into docs/screenshots/ (welcome, demo, thing, scan,
# home) and fails when a step does not happen in time, when the log has
# "Error in Fyne call thread" (a widget touched off the UI goroutine) or a
# panic, or when the app does not exit cleanly on SIGTERM.
#
# It needs Xvfb, xdotool, ImageMagick's import and dbus-run-session
# (scripts/bootstrap.sh installs them). The app runs inside its own D-Bus
# session, as on a desktop (Fyne's tray needs one: fyne#6403).
#
# Usage: scripts/smoke-gui.sh [--keep]   (--keep leaves the work directory)
# Environment: THINGPOST_SCREENSHOTS=DIR saves the screenshots elsewhere;
# FYNE_THEME=light takes them in the light variant (default dark).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
keep=${1:-}

for tool in Xvfb xdotool import dbus-run-session; do
  command -v "$tool" >/dev/null || { echo "smoke-gui: $tool is missing: run scripts/bootstrap.sh" >&2; exit 1; }
done

work=$(mktemp -d /tmp/thingpost-smoke.XXXXXX)
cleanup() {
  [ -n "${xvfb_pid:-}" ] && kill "$xvfb_pid" 2>/dev/null || true
  if [ "$keep" = "--keep" ]; then echo "smoke-gui: work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

say() { printf 'smoke-gui: %s\n' "$*" >&2; }

say "building"
go build -o "$work/thingpost" .

# A virtual screen exactly the size of the window, so that a screenshot of
# the screen is a screenshot of the window.
width=980 height=700
exec 5>"$work/display"
Xvfb -displayfd 5 -screen 0 "${width}x${height}x24" -nolisten tcp >"$work/xvfb.log" 2>&1 &
xvfb_pid=$!
for _ in $(seq 100); do [ -s "$work/display" ] && break; sleep 0.05; done
display=":$(tr -dc 0-9 <"$work/display")"
say "Xvfb on $display"

cat >"$work/drive.sh" <<'DRIVE'
#!/usr/bin/env bash
# Runs inside dbus-run-session: starts the app and drives it.
set -euo pipefail
work=$1 shots=$2
log=$work/app.log

fail() { echo "smoke-gui: FAIL: $*" >&2; echo "--- last lines of the app's log:" >&2; tail -n 30 "$log" >&2; exit 1; }

# wait_log PATTERN SECONDS: wait until the log has a line matching PATTERN
# after the mark (the log's line count when the step began).
mark=0
wait_log() {
  local pattern=$1 secs=$2 i
  for ((i = 0; i < secs * 20; i++)); do
    if tail -n +"$((mark + 1))" "$log" | grep -q -- "$pattern"; then return 0; fi
    kill -0 "$app" 2>/dev/null || fail "the app exited while waiting for: $pattern"
    sleep 0.05
  done
  fail "no \"$pattern\" within ${secs}s"
}
step() { mark=$(wc -l <"$log"); echo "smoke-gui: $*" >&2; }
keys() { xdotool key --delay 60 "$@"; }
typed() { xdotool type --delay 25 "$1"; }
shot() { sleep "${2:-0.6}"; import -window root "$shots/$1.png"; echo "smoke-gui: saved $shots/$1.png" >&2; }

: >"$log"
launched=$(date +%s%N)
LANG=en_US.UTF-8 FYNE_THEME=${FYNE_THEME:-dark} "$work/thingpost" -data "$work/data" -debug >"$log" 2>&1 &
app=$!

step "waiting for the window"
win=$(xdotool search --sync --name '^Thingpost$' | head -n1)
xdotool windowfocus --sync "$win"
wait_log 'screen name=welcome' 20
started=$(date +%s%N)
echo "smoke-gui: from launch to the welcome screen: $(( (started - launched) / 1000000 )) ms" >&2
shot welcome 1

step "first run: Try the demo home (focused) with Space"
keys space
wait_log 'screen name=demo-setup' 10
typed "Ada"; keys Tab; typed "correct horse battery"; keys Tab; typed "correct horse battery"; keys Return
step "starting the demo home"
wait_log 'screen name=demo ' 60
shot demo 1.5

step "scan the desk lamp's code (its Scan button has the focus)"
keys space
wait_log 'msg=paired thing="Desk lamp"' 60
step "open the lamp (focused) and switch it on (Tab to the Power switch, Space)"
sleep 0.5; keys space
wait_log 'screen name=thing title="Desk lamp"' 10
keys Tab space
wait_log 'command="set power on" status=answered' 60
echo "smoke-gui: from launch to the lamp switched on, typing by xdotool included: $(( ($(date +%s%N) - launched) / 1000000 )) ms" >&2
shot thing 1.5

step "Ctrl+D: the demo things; scan the thermostat's code"
keys ctrl+d
wait_log 'screen name=demo ' 10
sleep 0.5; keys space
wait_log 'msg=paired thing=Thermostat' 60
shot scan 1.5

step "and the lock's"
keys ctrl+d
wait_log 'screen name=demo ' 10
sleep 0.5; keys space
wait_log 'msg=paired thing="Front door"' 60

step "Alt+Home: home with three things"
keys alt+Home
wait_log 'screen name=home' 10
shot home 2

step "stopping the app with SIGTERM"
kill -TERM "$app"
for _ in $(seq 200); do kill -0 "$app" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$app" 2>/dev/null; then kill -KILL "$app"; fail "the app did not exit within 10 s of SIGTERM"; fi
wait "$app" || fail "the app exited with status $?"
DRIVE
chmod +x "$work/drive.sh"

shots=${THINGPOST_SCREENSHOTS:-$root/docs/screenshots}
mkdir -p "$shots"
status=0
DISPLAY=$display dbus-run-session -- "$work/drive.sh" "$work" "$shots" || status=$?

if grep -n "Error in Fyne call thread" "$work/app.log" >&2; then
  say "FAIL: a widget was touched off the UI goroutine (see the lines above)"
  status=1
fi
if grep -n -E "^panic:|fatal error:" "$work/app.log" >&2; then
  say "FAIL: the app panicked"
  status=1
fi
if [ "$status" -eq 0 ]; then
  say "OK: screenshots in $shots"
fi
exit "$status"
