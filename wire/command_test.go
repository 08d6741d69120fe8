package wire

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func cmd(name string, args ...string) Command { return Command{Name: name, Args: args} }

func TestParseCommand(t *testing.T) {
	const fpr = "0123456789ABCDEF0123456789ABCDEF01234567"
	tests := []struct {
		in   string
		want Command
	}{
		{"on", cmd("on")},
		{"ON", cmd("on")},
		{"/on", cmd("on")},
		{"  /Off  ", cmd("off")},
		{"on!", cmd("on")},
		{"status?", cmd("status")},
		{"?", cmd("help")},
		{"turn on", cmd("on")},
		{"Switch OFF", cmd("off")},
		{"toggle", cmd("toggle")},
		{"status", cmd("status")},
		{"help", cmd("help")},
		{"help set", cmd("help", "set")},
		{"help /SET", cmd("help", "set")},
		{"describe", cmd("describe")},
		{"lock", cmd("lock")},
		{"unlock", cmd("unlock")},
		{"subscribe", cmd("subscribe")},
		{"unsubscribe", cmd("unsubscribe")},
		{"/Leave", cmd("leave")},
		{"set brightness 40", cmd("set", "brightness", "40")},
		{"set   Brightness\t40%", cmd("set", "brightness", "40%")},
		{"set brightness 40 %", cmd("set", "brightness", "40%")},
		{"set brightness to 40", cmd("set", "brightness", "40")},
		{"set brightness=40", cmd("set", "brightness", "40")},
		{"set brightness = 40", cmd("set", "brightness", "40")},
		{"set target 21.5", cmd("set", "target", "21.5")},
		{"set target 21.5C", cmd("set", "target", "21.5°C")},
		{"set target 21.5c", cmd("set", "target", "21.5°C")},
		{"set target 21.5 °C", cmd("set", "target", "21.5°C")},
		{"set target 21.5°c", cmd("set", "target", "21.5°C")},
		{"set target 21.5 celsius", cmd("set", "target", "21.5°C")},
		{"set target 70F", cmd("set", "target", "70°F")},
		{"set target -3.5°", cmd("set", "target", "-3.5°")},
		{"set target 40 lux", cmd("set", "target", "40lux")},
		{"set mode Heat", cmd("set", "mode", "heat")},
		{"set mode to auto", cmd("set", "mode", "auto")},
		{"set power on", cmd("set", "power", "on")},
		{"\u200bon\ufeff", cmd("on")},
		{"on\u00a0", cmd("on")},
		{"users", cmd("users")},
		{"revoke Alice@Example.ORG", cmd("revoke", "alice@example.org")},
		{"revoke <bob@example.org>", cmd("revoke", "bob@example.org")},
		{"Confirm Carol@Example.ORG", cmd("confirm", "carol@example.org")},
		{"revoke " + strings.ToLower(fpr), cmd("revoke", fpr)},
		{"revoke 0123 4567 89AB CDEF 0123 4567 89ab cdef 0123 4567", cmd("revoke", fpr)},
		{"role alice@example.org member", cmd("role", "alice@example.org", "member")},
		{"role alice@example.org guest 2h", cmd("role", "alice@example.org", "guest", "2h")},
		{"role alice@example.org GUEST for 2 hours", cmd("role", "alice@example.org", "guest", "2h")},
		{"role alice@example.org guest 90min", cmd("role", "alice@example.org", "guest", "1h30m")},
		{"role alice@example.org guest 1w", cmd("role", "alice@example.org", "guest", "7d")},
		{"role " + fpr + " member 1d2h30m", cmd("role", fpr, "member", "1d2h30m")},
		{"rename Kitchen   Lamp", cmd("rename", "Kitchen Lamp")},
		{"RENAME  Lampe über dem Tisch ", cmd("rename", "Lampe über dem Tisch")},
		{"invite", cmd("invite")},
		{"invite member", cmd("invite", "member")},
		{"invite guest 2h", cmd("invite", "guest", "2h")},
		{"invite Guest for 3 days", cmd("invite", "guest", "3d")},
		// Delta Chat bodies: quotes and signatures around the command.
		{"> The lamp is off.\n\non", cmd("on")},
		{"status\r\n\r\n-- \r\nSent with my Delta Chat Messenger", cmd("status")},
		{"off\n--\nmy signature\nwith lines", cmd("off")},
		{"\n\n  set brightness 10  \n\n", cmd("set", "brightness", "10")},
	}
	for _, tt := range tests {
		got, err := ParseCommand(tt.in)
		if err != nil {
			t.Errorf("ParseCommand(%q): %v", tt.in, err)
			continue
		}
		if !got.Equal(tt.want) {
			t.Errorf("ParseCommand(%q) = %#v, want %#v", tt.in, got, tt.want)
			continue
		}
		// The canonical text reads back as the same command.
		again, err := ParseCommand(got.String())
		if err != nil || !again.Equal(got) {
			t.Errorf("ParseCommand(%q) = %#v, %v; want %#v", got.String(), again, err, got)
		}
	}
}

func TestParseCommandErrors(t *testing.T) {
	tests := []struct {
		in     string
		kind   error
		reason string // exact text, or a prefix ending in "..."
	}{
		{"blink", ErrUnknownCommand, `unknown command "blink"; try "help"`},
		{"/Blink twice", ErrUnknownCommand, `unknown command "blink"; try "help"`},
		{"turn", ErrUnknownCommand, `unknown command "turn"; try "help"`},
		{"turn up", ErrUnknownCommand, `unknown command "turn"; try "help"`},
		{"", ErrBadCommand, `empty message; try "help"`},
		{"  \n\t\n", ErrBadCommand, `empty message; try "help"`},
		{"> only a quote", ErrBadCommand, `empty message; try "help"`},
		{"-- \non", ErrBadCommand, `empty message; try "help"`},
		{"on\noff", ErrBadCommand, `send one command per message; try "help"`},
		{"on please", ErrBadCommand, `"on" takes no arguments`},
		{"status now", ErrBadCommand, `"status" takes no arguments`},
		{"help me please", ErrBadCommand, `usage: help [COMMAND], e.g. "help set"`},
		{"help 42", ErrBadCommand, `"42" is not a command name`},
		{"set", ErrBadCommand, `usage: set PROPERTY VALUE, e.g. "set brightness 40"`},
		{"set brightness", ErrBadCommand, `usage: set PROPERTY VALUE, e.g. "set brightness 40"`},
		{"set brightness 40 50", ErrBadCommand, `usage: set PROPERTY VALUE, e.g. "set brightness 40"`},
		{"set mode heat cool", ErrBadCommand, `usage: set PROPERTY VALUE...`},
		{"set 4x 40", ErrBadCommand, `"4x" is not a property name`},
		{"set brightness " + strings.Repeat("9", 70), ErrBadCommand, "value for brightness is too long"},
		{"revoke", ErrBadCommand, "say whom: an email address or a key fingerprint"},
		{"revoke alice", ErrBadCommand, `"alice" is neither an email address nor a key fingerprint`},
		{"revoke alice@", ErrBadCommand, `"alice@" is not an email address`},
		{"revoke a b@example.org", ErrBadCommand, `"a" is neither...`},
		{"revoke alice@example.org bob@example.org", ErrBadCommand, "usage: revoke ADDRESS|FINGERPRINT..."},
		{"revoke 0123456789", ErrBadCommand, `"0123456789" is neither...`},
		{"confirm", ErrBadCommand, "say whom: an email address or a key fingerprint"},
		{"role alice@example.org", ErrBadCommand, "usage: role ADDRESS|FINGERPRINT member|guest [EXPIRY]..."},
		{"role alice@example.org owner", ErrBadCommand, `role must be member or guest, not "owner"`},
		{"role alice@example.org guest soon", ErrBadCommand, `"soon" is not an expiry like 30m, 2h or 7d (at most 366 days)`},
		{"role alice@example.org guest 30s", ErrBadCommand, `"30s" is not an expiry...`},
		{"role alice@example.org guest 400d", ErrBadCommand, `"400d" is not an expiry...`},
		{"role alice@example.org guest 0m", ErrBadCommand, `"0m" is not an expiry...`},
		{"role alice@example.org guest for", ErrBadCommand, "usage: role..."},
		{"rename", ErrBadCommand, `usage: rename NAME, e.g. "rename Kitchen lamp"`},
		{"rename " + strings.Repeat("x", MaxThingName+1), ErrBadCommand, "name is too long (at most 64 characters)"},
		{"invite owner", ErrBadCommand, `role must be member or guest, not "owner"`},
		{"invite 2h", ErrBadCommand, `role must be member or guest, not "2h"`},
		{"on\x1b[2J", ErrBadCommand, "command contains a control character"},
		{"rename a\x00b", ErrBadCommand, "command contains a control character"},
		{"on\xff", ErrBadCommand, "message is not valid UTF-8 text"},
		{strings.Repeat("x", MaxBodyLen+1), ErrBadCommand, "message is too long for a command"},
		{"rename " + strings.Repeat("y ", MaxCommandLen), ErrBadCommand, "command is too long"},
		{"blink" + strings.Repeat("k", 40), ErrUnknownCommand, `unknown command "blinkkkkkkkkkkkkkkkkkkkkkkkkkkkk…"; try "help"`},
	}
	for _, tt := range tests {
		got, err := ParseCommand(tt.in)
		if err == nil {
			t.Errorf("ParseCommand(%q) = %#v, want error", tt.in, got)
			continue
		}
		if !errors.Is(err, tt.kind) {
			t.Errorf("ParseCommand(%q): error %v is not %v", tt.in, err, tt.kind)
		}
		var ce *CommandError
		if !errors.As(err, &ce) {
			t.Errorf("ParseCommand(%q): error %T is not a *CommandError", tt.in, err)
		}
		if !matchReason(err.Error(), tt.reason) {
			t.Errorf("ParseCommand(%q): error %q, want %q", tt.in, err, tt.reason)
		}
	}
}

// matchReason compares exactly, or by prefix when want ends in "...".
func matchReason(got, want string) bool {
	if p, ok := strings.CutSuffix(want, "..."); ok {
		return strings.HasPrefix(got, p)
	}
	return got == want
}

func TestCommandErrorCode(t *testing.T) {
	for _, tt := range []struct {
		err  error
		code Code
	}{
		{ErrUnknownCommand, CodeUnknownCommand},
		{ErrBadCommand, CodeBadCommand},
		{ErrUnsupported, CodeUnsupported},
		{ErrBadValue, CodeBadValue},
	} {
		e := &CommandError{Err: tt.err, Reason: "x"}
		if e.Code() != tt.code {
			t.Errorf("code of %v = %q, want %q", tt.err, e.Code(), tt.code)
		}
	}
}

func TestClass(t *testing.T) {
	want := map[string]Class{
		"on": ClassDevice, "off": ClassDevice, "toggle": ClassDevice, "set": ClassDevice,
		"lock": ClassDevice, "unlock": ClassDevice, "blink": ClassDevice,
		"status": ClassAgent, "help": ClassAgent, "describe": ClassAgent,
		"subscribe": ClassAgent, "unsubscribe": ClassAgent, "leave": ClassAgent,
		"users": ClassOwner, "revoke": ClassOwner, "role": ClassOwner,
		"rename": ClassOwner, "invite": ClassOwner, "confirm": ClassOwner,
	}
	for name, c := range want {
		if got := cmd(name).Class(); got != c {
			t.Errorf("%s: class %v, want %v", name, got, c)
		}
	}
	for _, name := range Builtins() {
		if Usage(name) == "" {
			t.Errorf("built-in %q has no usage", name)
		}
		if _, ok := want[name]; !ok {
			t.Errorf("built-in %q has no class in the test", name)
		}
	}
	if Usage("blink") != "" {
		t.Errorf("Usage of an unknown command is %q", Usage("blink"))
	}
}

func TestExpiry(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		text string
	}{
		{"30m", 30 * time.Minute, "30m"},
		{"2 hours", 2 * time.Hour, "2h"},
		{"1H 30MIN", 90 * time.Minute, "1h30m"},
		{"2w", 14 * 24 * time.Hour, "14d"},
		{"366d", 366 * 24 * time.Hour, "366d"},
		{"1d1m", 24*time.Hour + time.Minute, "1d1m"},
	} {
		d, err := ParseExpiry(tt.in)
		if err != nil || d != tt.want || FormatExpiry(d) != tt.text {
			t.Errorf("ParseExpiry(%q) = %v, %v (%q); want %v (%q)", tt.in, d, err, FormatExpiry(d), tt.want, tt.text)
		}
	}
	for _, in := range []string{"", "2", "h", "2x", "367d", "53w", "1000000m", "9999999999h", "-2h", "2.5h", "0m"} {
		if d, err := ParseExpiry(in); !errors.Is(err, ErrBadValue) {
			t.Errorf("ParseExpiry(%q) = %v, %v; want ErrBadValue", in, d, err)
		}
	}
}

func TestIsNameIsEnumValue(t *testing.T) {
	tests := []struct {
		s          string
		name, enum bool
	}{
		{"brightness", true, true},
		{"set-point_2", true, true},
		{"a", true, true},
		{strings.Repeat("a", 32), true, true},
		{strings.Repeat("a", 33), false, false},
		{"2g", false, true},
		{"-x", false, true},
		{"", false, false},
		{"Heat", false, false},
		{"a b", false, false},
		{"caf\u00e9", false, false},
		{"a\xff", false, false},
	}
	for _, tc := range tests {
		if got := IsName(tc.s); got != tc.name {
			t.Errorf("IsName(%q) = %v, want %v", tc.s, got, tc.name)
		}
		if got := IsEnumValue(tc.s); got != tc.enum {
			t.Errorf("IsEnumValue(%q) = %v, want %v", tc.s, got, tc.enum)
		}
	}
}
