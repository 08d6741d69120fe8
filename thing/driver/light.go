package driver

import (
	"context"

	"github.com/thingpost/thingpost/wire"
)

// Light is a simulated dimmable lamp: power on/off and brightness 0-100 %.
// Setting the brightness also switches the lamp on, as a person who asks
// for 40% expects light. A new lamp is off at 100%.
type Light struct {
	base
	noun       string
	on         bool
	brightness int64
}

func brightnessLimit() limit { return intLimit(0, 100, "%") }

// NewLight builds a simulated lamp.
func NewLight(cfg Config) (*Light, error) {
	if err := cfg.Check("light"); err != nil {
		return nil, err
	}
	l := &Light{noun: cfg.noun("lamp"), brightness: 100}
	l.init(&cfg)
	return l, nil
}

// Capabilities: power (bool), brightness (int %), on, off, toggle.
func (l *Light) Capabilities() *wire.Capabilities {
	return &wire.Capabilities{
		Kind: "light",
		Properties: []wire.Property{
			{Name: "power", ValueSpec: wire.ValueSpec{Type: wire.TypeBool}, Writable: true},
			{Name: "brightness", ValueSpec: brightnessLimit().valueSpec(), Writable: true},
		},
		Commands: []wire.CommandSpec{{Name: "on"}, {Name: "off"}, {Name: "toggle"}},
	}
}

// Status gives power and brightness.
func (l *Light) Status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.status()
}

func (l *Light) status() Status {
	s := Status{State: wire.State{"power": wire.BoolValue(l.on), "brightness": wire.IntValue(l.brightness)}}
	if l.on {
		s.Text = "The " + l.noun + " is on, brightness " + brightnessLimit().format(float64(l.brightness)) + "."
	} else {
		s.Text = "The " + l.noun + " is off."
	}
	return s
}

// Do carries out on, off, toggle, set power and set brightness.
func (l *Light) Do(ctx context.Context, call wire.Call) (Status, error) {
	if err := l.begin(ctx); err != nil {
		return Status{}, err
	}
	defer l.mu.Unlock()
	switch call.Command.Name {
	case "on", "off", "toggle":
		if err := noArgs(call); err != nil {
			return Status{}, err
		}
		switch call.Command.Name {
		case "on":
			l.on = true
		case "off":
			l.on = false
		default:
			l.on = !l.on
		}
	case "set":
		prop, v, err := setArgs(call)
		if err != nil {
			return Status{}, err
		}
		switch prop {
		case "power":
			on, err := boolArg(prop, v)
			if err != nil {
				return Status{}, err
			}
			l.on = on
		case "brightness":
			x, err := brightnessLimit().check(prop, v)
			if err != nil {
				return Status{}, err
			}
			l.brightness, l.on = int64(x), true
		default:
			return Status{}, refuse(wire.ErrUnsupported, "this %s has no %q", l.noun, prop)
		}
	default:
		return Status{}, refuse(wire.ErrUnsupported, "this %s cannot %q", l.noun, call.Command.Name)
	}
	return l.status(), nil
}
