package wire

import (
	"encoding/base64"
	"errors"
	"testing"
)

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"on", "/OFF", "turn on", "?", "status?", "help set", "set brightness 40%",
		"set target 21.5 °C", "set target 70F", "set mode to heat", "set x=4 lux",
		"revoke alice@example.org", "revoke 0123 4567 89AB CDEF 0123 4567 89ab cdef 0123 4567",
		"role bob@example.org guest for 2 hours", "rename  Küche  Licht ", "invite guest 1w",
		"blink 3", "blink 3 %", "open 44 % fast", "> quote\n\non\n-- \nsig", "on\noff", "\u200bon",
		"set target -3.5°", "set t 4.c", "set 𝔵 1", "İ", "rename ǅ",
	} {
		f.Add(s)
	}
	light := lightCaps()
	blinds := &Capabilities{Kind: "blinds", Commands: []CommandSpec{{Name: "open", Args: []ArgSpec{
		{Name: "share", ValueSpec: ValueSpec{Type: TypeInt, Unit: "%", Min: Num(0), Max: Num(100), Step: 10}},
		{Name: "speed", ValueSpec: ValueSpec{Type: TypeEnum, Enum: []string{"slow", "fast"}}},
	}}}}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseCommand(text)
		checkParse(t, text, c, err, nil)
		for _, caps := range []*Capabilities{light, blinds} {
			c, err := caps.ParseCommand(text)
			checkParse(t, text, c, err, caps)
			if err != nil {
				continue
			}
			call, err := caps.Resolve(c)
			if err != nil {
				checkCommandError(t, text, err)
				continue
			}
			again, err := caps.Resolve(call.Command)
			if err != nil || !again.Command.Equal(call.Command) {
				t.Fatalf("%q: resolved %q resolves to %q, %v", text, call.Command, again.Command, err)
			}
		}
	})
}

// checkParse: an error is a *CommandError for people; a command reads back
// from its canonical text and travels through the machine form unchanged.
func checkParse(t *testing.T, text string, c Command, err error, caps *Capabilities) {
	t.Helper()
	if err != nil {
		checkCommandError(t, text, err)
		return
	}
	var again Command
	if caps == nil {
		again, err = ParseCommand(c.String())
	} else {
		again, err = caps.ParseCommand(c.String())
	}
	if err != nil || !again.Equal(c) {
		t.Fatalf("%q -> %#v -> %q -> %#v, %v", text, c, c.String(), again, err)
	}
	v, err := Encode(Message{Command: &c})
	if err != nil {
		t.Fatalf("%q -> %#v: Encode: %v", text, c, err)
	}
	m, err := Decode(v)
	if err != nil || m.Command == nil || !m.Command.Equal(c) {
		t.Fatalf("%q -> %#v: Decode: %+v, %v", text, c, m, err)
	}
}

func checkCommandError(t *testing.T, text string, err error) {
	t.Helper()
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Reason == "" {
		t.Fatalf("%q: error %v (%T) is not a *CommandError with a reason", text, err, err)
	}
	switch ce.Err {
	case ErrUnknownCommand, ErrBadCommand, ErrUnsupported, ErrBadValue:
	default:
		t.Fatalf("%q: error kind %v", text, ce.Err)
	}
}

// FuzzDecode feeds its input both as a header value and, base64-encoded, as
// the JSON inside one, so that the fuzzer can mutate JSON structure too.
func FuzzDecode(f *testing.F) {
	for _, m := range sampleMessages() {
		b, err := EncodeJSON(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
		f.Add(base64.StdEncoding.EncodeToString(b))
	}
	for _, s := range []string{
		`{"v":2}`, `{"v":1,"cmd":null}`, `{"v":1,"cmd":{"name":"on","name":"off"}}`,
		`{"v":1,"reply":{"ok":true,"text":"x","state":{"a":1e400}}}`, `{"v":1.0}`, `[]`, ``,
		`{"v":1,"reply":{"ok":true,"text":"x","caps":{"kind":"k","props":[{"name":"p","type":"float","min":1,"max":0}]}}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkDecode(t, in)
		checkDecode(t, base64.StdEncoding.EncodeToString([]byte(in)))
	})
}

// checkDecode: Decode fails with a sentinel, or gives a message that encodes
// and decodes to the same bytes again.
func checkDecode(t *testing.T, value string) {
	m, err := Decode(value)
	if err != nil {
		if !errors.Is(err, ErrBadMessage) && !errors.Is(err, ErrUnsupportedVersion) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Decode(%q): error without a sentinel: %v", value, err)
		}
		return
	}
	v, err := Encode(m)
	if err != nil {
		t.Fatalf("Decode(%q) = %+v, which does not encode: %v", value, m, err)
	}
	m2, err := Decode(v)
	if err != nil {
		t.Fatalf("re-encoded %q does not decode: %v", v, err)
	}
	if v2, err := Encode(m2); err != nil || v2 != v {
		t.Fatalf("encoding is not stable: %q then %q (%v)", v, v2, err)
	}
}
