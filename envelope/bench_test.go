package envelope

import (
	"context"
	"strings"
	"testing"

	"github.com/thingpost/thingpost/keystore"
)

// command is a 200-byte command text, the size of what a person sends a
// thing.
var command = strings.Repeat("set brightness 40 ", 12)[:200]

func benchDraft(b *testing.B) (*Draft, *keystore.Identity, *keystore.Identity) {
	var tk testKeys
	alice, bob := tk.id(b, "alice@home.example"), tk.id(b, "bob@home.example")
	return &Draft{From: alice, To: []*keystore.PublicKey{bob.Public()}, Subject: "cmd", Text: command, AutoSubmitted: true}, alice, bob
}

// BenchmarkSeal: build, sign, compress, encrypt (to the thing and to self)
// and wrap one 200-byte command.
func BenchmarkSeal(b *testing.B) {
	d, _, _ := benchDraft(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Seal(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen: parse, decrypt, decompress, verify and parse one 200-byte
// command.
func BenchmarkOpen(b *testing.B) {
	d, alice, bob := benchDraft(b)
	ctx := context.Background()
	s, err := Seal(ctx, d)
	if err != nil {
		b.Fatal(err)
	}
	opts := OpenOptions{Self: bob, Trusted: trust(alice.Public())}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Open(ctx, s.Raw, opts); err != nil {
			b.Fatal(err)
		}
	}
}
