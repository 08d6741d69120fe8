package wire

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on a capability description.
const (
	MaxProperties = 64
	MaxCommands   = 64
	MaxEvents     = 64
	MaxEnum       = 64
)

// Capabilities describes what a thing offers: a UI renders controls from it
// (a switch for a writable bool, a slider for a writable int or float with a
// range, a picker for an enum, a button per command), and Resolve checks a
// command against it before a driver sees the command.
//
// "set PROPERTY VALUE" works for every writable property without being
// declared; the built-in device commands on, off, toggle, lock and unlock
// work only when declared (without arguments). Agent and owner commands
// (help, status, users, ...) are always available and are not declared.
type Capabilities struct {
	Kind       string        `json:"kind"`           // "light", "thermostat": a name token
	Name       string        `json:"name,omitempty"` // the thing's display name
	Properties []Property    `json:"props,omitempty"`
	Commands   []CommandSpec `json:"cmds,omitempty"`
	Events     []string      `json:"events,omitempty"` // event kinds the thing sends to subscribers
}

// ValueSpec is the type and domain of a property or an argument.
type ValueSpec struct {
	Type Type     `json:"type"`
	Unit string   `json:"unit,omitempty"` // int and float only: "%", "°C", "lx"
	Min  *float64 `json:"min,omitempty"`  // int and float only
	Max  *float64 `json:"max,omitempty"`  // int and float only
	Step float64  `json:"step,omitempty"` // int and float only: values snap to Min (or 0) + k*Step
	Enum []string `json:"enum,omitempty"` // enum only: the allowed values, lower case
}

// Property is one named piece of state. Only writable properties can be set.
type Property struct {
	Name string `json:"name"`
	ValueSpec
	Writable bool `json:"writable,omitempty"`
}

// ArgSpec is one typed argument of a declared command.
type ArgSpec struct {
	Name string `json:"name"`
	ValueSpec
}

// CommandSpec is a command a thing declares, with its typed arguments.
type CommandSpec struct {
	Name string    `json:"name"`
	Args []ArgSpec `json:"args,omitempty"`
}

// Usage is the command with its argument names, e.g. "blink COUNT".
func (s CommandSpec) Usage() string {
	var b strings.Builder
	b.WriteString(s.Name)
	for _, a := range s.Args {
		b.WriteByte(' ')
		b.WriteString(strings.ToUpper(a.Name))
	}
	return b.String()
}

// Num returns a pointer to f, for ValueSpec.Min and Max.
func Num(f float64) *float64 { return &f }

// Call is a command checked against a description: canonical, with its
// arguments typed and converted into the description's units.
type Call struct {
	Command  Command // canonical; numbers in the description's unit, without unit
	Property string  // the property "set" changes; "" for other commands
	Values   []Value // the new value for "set"; one per argument for declared commands
}

// Property finds a property by name.
func (c *Capabilities) Property(name string) (Property, bool) {
	if c != nil {
		for _, p := range c.Properties {
			if p.Name == name {
				return p, true
			}
		}
	}
	return Property{}, false
}

// Command finds a declared command by name.
func (c *Capabilities) Command(name string) (CommandSpec, bool) {
	if c != nil {
		for _, s := range c.Commands {
			if s.Name == name {
				return s, true
			}
		}
	}
	return CommandSpec{}, false
}

func (c *Capabilities) declares(name string) bool {
	_, ok := c.Command(name)
	return ok
}

// ParseCommand is the package's ParseCommand that also knows the commands c
// declares. It checks the form only; Resolve checks the command against c.
func (c *Capabilities) ParseCommand(text string) (Command, error) {
	return parseBody(text, c.declares)
}

// Validate checks cmd against c: see Resolve.
func (c *Capabilities) Validate(cmd Command) error {
	_, err := c.Resolve(cmd)
	return err
}

// Resolve checks a device command against c: the command exists (declared,
// or "set" of a writable property), the argument count and types, ranges
// and enum values; it converts units (°F to °C and back) and snaps numbers
// to the step. Agent and owner commands need no description: Resolve checks
// only their form. c should have passed Check. Errors are *CommandError.
func (c *Capabilities) Resolve(cmd Command) (Call, error) {
	if err := cmd.check(c.declares); err != nil {
		return Call{}, err
	}
	if cmd.Class() != ClassDevice {
		return Call{Command: cmd}, nil
	}
	kind := "thing"
	if c != nil && c.Kind != "" {
		kind = c.Kind
	}
	if cmd.Name == "set" {
		p, ok := c.Property(cmd.Args[0])
		if !ok {
			return Call{}, refuse(ErrUnsupported, "this %s has no %q; try \"describe\"", kind, cmd.Args[0])
		}
		if !p.Writable {
			return Call{}, refuse(ErrUnsupported, "%s is read-only", p.Name)
		}
		v, text, err := p.ValueSpec.parse(p.Name, cmd.Args[1])
		if err != nil {
			return Call{}, err
		}
		return Call{Command: Command{Name: "set", Args: []string{p.Name, text}}, Property: p.Name, Values: []Value{v}}, nil
	}
	spec, ok := c.Command(cmd.Name)
	if !ok {
		return Call{}, refuse(ErrUnsupported, "this %s cannot %q; try \"help\"", kind, cmd.Name)
	}
	if len(cmd.Args) != len(spec.Args) {
		return Call{}, refuse(ErrBadCommand, "usage: %s", spec.Usage())
	}
	call := Call{Command: Command{Name: cmd.Name}}
	for i, a := range spec.Args {
		v, text, err := a.ValueSpec.parse(a.Name, cmd.Args[i])
		if err != nil {
			return Call{}, err
		}
		call.Command.Args = append(call.Command.Args, text)
		call.Values = append(call.Values, v)
	}
	return call, nil
}

// check reports whether cmd is in canonical form: what the parser makes of
// its text. declared says which other names are commands.
func (cmd Command) check(declared func(string) bool) error {
	got, err := parseLine(cmd.String(), declared)
	if err != nil {
		return err
	}
	if !got.Equal(cmd) {
		return refuse(ErrBadCommand, "command %q is not in canonical form (%q)", clip(cmd.String(), MaxCommandLen), got.String())
	}
	return nil
}

// parse reads one argument token against s. It returns the typed value and
// its canonical text.
func (s ValueSpec) parse(name, tok string) (Value, string, error) {
	switch s.Type {
	case TypeBool:
		switch tok {
		case "on", "true", "yes", "1":
			return BoolValue(true), "on", nil
		case "off", "false", "no", "0":
			return BoolValue(false), "off", nil
		}
		return Value{}, "", refuse(ErrBadValue, "%s is on or off, not %q", name, tok)
	case TypeEnum:
		if slices.Contains(s.Enum, tok) {
			return StringValue(tok), tok, nil
		}
		return Value{}, "", refuse(ErrBadValue, "%s is one of %s; not %q", name, strings.Join(s.Enum, ", "), tok)
	case TypeString:
		if len(tok) > MaxStringValue {
			return Value{}, "", refuse(ErrBadValue, "%s is too long", name)
		}
		return StringValue(tok), tok, nil
	case TypeInt, TypeFloat:
		return s.parseNumber(name, tok)
	}
	return Value{}, "", refuse(ErrUnsupported, "%s has an unknown type %q", name, s.Type)
}

func (s ValueSpec) parseNumber(name, tok string) (Value, string, error) {
	x, unit, ok := splitValue(tok)
	if !ok {
		return Value{}, "", refuse(ErrBadValue, "%s takes a number, not %q", name, tok)
	}
	if len(unit) > 1 && unit[0] == ',' && unit[1] >= '0' && unit[1] <= '9' {
		// "21,5": a decimal comma or a thousands separator; guessing either
		// way could set the wrong value.
		return Value{}, "", refuse(ErrBadValue, "%s: write numbers without a comma (decimals take a point: 21.5)", name)
	}
	y, converted, ok := convertUnit(x, unit, s.Unit)
	if !ok {
		if s.Unit == "" {
			return Value{}, "", refuse(ErrBadValue, "%s takes a plain number, not %q", name, tok)
		}
		return Value{}, "", refuse(ErrBadValue, "%s is in %s, not %q", name, s.Unit, unit)
	}
	if (s.Min != nil && y < *s.Min-slack(*s.Min)) || (s.Max != nil && y > *s.Max+slack(*s.Max)) {
		return Value{}, "", refuse(ErrBadValue, "%s %s, not %q", name, s.rangeText(), tok)
	}
	if s.Type == TypeInt && !converted && y != math.Trunc(y) {
		return Value{}, "", refuse(ErrBadValue, "%s takes a whole number, not %q", name, tok)
	}
	y = s.snap(y)
	if s.Type == TypeInt {
		i := int64(math.Round(y))
		return IntValue(i), strconv.FormatInt(i, 10), nil
	}
	return FloatValue(y), formatNumber(y), nil
}

// slack absorbs float rounding at the range bounds (°F to °C).
func slack(bound float64) float64 { return 1e-9 * math.Max(1, math.Abs(bound)) }

// snap moves y to the nearest step inside the range, rounded to the step's
// decimals so that 0.1 steps do not print as 0.30000000000000004.
func (s ValueSpec) snap(y float64) float64 {
	base := 0.0
	if s.Min != nil {
		base = *s.Min
		y = math.Max(y, base)
	}
	if s.Max != nil {
		y = math.Min(y, *s.Max)
	}
	if s.Step <= 0 {
		return y
	}
	// The quotient is rounded to 9 decimals first: 0.35/0.1 is 3.4999999999999996.
	q := math.Round((y-base)/s.Step*1e9) / 1e9
	y = base + math.Round(q)*s.Step
	if s.Max != nil && y > *s.Max+slack(*s.Max) {
		y -= s.Step
	}
	dec := max(decimals(s.Step), decimals(base))
	p := math.Pow10(dec)
	return math.Round(y*p) / p
}

func decimals(f float64) int {
	t := strconv.FormatFloat(f, 'f', -1, 64)
	if i := strings.IndexByte(t, '.'); i >= 0 {
		return min(len(t)-i-1, 9)
	}
	return 0
}

func (s ValueSpec) rangeText() string {
	switch {
	case s.Min != nil && s.Max != nil:
		return "goes from " + formatNumber(*s.Min) + " to " + withUnit(formatNumber(*s.Max), s.Unit)
	case s.Min != nil:
		return "is at least " + withUnit(formatNumber(*s.Min), s.Unit)
	}
	return "is at most " + withUnit(formatNumber(*s.Max), s.Unit)
}

func withUnit(num, unit string) string {
	switch unit {
	case "":
		return num
	case "%":
		return num + "%"
	}
	return num + " " + unit
}

// Format writes a value of p for people: "on", "40%", "21.5 °C", "heat".
func (p Property) Format(v Value) string {
	switch v.k {
	case kindBool:
		if v.b {
			return "on"
		}
		return "off"
	case kindInt, kindFloat:
		return withUnit(v.String(), p.Unit)
	}
	return v.String()
}

// Check validates the description itself: names, types, ranges, enum values,
// limits, and that declared commands do not clash with built-in ones.
func (c *Capabilities) Check() error {
	if c == nil {
		return errors.New("capabilities: missing")
	}
	if !IsName(c.Kind) {
		return fmt.Errorf("capabilities: kind %q is not a name token", c.Kind)
	}
	if c.Name != "" && !canonicalThingName(c.Name) {
		return fmt.Errorf("capabilities: name %q is not a clean display name of at most %d characters", c.Name, MaxThingName)
	}
	if len(c.Properties) > MaxProperties || len(c.Commands) > MaxCommands || len(c.Events) > MaxEvents {
		return fmt.Errorf("capabilities: more than %d properties, commands or events", MaxProperties)
	}
	seen := map[string]bool{}
	for _, p := range c.Properties {
		if !IsName(p.Name) || seen[p.Name] {
			return fmt.Errorf("capabilities: property name %q is not a name token or not unique", p.Name)
		}
		seen[p.Name] = true
		if err := p.ValueSpec.check(); err != nil {
			return fmt.Errorf("capabilities: property %s: %w", p.Name, err)
		}
	}
	clear(seen)
	for _, s := range c.Commands {
		if !IsName(s.Name) || seen[s.Name] {
			return fmt.Errorf("capabilities: command name %q is not a name token or not unique", s.Name)
		}
		seen[s.Name] = true
		switch s.Name {
		case "on", "off", "toggle", "lock", "unlock":
			if len(s.Args) > 0 {
				return fmt.Errorf("capabilities: built-in command %q takes no arguments", s.Name)
			}
		default:
			if reserved(s.Name) {
				return fmt.Errorf("capabilities: command %q is built in and cannot be declared", s.Name)
			}
		}
		if len(s.Args) > MaxArgs {
			return fmt.Errorf("capabilities: command %s has more than %d arguments", s.Name, MaxArgs)
		}
		args := map[string]bool{}
		for _, a := range s.Args {
			if !IsName(a.Name) || args[a.Name] {
				return fmt.Errorf("capabilities: command %s: argument name %q is not a name token or not unique", s.Name, a.Name)
			}
			args[a.Name] = true
			if err := a.ValueSpec.check(); err != nil {
				return fmt.Errorf("capabilities: command %s argument %s: %w", s.Name, a.Name, err)
			}
		}
	}
	clear(seen)
	for _, e := range c.Events {
		if !IsName(e) || seen[e] {
			return fmt.Errorf("capabilities: event kind %q is not a name token or not unique", e)
		}
		seen[e] = true
	}
	return nil
}

func (s ValueSpec) check() error {
	numeric := s.Type == TypeInt || s.Type == TypeFloat
	switch s.Type {
	case TypeBool, TypeInt, TypeFloat, TypeEnum, TypeString:
	default:
		return fmt.Errorf("unknown type %q", s.Type)
	}
	if !numeric && (s.Unit != "" || s.Min != nil || s.Max != nil || s.Step != 0) {
		return fmt.Errorf("unit, min, max and step are for int and float only")
	}
	if s.Type != TypeEnum && len(s.Enum) > 0 {
		return fmt.Errorf("enum values are for type enum only")
	}
	if s.Type == TypeEnum {
		if len(s.Enum) == 0 || len(s.Enum) > MaxEnum {
			return fmt.Errorf("enum needs 1 to %d values", MaxEnum)
		}
		for i, e := range s.Enum {
			if !IsEnumValue(e) || slices.Contains(s.Enum[:i], e) {
				return fmt.Errorf("enum value %q is not a lower-case token or not unique", e)
			}
		}
	}
	if !numeric {
		return nil
	}
	for _, f := range []*float64{s.Min, s.Max, &s.Step} {
		if f == nil {
			continue
		}
		if math.IsNaN(*f) || math.Abs(*f) > MaxMagnitude {
			return fmt.Errorf("bound %v is not a finite number of at most %g", *f, MaxMagnitude)
		}
		if s.Type == TypeInt && *f != math.Trunc(*f) {
			return fmt.Errorf("bound %v of an int is not whole", *f)
		}
	}
	if s.Step < 0 {
		return fmt.Errorf("step %v is negative", s.Step)
	}
	if s.Min != nil && s.Max != nil && *s.Min > *s.Max {
		return fmt.Errorf("min %v is above max %v", *s.Min, *s.Max)
	}
	if s.Unit != "" {
		if len(s.Unit) > 16 || !utf8.ValidString(s.Unit) || strings.ContainsFunc(s.Unit, func(r rune) bool {
			return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.IsDigit(r) || r == '.' || r == '='
		}) {
			return fmt.Errorf("unit %q is not a short token without digits", s.Unit)
		}
		if u := canonUnit(s.Unit); u != "" && (u != s.Unit || u == "°") {
			return fmt.Errorf("unit %q: write %q", s.Unit, u)
		}
	}
	return nil
}

// IsEnumValue reports whether s is an enum value: lower-case letters,
// digits, '-' or '_', at most 32 bytes.
func IsEnumValue(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// canonicalThingName reports whether s is a display name as rename makes it.
func canonicalThingName(s string) bool {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxThingName || strings.ContainsFunc(s, unicode.IsControl) {
		return false
	}
	return s != "" && strings.Join(strings.FieldsFunc(s, isSpace), " ") == s
}

// CheckState checks that every entry of s is a property of c with a value of
// its type (an int is accepted for a float property, an enum value must be
// allowed). Ranges are not checked: a sensor may read outside them.
func (c *Capabilities) CheckState(s State) error {
	if err := s.check(); err != nil {
		return err
	}
	for name, v := range s {
		p, ok := c.Property(name)
		if !ok {
			return fmt.Errorf("state: %q is not a property", name)
		}
		var ok2 bool
		switch p.Type {
		case TypeBool:
			_, ok2 = v.AsBool()
		case TypeInt:
			_, ok2 = v.AsInt()
		case TypeFloat:
			_, ok2 = v.AsFloat()
		case TypeString:
			_, ok2 = v.AsString()
		case TypeEnum:
			str, isStr := v.AsString()
			ok2 = isStr && slices.Contains(p.Enum, str)
		}
		if !ok2 {
			return fmt.Errorf("state: %s = %s does not fit type %s", name, v, p.Type)
		}
	}
	return nil
}
