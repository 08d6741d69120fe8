package driver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/thingpost/thingpost/wire"
)

// Reading is one measurement of a sensor.
type Reading struct {
	Temperature float64 // °C
	Humidity    float64 // relative humidity, %
}

// Source gives a sensor's readings, once per Step.
type Source func(now time.Time) (Reading, error)

// SensorConfig sets up a sensor. In TOML: [sensor].
type SensorConfig struct {
	// Temperature and Humidity are where the simulated readings hover;
	// default 21 °C and 45 %.
	Temperature *float64 `toml:"temperature"`
	Humidity    *float64 `toml:"humidity"`
	// Seed makes the simulated drift repeatable; 0 gives a new drift each
	// start.
	Seed       uint64      `toml:"seed"`
	Thresholds []Threshold `toml:"threshold"`
}

func sensorMeasures() []measure {
	return []measure{
		{name: "temperature", state: "temperature", unit: "°C"},
		{name: "humidity", state: "humidity", unit: "%"},
	}
}

type sensorSetup struct {
	around  Reading
	watches []*watch
}

func (c SensorConfig) resolve() (sensorSetup, error) {
	s := sensorSetup{around: Reading{Temperature: 21, Humidity: 45}}
	if c.Temperature != nil {
		s.around.Temperature = *c.Temperature
	}
	if c.Humidity != nil {
		s.around.Humidity = *c.Humidity
	}
	if t := s.around.Temperature; math.IsNaN(t) || t < -40 || t > 85 {
		return s, configErr("sensor.temperature", "%v °C is outside -40 to 85 °C", t)
	}
	if h := s.around.Humidity; math.IsNaN(h) || h < 0 || h > 100 {
		return s, configErr("sensor.humidity", "%v %% is outside 0 to 100 %%", h)
	}
	var err error
	s.watches, err = resolveThresholds("sensor", c.Thresholds, sensorMeasures(), "")
	return s, err
}

// Drift is a simulated Source: readings wander randomly around a, pulled
// back toward it, the same for the same seed.
func Drift(a Reading, seed uint64) Source {
	var mu sync.Mutex // a Source may be called from several goroutines
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	cur := a
	return func(time.Time) (Reading, error) {
		mu.Lock()
		defer mu.Unlock()
		cur.Temperature += 0.1*(a.Temperature-cur.Temperature) + 0.2*r.NormFloat64()
		cur.Humidity += 0.1*(a.Humidity-cur.Humidity) + 0.5*r.NormFloat64()
		cur.Humidity = math.Min(100, math.Max(0, cur.Humidity))
		return cur, nil
	}
}

// Sensor reports temperature (°C, to 0.1) and relative humidity (whole %),
// read-only, from its Source once per tick, and sends the events of its
// thresholds. It takes no commands.
type Sensor struct {
	base
	noun    string
	source  Source
	watches []*watch
	have    bool // a reading arrived
	temp    float64
	hum     int64
}

// NewSensor builds a sensor; without Config.Source it simulates one.
func NewSensor(cfg Config) (*Sensor, error) {
	if err := cfg.Check("sensor"); err != nil {
		return nil, err
	}
	setup, _ := cfg.Sensor.resolve() // checked above
	s := &Sensor{noun: cfg.noun("sensor"), source: cfg.Source, watches: setup.watches}
	s.init(&cfg)
	if s.source == nil {
		seed := cfg.Sensor.Seed
		if seed == 0 {
			seed = rand.Uint64()
		}
		s.source = Drift(setup.around, seed)
	}
	// The first reading only sets the state: thresholds are judged from the
	// first Step on, so that Notify is never called from inside New.
	if r, err := s.read(s.now()); err != nil {
		s.log.Warn("sensor has no first reading", "err", err)
	} else {
		s.set(r)
	}
	s.start(&cfg, s.Step)
	return s, nil
}

// Capabilities: temperature and humidity, read-only, and the threshold
// events.
func (s *Sensor) Capabilities() *wire.Capabilities {
	return &wire.Capabilities{
		Kind: "sensor",
		Properties: []wire.Property{
			{Name: "temperature", ValueSpec: floatLimit(-40, 85, 0, "°C").valueSpec()},
			{Name: "humidity", ValueSpec: intLimit(0, 100, "%").valueSpec()},
		},
		Events: eventKinds(s.watches),
	}
}

// Status gives the last reading.
func (s *Sensor) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status()
}

func (s *Sensor) status() Status {
	if !s.have {
		return Status{State: wire.State{}, Text: "The " + s.noun + " has no reading yet."}
	}
	return Status{
		State: wire.State{"temperature": wire.FloatValue(s.temp), "humidity": wire.IntValue(s.hum)},
		Text: fmt.Sprintf("The %s reads %s and %s humidity.", s.noun,
			limit{unit: "°C"}.format(s.temp), limit{unit: "%"}.format(float64(s.hum))),
	}
}

// Do refuses every command: a sensor only measures.
func (s *Sensor) Do(ctx context.Context, call wire.Call) (Status, error) {
	if err := s.begin(ctx); err != nil {
		return Status{}, err
	}
	defer s.mu.Unlock()
	if call.Command.Name == "set" && call.Property != "" {
		return Status{}, refuse(wire.ErrUnsupported, "%s is read-only", call.Property)
	}
	return Status{}, refuse(wire.ErrUnsupported, "the %s only measures; it takes no commands", s.noun)
}

// Step takes a reading from the Source and sends the threshold events it
// causes to Notify. The driver calls Step once per tick unless
// Config.Manual. A failed reading keeps the last one.
func (s *Sensor) Step(now time.Time) error {
	// The Source may be slow hardware: read without holding the lock.
	r, err := s.read(now)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if err != nil {
		s.mu.Unlock()
		return err
	}
	s.set(r)
	var evs []wire.Event
	for _, w := range s.watches {
		x := s.temp
		if w.state == "humidity" {
			x = float64(s.hum)
		}
		if e, ok := w.update(x, now); ok {
			evs = append(evs, e)
		}
	}
	s.unlockAndNotify(evs, s.status)
	return nil
}

func (s *Sensor) read(now time.Time) (Reading, error) {
	r, err := s.source(now)
	if err != nil {
		return Reading{}, fmt.Errorf("read sensor: %w", err)
	}
	if math.IsNaN(r.Temperature) || math.IsInf(r.Temperature, 0) || math.IsNaN(r.Humidity) || math.IsInf(r.Humidity, 0) ||
		math.Abs(r.Temperature) > 1000 || r.Humidity < 0 || r.Humidity > 100 {
		return Reading{}, errors.New("read sensor: reading out of range")
	}
	return r, nil
}

// set stores a reading at the sensor's resolution. Caller holds mu (or owns
// s alone).
func (s *Sensor) set(r Reading) {
	s.have, s.temp, s.hum = true, round(r.Temperature, 1), int64(math.Round(r.Humidity))
}
