package envelope

import (
	"context"
	"sync"
	"testing"

	"github.com/thingpost/thingpost/keystore"
)

// testKeys caches identities per address: key generation is cheap, but a
// stable set keeps failures readable.
type testKeys struct {
	mu  sync.Mutex
	ids map[string]*keystore.Identity
}

func (tk *testKeys) id(t testing.TB, addr string) *keystore.Identity {
	t.Helper()
	tk.mu.Lock()
	defer tk.mu.Unlock()
	if tk.ids == nil {
		tk.ids = map[string]*keystore.Identity{}
	}
	if id, ok := tk.ids[addr]; ok {
		return id
	}
	id, err := keystore.New(addr, "")
	if err != nil {
		t.Fatal(err)
	}
	tk.ids[addr] = id
	return id
}

// trust returns a Trusted function that knows each key under its address.
func trust(keys ...*keystore.PublicKey) func(string) []*keystore.PublicKey {
	return func(addr string) []*keystore.PublicKey {
		var out []*keystore.PublicKey
		for _, k := range keys {
			if k.Addr() == addr {
				out = append(out, k)
			}
		}
		return out
	}
}

// known returns a Known function over keys.
func known(keys ...*keystore.PublicKey) func(keystore.Fingerprint) (*keystore.PublicKey, bool) {
	return func(f keystore.Fingerprint) (*keystore.PublicKey, bool) {
		for _, k := range keys {
			if k.Fingerprint() == f {
				return k, true
			}
		}
		return nil, false
	}
}

func seal(t testing.TB, d *Draft) *Sealed {
	t.Helper()
	s, err := Seal(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
