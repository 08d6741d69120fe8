package wire

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

func BenchmarkParseCommand(b *testing.B) {
	for _, in := range []string{
		"on",
		"set target 21.5 °C",
		"role alice@example.org guest for 2 hours",
		"> The lamp is off.\n\nset brightness 40%\n\n-- \nSent with my Delta Chat Messenger: https://delta.chat",
	} {
		b.Run(strconv.Quote(in[:min(len(in), 24)]), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseCommand(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkResolve(b *testing.B) {
	th := thermostatCaps()
	c, err := th.ParseCommand("set target 70F")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := th.Resolve(c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeDecode(b *testing.B) {
	for _, name := range []string{"command", "reply ok", "reply describe"} {
		m := sampleMessages()[name]
		v, err := Encode(m)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("encode "+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Encode(m); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("decode "+name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(v)))
			for b.Loop() {
				if _, err := Decode(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchGuard is a guard on a bbolt file in b.TempDir (a real disk here, so
// every accepted Check pays an fsync) whose clock advances a second per
// call, so the store reaches its steady size and prunes as it goes.
func benchGuard(b *testing.B) (*Guard, *atomic.Int64) {
	db := openDB(b, filepath.Join(b.TempDir(), "thing.db"))
	b.Cleanup(func() { db.Close() })
	g := NewGuard(newStore(b, db))
	var tick atomic.Int64
	g.Now = func() time.Time { return t0.Add(time.Duration(tick.Add(1)) * time.Second) }
	return g, &tick
}

func BenchmarkGuardCheck(b *testing.B) {
	ctx := context.Background()
	b.Run("accept (fsync)", func(b *testing.B) {
		g, tick := benchGuard(b)
		i := 0
		for b.Loop() {
			i++
			if err := g.Check(ctx, "<m"+strconv.Itoa(i)+"@example.org>", t0.Add(time.Duration(tick.Load())*time.Second)); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The floor: one fsynced bbolt write of the same size, without the guard.
	b.Run("bbolt put baseline (fsync)", func(b *testing.B) {
		db := openDB(b, filepath.Join(b.TempDir(), "plain.db"))
		defer db.Close()
		i := 0
		for b.Loop() {
			i++
			err := db.Update(func(tx *bbolt.Tx) error {
				bk, err := tx.CreateBucketIfNotExists([]byte("plain"))
				if err != nil {
					return err
				}
				return bk.Put([]byte("<m"+strconv.Itoa(i)+"@example.org>"), dateKey(t0))
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("refuse replay", func(b *testing.B) {
		g, tick := benchGuard(b)
		if err := g.Check(ctx, "<m@example.org>", t0); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			tick.Store(0)
			if err := g.Check(ctx, "<m@example.org>", t0); !errors.Is(err, ErrReplayed) {
				b.Fatal(err)
			}
		}
	})
	b.Run("accept parallel (fsync)", func(b *testing.B) {
		g, tick := benchGuard(b)
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				id := "<p" + strconv.FormatInt(n.Add(1), 10) + "@example.org>"
				if err := g.Check(ctx, id, t0.Add(time.Duration(tick.Load())*time.Second)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
