package driver

import (
	"context"
	"os"
	"testing"

	"github.com/thingpost/thingpost/wire"
)

// BenchmarkLightCommand is what a command costs the agent in the driver:
// parse, resolve against the capabilities, Do.
func BenchmarkLightCommand(b *testing.B) {
	l, err := NewLight(Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		caps := l.Capabilities()
		cmd, err := caps.ParseCommand("set brightness 40%")
		if err != nil {
			b.Fatal(err)
		}
		call, err := caps.Resolve(cmd)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := l.Do(ctx, call); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkThermostatStep is one simulation tick with two thresholds.
func BenchmarkThermostatStep(b *testing.B) {
	th, err := NewThermostat(Config{Manual: true, Notify: func(wire.Event) {}, Thermostat: ThermostatConfig{
		Thresholds: []Threshold{{Above: ptr(25.0)}, {Below: ptr(10.0)}},
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer th.Close()
	b.ReportAllocs()
	for b.Loop() {
		if err := th.Step(t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExecCheck is the argument check and argv of an exec command,
// without running the program.
func BenchmarkExecCheck(b *testing.B) {
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	e, err := NewExec(Config{Exec: ExecConfig{Commands: []ExecCommand{{
		Name: "backup", Program: self,
		Args: []ExecArg{{Name: "level", Type: "int", Min: ptr(0.0), Max: ptr(9.0)}, {Name: "name", Type: "string", Pattern: `[a-z0-9_-]{1,32}`}},
		Argv: []string{"--level", "{level}", "--name={name}"},
	}}}})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	call, err := command(e, "backup 5 nightly-home")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := e.command(call); err != nil {
			b.Fatal(err)
		}
	}
}
