package driver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/thingpost/thingpost/wire"
)

var t0 = time.Date(2025, 11, 26, 12, 0, 0, 0, time.UTC)

// recorder collects the events a driver sends.
type recorder struct {
	mu  sync.Mutex
	evs []wire.Event
}

func (r *recorder) notify(e wire.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, e)
}

// take returns the events so far and forgets them.
func (r *recorder) take() []wire.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	evs := r.evs
	r.evs = nil
	return evs
}

func kinds(evs []wire.Event) []string {
	var ks []string
	for _, e := range evs {
		ks = append(ks, e.Kind)
	}
	return ks
}

// command parses text as a person writes it and resolves it against the
// driver's capabilities, as the agent does.
func command(d Driver, text string) (wire.Call, error) {
	caps := d.Capabilities()
	cmd, err := caps.ParseCommand(text)
	if err != nil {
		return wire.Call{}, err
	}
	return caps.Resolve(cmd)
}

// send is command then Do.
func send(t *testing.T, d Driver, text string) (Status, error) {
	t.Helper()
	call, err := command(d, text)
	if err != nil {
		return Status{}, fmt.Errorf("resolve %q: %w", text, err)
	}
	return d.Do(context.Background(), call)
}

// set builds a "set" call by hand, without Resolve, to test the driver's
// own checks.
func set(prop string, v wire.Value) wire.Call {
	return wire.Call{Command: wire.Command{Name: "set", Args: []string{prop, v.String()}}, Property: prop, Values: []wire.Value{v}}
}

func plain(name string, vals ...wire.Value) wire.Call {
	c := wire.Call{Command: wire.Command{Name: name}, Values: vals}
	for _, v := range vals {
		c.Command.Args = append(c.Command.Args, v.String())
	}
	return c
}

// wantRefusal checks that err is a *wire.CommandError of the given kind
// whose text contains why.
func wantRefusal(t *testing.T, err error, kind error, why string) {
	t.Helper()
	var ce *wire.CommandError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T), want a *wire.CommandError", err, err)
	}
	if !errors.Is(err, kind) {
		t.Errorf("error %q is %v, want %v", err, ce.Err, kind)
	}
	if !strings.Contains(err.Error(), why) {
		t.Errorf("error %q does not say %q", err, why)
	}
}

// checkWire checks that a status and events fit wire's machine form, so
// that the agent can send them.
func checkWire(t *testing.T, d Driver, s Status, evs ...wire.Event) {
	t.Helper()
	caps := d.Capabilities()
	if err := caps.CheckState(s.State); err != nil {
		t.Errorf("state %v does not fit the capabilities: %v", s.State, err)
	}
	if _, err := wire.EncodeJSON(wire.Message{Reply: &wire.Reply{OK: true, Text: s.Text, State: s.State}}); err != nil {
		t.Errorf("status %q does not fit a reply: %v", s.Text, err)
	}
	for _, e := range evs {
		if _, err := wire.EncodeJSON(wire.Message{Event: &e}); err != nil {
			t.Errorf("event %+v is not valid on the wire: %v", e, err)
		}
		if !containsStr(caps.Events, e.Kind) {
			t.Errorf("event kind %q is not declared in %v", e.Kind, caps.Events)
		}
		if err := caps.CheckState(e.State); err != nil {
			t.Errorf("event state %v does not fit the capabilities: %v", e.State, err)
		}
	}
}

func containsStr(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// testDrivers builds one driver of each kind, manual, with an exec config
// whose program is the test binary.
func testDrivers(t *testing.T) map[string]Driver {
	t.Helper()
	ds := map[string]Driver{}
	for _, kind := range Kinds() {
		cfg := Config{Manual: true, Now: func() time.Time { return t0 }}
		switch kind {
		case "sensor":
			cfg.Sensor = SensorConfig{Seed: 1, Thresholds: []Threshold{{Property: "temperature", Above: ptr(30.0)}}}
		case "thermostat":
			cfg.Thermostat = ThermostatConfig{Thresholds: []Threshold{{Below: ptr(10.0)}}}
		case "exec":
			cfg.Exec = helperExec(t, allTypesCommand())
		}
		d, err := New(kind, cfg)
		if err != nil {
			t.Fatalf("New(%q): %v", kind, err)
		}
		t.Cleanup(func() { d.Close() })
		ds[kind] = d
	}
	return ds
}

func ptr[T any](v T) *T { return &v }

func TestNew(t *testing.T) {
	for _, kind := range Kinds() {
		t.Run(kind, func(t *testing.T) {
			cfg := Config{Manual: true}
			if kind == "exec" {
				cfg.Exec = helperExec(t, allTypesCommand())
			}
			d, err := New(kind, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if got := d.Capabilities().Kind; got != kind {
				t.Errorf("Capabilities().Kind = %q", got)
			}
		})
	}
	for _, kind := range []string{"", "toaster", "Light", "light "} {
		d, err := New(kind, Config{})
		if !errors.Is(err, ErrUnknownKind) || d != nil {
			t.Errorf("New(%q) = %v, %v; want ErrUnknownKind", kind, d, err)
		}
		if err != nil && !strings.Contains(err.Error(), "light, thermostat, lock, sensor, exec") {
			t.Errorf("error %q does not list the known kinds", err)
		}
	}
	// A failed constructor gives a nil interface, not a typed nil.
	d, err := New("exec", Config{})
	if err == nil || d != nil {
		t.Errorf("New(exec) without commands = %v, %v", d, err)
	}
}

func TestConfigCheck(t *testing.T) {
	tests := []struct {
		kind string
		cfg  Config
		why  string
	}{
		{"light", Config{Tick: -time.Second}, "tick"},
		{"light", Config{Noun: "lamp\x1b[2J"}, "noun"},
		{"thermostat", Config{Thermostat: ThermostatConfig{Target: 31}}, "thermostat.target"},
		{"thermostat", Config{Thermostat: ThermostatConfig{Target: 20.2}}, "thermostat.target"},
		{"thermostat", Config{Thermostat: ThermostatConfig{Mode: "cool"}}, "thermostat.mode"},
		{"thermostat", Config{Thermostat: ThermostatConfig{Rate: -1}}, "thermostat.rate"},
		{"thermostat", Config{Thermostat: ThermostatConfig{Start: ptr(math.NaN())}}, "thermostat.start"},
		{"thermostat", Config{Thermostat: ThermostatConfig{Ambient: ptr(99.0)}}, "thermostat.ambient"},
		{"thermostat", Config{Thermostat: ThermostatConfig{Thresholds: []Threshold{{Property: "humidity", Above: ptr(1.0)}}}}, "thermostat.threshold[0].property"},
		{"sensor", Config{Sensor: SensorConfig{Humidity: ptr(101.0)}}, "sensor.humidity"},
		{"sensor", Config{Sensor: SensorConfig{Thresholds: []Threshold{{Property: "temperature"}}}}, "exactly one of above and below"},
		{"sensor", Config{Sensor: SensorConfig{Thresholds: []Threshold{{Property: "temperature", Above: ptr(1.0), Below: ptr(0.0)}}}}, "exactly one of above and below"},
		{"sensor", Config{Sensor: SensorConfig{Thresholds: []Threshold{{Above: ptr(1.0)}}}}, `"" is not temperature or humidity`},
		{"sensor", Config{Sensor: SensorConfig{Thresholds: []Threshold{{Property: "humidity", Above: ptr(1.0), Hysteresis: -1}}}}, "hysteresis"},
		{"sensor", Config{Sensor: SensorConfig{Thresholds: []Threshold{{Property: "humidity", Above: ptr(math.Inf(1))}}}}, "not a sensible number"},
		{"exec", Config{}, "no commands configured"},
		{"toaster", Config{}, "unknown device kind"},
	}
	for _, tt := range tests {
		err := tt.cfg.Check(tt.kind)
		if err == nil || !strings.Contains(err.Error(), tt.why) {
			t.Errorf("%s %+v: error %v, want one that says %q", tt.kind, tt.cfg, err, tt.why)
			continue
		}
		if tt.kind != "toaster" && !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: error %v does not wrap ErrBadConfig", tt.kind, err)
		}
		if _, err := New(tt.kind, tt.cfg); err == nil {
			t.Errorf("New(%s) accepted what Check refused", tt.kind)
		}
	}
}

// sampleToken gives a valid text for a value spec, and values outside it.
func sampleTokens(t *testing.T, spec wire.ValueSpec, str string) (good []string, bad []wire.Value) {
	t.Helper()
	num := func(x float64) string { return wire.FloatValue(x).String() }
	switch spec.Type {
	case wire.TypeBool:
		return []string{"on", "off"}, []wire.Value{wire.StringValue("maybe"), wire.IntValue(2)}
	case wire.TypeEnum:
		return spec.Enum, []wire.Value{wire.StringValue("bogus"), wire.IntValue(1), wire.StringValue(strings.ToUpper(spec.Enum[0]))}
	case wire.TypeString:
		return []string{str}, []wire.Value{wire.IntValue(1), wire.StringValue("-" + str), wire.StringValue(str + "\n")}
	case wire.TypeInt, wire.TypeFloat:
		if spec.Min == nil || spec.Max == nil {
			t.Fatalf("writable number without range: %+v", spec)
		}
		lo, hi := *spec.Min, *spec.Max
		mid := lo + math.Round((hi-lo)/2)
		good = []string{num(lo), num(hi), num(mid)}
		bad = []wire.Value{wire.FloatValue(lo - 1), wire.FloatValue(hi + 1), wire.IntValue(int64(hi) + 1),
			wire.FloatValue(math.NaN()), wire.FloatValue(math.Inf(1)), wire.StringValue(num(mid)), wire.BoolValue(true)}
		if spec.Type == wire.TypeInt {
			bad = append(bad, wire.FloatValue(mid+0.5))
		}
		if spec.Step > 0 {
			bad = append(bad, wire.FloatValue(lo+spec.Step/2))
		}
		return good, bad
	}
	t.Fatalf("unknown type %q", spec.Type)
	return nil, nil
}

// TestCapabilitiesMatchDo checks, for every kind, that every writable
// property and every declared command is accepted by Do with each valid
// value, that values outside the description are refused by Resolve and
// (built by hand) by Do, and that read-only properties and undeclared
// commands are refused.
func TestCapabilitiesMatchDo(t *testing.T) {
	for kind, d := range testDrivers(t) {
		t.Run(kind, func(t *testing.T) {
			caps := d.Capabilities()
			if err := caps.Check(); err != nil {
				t.Fatalf("Capabilities().Check: %v", err)
			}
			checkWire(t, d, d.Status())
			if lk, ok := d.(*Lock); ok {
				if _, err := lk.Do(context.Background(), plain("unlock")); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range caps.Properties {
				if !p.Writable {
					if call, err := command(d, "set "+p.Name+" 1"); err == nil {
						t.Errorf("Resolve accepts setting read-only %s: %+v", p.Name, call)
					}
					_, err := d.Do(context.Background(), set(p.Name, wire.IntValue(1)))
					wantRefusal(t, err, wire.ErrUnsupported, "")
					continue
				}
				good, bad := sampleTokens(t, p.ValueSpec, "x")
				for _, tok := range good {
					call, err := command(d, "set "+p.Name+" "+tok)
					if err != nil {
						t.Errorf("set %s %s: Resolve: %v", p.Name, tok, err)
						continue
					}
					s, err := d.Do(context.Background(), call)
					if err != nil {
						t.Errorf("set %s %s: Do: %v", p.Name, tok, err)
						continue
					}
					if got := s.State[p.Name]; !got.Equal(call.Values[0]) {
						t.Errorf("set %s %s: state has %v, want %v", p.Name, tok, got, call.Values[0])
					}
					checkWire(t, d, s)
				}
				before := d.Status()
				for _, v := range bad {
					// Resolve snaps values between steps; outside the range
					// it refuses.
					if x, _ := v.AsFloat(); v.Type() == p.Type && (p.Min == nil || x < *p.Min || x > *p.Max) {
						if _, err := command(d, "set "+p.Name+" "+v.String()); err == nil {
							t.Errorf("Resolve accepts set %s %s", p.Name, v)
						}
					}
					_, err := d.Do(context.Background(), set(p.Name, v))
					wantRefusal(t, err, wire.ErrBadValue, p.Name)
				}
				if after := d.Status(); !after.State.Equal(before.State) {
					t.Errorf("refused values changed the state: %v -> %v", before.State, after.State)
				}
			}
			for _, c := range caps.Commands {
				text := c.Name
				var bads [][]wire.Value
				for _, a := range c.Args {
					good, bad := sampleTokens(t, a.ValueSpec, "hello")
					text += " " + good[0]
					bads = append(bads, bad)
				}
				call, err := command(d, text)
				if err != nil {
					t.Errorf("%s: Resolve: %v", text, err)
					continue
				}
				s, err := d.Do(context.Background(), call)
				if err != nil {
					t.Errorf("%s: %v", text, err)
				} else {
					checkWire(t, d, s)
				}
				for i, bad := range bads {
					for _, b := range bad {
						vals := append([]wire.Value(nil), call.Values...)
						vals[i] = b
						_, err := d.Do(context.Background(), plain(c.Name, vals...))
						wantRefusal(t, err, wire.ErrBadValue, c.Args[i].Name)
					}
				}
				if len(c.Args) == 0 {
					_, err := d.Do(context.Background(), plain(c.Name, wire.IntValue(1)))
					wantRefusal(t, err, wire.ErrBadCommand, "takes no arguments")
				} else {
					_, err := d.Do(context.Background(), plain(c.Name))
					wantRefusal(t, err, wire.ErrBadCommand, "usage")
				}
			}
			for _, call := range []wire.Call{
				plain("blink"), plain("status"), plain(""),
				set("nosuch", wire.IntValue(1)),
				{Command: wire.Command{Name: "set"}},
			} {
				_, err := d.Do(context.Background(), call)
				var ce *wire.CommandError
				if !errors.As(err, &ce) || ce.Err == wire.ErrBadValue {
					t.Errorf("Do(%+v) = %v, want a refusal as unsupported or malformed", call, err)
				}
			}
		})
	}
}

func TestCapabilitiesAreCopies(t *testing.T) {
	for kind, d := range testDrivers(t) {
		c := d.Capabilities()
		for i := range c.Properties {
			if c.Properties[i].Min != nil {
				*c.Properties[i].Min = -1e9
				*c.Properties[i].Max = 1e9
			}
			for j := range c.Properties[i].Enum {
				c.Properties[i].Enum[j] = "changed"
			}
		}
		for i := range c.Commands {
			for j := range c.Commands[i].Args {
				a := &c.Commands[i].Args[j]
				if a.Min != nil {
					*a.Min, *a.Max = -1e9, 1e9
				}
				for k := range a.Enum {
					a.Enum[k] = "changed"
				}
			}
		}
		if err := d.Capabilities().Check(); err != nil {
			t.Errorf("%s: changing a returned description changed the driver's: %v", kind, err)
		}
		again := d.Capabilities()
		for _, p := range again.Properties {
			if p.Min != nil && *p.Min == -1e9 || containsStr(p.Enum, "changed") {
				t.Errorf("%s: property %s shares memory with an earlier description", kind, p.Name)
			}
		}
	}
}

func TestClosed(t *testing.T) {
	for kind, d := range testDrivers(t) {
		if err := d.Close(); err != nil {
			t.Errorf("%s: Close: %v", kind, err)
		}
		if err := d.Close(); err != nil {
			t.Errorf("%s: second Close: %v", kind, err)
		}
		if _, err := d.Do(context.Background(), plain("on")); !errors.Is(err, ErrClosed) {
			t.Errorf("%s: Do after Close = %v, want ErrClosed", kind, err)
		}
		if st, ok := d.(interface{ Step(time.Time) error }); ok {
			if err := st.Step(t0); !errors.Is(err, ErrClosed) {
				t.Errorf("%s: Step after Close = %v, want ErrClosed", kind, err)
			}
		}
		_ = d.Status() // still answers
	}
}

func TestDoHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for kind, d := range testDrivers(t) {
		before := d.Status()
		if _, err := d.Do(ctx, plain("on")); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: Do with a cancelled context = %v", kind, err)
		}
		if !d.Status().State.Equal(before.State) {
			t.Errorf("%s: state changed", kind)
		}
	}
}

// TestConcurrent drives every kind from several goroutines at once; run
// with -race.
func TestConcurrent(t *testing.T) {
	for kind, d := range testDrivers(t) {
		t.Run(kind, func(t *testing.T) {
			caps := d.Capabilities()
			var texts []string
			for _, c := range caps.Commands {
				if len(c.Args) == 0 {
					texts = append(texts, c.Name)
				}
			}
			for _, p := range caps.Properties {
				if p.Writable {
					good, _ := sampleTokens(t, p.ValueSpec, "x")
					texts = append(texts, "set "+p.Name+" "+good[len(good)-1])
				}
			}
			var calls []wire.Call
			for _, text := range texts {
				c, err := command(d, text)
				if err != nil {
					t.Fatal(err)
				}
				calls = append(calls, c)
			}
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Go(func() {
					for i := range 50 {
						switch {
						case len(calls) > 0 && (i+g)%3 == 0:
							d.Do(context.Background(), calls[(i+g)%len(calls)])
						case (i+g)%3 == 1:
							if st, ok := d.(interface{ Step(time.Time) error }); ok {
								st.Step(t0.Add(time.Duration(i) * time.Second))
							}
							if lk, ok := d.(*Lock); ok {
								lk.OpenDoor()
								lk.CloseDoor()
							}
						default:
							s := d.Status()
							if err := caps.CheckState(s.State); err != nil {
								t.Error(err)
							}
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

func TestTOML(t *testing.T) {
	prog := filepath.Join(t.TempDir(), "backup")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	doc := `
noun = "hall sensor"
tick = "2s"

[thermostat]
target = 21.5
mode = "auto"
ambient = 0.0
rate = 0.05

[[thermostat.threshold]]
below = 5

[sensor]
temperature = 19.5
seed = 7

[[sensor.threshold]]
property = "humidity"
above = 70
hysteresis = 3

[[exec.command]]
name = "backup"
program = "` + prog + `"
args = [{name = "level", type = "int", min = 0, max = 9}, {name = "mode", type = "enum", values = ["full", "quick"]}]
argv = ["--level", "{level}", "--mode={mode}"]
timeout = "1m30s"
max_output = 1000
env = ["LANG=C"]
`
	var cfg Config
	md, err := toml.Decode(doc, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		t.Errorf("keys not decoded: %v", u)
	}
	if cfg.Noun != "hall sensor" || cfg.Tick != 2*time.Second {
		t.Errorf("noun, tick = %q, %v", cfg.Noun, cfg.Tick)
	}
	th := cfg.Thermostat
	if th.Target != 21.5 || th.Mode != "auto" || th.Ambient == nil || *th.Ambient != 0 || th.Rate != 0.05 ||
		len(th.Thresholds) != 1 || th.Thresholds[0].Below == nil || *th.Thresholds[0].Below != 5 {
		t.Errorf("thermostat = %+v", th)
	}
	se := cfg.Sensor
	if *se.Temperature != 19.5 || se.Seed != 7 || len(se.Thresholds) != 1 || se.Thresholds[0].Hysteresis != 3 {
		t.Errorf("sensor = %+v", se)
	}
	ex := cfg.Exec.Commands
	if len(ex) != 1 || ex[0].Timeout != 90*time.Second || ex[0].MaxOutput != 1000 || len(ex[0].Args) != 2 ||
		*ex[0].Args[0].Max != 9 || ex[0].Args[1].Values[1] != "quick" || ex[0].Argv[2] != "--mode={mode}" {
		t.Errorf("exec = %+v", ex)
	}
	for _, kind := range Kinds() {
		if err := cfg.Check(kind); err != nil {
			t.Errorf("Check(%s): %v", kind, err)
		}
	}
}
