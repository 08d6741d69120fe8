package driver

import (
	"math"

	"github.com/thingpost/thingpost/wire"
)

// These checks repeat what Capabilities.Resolve checks, on purpose: a driver
// must not rely on its caller for its limits.

// setArgs gives the property and value of a "set" call.
func setArgs(call wire.Call) (string, wire.Value, error) {
	if call.Property == "" || len(call.Values) != 1 {
		return "", wire.Value{}, refuse(wire.ErrBadCommand, "usage: %s", wire.Usage("set"))
	}
	return call.Property, call.Values[0], nil
}

// noArgs refuses arguments to a command that takes none.
func noArgs(call wire.Call) error {
	if len(call.Values) != 0 || len(call.Command.Args) != 0 {
		return refuse(wire.ErrBadCommand, "%q takes no arguments", call.Command.Name)
	}
	return nil
}

func boolArg(name string, v wire.Value) (bool, error) {
	b, ok := v.AsBool()
	if !ok {
		return false, refuse(wire.ErrBadValue, "%s is on or off, not %q", name, v.String())
	}
	return b, nil
}

func enumArg(name string, v wire.Value, allowed []string) (string, error) {
	s, ok := v.AsString()
	for _, a := range allowed {
		if ok && s == a {
			return s, nil
		}
	}
	return "", refuse(wire.ErrBadValue, "%s must be one of %s, not %q", name, joinOr(allowed), v.String())
}

// limit is the domain of a numeric property or argument.
type limit struct {
	whole  bool // an int: a float value is refused
	lo, hi float64
	step   float64 // 0: any value; else values are lo + k*step
	unit   string
}

func intLimit(lo, hi float64, unit string) limit {
	return limit{whole: true, lo: lo, hi: hi, unit: unit}
}

func floatLimit(lo, hi, step float64, unit string) limit {
	return limit{lo: lo, hi: hi, step: step, unit: unit}
}

// check gives v as a number inside the limit, or an error a person reads:
// "brightness must be between 0 and 100%".
func (l limit) check(name string, v wire.Value) (float64, error) {
	var x float64
	var ok bool
	if l.whole {
		var i int64
		i, ok = v.AsInt()
		x = float64(i)
	} else {
		x, ok = v.AsFloat()
	}
	if !ok || math.IsNaN(x) || math.IsInf(x, 0) {
		if l.whole {
			return 0, refuse(wire.ErrBadValue, "%s must be a whole number between %s, not %q", name, l.rangeText(), v.String())
		}
		return 0, refuse(wire.ErrBadValue, "%s must be a number between %s, not %q", name, l.rangeText(), v.String())
	}
	if x < l.lo || x > l.hi || !l.onStep(x) {
		return 0, refuse(wire.ErrBadValue, "%s must be between %s, not %s", name, l.rangeText(), v.String())
	}
	return x, nil
}

func (l limit) onStep(x float64) bool {
	if l.step <= 0 {
		return true
	}
	k := (x - l.lo) / l.step
	return math.Abs(k-math.Round(k)) < 1e-9
}

// rangeText is "0 and 100%" or "5 and 30 °C in steps of 0.5".
func (l limit) rangeText() string {
	t := wire.FloatValue(l.lo).String() + " and " + l.format(l.hi)
	if l.step > 0 {
		t += " in steps of " + wire.FloatValue(l.step).String()
	}
	return t
}

// format writes x with the unit, as wire does: "40%", "21.5 °C".
func (l limit) format(x float64) string {
	return wire.Property{ValueSpec: wire.ValueSpec{Unit: l.unit}}.Format(wire.FloatValue(x))
}

// valueSpec describes the limit in a Capabilities description.
func (l limit) valueSpec() wire.ValueSpec {
	s := wire.ValueSpec{Type: wire.TypeFloat, Unit: l.unit, Min: wire.Num(l.lo), Max: wire.Num(l.hi), Step: l.step}
	if l.whole {
		s.Type = wire.TypeInt
	}
	return s
}

func joinOr(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	out := ""
	for i, v := range s[:len(s)-1] {
		if i > 0 {
			out += ", "
		}
		out += v
	}
	return out + " or " + s[len(s)-1]
}
