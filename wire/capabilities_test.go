package wire

import (
	"errors"
	"strings"
	"testing"
)

// The demo kinds the thing package will describe, as the issue lists them.
func lightCaps() *Capabilities {
	return &Capabilities{
		Kind: "light",
		Name: "Desk lamp",
		Properties: []Property{
			{Name: "power", ValueSpec: ValueSpec{Type: TypeBool}, Writable: true},
			{Name: "brightness", ValueSpec: ValueSpec{Type: TypeInt, Unit: "%", Min: Num(0), Max: Num(100)}, Writable: true},
		},
		Commands: []CommandSpec{
			{Name: "on"}, {Name: "off"}, {Name: "toggle"},
			{Name: "blink", Args: []ArgSpec{{Name: "count", ValueSpec: ValueSpec{Type: TypeInt, Min: Num(1), Max: Num(10)}}}},
		},
	}
}

func thermostatCaps() *Capabilities {
	return &Capabilities{
		Kind: "thermostat",
		Properties: []Property{
			{Name: "target", ValueSpec: ValueSpec{Type: TypeFloat, Unit: "°C", Min: Num(5), Max: Num(30), Step: 0.5}, Writable: true},
			{Name: "mode", ValueSpec: ValueSpec{Type: TypeEnum, Enum: []string{"heat", "off", "auto"}}, Writable: true},
			{Name: "current", ValueSpec: ValueSpec{Type: TypeFloat, Unit: "°C"}},
		},
		Events: []string{"temperature-above", "temperature-below"},
	}
}

func lockCaps() *Capabilities {
	return &Capabilities{
		Kind:       "lock",
		Properties: []Property{{Name: "locked", ValueSpec: ValueSpec{Type: TypeBool}}},
		Commands:   []CommandSpec{{Name: "lock"}, {Name: "unlock"}},
		Events:     []string{"door-opened", "door-closed"},
	}
}

func sensorCaps() *Capabilities {
	return &Capabilities{
		Kind: "sensor",
		Properties: []Property{
			{Name: "temperature", ValueSpec: ValueSpec{Type: TypeFloat, Unit: "°C", Min: Num(-40), Max: Num(85)}},
			{Name: "humidity", ValueSpec: ValueSpec{Type: TypeInt, Unit: "%", Min: Num(0), Max: Num(100)}},
		},
		Events: []string{"temperature-above"},
	}
}

func TestDemoCapabilitiesCheck(t *testing.T) {
	for _, c := range []*Capabilities{lightCaps(), thermostatCaps(), lockCaps(), sensorCaps()} {
		if err := c.Check(); err != nil {
			t.Errorf("%s: %v", c.Kind, err)
		}
	}
}

func TestResolve(t *testing.T) {
	light, thermo, lock, sensor := lightCaps(), thermostatCaps(), lockCaps(), sensorCaps()
	tests := []struct {
		caps  *Capabilities
		in    string
		want  Command // canonical after resolving
		prop  string
		value Value
		kind  error  // expected error kind, nil for success
		why   string // exact reason, or prefix ending in "..."
	}{
		// light: power bool, brightness 0-100 %
		{caps: light, in: "on", want: cmd("on")},
		{caps: light, in: "toggle", want: cmd("toggle")},
		{caps: light, in: "set brightness 40", want: cmd("set", "brightness", "40"), prop: "brightness", value: IntValue(40)},
		{caps: light, in: "set brightness 40%", want: cmd("set", "brightness", "40"), prop: "brightness", value: IntValue(40)},
		{caps: light, in: "set brightness 40 %", want: cmd("set", "brightness", "40"), prop: "brightness", value: IntValue(40)},
		{caps: light, in: "set brightness 40.0", want: cmd("set", "brightness", "40"), prop: "brightness", value: IntValue(40)},
		{caps: light, in: "set brightness 0", want: cmd("set", "brightness", "0"), prop: "brightness", value: IntValue(0)},
		{caps: light, in: "set brightness 100", want: cmd("set", "brightness", "100"), prop: "brightness", value: IntValue(100)},
		{caps: light, in: "set power on", want: cmd("set", "power", "on"), prop: "power", value: BoolValue(true)},
		{caps: light, in: "set power NO", want: cmd("set", "power", "off"), prop: "power", value: BoolValue(false)},
		{caps: light, in: "blink 3", want: cmd("blink", "3")},
		{caps: light, in: "set brightness 101", kind: ErrBadValue, why: `brightness goes from 0 to 100%, not "101"`},
		{caps: light, in: "set brightness -1", kind: ErrBadValue, why: `brightness goes from 0 to 100%, not "-1"`},
		{caps: light, in: "set brightness 40.5", kind: ErrBadValue, why: `brightness takes a whole number, not "40.5"`},
		{caps: light, in: "set brightness bright", kind: ErrBadValue, why: `brightness takes a number, not "bright"`},
		{caps: light, in: "set brightness 40°C", kind: ErrBadValue, why: `brightness is in %, not "°C"`},
		{caps: light, in: "set brightness 40 lux", kind: ErrBadValue, why: `brightness is in %, not "lux"`},
		{caps: light, in: "set power maybe", kind: ErrBadValue, why: `power is on or off, not "maybe"`},
		{caps: light, in: "set power 40%", kind: ErrBadValue, why: `power is on or off, not "40%"`},
		{caps: light, in: "set colour red", kind: ErrUnsupported, why: `this light has no "colour"; try "describe"`},
		{caps: light, in: "lock", kind: ErrUnsupported, why: `this light cannot "lock"; try "help"`},
		{caps: light, in: "blink", kind: ErrBadCommand, why: "usage: blink COUNT"},
		{caps: light, in: "blink 1 2", kind: ErrBadCommand, why: "usage: blink COUNT"},
		{caps: light, in: "blink 11", kind: ErrBadValue, why: `count goes from 1 to 10, not "11"`},
		{caps: light, in: "blink 3%", kind: ErrBadValue, why: `count takes a plain number, not "3%"`},
		// thermostat: target 5-30 °C step 0.5, mode heat/off/auto, current read-only
		{caps: thermo, in: "set target 21.5", want: cmd("set", "target", "21.5"), prop: "target", value: FloatValue(21.5)},
		{caps: thermo, in: "set target 21.5C", want: cmd("set", "target", "21.5"), prop: "target", value: FloatValue(21.5)},
		{caps: thermo, in: "set target 21.5 °C", want: cmd("set", "target", "21.5"), prop: "target", value: FloatValue(21.5)},
		{caps: thermo, in: "set target 21.5°", want: cmd("set", "target", "21.5"), prop: "target", value: FloatValue(21.5)},
		{caps: thermo, in: "set target 21", want: cmd("set", "target", "21"), prop: "target", value: FloatValue(21)},
		{caps: thermo, in: "set target 21.3", want: cmd("set", "target", "21.5"), prop: "target", value: FloatValue(21.5)},
		{caps: thermo, in: "set target 21.2", want: cmd("set", "target", "21"), prop: "target", value: FloatValue(21)},
		{caps: thermo, in: "set target 70F", want: cmd("set", "target", "21"), prop: "target", value: FloatValue(21)},   // 21.11 °C
		{caps: thermo, in: "set target 72 °F", want: cmd("set", "target", "22"), prop: "target", value: FloatValue(22)}, // 22.22 °C
		{caps: thermo, in: "set target 86F", want: cmd("set", "target", "30"), prop: "target", value: FloatValue(30)},   // exactly 30 °C
		{caps: thermo, in: "set target 41F", want: cmd("set", "target", "5"), prop: "target", value: FloatValue(5)},     // exactly 5 °C
		{caps: thermo, in: "set target 5", want: cmd("set", "target", "5"), prop: "target", value: FloatValue(5)},
		{caps: thermo, in: "set target 30", want: cmd("set", "target", "30"), prop: "target", value: FloatValue(30)},
		{caps: thermo, in: "set mode HEAT", want: cmd("set", "mode", "heat"), prop: "mode", value: StringValue("heat")},
		{caps: thermo, in: "set mode to auto", want: cmd("set", "mode", "auto"), prop: "mode", value: StringValue("auto")},
		{caps: thermo, in: "set mode cool", kind: ErrBadValue, why: `mode is one of heat, off, auto; not "cool"`},
		{caps: thermo, in: "set target 31", kind: ErrBadValue, why: `target goes from 5 to 30 °C, not "31"`},
		{caps: thermo, in: "set target 4.9", kind: ErrBadValue, why: `target goes from 5 to 30 °C, not "4.9"`},
		{caps: thermo, in: "set target 90F", kind: ErrBadValue, why: `target goes from 5 to 30 °C, not "90°F"`},
		{caps: thermo, in: "set target 21,5", kind: ErrBadValue, why: "target: write numbers without a comma (decimals take a point: 21.5)"},
		{caps: light, in: "set brightness 1,000", kind: ErrBadValue, why: "brightness: write numbers without a comma..."},
		{caps: thermo, in: "set target 21.5%", kind: ErrBadValue, why: `target is in °C, not "%"`},
		{caps: thermo, in: "set current 20", kind: ErrUnsupported, why: "current is read-only"},
		{caps: thermo, in: "on", kind: ErrUnsupported, why: `this thermostat cannot "on"; try "help"`},
		// lock: locked read-only, lock/unlock commands
		{caps: lock, in: "lock", want: cmd("lock")},
		{caps: lock, in: "/UNLOCK", want: cmd("unlock")},
		{caps: lock, in: "set locked on", kind: ErrUnsupported, why: "locked is read-only"},
		{caps: lock, in: "toggle", kind: ErrUnsupported, why: `this lock cannot "toggle"; try "help"`},
		// sensor: everything read-only
		{caps: sensor, in: "set temperature 20", kind: ErrUnsupported, why: "temperature is read-only"},
		{caps: sensor, in: "set humidity 20%", kind: ErrUnsupported, why: "humidity is read-only"},
		{caps: sensor, in: "off", kind: ErrUnsupported, why: `this sensor cannot "off"; try "help"`},
		// Agent and owner commands need no description.
		{caps: sensor, in: "status", want: cmd("status")},
		{caps: sensor, in: "help set", want: cmd("help", "set")},
		{caps: lock, in: "role alice@example.org guest 2h", want: cmd("role", "alice@example.org", "guest", "2h")},
		{caps: nil, in: "users", want: cmd("users")},
		{caps: nil, in: "on", kind: ErrUnsupported, why: `this thing cannot "on"; try "help"`},
	}
	for _, tt := range tests {
		name := "<nil>"
		if tt.caps != nil {
			name = tt.caps.Kind
		}
		parsed, err := tt.caps.ParseCommand(tt.in)
		if err != nil {
			t.Errorf("%s: ParseCommand(%q): %v", name, tt.in, err)
			continue
		}
		call, err := tt.caps.Resolve(parsed)
		if verr := tt.caps.Validate(parsed); (verr == nil) != (err == nil) {
			t.Errorf("%s %q: Validate %v but Resolve %v", name, tt.in, verr, err)
		}
		if tt.kind != nil {
			var ce *CommandError
			if !errors.Is(err, tt.kind) || !errors.As(err, &ce) || !matchReason(err.Error(), tt.why) {
				t.Errorf("%s %q: error %v, want %v %q", name, tt.in, err, tt.kind, tt.why)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %q: %v", name, tt.in, err)
			continue
		}
		if !call.Command.Equal(tt.want) || call.Property != tt.prop {
			t.Errorf("%s %q: %#v, want %#v property %q", name, tt.in, call, tt.want, tt.prop)
		}
		if tt.prop != "" && (len(call.Values) != 1 || !call.Values[0].Equal(tt.value)) {
			t.Errorf("%s %q: values %v, want [%v]", name, tt.in, call.Values, tt.value)
		}
		// The resolved command is canonical and resolves to itself.
		again, err := tt.caps.Resolve(call.Command)
		if err != nil || !again.Command.Equal(call.Command) {
			t.Errorf("%s %q: resolving %q again gives %#v, %v", name, tt.in, call.Command, again, err)
		}
	}
}

func TestResolveDeclaredArgs(t *testing.T) {
	c := &Capabilities{Kind: "blinds", Commands: []CommandSpec{{Name: "open", Args: []ArgSpec{
		{Name: "share", ValueSpec: ValueSpec{Type: TypeInt, Unit: "%", Min: Num(0), Max: Num(100), Step: 10}},
		{Name: "speed", ValueSpec: ValueSpec{Type: TypeEnum, Enum: []string{"slow", "fast"}}},
	}}}}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	got, err := c.ParseCommand("Open 44 % FAST")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(cmd("open", "44%", "fast")) {
		t.Fatalf("parsed %#v", got)
	}
	call, err := c.Resolve(got)
	if err != nil {
		t.Fatal(err)
	}
	if !call.Command.Equal(cmd("open", "40", "fast")) || !call.Values[0].Equal(IntValue(40)) || !call.Values[1].Equal(StringValue("fast")) {
		t.Fatalf("resolved %#v", call)
	}
	// Without the description the command is unknown.
	if _, err := ParseCommand("open 44"); !errors.Is(err, ErrUnknownCommand) {
		t.Fatalf("ParseCommand without description: %v", err)
	}
	// A command that is not canonical is refused, not guessed at.
	if _, err := c.Resolve(cmd("open", "44 %", "fast")); !errors.Is(err, ErrBadCommand) {
		t.Fatalf("non-canonical command: %v", err)
	}
	if _, err := c.Resolve(cmd("Open")); !errors.Is(err, ErrBadCommand) {
		t.Fatalf("upper-case name: %v", err)
	}
}

func TestSnapDecimals(t *testing.T) {
	s := ValueSpec{Type: TypeFloat, Min: Num(0), Max: Num(1), Step: 0.1}
	for in, want := range map[string]string{"0.3": "0.3", "0.34": "0.3", "0.35": "0.4", "0.96": "1", "1": "1"} {
		_, got, err := s.parse("x", in)
		if err != nil || got != want {
			t.Errorf("%s -> %q, %v; want %q", in, got, err, want)
		}
	}
	// A step that does not divide the range never lands above Max.
	s = ValueSpec{Type: TypeFloat, Min: Num(0), Max: Num(1), Step: 0.4}
	if _, got, err := s.parse("x", "1"); err != nil || got != "0.8" {
		t.Errorf("1 with step 0.4 -> %q, %v; want 0.8", got, err)
	}
}

func TestCapabilitiesCheckRejects(t *testing.T) {
	ok := func() *Capabilities { return lightCaps() }
	tests := []struct {
		name   string
		mutate func(c *Capabilities)
		want   string
	}{
		{"kind", func(c *Capabilities) { c.Kind = "Light" }, "kind"},
		{"display name spaces", func(c *Capabilities) { c.Name = " lamp" }, "clean display name"},
		{"display name long", func(c *Capabilities) { c.Name = strings.Repeat("x", MaxThingName+1) }, "clean display name"},
		{"display name control", func(c *Capabilities) { c.Name = "a\nb" }, "clean display name"},
		{"duplicate property", func(c *Capabilities) { c.Properties = append(c.Properties, c.Properties[0]) }, "not unique"},
		{"bad property name", func(c *Capabilities) { c.Properties[0].Name = "Power" }, "name token"},
		{"unknown type", func(c *Capabilities) { c.Properties[0].Type = "colour" }, "unknown type"},
		{"bool with unit", func(c *Capabilities) { c.Properties[0].Unit = "%" }, "int and float only"},
		{"min above max", func(c *Capabilities) { c.Properties[1].Min = Num(200) }, "above max"},
		{"negative step", func(c *Capabilities) { c.Properties[1].Step = -1 }, "negative"},
		{"int fraction", func(c *Capabilities) { c.Properties[1].Max = Num(99.5) }, "not whole"},
		{"huge bound", func(c *Capabilities) { c.Properties[1].Max = Num(1e300) }, "finite"},
		{"unit alias", func(c *Capabilities) { c.Properties[1].Unit = "C" }, `write "°C"`},
		{"unit degree", func(c *Capabilities) { c.Properties[1].Unit = "°" }, `write "°"`},
		{"unit digits", func(c *Capabilities) { c.Properties[1].Unit = "m2" }, "without digits"},
		{"enum empty", func(c *Capabilities) { c.Properties[0] = Property{Name: "mode", ValueSpec: ValueSpec{Type: TypeEnum}} }, "enum needs"},
		{"enum upper", func(c *Capabilities) {
			c.Properties[0] = Property{Name: "mode", ValueSpec: ValueSpec{Type: TypeEnum, Enum: []string{"Heat"}}}
		}, "lower-case"},
		{"enum on int", func(c *Capabilities) { c.Properties[1].Enum = []string{"a"} }, "enum only"},
		{"declared set", func(c *Capabilities) { c.Commands = append(c.Commands, CommandSpec{Name: "set"}) }, "built in"},
		{"declared status", func(c *Capabilities) { c.Commands = append(c.Commands, CommandSpec{Name: "status"}) }, "built in"},
		{"declared turn", func(c *Capabilities) { c.Commands = append(c.Commands, CommandSpec{Name: "turn"}) }, "built in"},
		{"on with args", func(c *Capabilities) {
			c.Commands[0].Args = []ArgSpec{{Name: "x", ValueSpec: ValueSpec{Type: TypeBool}}}
		}, "takes no arguments"},
		{"duplicate command", func(c *Capabilities) { c.Commands = append(c.Commands, c.Commands[0]) }, "not unique"},
		{"duplicate arg", func(c *Capabilities) { c.Commands[3].Args = append(c.Commands[3].Args, c.Commands[3].Args[0]) }, "not unique"},
		{"bad event", func(c *Capabilities) { c.Events = []string{"door opened"} }, "event kind"},
	}
	for _, tt := range tests {
		c := ok()
		tt.mutate(c)
		err := c.Check()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Check() = %v, want an error with %q", tt.name, err, tt.want)
		}
	}
	var nilCaps *Capabilities
	if nilCaps.Check() == nil {
		t.Error("nil description passed Check")
	}
}

func TestCheckState(t *testing.T) {
	th := thermostatCaps()
	good := State{"target": FloatValue(21.5), "mode": StringValue("heat"), "current": IntValue(20)}
	if err := th.CheckState(good); err != nil {
		t.Fatal(err)
	}
	for _, s := range []State{
		{"target": StringValue("warm")},
		{"mode": StringValue("cool")},
		{"mode": IntValue(1)},
		{"colour": StringValue("red")},
		{"Target": FloatValue(1)},
	} {
		if err := th.CheckState(s); err == nil {
			t.Errorf("CheckState(%v) passed", s)
		}
	}
}

func TestPropertyFormat(t *testing.T) {
	light, thermo := lightCaps(), thermostatCaps()
	power, _ := light.Property("power")
	bright, _ := light.Property("brightness")
	target, _ := thermo.Property("target")
	mode, _ := thermo.Property("mode")
	for _, tt := range []struct {
		p    Property
		v    Value
		want string
	}{
		{power, BoolValue(true), "on"},
		{power, BoolValue(false), "off"},
		{bright, IntValue(40), "40%"},
		{target, FloatValue(21.5), "21.5 °C"},
		{target, FloatValue(21), "21 °C"},
		{mode, StringValue("heat"), "heat"},
	} {
		if got := tt.p.Format(tt.v); got != tt.want {
			t.Errorf("Format(%s, %v) = %q, want %q", tt.p.Name, tt.v, got, tt.want)
		}
	}
	blink, ok := light.Command("blink")
	if !ok || blink.Usage() != "blink COUNT" {
		t.Errorf("Usage = %q", blink.Usage())
	}
}
