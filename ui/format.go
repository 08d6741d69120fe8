package ui

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/wire"
)

// ago says how long ago t was, for people.
func ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 45*time.Second:
		return "just now"
	case d < 90*time.Minute:
		return fmt.Sprintf("%d min ago", max(1, int(math.Round(d.Minutes()))))
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h ago", int(math.Round(d.Hours())))
	case d < 48*time.Hour:
		return "yesterday"
	case t.Year() == now.Year():
		return t.Format("2 Jan")
	}
	return t.Format("2 Jan 2006")
}

// clock is the time of day of a history line, with the date when not today.
func clock(t, now time.Time) string {
	t = t.Local()
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04:05")
	}
	return t.Format("2 Jan 15:04")
}

// fingerprintGroups writes a fingerprint in groups of four for reading
// aloud and comparing, the two halves of a full one further apart (as
// GnuPG shows it).
func fingerprintGroups(fpr string) string {
	var b strings.Builder
	for i := 0; i < len(fpr); i += 4 {
		if i > 0 {
			if i == 20 && len(fpr) == 40 {
				b.WriteString("  ")
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(fpr[i:min(i+4, len(fpr))])
	}
	return b.String()
}

// shortFingerprint is the first 16 digits of a fingerprint, grouped, to
// tell keys apart in a list.
func shortFingerprint(fpr string) string {
	if len(fpr) <= 16 {
		return fingerprintGroups(fpr)
	}
	return fingerprintGroups(fpr[:16]) + " …"
}

// label turns a property or command name into a label: "brightness" ->
// "Brightness", "door-opened" -> "Door opened".
func label(name string) string {
	name = strings.ReplaceAll(strings.ReplaceAll(name, "-", " "), "_", " ")
	r, n := utf8.DecodeRuneInString(name)
	if n == 0 {
		return name
	}
	return string(unicode.ToUpper(r)) + name[n:]
}

// decimals is how many digits after the point a number of spec shows.
func decimals(spec wire.ValueSpec) int {
	if spec.Type == wire.TypeInt {
		return 0
	}
	if spec.Step > 0 {
		s := strconv.FormatFloat(spec.Step, 'f', -1, 64)
		if i := strings.IndexByte(s, '.'); i >= 0 {
			return len(s) - i - 1
		}
		return 0
	}
	return 1
}

// number writes x for spec with its unit: "21.5 °C", "40%".
func number(x float64, spec wire.ValueSpec) string {
	s := strconv.FormatFloat(x, 'f', decimals(spec), 64)
	switch spec.Unit {
	case "":
		return s
	case "%":
		return s + "%"
	}
	return s + " " + spec.Unit
}

// formatValue writes a state value of a property for people.
func formatValue(spec wire.ValueSpec, v wire.Value) string {
	if b, ok := v.AsBool(); ok {
		if b {
			return "on"
		}
		return "off"
	}
	if x, ok := v.AsFloat(); ok && (spec.Type == wire.TypeInt || spec.Type == wire.TypeFloat || spec.Type == "") {
		return number(x, spec)
	}
	return v.String()
}

// specOf is the value spec of a property, or an empty one.
func specOf(t *app.Thing, name string) wire.ValueSpec {
	if p, ok := t.Capabilities.Property(name); ok {
		return p.ValueSpec
	}
	return wire.ValueSpec{}
}

// stateSummary is the one line a card shows for a thing's state.
func stateSummary(t *app.Thing) string {
	if len(t.State) == 0 {
		if t.Capabilities == nil {
			return "Waiting for the thing to describe itself"
		}
		return "State not known yet"
	}
	s := t.State
	val := func(name string) string { return formatValue(specOf(t, name), s[name]) }
	has := func(name string) bool { _, ok := s[name]; return ok }
	var parts []string
	switch {
	case has("power"):
		on, _ := s["power"].AsBool()
		if !on {
			return "Off"
		}
		parts = append(parts, "On")
		if has("brightness") {
			parts = append(parts, val("brightness"))
		}
	case has("locked"):
		locked, _ := s["locked"].AsBool()
		parts = append(parts, map[bool]string{true: "Locked", false: "Unlocked"}[locked])
		if has("door") {
			parts = append(parts, "door "+val("door"))
		}
	case has("target") || has("current"):
		if has("current") {
			parts = append(parts, val("current"))
		}
		if mode, _ := s["mode"].AsString(); mode == "off" {
			parts = append(parts, "heating off")
		} else if has("target") {
			parts = append(parts, "target "+val("target"))
		}
		if heating, _ := s["heating"].AsBool(); heating {
			parts = append(parts, "heating")
		}
	default:
		for _, p := range propertiesInOrder(t) {
			if has(p) {
				parts = append(parts, label(p)+" "+val(p))
			}
			if len(parts) == 3 {
				break
			}
		}
	}
	return strings.Join(parts, " · ")
}

// propertiesInOrder lists the properties as the thing declared them, then
// any other state keys.
func propertiesInOrder(t *app.Thing) []string {
	var out []string
	seen := map[string]bool{}
	if t.Capabilities != nil {
		for _, p := range t.Capabilities.Properties {
			out = append(out, p.Name)
			seen[p.Name] = true
		}
	}
	var rest []string
	for k := range t.State {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}

// statusText says where a command stands, in the words of the interface.
func statusText(s app.CommandStatus) string {
	switch s {
	case app.StatusQueued:
		return "sending"
	case app.StatusSent:
		return "delivered"
	}
	return string(s)
}

// commandOutcome is a sentence about a finished command for a message.
func commandOutcome(name string, c *app.Command) string {
	switch c.Status {
	case app.StatusRefused:
		reason := "refused"
		if c.Reply != nil && c.Reply.Reason != "" {
			reason = c.Reply.Reason
		}
		return fmt.Sprintf("%s refused “%s”: %s", name, c.Command.String(), reason)
	case app.StatusExpired:
		return fmt.Sprintf("%s did not answer “%s” in time", name, c.Command.String())
	case app.StatusFailed:
		return fmt.Sprintf("“%s” to %s could not be sent: %s", c.Command.String(), name, c.Error)
	}
	return ""
}
