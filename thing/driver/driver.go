package driver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/thingpost/thingpost/wire"
)

// Driver is one device behind a thing. All methods are safe for concurrent
// use.
type Driver interface {
	// Capabilities describes what the device offers. Each call returns a
	// fresh copy that the caller may keep or change.
	Capabilities() *wire.Capabilities
	// Status is the current state and the sentence that tells it.
	Status() Status
	// Do carries out one device command, normally the Call that
	// Capabilities().Resolve made of it. A command the device does not
	// offer or a value outside its limits is refused with a
	// *wire.CommandError and changes nothing; a device that tried and
	// failed returns another error. Changes made by Do are not sent to
	// Notify: the caller has them in the returned Status.
	Do(ctx context.Context, call wire.Call) (Status, error)
	// Close stops the device's background work and waits for it. Later
	// calls to Do fail with ErrClosed. Close is idempotent.
	Close() error
}

// Status is a device's state with a sentence for people.
type Status struct {
	State wire.State
	Text  string // "The lamp is on, brightness 40%."
}

// Sentinel errors callers decide on.
var (
	// ErrClosed means the driver was closed.
	ErrClosed = errors.New("driver closed")
	// ErrUnknownKind means New was given a kind it does not know.
	ErrUnknownKind = errors.New("unknown device kind")
	// ErrBadConfig marks every configuration problem (errors.Is).
	ErrBadConfig = errors.New("bad driver config")
	// ErrDoorOpen means the lock refused to lock because the door is open.
	ErrDoorOpen = errors.New("the door is open; close it before locking")
	// ErrBusy means an exec command is still running.
	ErrBusy = errors.New("busy")
)

// Config configures one device. The zero Config is valid for light, lock
// and sensor; thermostat has sensible defaults; exec needs its commands.
// Fields tagged toml:"-" are set in code by the agent or a test.
type Config struct {
	// Noun is what sentences call the device: "The <noun> is on."
	// Default: lamp, thermostat, door, sensor; unused by exec.
	Noun string `toml:"noun"`
	// Tick is how often simulated values change (thermostat, sensor).
	// Default 10s.
	Tick time.Duration `toml:"tick"`

	Thermostat ThermostatConfig `toml:"thermostat"`
	Sensor     SensorConfig     `toml:"sensor"`
	Exec       ExecConfig       `toml:"exec"`
	// MQTT is for kinds tasmota, zigbee2mqtt and homeassistant; Shelly for
	// kind shelly.
	MQTT   MQTTConfig   `toml:"mqtt"`
	Shelly ShellyConfig `toml:"shelly"`

	// Notify receives the events the device has on its own, one at a time
	// and in order, from the driver's goroutine or from a simulation call
	// such as Lock.OpenDoor. It may call Status, Capabilities and Do; it
	// must not call Close, Step, OpenDoor or CloseDoor (they wait for it),
	// and should return quickly. Nil drops events.
	Notify func(wire.Event) `toml:"-"`
	// Now is the clock for event times outside Step. Default time.Now.
	Now func() time.Time `toml:"-"`
	// Manual stops the driver from advancing its simulation by itself: the
	// caller calls Step (tests, a demo with its own clock).
	Manual bool `toml:"-"`
	// Source gives sensor readings; default a seeded random drift
	// (SensorConfig). A real sensor plugs in here.
	Source Source `toml:"-"`
	// Logger gets problems the caller cannot see otherwise (a failed sensor
	// read in the background). Default slog.Default().
	Logger *slog.Logger `toml:"-"`
}

// DefaultTick is the simulation step when Config.Tick is zero.
const DefaultTick = 10 * time.Second

// Kinds lists the device kinds New knows.
func Kinds() []string { return []string{"light", "thermostat", "lock", "sensor", "exec"} }

// New builds a device of the given kind. Configuration problems are errors
// that wrap ErrBadConfig; an unknown kind wraps ErrUnknownKind.
func New(kind string, cfg Config) (Driver, error) {
	// Each case returns its own concrete type: a nil *Light must not become
	// a non-nil Driver.
	switch kind {
	case "light":
		return nilIfErr(NewLight(cfg))
	case "thermostat":
		return nilIfErr(NewThermostat(cfg))
	case "lock":
		return nilIfErr(NewLock(cfg))
	case "sensor":
		return nilIfErr(NewSensor(cfg))
	case "exec":
		return nilIfErr(NewExec(cfg))
	}
	return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownKind, kind, strings.Join(Kinds(), ", "))
}

func nilIfErr[D Driver](d D, err error) (Driver, error) {
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Check validates cfg for the given kind without building anything, so that
// a configuration file is judged before a device starts; for exec it checks
// that every program exists and is executable.
func (cfg *Config) Check(kind string) error {
	if cfg.Tick < 0 {
		return configErr("tick", "must not be negative")
	}
	if len(cfg.Noun) > 40 || strings.ContainsFunc(cfg.Noun, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return configErr("noun", "must be a short word without control characters")
	}
	switch kind {
	case "light", "lock":
		return nil
	case "thermostat":
		_, err := cfg.Thermostat.resolve()
		return err
	case "sensor":
		_, err := cfg.Sensor.resolve()
		return err
	case "exec":
		_, err := cfg.Exec.resolve()
		return err
	}
	return fmt.Errorf("%w %q (known: %s)", ErrUnknownKind, kind, strings.Join(Kinds(), ", "))
}

func configErr(key, format string, a ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrBadConfig, key, fmt.Sprintf(format, a...))
}

// refuse makes the error a person reads in the reply to a refused command.
func refuse(kind error, format string, a ...any) error {
	return &wire.CommandError{Err: kind, Reason: fmt.Sprintf(format, a...)}
}

func (cfg *Config) noun(def string) string {
	if cfg.Noun != "" {
		return cfg.Noun
	}
	return def
}

func (cfg *Config) tick() time.Duration {
	if cfg.Tick > 0 {
		return cfg.Tick
	}
	return DefaultTick
}
