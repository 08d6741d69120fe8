package wire

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func sampleMessages() map[string]Message {
	return map[string]Message{
		"command":              {Command: &Command{Name: "set", Args: []string{"brightness", "40"}}},
		"command without args": {Command: &Command{Name: "status"}},
		"declared command":     {Command: &Command{Name: "blink", Args: []string{"3"}}},
		"reply ok": {Reply: &Reply{
			OK: true, Text: "The lamp is on, brightness 40%.",
			Command: &Command{Name: "set", Args: []string{"brightness", "40"}},
			State:   State{"power": BoolValue(true), "brightness": IntValue(40)},
		}},
		"reply refused": {Reply: &Reply{
			Code: CodeBadValue, Reason: `brightness goes from 0 to 100%, not "140"`,
			Text: `Brightness goes from 0 to 100%, not "140".`,
		}},
		"reply describe": {Reply: &Reply{OK: true, Text: "A thermostat.", Capabilities: thermostatCaps(),
			State: State{"target": FloatValue(21), "mode": StringValue("heat"), "current": FloatValue(19.75)}}},
		"reply users": {Reply: &Reply{OK: true, Text: "2 people.", Users: []User{
			{Addr: "alice@example.org", Fingerprint: "0123456789ABCDEF0123456789ABCDEF01234567", Role: RoleOwner},
			{Addr: "bob@example.org", Fingerprint: "89ABCDEF0123456789ABCDEF0123456789ABCDEF", Role: RoleGuest, Expires: t0.Add(2 * time.Hour)},
		}}},
		"reply invite": {Reply: &Reply{OK: true, Text: "Scan this code.", Invite: &Invite{
			URL:  "https://i.delta.chat/#0123456789ABCDEF0123456789ABCDEF01234567&v=3&i=abc&s=def&a=lamp%40example.org&n=Lamp",
			Role: RoleGuest, For: "2h", Expires: t0.Add(10 * time.Minute),
		}}},
		"event": {Event: &Event{
			Kind: "temperature-above", Time: t0, Text: "It is 31.5 °C, above 30 °C.",
			Values: State{"value": FloatValue(31.5), "threshold": FloatValue(30)},
		}},
		"event with state": {Event: &Event{Kind: "door-opened", Time: t0, Text: "The front door opened.", State: State{"locked": BoolValue(false)}}},
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for name, m := range sampleMessages() {
		v, err := Encode(m)
		if err != nil {
			t.Errorf("%s: Encode: %v", name, err)
			continue
		}
		got, err := Decode(v)
		if err != nil {
			t.Errorf("%s: Decode: %v", name, err)
			continue
		}
		m.Version = Version
		if !sameMessage(got, m) {
			t.Errorf("%s: round trip\n got %+v\nwant %+v", name, got, m)
		}
		// Encoding is deterministic: the same message gives the same bytes.
		again, err := Encode(got)
		if err != nil || again != v {
			t.Errorf("%s: second encoding differs (%v)", name, err)
		}
	}
}

// sameMessage compares through JSON, where times compare by instant.
func sameMessage(a, b Message) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// TestJSONShape pins the wire shape that other implementations read.
func TestJSONShape(t *testing.T) {
	m := sampleMessages()
	for _, tt := range []struct {
		msg  Message
		want string
	}{
		{m["command"], `{"v":1,"cmd":{"name":"set","args":["brightness","40"]}}`},
		{m["reply ok"], `{"v":1,"reply":{"ok":true,"text":"The lamp is on, brightness 40%.","cmd":{"name":"set","args":["brightness","40"]},"state":{"brightness":40,"power":true}}}`},
		{m["reply refused"], `{"v":1,"reply":{"ok":false,"code":"bad-value","reason":"brightness goes from 0 to 100%, not \"140\"","text":"Brightness goes from 0 to 100%, not \"140\"."}}`},
		{m["event"], `{"v":1,"event":{"kind":"temperature-above","time":"2026-03-01T12:00:00Z","text":"It is 31.5 °C, above 30 °C.","values":{"threshold":30.0,"value":31.5}}}`},
		{m["reply users"], `{"v":1,"reply":{"ok":true,"text":"2 people.","users":[{"addr":"alice@example.org","fpr":"0123456789ABCDEF0123456789ABCDEF01234567","role":"owner"},{"addr":"bob@example.org","fpr":"89ABCDEF0123456789ABCDEF0123456789ABCDEF","role":"guest","expires":"2026-03-01T14:00:00Z"}]}}`},
		{m["reply invite"], `{"v":1,"reply":{"ok":true,"text":"Scan this code.","invite":{"url":"https://i.delta.chat/#0123456789ABCDEF0123456789ABCDEF01234567&v=3&i=abc&s=def&a=lamp%40example.org&n=Lamp","role":"guest","for":"2h","expires":"2026-03-01T12:10:00Z"}}}`},
		{Message{Reply: &Reply{OK: true, Text: "x", Capabilities: lightCaps()}},
			`{"v":1,"reply":{"ok":true,"text":"x","caps":{"kind":"light","name":"Desk lamp","props":[{"name":"power","type":"bool","writable":true},{"name":"brightness","type":"int","unit":"%","min":0,"max":100,"writable":true}],"cmds":[{"name":"on"},{"name":"off"},{"name":"toggle"},{"name":"blink","args":[{"name":"count","type":"int","min":1,"max":10}]}]}}}`},
	} {
		b, err := EncodeJSON(tt.msg)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.want {
			t.Errorf("JSON\n got %s\nwant %s", b, tt.want)
		}
		v, _ := Encode(tt.msg)
		if v != base64.StdEncoding.EncodeToString(b) {
			t.Errorf("header value is not the base64 of the JSON")
		}
	}
}

func TestDecodeFolded(t *testing.T) {
	v, err := Encode(sampleMessages()["reply describe"])
	if err != nil {
		t.Fatal(err)
	}
	// Fold as a mail header: CRLF plus white space every 60 characters.
	var b strings.Builder
	for i := 0; i < len(v); i += 60 {
		if i > 0 {
			b.WriteString("\r\n\t ")
		}
		b.WriteString(v[i:min(i+60, len(v))])
	}
	got, err := Decode(" " + b.String() + "\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if got.Reply == nil || got.Reply.Capabilities == nil || got.Reply.Capabilities.Kind != "thermostat" {
		t.Fatalf("decoded %+v", got)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  error
	}{
		{"not base64", "%%%", ErrBadMessage},
		{"unpadded", strings.TrimRight(b64(`{"v":1,"cmd":{"name":"off"}}`), "="), ErrBadMessage},
		{"too large", strings.Repeat("A", MaxHeaderLen+1), ErrTooLarge},
		{"json too large", b64(`{"v":1,"cmd":{"name":"on"},"x":"` + strings.Repeat("a", MaxJSONLen) + `"}`), ErrTooLarge},
		{"not json", b64("hello"), ErrBadMessage},
		{"array", b64(`[1]`), ErrBadMessage},
		{"no version", b64(`{"cmd":{"name":"on"}}`), ErrBadMessage},
		{"version 2", b64(`{"v":2,"cmd":{"name":"on"}}`), ErrUnsupportedVersion},
		{"version 2 with new fields", b64(`{"v":2,"frobnicate":{"x":1}}`), ErrUnsupportedVersion},
		{"version 0", b64(`{"v":0,"cmd":{"name":"on"}}`), ErrUnsupportedVersion},
		{"version string", b64(`{"v":"1","cmd":{"name":"on"}}`), ErrUnsupportedVersion},
		{"version float", b64(`{"v":1.0,"cmd":{"name":"on"}}`), ErrUnsupportedVersion},
		{"unknown field", b64(`{"v":1,"cmd":{"name":"on","urgent":true}}`), ErrBadMessage},
		{"unknown top field", b64(`{"v":1,"cmd":{"name":"on"},"sig":"x"}`), ErrBadMessage},
		{"duplicate key", b64(`{"v":1,"cmd":{"name":"on","name":"off"}}`), ErrBadMessage},
		{"duplicate version", b64(`{"v":1,"v":1,"cmd":{"name":"on"}}`), ErrBadMessage},
		{"case variant key", b64(`{"v":1,"CMD":{"name":"on"}}`), ErrBadMessage},
		{"kelvin-sign key", b64(`{"v":1,"cmd":{"name":"on"},"reply":{"o\u212a":true,"text":"x"}}`), ErrBadMessage},
		{"null", b64(`{"v":1,"cmd":null,"event":{"kind":"x","time":"2026-03-01T12:00:00Z","text":"x"}}`), ErrBadMessage},
		{"trailing data", b64(`{"v":1,"cmd":{"name":"on"}} {}`), ErrBadMessage},
		{"empty", b64(`{"v":1}`), ErrBadMessage},
		{"two parts", b64(`{"v":1,"cmd":{"name":"on"},"reply":{"ok":true,"text":"x"}}`), ErrBadMessage},
		{"unknown command name", b64(`{"v":1,"cmd":{"name":"Blink"}}`), ErrBadMessage},
		{"non-canonical args", b64(`{"v":1,"cmd":{"name":"set","args":["Brightness","40"]}}`), ErrBadMessage},
		{"args with spaces", b64(`{"v":1,"cmd":{"name":"set","args":["brightness","40 50"]}}`), ErrBadMessage},
		{"args with new line", b64(`{"v":1,"cmd":{"name":"rename","args":["a\nb"]}}`), ErrBadMessage},
		{"malformed builtin", b64(`{"v":1,"cmd":{"name":"on","args":["now"]}}`), ErrBadMessage},
		{"reply without text", b64(`{"v":1,"reply":{"ok":true}}`), ErrBadMessage},
		{"refusal without code", b64(`{"v":1,"reply":{"ok":false,"text":"no"}}`), ErrBadMessage},
		{"ok with code", b64(`{"v":1,"reply":{"ok":true,"code":"failed","reason":"x","text":"x"}}`), ErrBadMessage},
		{"terminal escape", b64(`{"v":1,"reply":{"ok":true,"text":"\u001b[2J"}}`), ErrBadMessage},
		{"state key", b64(`{"v":1,"reply":{"ok":true,"text":"x","state":{"Power":true}}}`), ErrBadMessage},
		{"state array", b64(`{"v":1,"reply":{"ok":true,"text":"x","state":{"power":[true]}}}`), ErrBadMessage},
		{"state huge int", b64(`{"v":1,"reply":{"ok":true,"text":"x","state":{"n":99999999999999999999}}}`), ErrBadMessage},
		{"state huge float", b64(`{"v":1,"reply":{"ok":true,"text":"x","state":{"n":1e300}}}`), ErrBadMessage},
		{"bad caps", b64(`{"v":1,"reply":{"ok":true,"text":"x","caps":{"kind":"light","props":[{"name":"p","type":"colour"}]}}}`), ErrBadMessage},
		{"event without time", b64(`{"v":1,"event":{"kind":"door-opened","text":"x"}}`), ErrBadMessage},
		{"event bad kind", b64(`{"v":1,"event":{"kind":"Door opened","time":"2026-03-01T12:00:00Z","text":"x"}}`), ErrBadMessage},
		{"user address", b64(`{"v":1,"reply":{"ok":true,"text":"x","users":[{"addr":"Alice@x.org","fpr":"0123456789ABCDEF0123456789ABCDEF01234567","role":"owner"}]}}`), ErrBadMessage},
		{"user fingerprint", b64(`{"v":1,"reply":{"ok":true,"text":"x","users":[{"addr":"a@x.org","fpr":"0123","role":"owner"}]}}`), ErrBadMessage},
		{"user role", b64(`{"v":1,"reply":{"ok":true,"text":"x","users":[{"addr":"a@x.org","fpr":"0123456789ABCDEF0123456789ABCDEF01234567","role":"admin"}]}}`), ErrBadMessage},
		{"invite link", b64(`{"v":1,"reply":{"ok":true,"text":"x","invite":{"url":"https://evil.example/#x","role":"guest","expires":"2026-03-01T12:00:00Z"}}}`), ErrBadMessage},
		{"invite for", b64(`{"v":1,"reply":{"ok":true,"text":"x","invite":{"url":"OPENPGP4FPR:0123","role":"guest","for":"120m","expires":"2026-03-01T12:00:00Z"}}}`), ErrBadMessage},
		{"deep nesting", b64(`{"v":1,"reply":{"ok":true,"text":"x","caps":{"kind":"k","cmds":[{"name":"c","args":[{"name":"a","type":"enum","enum":[[[[[[[[[[[[[[["x"]]]]]]]]]]]]]]]}]}]}}}`), ErrBadMessage},
	}
	for _, tt := range tests {
		m, err := Decode(tt.value)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: Decode = %+v, %v; want %v", tt.name, m, err, tt.want)
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	for name, m := range map[string]Message{
		"empty":          {},
		"two parts":      {Command: &Command{Name: "on"}, Event: &Event{Kind: "x", Time: t0, Text: "x"}},
		"bad command":    {Command: &Command{Name: "set", Args: []string{"brightness"}}},
		"bad utf-8":      {Reply: &Reply{OK: true, Text: "a\xffb"}},
		"zero value":     {Reply: &Reply{OK: true, Text: "x", State: State{"p": {}}}},
		"nan":            {Reply: &Reply{OK: true, Text: "x", State: State{"p": FloatValue(nanValue())}}},
		"wrong version":  {Version: 7, Command: &Command{Name: "on"}},
		"too large text": {Reply: &Reply{OK: true, Text: strings.Repeat("x", MaxText+1)}},
	} {
		if v, err := Encode(m); err == nil {
			t.Errorf("%s: Encode = %q, want an error", name, v)
		}
	}
	big := &Capabilities{Kind: "big"}
	for i := range MaxProperties {
		big.Properties = append(big.Properties, Property{Name: "p" + strings.Repeat("x", 25) + string(rune('a'+i%26)) + string(rune('a'+i/26)),
			ValueSpec: ValueSpec{Type: TypeEnum, Enum: manyEnum()}})
	}
	if err := big.Check(); err != nil {
		t.Fatal(err)
	}
	if _, err := Encode(Message{Reply: &Reply{OK: true, Text: "x", Capabilities: big}}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("huge description: %v, want ErrTooLarge", err)
	}
}

func manyEnum() []string {
	var e []string
	for i := range MaxEnum {
		e = append(e, "value-number-"+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	return e
}

func nanValue() float64 { z := 0.0; return z / z }

func TestRefusal(t *testing.T) {
	_, err := ParseCommand("blink")
	c := Command{Name: "help"}
	r := Refusal(&c, err)
	want := Reply{Code: CodeUnknownCommand, Reason: `unknown command "blink"; try "help"`, Text: `Unknown command "blink"; try "help".`, Command: &c}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("Refusal = %+v, want %+v", r, want)
	}
	if _, err := Encode(Message{Reply: &r}); err != nil {
		t.Fatal(err)
	}
	r = Refusal(nil, errors.New("gpio: write failed\x1b"))
	if r.Code != CodeFailed || r.Reason != "gpio: write failed " {
		t.Fatalf("Refusal of a driver error = %+v", r)
	}
	if _, err := Encode(Message{Reply: &r}); err != nil {
		t.Fatal(err)
	}
}

func TestValueJSON(t *testing.T) {
	for _, tt := range []struct {
		v    Value
		json string
	}{
		{BoolValue(true), "true"},
		{IntValue(-40), "-40"},
		{FloatValue(21), "21.0"},
		{FloatValue(21.5), "21.5"},
		{FloatValue(1e-7), "1e-07"},
		{FloatValue(1e15), "1e+15"},
		{StringValue("heat"), `"heat"`},
		{StringValue("<&>"), `"\u003c\u0026\u003e"`},
	} {
		b, err := json.Marshal(tt.v)
		if err != nil || string(b) != tt.json {
			t.Errorf("Marshal(%v) = %s, %v; want %s", tt.v, b, err, tt.json)
		}
		var back Value
		if err := json.Unmarshal(b, &back); err != nil || !back.Equal(tt.v) {
			t.Errorf("Unmarshal(%s) = %#v, %v; want %#v", b, back, err, tt.v)
		}
	}
	for _, in := range []string{"null", "[]", "{}", "1e400", "9223372036854775808"} {
		var v Value
		if err := json.Unmarshal([]byte(in), &v); err == nil {
			t.Errorf("Unmarshal(%s) = %#v, want an error", in, v)
		}
	}
	if f, ok := IntValue(3).AsFloat(); !ok || f != 3 {
		t.Error("an int does not read as a float")
	}
	if _, ok := StringValue("3").AsInt(); ok {
		t.Error("a string reads as an int")
	}
}
