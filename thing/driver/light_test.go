package driver

import (
	"context"
	"testing"

	"github.com/thingpost/thingpost/wire"
)

func TestLight(t *testing.T) {
	l, err := NewLight(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if s := l.Status(); s.Text != "The lamp is off." || !s.State.Equal(wire.State{"power": wire.BoolValue(false), "brightness": wire.IntValue(100)}) {
		t.Fatalf("new lamp: %+v", s)
	}
	// One lamp, one command after the other: each row sees the state the
	// rows before it left.
	steps := []struct {
		in    string
		text  string // the sentence, or the refusal
		power bool
		bri   int64
		fail  error // wire.ErrBadValue etc. for refusals
	}{
		{in: "on", text: "The lamp is on, brightness 100%.", power: true, bri: 100},
		{in: "set brightness 40", text: "The lamp is on, brightness 40%.", power: true, bri: 40},
		{in: "off", text: "The lamp is off.", bri: 40},
		{in: "toggle", text: "The lamp is on, brightness 40%.", power: true, bri: 40},
		{in: "toggle", text: "The lamp is off.", bri: 40},
		{in: "set brightness 75%", text: "The lamp is on, brightness 75%.", power: true, bri: 75},
		{in: "set power off", text: "The lamp is off.", bri: 75},
		{in: "set power on", text: "The lamp is on, brightness 75%.", power: true, bri: 75},
		{in: "set brightness 0", text: "The lamp is on, brightness 0%.", power: true, bri: 0},
		{in: "set brightness 100", text: "The lamp is on, brightness 100%.", power: true, bri: 100},
		{in: "turn off", text: "The lamp is off.", bri: 100},
		{in: "set brightness 101", text: `brightness goes from 0 to 100%, not "101"`, bri: 100, fail: wire.ErrBadValue},
		{in: "set brightness -1", text: `brightness goes from 0 to 100%, not "-1"`, bri: 100, fail: wire.ErrBadValue},
		{in: "set brightness 4.5", text: "whole number", bri: 100, fail: wire.ErrBadValue},
		{in: "set colour red", text: `no "colour"`, bri: 100, fail: wire.ErrUnsupported},
		{in: "lock", text: `cannot "lock"`, bri: 100, fail: wire.ErrUnsupported},
	}
	for _, st := range steps {
		s, err := send(t, l, st.in)
		if st.fail != nil {
			wantRefusal(t, err, st.fail, st.text)
		} else if err != nil {
			t.Fatalf("%q: %v", st.in, err)
		} else if s.Text != st.text {
			t.Errorf("%q: text %q, want %q", st.in, s.Text, st.text)
		}
		want := wire.State{"power": wire.BoolValue(st.power), "brightness": wire.IntValue(st.bri)}
		if got := l.Status().State; !got.Equal(want) {
			t.Errorf("%q: state %v, want %v", st.in, got, want)
		}
	}
}

// TestLightRefusesItself checks the driver's own limits with calls that
// did not pass Resolve.
func TestLightRefusesItself(t *testing.T) {
	l, err := NewLight(Config{Noun: "desk lamp"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	tests := []struct {
		call wire.Call
		kind error
		why  string
	}{
		{set("brightness", wire.IntValue(150)), wire.ErrBadValue, "brightness must be between 0 and 100%, not 150"},
		{set("brightness", wire.IntValue(-5)), wire.ErrBadValue, "brightness must be between 0 and 100%, not -5"},
		{set("brightness", wire.FloatValue(40.5)), wire.ErrBadValue, "brightness must be a whole number between 0 and 100%"},
		{set("brightness", wire.StringValue("bright")), wire.ErrBadValue, "whole number"},
		{set("power", wire.StringValue("on")), wire.ErrBadValue, `power is on or off, not "on"`},
		{set("power", wire.IntValue(1)), wire.ErrBadValue, "power is on or off"},
		{set("color", wire.StringValue("red")), wire.ErrUnsupported, `this desk lamp has no "color"`},
		{plain("blink", wire.IntValue(3)), wire.ErrUnsupported, `this desk lamp cannot "blink"`},
		{plain("on", wire.IntValue(3)), wire.ErrBadCommand, `"on" takes no arguments`},
		{wire.Call{Command: wire.Command{Name: "toggle", Args: []string{"now"}}}, wire.ErrBadCommand, "takes no arguments"},
		{wire.Call{Command: wire.Command{Name: "set", Args: []string{"brightness", "40"}}}, wire.ErrBadCommand, "usage: set PROPERTY VALUE"},
	}
	for _, tt := range tests {
		_, err := l.Do(context.Background(), tt.call)
		wantRefusal(t, err, tt.kind, tt.why)
	}
	if s := l.Status(); s.Text != "The desk lamp is off." {
		t.Errorf("refused calls changed the lamp: %q", s.Text)
	}
}
