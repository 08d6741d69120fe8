package driver

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/thingpost/thingpost/wire"
)

// stepN advances a manual thermostat or sensor n ticks and gives the events
// and at which tick (1-based) each came.
func stepN(t *testing.T, st interface{ Step(time.Time) error }, rec *recorder, n int) (evs []wire.Event, at []int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		if err := st.Step(t0.Add(time.Duration(i) * time.Second)); err != nil {
			t.Fatalf("Step %d: %v", i, err)
		}
		for _, e := range rec.take() {
			evs = append(evs, e)
			at = append(at, i)
		}
	}
	return evs, at
}

func current(t *testing.T, d Driver) float64 {
	t.Helper()
	x, ok := d.Status().State["current"].AsFloat()
	if !ok {
		t.Fatalf("no current in %v", d.Status().State)
	}
	return x
}

func TestThermostatDrift(t *testing.T) {
	tests := []struct {
		name    string
		cfg     ThermostatConfig
		setup   []string // commands before stepping
		steps   int
		kinds   []string
		at      []int
		end     float64
		endText string
	}{
		{
			name:  "heat up to the target",
			cfg:   ThermostatConfig{Target: 20, Ambient: ptr(16.0)},
			steps: 45, kinds: []string{"target-reached"}, at: []int{40}, end: 20,
			endText: "The thermostat is on heat, target 20 °C; the room is 20 °C.",
		},
		{
			name:  "heat mode cannot cool: settles at a warmer ambient, passing the target",
			cfg:   ThermostatConfig{Target: 20, Ambient: ptr(25.0), Start: ptr(15.05)},
			steps: 120, kinds: []string{"target-crossed"}, at: []int{50}, end: 25,
			endText: "The thermostat is on heat, target 20 °C; the room is 25 °C.",
		},
		{
			name:  "auto cools down to the target",
			cfg:   ThermostatConfig{Target: 20, Mode: "auto", Ambient: ptr(25.0)},
			steps: 60, kinds: []string{"target-reached"}, at: []int{50}, end: 20,
			endText: "The thermostat is on auto, target 20 °C; the room is 20 °C.",
		},
		{
			name:  "off drifts to ambient without target events",
			cfg:   ThermostatConfig{Target: 20, Mode: "off", Ambient: ptr(16.0), Start: ptr(22.0)},
			steps: 80, end: 16,
			endText: "The thermostat is off; the room is 16 °C.",
		},
		{
			name:  "rate",
			cfg:   ThermostatConfig{Target: 20, Ambient: ptr(16.0), Rate: 0.5},
			steps: 10, kinds: []string{"target-reached"}, at: []int{8}, end: 20,
		},
		{
			name:  "lower target while warm: falls and reaches it",
			cfg:   ThermostatConfig{Target: 22, Ambient: ptr(16.0), Start: ptr(22.0)},
			setup: []string{"set target 20.5"}, steps: 20, kinds: []string{"target-reached"}, at: []int{15}, end: 20.5,
		},
		{
			name:  "off then on restores auto",
			cfg:   ThermostatConfig{Target: 18, Mode: "auto", Ambient: ptr(16.0)},
			setup: []string{"off", "on"}, steps: 25, kinds: []string{"target-reached"}, at: []int{20}, end: 18,
		},
		{
			name: "thresholds with the target",
			cfg: ThermostatConfig{Target: 20, Ambient: ptr(16.0), Thresholds: []Threshold{
				{Above: ptr(18.0)}, {Property: "temperature", Below: ptr(16.5), Hysteresis: 0.2},
			}},
			steps: 45, kinds: []string{"temperature-below", "temperature-normal", "temperature-above", "target-reached"},
			at: []int{1, 8, 21, 40}, end: 20,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			th, err := NewThermostat(Config{Manual: true, Thermostat: tt.cfg, Notify: rec.notify})
			if err != nil {
				t.Fatal(err)
			}
			defer th.Close()
			for _, c := range tt.setup {
				if _, err := send(t, th, c); err != nil {
					t.Fatal(err)
				}
			}
			evs, at := stepN(t, th, &rec, tt.steps)
			if !slices.Equal(kinds(evs), tt.kinds) || !slices.Equal(at, tt.at) {
				t.Errorf("events %v at ticks %v, want %v at %v", kinds(evs), at, tt.kinds, tt.at)
			}
			if got := current(t, th); got != tt.end {
				t.Errorf("room at %v, want %v", got, tt.end)
			}
			if tt.endText != "" && th.Status().Text != tt.endText {
				t.Errorf("text %q, want %q", th.Status().Text, tt.endText)
			}
			checkWire(t, th, th.Status(), evs...)
			for i, e := range evs {
				if !e.Time.Equal(t0.Add(time.Duration(at[i]) * time.Second)) {
					t.Errorf("event %s at %v: time is not the tick's", e.Kind, e.Time)
				}
			}
		})
	}
}

func TestThermostatEventText(t *testing.T) {
	var rec recorder
	th, err := NewThermostat(Config{Manual: true, Noun: "hall thermostat", Notify: rec.notify, Thermostat: ThermostatConfig{
		Target: 20, Ambient: ptr(25.0), Start: ptr(19.95), Thresholds: []Threshold{{Above: ptr(20.0)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer th.Close()
	evs, _ := stepN(t, th, &rec, 1)
	want := []string{
		"The room rose above the target 20 °C: it is 20.05 °C now.",
		"The temperature rose above 20 °C: it is 20.05 °C now.",
	}
	if len(evs) != 2 || evs[0].Text != want[0] || evs[1].Text != want[1] {
		t.Fatalf("events %+v", evs)
	}
	if v := evs[1].Values; !v.Equal(wire.State{"value": wire.FloatValue(20.05), "threshold": wire.FloatValue(20)}) {
		t.Errorf("values %v", v)
	}
	if h, _ := evs[0].State["heating"].AsBool(); h {
		t.Errorf("heating above the target: %v", evs[0].State)
	}
	if s := th.Status().Text; !strings.HasPrefix(s, "The hall thermostat is on heat") {
		t.Errorf("text %q", s)
	}
}

func TestThermostatCommands(t *testing.T) {
	th, err := NewThermostat(Config{Manual: true})
	if err != nil {
		t.Fatal(err)
	}
	defer th.Close()
	steps := []struct {
		in   string
		text string
		fail error
	}{
		{in: "set target 21.5", text: "The thermostat is on heat, target 21.5 °C; the room is 16 °C."},
		{in: "set target 70F", text: "The thermostat is on heat, target 21 °C; the room is 16 °C."},
		{in: "set mode auto", text: "The thermostat is on auto, target 21 °C; the room is 16 °C."},
		{in: "off", text: "The thermostat is off; the room is 16 °C."},
		{in: "on", text: "The thermostat is on auto, target 21 °C; the room is 16 °C."},
		{in: "set mode off", text: "The thermostat is off; the room is 16 °C."},
		{in: "set mode heat", text: "The thermostat is on heat, target 21 °C; the room is 16 °C."},
		{in: "set target 5", text: "The thermostat is on heat, target 5 °C; the room is 16 °C."},
		{in: "set target 30", text: "The thermostat is on heat, target 30 °C; the room is 16 °C."},
		{in: "set target 30.5", text: `target goes from 5 to 30 °C, not "30.5"`, fail: wire.ErrBadValue},
		{in: "set target 4", text: `target goes from 5 to 30 °C`, fail: wire.ErrBadValue},
		{in: "set mode cool", text: `mode is one of heat, off, auto; not "cool"`, fail: wire.ErrBadValue},
		{in: "set current 20", text: "current is read-only", fail: wire.ErrUnsupported},
		{in: "set heating on", text: "heating is read-only", fail: wire.ErrUnsupported},
		{in: "toggle", text: `cannot "toggle"`, fail: wire.ErrUnsupported},
	}
	for _, st := range steps {
		s, err := send(t, th, st.in)
		if st.fail != nil {
			wantRefusal(t, err, st.fail, st.text)
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", st.in, err)
		}
		if s.Text != st.text {
			t.Errorf("%q: %q, want %q", st.in, s.Text, st.text)
		}
	}
	if s := th.Status(); !s.State.Equal(wire.State{"target": wire.FloatValue(30), "mode": wire.StringValue("heat"),
		"current": wire.FloatValue(16), "heating": wire.BoolValue(true)}) {
		t.Errorf("state %v", s.State)
	}
	for _, tt := range []struct {
		call wire.Call
		kind error
		why  string
	}{
		{set("target", wire.FloatValue(35)), wire.ErrBadValue, "target must be between 5 and 30 °C in steps of 0.5, not 35"},
		{set("target", wire.FloatValue(20.3)), wire.ErrBadValue, "in steps of 0.5, not 20.3"},
		{set("target", wire.FloatValue(4.5)), wire.ErrBadValue, "not 4.5"},
		{set("target", wire.StringValue("warm")), wire.ErrBadValue, "target must be a number"},
		{set("mode", wire.StringValue("cool")), wire.ErrBadValue, `mode must be one of heat, off or auto, not "cool"`},
		{set("mode", wire.BoolValue(true)), wire.ErrBadValue, "mode must be one of"},
		{set("current", wire.FloatValue(20)), wire.ErrUnsupported, "current is read-only"},
		{plain("off", wire.StringValue("now")), wire.ErrBadCommand, "takes no arguments"},
	} {
		_, err := th.Do(context.Background(), tt.call)
		wantRefusal(t, err, tt.kind, tt.why)
	}
	if got := th.Status().State["target"]; !got.Equal(wire.FloatValue(30)) {
		t.Errorf("refused calls changed the target to %v", got)
	}
}

// TestThermostatTicksByItself checks the real ticker: without Manual the
// room warms on its own and events arrive.
func TestThermostatTicksByItself(t *testing.T) {
	got := make(chan wire.Event, 10)
	th, err := NewThermostat(Config{Tick: time.Millisecond, Notify: func(e wire.Event) { got <- e },
		Thermostat: ThermostatConfig{Target: 16.5, Ambient: ptr(16.0)}})
	if err != nil {
		t.Fatal(err)
	}
	defer th.Close()
	select {
	case e := <-got:
		if e.Kind != "target-reached" {
			t.Errorf("event %+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event from the ticker within 10s")
	}
	if err := th.Close(); err != nil {
		t.Fatal(err)
	}
	before := current(t, th)
	time.Sleep(20 * time.Millisecond)
	if after := current(t, th); after != before {
		t.Errorf("the room changed after Close: %v -> %v", before, after)
	}
}
