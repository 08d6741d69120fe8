package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/wire"
)

func TestAgo(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "just now"},
		{30 * time.Second, "just now"},
		{50 * time.Second, "1 min ago"},
		{2 * time.Minute, "2 min ago"},
		{89 * time.Minute, "89 min ago"},
		{3 * time.Hour, "3 h ago"},
		{30 * time.Hour, "yesterday"},
		{5 * 24 * time.Hour, "5 Mar"},
		{400 * 24 * time.Hour, "3 Feb 2025"},
	}
	for _, tt := range tests {
		if got := ago(now.Add(-tt.d), now); got != tt.want {
			t.Errorf("ago(-%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
	if got := ago(time.Time{}, now); got != "never" {
		t.Errorf("ago(zero) = %q", got)
	}
}

func TestFingerprints(t *testing.T) {
	fpr := "0123456789ABCDEF0123456789ABCDEF01234567"
	if got, want := fingerprintGroups(fpr), "0123 4567 89AB CDEF 0123  4567 89AB CDEF 0123 4567"; got != want {
		t.Errorf("groups %q, want %q", got, want)
	}
	if got, want := shortFingerprint(fpr), "0123 4567 89AB CDEF …"; got != want {
		t.Errorf("short %q, want %q", got, want)
	}
	for _, s := range []string{"", "AB", "0123456789"} { // a thing may send anything: never panic
		_ = fingerprintGroups(s)
		_ = shortFingerprint(s)
	}
}

func TestNumbersAndLabels(t *testing.T) {
	deg := wire.ValueSpec{Type: wire.TypeFloat, Unit: "°C", Step: 0.5, Min: wire.Num(5), Max: wire.Num(30)}
	pct := wire.ValueSpec{Type: wire.TypeInt, Unit: "%"}
	tests := []struct {
		x    float64
		spec wire.ValueSpec
		num  string
		text string
	}{
		{21.5, deg, "21.5 °C", "21.5"},
		{21, deg, "21.0 °C", "21.0"},
		{40, pct, "40%", "40"},
		{3.14159, wire.ValueSpec{Type: wire.TypeFloat}, "3.1", "3.1"},
		{0.25, wire.ValueSpec{Type: wire.TypeFloat, Step: 0.05, Unit: "lx"}, "0.25 lx", "0.25"},
	}
	for _, tt := range tests {
		if got := number(tt.x, tt.spec); got != tt.num {
			t.Errorf("number(%v) = %q, want %q", tt.x, got, tt.num)
		}
		if got := numberText(tt.x, tt.spec); got != tt.text {
			t.Errorf("numberText(%v) = %q, want %q", tt.x, got, tt.text)
		}
	}
	for in, want := range map[string]string{"brightness": "Brightness", "door-opened": "Door opened", "target_temp": "Target temp", "": ""} {
		if got := label(in); got != want {
			t.Errorf("label(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStateSummary(t *testing.T) {
	light := &wire.Capabilities{Kind: "light", Properties: []wire.Property{
		{Name: "power", ValueSpec: wire.ValueSpec{Type: wire.TypeBool}, Writable: true},
		{Name: "brightness", ValueSpec: wire.ValueSpec{Type: wire.TypeInt, Unit: "%", Min: wire.Num(0), Max: wire.Num(100)}, Writable: true},
	}}
	thermo := &wire.Capabilities{Kind: "thermostat", Properties: []wire.Property{
		{Name: "target", ValueSpec: wire.ValueSpec{Type: wire.TypeFloat, Unit: "°C", Step: 0.5, Min: wire.Num(5), Max: wire.Num(30)}, Writable: true},
		{Name: "mode", ValueSpec: wire.ValueSpec{Type: wire.TypeEnum, Enum: []string{"comfort", "eco", "off"}}, Writable: true},
		{Name: "current", ValueSpec: wire.ValueSpec{Type: wire.TypeFloat, Unit: "°C"}},
		{Name: "heating", ValueSpec: wire.ValueSpec{Type: wire.TypeBool}},
	}}
	sensor := &wire.Capabilities{Kind: "sensor", Properties: []wire.Property{
		{Name: "humidity", ValueSpec: wire.ValueSpec{Type: wire.TypeInt, Unit: "%"}},
	}}
	tests := []struct {
		name string
		t    app.Thing
		want string
	}{
		{"not described", app.Thing{}, "Waiting for the thing to describe itself"},
		{"no state", app.Thing{Capabilities: light}, "State not known yet"},
		{"light off", app.Thing{Capabilities: light, State: wire.State{"power": wire.BoolValue(false), "brightness": wire.IntValue(40)}}, "Off"},
		{"light on", app.Thing{Capabilities: light, State: wire.State{"power": wire.BoolValue(true), "brightness": wire.IntValue(40)}}, "On · 40%"},
		{"lock", app.Thing{State: wire.State{"locked": wire.BoolValue(false), "door": wire.StringValue("open")}}, "Unlocked · door open"},
		{"thermostat heating", app.Thing{Capabilities: thermo, State: wire.State{"target": wire.FloatValue(21.5), "mode": wire.StringValue("comfort"),
			"current": wire.FloatValue(19.04), "heating": wire.BoolValue(true)}}, "19.0 °C · target 21.5 °C · heating"},
		{"thermostat off", app.Thing{Capabilities: thermo, State: wire.State{"target": wire.FloatValue(21.5), "mode": wire.StringValue("off"),
			"current": wire.FloatValue(19)}}, "19.0 °C · heating off"},
		{"other kinds", app.Thing{Capabilities: sensor, State: wire.State{"humidity": wire.IntValue(55), "battery": wire.StringValue("low")}}, "Humidity 55% · Battery low"},
	}
	for _, tt := range tests {
		if got := stateSummary(&tt.t); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestCommandWords(t *testing.T) {
	for s, want := range map[app.CommandStatus]string{app.StatusQueued: "sending", app.StatusSent: "delivered", app.StatusAnswered: "answered",
		app.StatusRefused: "refused", app.StatusExpired: "expired", app.StatusFailed: "failed"} {
		if got := statusText(s); got != want {
			t.Errorf("statusText(%s) = %q, want %q", s, got, want)
		}
	}
	c := &app.Command{Command: wire.Command{Name: "lock"}, Status: app.StatusRefused, Reply: &wire.Reply{Reason: "the door is open"}}
	if got := commandOutcome("Front door", c); got != "Front door refused “lock”: the door is open" {
		t.Errorf("refused: %q", got)
	}
	c = &app.Command{Command: wire.Command{Name: "on"}, Status: app.StatusExpired}
	if got := commandOutcome("Lamp", c); !strings.Contains(got, "did not answer") {
		t.Errorf("expired: %q", got)
	}
}

func TestExplainAccountError(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("account check: imap mail.example.org:993: %w: lookup", app.ErrDNS), "was not found"},
		{fmt.Errorf("account check: imap 127.0.0.1:1: %w: dial", app.ErrConnRefused), "Nothing answers on that port"},
		{fmt.Errorf("account check: imap x:993: %w", app.ErrTimeout), "did not answer"},
		{fmt.Errorf("account check: %w", context.DeadlineExceeded), "did not answer"},
		{fmt.Errorf("account check: smtp x:465: %w: 535", app.ErrAuth), "refused the user name or the password"},
		{fmt.Errorf("account check: imap x:993: %w: %w", app.ErrTLS, app.ErrPinMismatch), "not the one pinned"},
		{fmt.Errorf("account check: imap x:993: %w: x509", app.ErrTLS), "secure connection failed"},
		{fmt.Errorf("account: %w: %w", app.ErrInvalidAccount, app.ErrPlainNotLoopback), "only allowed to this computer"},
		{fmt.Errorf("account: %w", app.ErrCertChecksOff), "certificate check off"},
		{fmt.Errorf("account: %w: imap: no host", app.ErrInvalidAccount), "incomplete or wrong"},
		{errors.New("account: something new"), "Something new"},
	}
	for _, tt := range tests {
		if got := explainAccountError(tt.err); !strings.Contains(got, tt.want) {
			t.Errorf("explain(%v) = %q, want it to say %q", tt.err, got, tt.want)
		}
	}
	// Words alone decide nothing: only the sentinels do.
	if got := explainAccountError(errors.New("account check: connection refused")); got != "Connection refused" {
		t.Errorf("explain(words only) = %q, want the words alone", got)
	}
}
