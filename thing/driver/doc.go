// Package driver holds the devices a thing agent (thingd) runs: simulated
// light, thermostat, lock and sensor, and exec, which maps configured
// commands with typed arguments to programs run without a shell.
//
// Every device is a Driver: it describes itself (Capabilities), reports its
// state with a sentence for people (Status), carries out device commands
// (Do) and tells what happens on its own through the Notify callback of its
// Config (a door opened, a temperature crossed a threshold). New builds a
// driver by kind name from a TOML-friendly Config.
//
// The agent checks a command with Capabilities.Resolve and hands the
// resulting wire.Call to Do. Drivers check every value again against their
// own limits, so that a call that skipped Resolve or was built by hand is
// refused with a *wire.CommandError whose text a person can read
// ("brightness must be between 0 and 100%").
//
// Simulated values (a thermostat's room temperature, a sensor's readings)
// change once per Config.Tick. Tests and demos that want exact control set
// Config.Manual and advance the simulation with Step.
//
// package driver imports no Thingpost package other than wire.
package driver
