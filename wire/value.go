package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Type is the type of a property or command argument.
type Type string

// Types a Capabilities description uses. Values of enum and string
// properties are both string Values.
const (
	TypeBool   Type = "bool"
	TypeInt    Type = "int"
	TypeFloat  Type = "float"
	TypeEnum   Type = "enum"
	TypeString Type = "string"
)

// Limits on values.
const (
	// MaxStringValue bounds a string Value, in bytes.
	MaxStringValue = 256
	// MaxMagnitude bounds numbers: larger ones are refused, so that every
	// number has a short decimal form.
	MaxMagnitude = 1e15
)

type kind uint8

const (
	kindNone kind = iota
	kindBool
	kindInt
	kindFloat
	kindString
)

// Value is one typed value of a property, an argument or an event. The zero
// Value is empty and invalid on the wire. In JSON a Value is a JSON boolean,
// number or string; a float is always written with a '.' or an exponent so
// that it reads back as a float ("21.0", not "21").
type Value struct {
	k kind
	b bool
	i int64
	f float64
	s string
}

// BoolValue makes a bool Value.
func BoolValue(b bool) Value { return Value{k: kindBool, b: b} }

// IntValue makes an int Value.
func IntValue(i int64) Value { return Value{k: kindInt, i: i} }

// FloatValue makes a float Value.
func FloatValue(f float64) Value { return Value{k: kindFloat, f: f} }

// StringValue makes a string Value (for enum and string properties).
func StringValue(s string) Value { return Value{k: kindString, s: s} }

// IsZero reports whether v is the empty Value.
func (v Value) IsZero() bool { return v.k == kindNone }

// AsBool gives a bool Value; ok is false for other types.
func (v Value) AsBool() (b, ok bool) { return v.b, v.k == kindBool }

// AsInt gives an int Value; ok is false for other types.
func (v Value) AsInt() (i int64, ok bool) { return v.i, v.k == kindInt }

// AsFloat gives a float or int Value as a float64.
func (v Value) AsFloat() (float64, bool) {
	switch v.k {
	case kindFloat:
		return v.f, true
	case kindInt:
		return float64(v.i), true
	}
	return 0, false
}

// AsString gives a string Value (enum or string property).
func (v Value) AsString() (string, bool) { return v.s, v.k == kindString }

// Type is TypeBool, TypeInt, TypeFloat or TypeString; "" for the zero Value.
func (v Value) Type() Type {
	switch v.k {
	case kindBool:
		return TypeBool
	case kindInt:
		return TypeInt
	case kindFloat:
		return TypeFloat
	case kindString:
		return TypeString
	}
	return ""
}

// String is the plain text of v: "true", "40", "21.5", "heat".
func (v Value) String() string {
	switch v.k {
	case kindBool:
		return strconv.FormatBool(v.b)
	case kindInt:
		return strconv.FormatInt(v.i, 10)
	case kindFloat:
		return formatNumber(v.f)
	case kindString:
		return v.s
	}
	return ""
}

// Equal reports whether v and w have the same type and value.
func (v Value) Equal(w Value) bool { return v == w }

func (v Value) check() error {
	switch v.k {
	case kindNone:
		return errors.New("empty value")
	case kindInt:
		if math.Abs(float64(v.i)) > MaxMagnitude {
			return fmt.Errorf("number %d is too large", v.i)
		}
	case kindFloat:
		if math.IsNaN(v.f) || math.IsInf(v.f, 0) || math.Abs(v.f) > MaxMagnitude {
			return fmt.Errorf("number %v is not finite or too large", v.f)
		}
	case kindString:
		if len(v.s) > MaxStringValue || !utf8.ValidString(v.s) {
			return errors.New("string value is too long or not UTF-8")
		}
	}
	return nil
}

// MarshalJSON writes v as a JSON boolean, number or string.
func (v Value) MarshalJSON() ([]byte, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	switch v.k {
	case kindBool:
		return strconv.AppendBool(nil, v.b), nil
	case kindInt:
		return strconv.AppendInt(nil, v.i, 10), nil
	case kindFloat:
		b := strconv.AppendFloat(nil, v.f, 'g', -1, 64)
		if !bytes.ContainsAny(b, ".e") {
			b = append(b, ".0"...)
		}
		return b, nil
	}
	return json.Marshal(v.s)
}

// UnmarshalJSON reads a JSON boolean, number or string; a number with a '.'
// or an exponent is a float, any other an int.
func (v *Value) UnmarshalJSON(b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var x any
	if err := d.Decode(&x); err != nil {
		return err
	}
	var nv Value
	switch x := x.(type) {
	case bool:
		nv = BoolValue(x)
	case string:
		nv = StringValue(x)
	case json.Number:
		s := x.String()
		if strings.ContainsAny(s, ".eE") {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return fmt.Errorf("value %s: %w", s, err)
			}
			nv = FloatValue(f)
		} else {
			i, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return fmt.Errorf("value %s: %w", s, err)
			}
			nv = IntValue(i)
		}
	default:
		return fmt.Errorf("value must be a boolean, number or string, not %s", bytes.TrimSpace(b))
	}
	if err := nv.check(); err != nil {
		return err
	}
	*v = nv
	return nil
}

// formatNumber writes f in plain decimal, shortest form.
func formatNumber(f float64) string {
	if math.Abs(f) >= 1e21 || math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// numberPrefix is the length of the plain decimal number s starts with
// ("-21.5" in "-21.5°c"), 0 if none: optional sign, digits, optional '.'
// and digits.
func numberPrefix(s string) int {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == start {
		return 0
	}
	if i+1 < len(s) && s[i] == '.' && s[i+1] >= '0' && s[i+1] <= '9' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	return i
}

func isNumber(s string) bool { return s != "" && numberPrefix(s) == len(s) }

// canonUnit gives the canonical spelling of a known unit ("c" -> "°C"),
// or "" when the unit is not known.
func canonUnit(u string) string {
	switch strings.ToLower(u) {
	case "%", "percent", "pct":
		return "%"
	case "c", "°c", "ºc", "degc", "celsius":
		return "°C"
	case "f", "°f", "ºf", "degf", "fahrenheit":
		return "°F"
	case "°", "º", "deg", "degrees":
		return "°"
	}
	return ""
}

func knownUnit(u string) bool { return canonUnit(u) != "" }

// canonValueToken writes "21.5c" as "21.5°C"; other tokens stay as they are.
func canonValueToken(tok string) string {
	n := numberPrefix(tok)
	if n == 0 || n == len(tok) {
		return tok
	}
	if u := canonUnit(tok[n:]); u != "" {
		return tok[:n] + u
	}
	return tok
}

// splitValue splits a value token into its number and unit: "21.5°C" ->
// 21.5, "°C". ok is false when tok does not start with a number.
func splitValue(tok string) (num float64, unit string, ok bool) {
	n := numberPrefix(tok)
	if n == 0 || n > 32 {
		return 0, "", false
	}
	f, err := strconv.ParseFloat(tok[:n], 64)
	if err != nil || math.Abs(f) > MaxMagnitude {
		return 0, "", false
	}
	unit = tok[n:]
	if u := canonUnit(unit); u != "" {
		unit = u
	}
	return f, unit, true
}

// convertUnit converts x from unit "from" (as typed, canonical when known)
// into the unit "to" a description declares. converted says whether the
// number changed scale.
func convertUnit(x float64, from, to string) (y float64, converted, ok bool) {
	canonTo := canonUnit(to)
	if canonTo == "" {
		canonTo = to
	}
	switch {
	case from == "" || strings.EqualFold(from, canonTo):
		return x, false, true
	case from == "°" && (canonTo == "°C" || canonTo == "°F"):
		return x, false, true
	case from == "°F" && canonTo == "°C":
		return (x - 32) * 5 / 9, true, true
	case from == "°C" && canonTo == "°F":
		return x*9/5 + 32, true, true
	}
	return 0, false, false
}

// MaxStateEntries bounds a State.
const MaxStateEntries = 128

// State maps property names to values: a thing's state in replies, an
// event's values. Its JSON is an object with sorted keys, so the same state
// always encodes to the same bytes.
type State map[string]Value

func (s State) check() error {
	if len(s) > MaxStateEntries {
		return fmt.Errorf("state has more than %d entries", MaxStateEntries)
	}
	for k, v := range s {
		if !IsName(k) {
			return fmt.Errorf("state name %q is not a name token", k)
		}
		if err := v.check(); err != nil {
			return fmt.Errorf("state %s: %w", k, err)
		}
	}
	return nil
}

// Equal reports whether s and t hold the same entries.
func (s State) Equal(t State) bool {
	if len(s) != len(t) {
		return false
	}
	for k, v := range s {
		if w, ok := t[k]; !ok || !v.Equal(w) {
			return false
		}
	}
	return true
}
