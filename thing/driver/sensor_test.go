package driver

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/thingpost/thingpost/wire"
)

// script is a Source that plays back readings, then fails.
type script struct {
	mu sync.Mutex
	rs []Reading
}

func (s *script) read(time.Time) (Reading, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rs) == 0 {
		return Reading{}, errors.New("script ended")
	}
	r := s.rs[0]
	s.rs = s.rs[1:]
	return r, nil
}

func temps(ts ...float64) []Reading {
	var rs []Reading
	for _, t := range ts {
		rs = append(rs, Reading{Temperature: t, Humidity: 50})
	}
	return rs
}

func TestSensorThresholds(t *testing.T) {
	tests := []struct {
		name  string
		th    []Threshold
		rs    []Reading // the first is read by NewSensor
		kinds []string
		at    []int
	}{
		{
			name: "above with hysteresis: hovering at the level is quiet",
			th:   []Threshold{{Property: "temperature", Above: ptr(30.0)}},
			rs:   temps(29, 29.9, 30.1, 30.0, 29.9, 30.2, 29.6, 30.4, 29.4, 29.8, 30.1, 30.05),
			// 30.1 fires; back only below 29.5 (29.4); 30.1 fires again.
			kinds: []string{"temperature-above", "temperature-normal", "temperature-above"},
			at:    []int{2, 8, 10},
		},
		{
			name:  "exactly at the level is not above",
			th:    []Threshold{{Property: "temperature", Above: ptr(30.0)}},
			rs:    temps(20, 30, 30, 30),
			kinds: nil,
		},
		{
			name:  "below with hysteresis",
			th:    []Threshold{{Property: "temperature", Below: ptr(5.0), Hysteresis: 1}},
			rs:    temps(8, 4.9, 5.5, 4, 5.9, 6.1, 4.8),
			kinds: []string{"temperature-below", "temperature-normal", "temperature-below"},
			at:    []int{1, 5, 6},
		},
		{
			name: "humidity, and a reading that starts beyond the level",
			th:   []Threshold{{Property: "humidity", Above: ptr(70.0), Hysteresis: 5}, {Property: "humidity", Below: ptr(30.0)}},
			rs: []Reading{{Temperature: 20, Humidity: 90}, {Temperature: 20, Humidity: 90}, {Temperature: 20, Humidity: 66},
				{Temperature: 20, Humidity: 64}, {Temperature: 20, Humidity: 29}, {Temperature: 20, Humidity: 29.6}},
			// 29.6 rounds to 30: not below 30.
			kinds: []string{"humidity-above", "humidity-normal", "humidity-below"},
			at:    []int{1, 3, 4},
		},
		{
			name:  "resolution: 30.04 reads as 30.0",
			th:    []Threshold{{Property: "temperature", Above: ptr(30.0)}},
			rs:    temps(20, 30.04, 30.06),
			kinds: []string{"temperature-above"},
			at:    []int{2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorder
			src := &script{rs: tt.rs}
			s, err := NewSensor(Config{Manual: true, Source: src.read, Notify: rec.notify, Sensor: SensorConfig{Thresholds: tt.th}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			evs, at := stepN(t, s, &rec, len(tt.rs)-1)
			if !slices.Equal(kinds(evs), tt.kinds) || !slices.Equal(at, tt.at) {
				t.Errorf("events %v at %v, want %v at %v", kinds(evs), at, tt.kinds, tt.at)
			}
			checkWire(t, s, s.Status(), evs...)
		})
	}
}

func TestSensorStatusAndEvents(t *testing.T) {
	var rec recorder
	src := &script{rs: []Reading{{Temperature: 21.26, Humidity: 45.4}, {Temperature: 31.04, Humidity: 45.6}, {Temperature: -0.04, Humidity: 0}}}
	s, err := NewSensor(Config{Manual: true, Noun: "cellar sensor", Source: src.read, Notify: rec.notify,
		Sensor: SensorConfig{Thresholds: []Threshold{{Property: "temperature", Above: ptr(30.0)}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := s.Status()
	if st.Text != "The cellar sensor reads 21.3 °C and 45% humidity." ||
		!st.State.Equal(wire.State{"temperature": wire.FloatValue(21.3), "humidity": wire.IntValue(45)}) {
		t.Errorf("status %+v", st)
	}
	if err := s.Step(t0); err != nil {
		t.Fatal(err)
	}
	evs := rec.take()
	if len(evs) != 1 || evs[0].Text != "The temperature rose above 30 °C: it is 31 °C now." ||
		!evs[0].State.Equal(wire.State{"temperature": wire.FloatValue(31), "humidity": wire.IntValue(46)}) ||
		!evs[0].Values.Equal(wire.State{"value": wire.FloatValue(31), "threshold": wire.FloatValue(30)}) || !evs[0].Time.Equal(t0) {
		t.Errorf("events %+v", evs)
	}
	if err := s.Step(t0); err != nil {
		t.Fatal(err)
	}
	if st := s.Status(); st.Text != "The cellar sensor reads 0 °C and 0% humidity." {
		t.Errorf("rounding to -0: %q", st.Text)
	}
	// A failed reading keeps the last one.
	if err := s.Step(t0); err == nil {
		t.Error("Step after the script ended did not fail")
	}
	if st := s.Status(); st.Text != "The cellar sensor reads 0 °C and 0% humidity." {
		t.Errorf("after a failed reading: %q", st.Text)
	}
	caps := s.Capabilities()
	if !slices.Equal(caps.Events, []string{"temperature-above", "temperature-normal"}) {
		t.Errorf("events %v", caps.Events)
	}
}

func TestSensorBadReadings(t *testing.T) {
	for _, r := range []Reading{{Temperature: math.NaN()}, {Temperature: math.Inf(-1)}, {Humidity: 101}, {Humidity: -1}, {Humidity: math.NaN()}, {Temperature: 5000}} {
		src := &script{rs: []Reading{{Temperature: 20, Humidity: 40}, r}}
		s, err := NewSensor(Config{Manual: true, Source: src.read})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Step(t0); err == nil {
			t.Errorf("reading %+v accepted", r)
		}
		if got := s.Status().Text; got != "The sensor reads 20 °C and 40% humidity." {
			t.Errorf("after bad reading %+v: %q", r, got)
		}
		s.Close()
	}
	// No first reading: the sensor says so until one arrives.
	src := &script{}
	s, err := NewSensor(Config{Manual: true, Source: src.read, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st := s.Status(); st.Text != "The sensor has no reading yet." || len(st.State) != 0 {
		t.Errorf("status %+v", st)
	}
}

func TestSensorTakesNoCommands(t *testing.T) {
	s, err := NewSensor(Config{Manual: true, Sensor: SensorConfig{Seed: 3}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := s.Status()
	for _, tt := range []struct {
		call wire.Call
		why  string
	}{
		{set("temperature", wire.FloatValue(20)), "temperature is read-only"},
		{set("humidity", wire.IntValue(20)), "humidity is read-only"},
		{plain("on"), "the sensor only measures; it takes no commands"},
	} {
		_, err := s.Do(context.Background(), tt.call)
		wantRefusal(t, err, wire.ErrUnsupported, tt.why)
	}
	if _, err := send(t, s, "set temperature 20"); err == nil {
		t.Error("Resolve accepts setting the temperature")
	}
	if !s.Status().State.Equal(before.State) {
		t.Error("state changed")
	}
}

func TestDrift(t *testing.T) {
	a, b := Drift(Reading{Temperature: 21, Humidity: 45}, 42), Drift(Reading{Temperature: 21, Humidity: 45}, 42)
	other := Drift(Reading{Temperature: 21, Humidity: 45}, 43)
	same, moved := true, false
	for range 10000 {
		ra, _ := a(t0)
		rb, _ := b(t0)
		ro, _ := other(t0)
		same = same && ra == rb
		moved = moved || ra != ro
		if math.Abs(ra.Temperature-21) > 5 || ra.Humidity < 0 || ra.Humidity > 100 {
			t.Fatalf("drifted too far: %+v", ra)
		}
	}
	if !same || !moved {
		t.Errorf("same seed same readings: %v; different seed different: %v", same, moved)
	}
}
