package wire_test

import (
	"encoding/base64"
	"fmt"

	"github.com/thingpost/thingpost/wire"
)

// A person's text goes through the thing's description; the reply carries
// a sentence and the machine form in the Thingpost-Wire header.
func Example() {
	lamp := &wire.Capabilities{
		Kind: "light",
		Properties: []wire.Property{
			{Name: "power", ValueSpec: wire.ValueSpec{Type: wire.TypeBool}, Writable: true},
			{Name: "brightness", ValueSpec: wire.ValueSpec{Type: wire.TypeInt, Unit: "%", Min: wire.Num(0), Max: wire.Num(100)}, Writable: true},
		},
		Commands: []wire.CommandSpec{{Name: "on"}, {Name: "off"}},
	}

	cmd, err := lamp.ParseCommand("/Set Brightness to 40 %")
	if err != nil {
		fmt.Println(err)
		return
	}
	call, err := lamp.Resolve(cmd)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("parsed %q, driver gets %s = %v\n", cmd, call.Property, call.Values[0])

	if _, err := lamp.ParseCommand("blink"); err != nil {
		fmt.Println("refused:", err)
	}
	if _, err := lamp.Resolve(wire.Command{Name: "set", Args: []string{"brightness", "140"}}); err != nil {
		fmt.Println("refused:", err)
	}

	power, _ := lamp.Property("power")
	bright, _ := lamp.Property("brightness")
	state := wire.State{"power": wire.BoolValue(true), "brightness": call.Values[0]}
	text := fmt.Sprintf("The lamp is %s, brightness %s.", power.Format(state["power"]), bright.Format(state["brightness"]))
	value, err := wire.Encode(wire.Message{Reply: &wire.Reply{OK: true, Text: text, Command: &call.Command, State: state}})
	if err != nil {
		fmt.Println(err)
		return
	}
	js, _ := base64.StdEncoding.DecodeString(value)
	fmt.Printf("%s: base64 of %s\n", wire.HeaderName, js)

	m, err := wire.Decode(value)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Reply.Text)
	// Output:
	// parsed "set brightness 40%", driver gets brightness = 40
	// refused: unknown command "blink"; try "help"
	// refused: brightness goes from 0 to 100%, not "140"
	// Thingpost-Wire: base64 of {"v":1,"reply":{"ok":true,"text":"The lamp is on, brightness 40%.","cmd":{"name":"set","args":["brightness","40"]},"state":{"brightness":40,"power":true}}}
	// The lamp is on, brightness 40%.
}
