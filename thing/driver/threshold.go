package driver

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/thingpost/thingpost/wire"
)

// DefaultHysteresis is Threshold.Hysteresis when the config leaves it zero.
const DefaultHysteresis = 0.5

// Threshold makes an event when a measured value goes above or below a
// level. Set exactly one of Above and Below. After firing it stays quiet
// until the value has come back by Hysteresis (then an "-normal" event
// says so), so a value hovering at the level does not repeat the event.
//
// In TOML: [[sensor.threshold]] property = "temperature" above = 30
type Threshold struct {
	// Property is what is measured: "temperature" or "humidity" for a
	// sensor, "temperature" (the default) for a thermostat's room.
	Property   string   `toml:"property"`
	Above      *float64 `toml:"above"`
	Below      *float64 `toml:"below"`
	Hysteresis float64  `toml:"hysteresis"` // default DefaultHysteresis
}

// measure is one measured quantity a threshold can watch.
type measure struct {
	name  string // in configs, event kinds and sentences: "temperature"
	state string // the State entry: "temperature", or "current" on a thermostat
	unit  string
}

// watch is a Threshold in force.
type watch struct {
	measure
	level   float64
	hyst    float64
	above   bool
	tripped bool
}

func resolveThresholds(key string, ts []Threshold, known []measure, def string) ([]*watch, error) {
	var ws []*watch
	for i, t := range ts {
		at := fmt.Sprintf("%s.threshold[%d]", key, i)
		name := t.Property
		if name == "" {
			name = def
		}
		j := slices.IndexFunc(known, func(m measure) bool { return m.name == name })
		if j < 0 {
			var names []string
			for _, m := range known {
				names = append(names, m.name)
			}
			return nil, configErr(at+".property", "%q is not %s", t.Property, joinOr(names))
		}
		w := &watch{measure: known[j], hyst: t.Hysteresis}
		switch {
		case (t.Above == nil) == (t.Below == nil):
			return nil, configErr(at, "set exactly one of above and below")
		case t.Above != nil:
			w.level, w.above = *t.Above, true
		default:
			w.level = *t.Below
		}
		if math.IsNaN(w.level) || math.IsInf(w.level, 0) || math.Abs(w.level) > 1e6 {
			return nil, configErr(at, "level %v is not a sensible number", w.level)
		}
		if w.hyst < 0 || math.IsNaN(w.hyst) || w.hyst > 1e6 {
			return nil, configErr(at+".hysteresis", "must be a positive number")
		}
		if w.hyst == 0 {
			w.hyst = DefaultHysteresis
		}
		ws = append(ws, w)
	}
	return ws, nil
}

// eventKinds lists the event kinds the watches can send.
func eventKinds(ws []*watch) []string {
	var kinds []string
	for _, w := range ws {
		for _, k := range []string{w.kind(), w.name + "-normal"} {
			if !slices.Contains(kinds, k) {
				kinds = append(kinds, k)
			}
		}
	}
	return kinds
}

func (w *watch) kind() string {
	if w.above {
		return w.name + "-above"
	}
	return w.name + "-below"
}

// update takes the new value x and reports the event it causes, if any.
func (w *watch) update(x float64, at time.Time) (wire.Event, bool) {
	l := limit{unit: w.unit}
	now, level := l.format(x), l.format(w.level)
	var kind, text string
	switch {
	case !w.tripped && w.above && x > w.level:
		kind, text = w.kind(), fmt.Sprintf("The %s rose above %s: it is %s now.", w.name, level, now)
	case !w.tripped && !w.above && x < w.level:
		kind, text = w.kind(), fmt.Sprintf("The %s fell below %s: it is %s now.", w.name, level, now)
	case w.tripped && w.above && x < w.level-w.hyst:
		kind, text = w.name+"-normal", fmt.Sprintf("The %s is back below %s: it is %s now.", w.name, level, now)
	case w.tripped && !w.above && x > w.level+w.hyst:
		kind, text = w.name+"-normal", fmt.Sprintf("The %s is back above %s: it is %s now.", w.name, level, now)
	default:
		return wire.Event{}, false
	}
	w.tripped = !w.tripped
	return wire.Event{
		Kind:   kind,
		Time:   at,
		Text:   text,
		Values: wire.State{"value": wire.FloatValue(x), "threshold": wire.FloatValue(w.level)},
	}, true
}
