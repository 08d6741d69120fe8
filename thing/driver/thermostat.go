package driver

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/thingpost/thingpost/wire"
)

// ThermostatConfig sets up a simulated thermostat. In TOML: [thermostat].
type ThermostatConfig struct {
	Target float64 `toml:"target"` // the target at start, °C; default 20
	Mode   string  `toml:"mode"`   // the mode at start: heat (default), off or auto
	// Ambient is where the room drifts without heating, °C; default 16.
	Ambient *float64 `toml:"ambient"`
	// Start is the room temperature at start, °C; default Ambient.
	Start *float64 `toml:"start"`
	// Rate is how far the room temperature moves per tick, °C; default 0.1.
	Rate       float64     `toml:"rate"`
	Thresholds []Threshold `toml:"threshold"`
}

func thermostatModes() []string { return []string{"heat", "off", "auto"} }

func targetLimit() limit { return floatLimit(5, 30, 0.5, "°C") }

// roomMeasure is what a thermostat's thresholds watch.
func roomMeasure() []measure { return []measure{{name: "temperature", state: "current", unit: "°C"}} }

type thermostatSetup struct {
	target, ambient, current, rate float64
	mode                           string
	watches                        []*watch
}

func (c ThermostatConfig) resolve() (thermostatSetup, error) {
	s := thermostatSetup{target: 20, mode: "heat", ambient: 16, rate: 0.1, current: math.NaN()}
	if c.Target != 0 {
		s.target = c.Target
	}
	if _, err := targetLimit().check("target", wire.FloatValue(s.target)); err != nil {
		return s, configErr("thermostat.target", "%v", err)
	}
	if c.Mode != "" {
		s.mode = c.Mode
	}
	if !slices.Contains(thermostatModes(), s.mode) {
		return s, configErr("thermostat.mode", "%q is not %s", c.Mode, joinOr(thermostatModes()))
	}
	if c.Ambient != nil {
		s.ambient = *c.Ambient
	}
	s.current = s.ambient
	if c.Start != nil {
		s.current = *c.Start
	}
	for _, c := range []struct {
		key string
		v   float64
	}{{"thermostat.ambient", s.ambient}, {"thermostat.start", s.current}} {
		if math.IsNaN(c.v) || c.v < -50 || c.v > 60 {
			return s, configErr(c.key, "%v °C is not a room temperature", c.v)
		}
	}
	if c.Rate != 0 {
		s.rate = c.Rate
	}
	if !(s.rate > 0 && s.rate <= 10) {
		return s, configErr("thermostat.rate", "must be above 0 and at most 10 °C per tick")
	}
	var err error
	s.watches, err = resolveThresholds("thermostat", c.Thresholds, roomMeasure(), "temperature")
	return s, err
}

// Thermostat is a simulated heating thermostat: a target (5-30 °C in steps
// of 0.5), a mode (heat, off, auto) and a room temperature that moves by
// Rate per tick toward where the mode leads: the target in auto, the target
// or the ambient temperature, whichever is warmer, in heat (it cannot
// cool), the ambient temperature when off. It sends target-reached when the
// room arrives at the target, target-crossed when the room passes it
// (heating on), and the events of its thresholds.
type Thermostat struct {
	base
	noun string
	thermostatSetup
	lastMode string // the mode "on" restores
}

// NewThermostat builds a simulated thermostat.
func NewThermostat(cfg Config) (*Thermostat, error) {
	if err := cfg.Check("thermostat"); err != nil {
		return nil, err
	}
	s, _ := cfg.Thermostat.resolve() // checked above
	t := &Thermostat{noun: cfg.noun("thermostat"), thermostatSetup: s, lastMode: "heat"}
	t.init(&cfg)
	if s.mode != "off" {
		t.lastMode = s.mode
	}
	t.start(&cfg, t.Step)
	return t, nil
}

// Capabilities: target, mode, current (read-only), heating (read-only), on,
// off.
func (t *Thermostat) Capabilities() *wire.Capabilities {
	return &wire.Capabilities{
		Kind: "thermostat",
		Properties: []wire.Property{
			{Name: "target", ValueSpec: targetLimit().valueSpec(), Writable: true},
			{Name: "mode", ValueSpec: wire.ValueSpec{Type: wire.TypeEnum, Enum: thermostatModes()}, Writable: true},
			{Name: "current", ValueSpec: wire.ValueSpec{Type: wire.TypeFloat, Unit: "°C"}},
			{Name: "heating", ValueSpec: wire.ValueSpec{Type: wire.TypeBool}},
		},
		Commands: []wire.CommandSpec{{Name: "on"}, {Name: "off"}},
		Events:   append([]string{"target-reached", "target-crossed"}, eventKinds(t.watches)...),
	}
}

// Status gives target, mode, room temperature and whether it heats.
func (t *Thermostat) Status() Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status()
}

func (t *Thermostat) heating() bool { return t.mode != "off" && t.current < t.target }

func (t *Thermostat) status() Status {
	deg := limit{unit: "°C"}
	s := Status{State: wire.State{
		"target":  wire.FloatValue(t.target),
		"mode":    wire.StringValue(t.mode),
		"current": wire.FloatValue(t.current),
		"heating": wire.BoolValue(t.heating()),
	}}
	room := "the room is " + deg.format(t.current) + "."
	if t.mode == "off" {
		s.Text = "The " + t.noun + " is off; " + room
	} else {
		s.Text = "The " + t.noun + " is on " + t.mode + ", target " + deg.format(t.target) + "; " + room
	}
	return s
}

// Do carries out on, off, set target and set mode.
func (t *Thermostat) Do(ctx context.Context, call wire.Call) (Status, error) {
	if err := t.begin(ctx); err != nil {
		return Status{}, err
	}
	defer t.mu.Unlock()
	switch call.Command.Name {
	case "on", "off":
		if err := noArgs(call); err != nil {
			return Status{}, err
		}
		if call.Command.Name == "on" {
			t.mode = t.lastMode
		} else {
			t.mode = "off"
		}
	case "set":
		prop, v, err := setArgs(call)
		if err != nil {
			return Status{}, err
		}
		switch prop {
		case "target":
			x, err := targetLimit().check(prop, v)
			if err != nil {
				return Status{}, err
			}
			t.target = x
		case "mode":
			m, err := enumArg(prop, v, thermostatModes())
			if err != nil {
				return Status{}, err
			}
			t.mode = m
			if m != "off" {
				t.lastMode = m
			}
		case "current", "heating":
			return Status{}, refuse(wire.ErrUnsupported, "%s is read-only", prop)
		default:
			return Status{}, refuse(wire.ErrUnsupported, "this %s has no %q", t.noun, prop)
		}
	default:
		return Status{}, refuse(wire.ErrUnsupported, "this %s cannot %q", t.noun, call.Command.Name)
	}
	return t.status(), nil
}

// Step advances the simulation to now: the room temperature moves one
// Rate toward where the mode leads, and the events this causes go to
// Notify. The driver calls Step once per tick unless Config.Manual.
func (t *Thermostat) Step(now time.Time) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	prev := t.current
	t.current = moveToward(prev, t.goal(), t.rate)
	var evs []wire.Event
	if e, ok := t.targetEvent(prev, now); ok {
		evs = append(evs, e)
	}
	for _, w := range t.watches {
		if e, ok := w.update(t.current, now); ok {
			evs = append(evs, e)
		}
	}
	t.unlockAndNotify(evs, t.status)
	return nil
}

// goal is where the room temperature heads in the current mode.
func (t *Thermostat) goal() float64 {
	switch t.mode {
	case "auto":
		return t.target
	case "heat":
		return math.Max(t.target, t.ambient)
	}
	return t.ambient
}

func moveToward(x, goal, step float64) float64 {
	if math.Abs(goal-x) <= step {
		return goal
	}
	if goal > x {
		return round(x+step, 3)
	}
	return round(x-step, 3)
}

func (t *Thermostat) targetEvent(prev float64, now time.Time) (wire.Event, bool) {
	if t.mode == "off" || prev == t.current {
		return wire.Event{}, false
	}
	deg := limit{unit: "°C"}
	var kind, text string
	switch {
	case t.current == t.target && prev != t.target:
		kind, text = "target-reached", fmt.Sprintf("The room reached the target, %s.", deg.format(t.target))
	case prev < t.target && t.current > t.target:
		kind, text = "target-crossed", fmt.Sprintf("The room rose above the target %s: it is %s now.", deg.format(t.target), deg.format(t.current))
	case prev > t.target && t.current < t.target:
		kind, text = "target-crossed", fmt.Sprintf("The room fell below the target %s: it is %s now.", deg.format(t.target), deg.format(t.current))
	default:
		return wire.Event{}, false
	}
	return wire.Event{
		Kind:   kind,
		Time:   now,
		Text:   text,
		Values: wire.State{"value": wire.FloatValue(t.current), "target": wire.FloatValue(t.target)},
	}, true
}
