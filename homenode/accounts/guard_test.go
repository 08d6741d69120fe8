package accounts

import (
	"fmt"
	"testing"
	"time"
)

func TestGuard(t *testing.T) {
	g := newGuard()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	alice, mallory := g.accountKey("alice@home.test"), g.accountKey("mallory@home.test")

	// The owner logs in once from home.
	g.succeed("home", alice, now)
	// Four guesses at alice, each followed by a login to his own account,
	// do not forgive the guesses: the fifth locks the address.
	for i := range 5 {
		if ok, _, _ := g.allow("eve", alice, now); !ok {
			t.Fatalf("guess %d refused before the limit", i+1)
		}
		g.fail("eve", alice, now)
		g.succeed("eve", mallory, now)
	}
	if ok, _, limit := g.allow("eve", mallory, now); ok || limit != "address" {
		t.Fatalf("after 5 failures: allow=%v limit=%q, want the address locked", ok, limit)
	}
	// Guesses from other addresses add up per account: ten in all lock it.
	for i := range 5 {
		g.fail(fmt.Sprintf("bot%d", i), alice, now)
	}
	if ok, _, limit := g.allow("stranger", alice, now); ok || limit != "account" {
		t.Fatalf("after 10 failures at alice: allow=%v limit=%q, want the account locked", ok, limit)
	}
	if ok, _, _ := g.allow("home", alice, now); !ok {
		t.Fatal("alice's own address is locked out of her account")
	}
	if ok, _, _ := g.allow("stranger", mallory, now); !ok {
		t.Fatal("mallory's account locked by guesses at alice")
	}
	// The owner's success forgives nothing of the strangers' failures.
	g.succeed("home", alice, now)
	if ok, _, _ := g.allow("stranger", alice, now); ok {
		t.Fatal("the owner's login lifted the lock on her account for strangers")
	}
	// Trust ends after trustFor.
	later := now.Add(g.trustFor)
	for i := range 10 {
		g.fail(fmt.Sprintf("bot%d", i), alice, later)
	}
	if ok, _, _ := g.allow("home", alice, later); ok {
		t.Fatal("trust outlived trustFor")
	}
}

func TestGuardForgivesOwnFailures(t *testing.T) {
	g := newGuard()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	alice := g.accountKey("alice@home.test")
	for range 4 {
		g.fail("phone", alice, now)
	}
	g.succeed("phone", alice, now)
	// Forgiven: five more free failures.
	for i := range 4 {
		g.fail("phone", alice, now)
		if ok, _, _ := g.allow("phone", alice, now); !ok {
			t.Fatalf("failure %d after the success: locked", i+1)
		}
	}
	// Failures forgotten by the limiters are not taken off again.
	later := now.Add(2 * time.Hour)
	g.fail("laptop", alice, now)
	for range 5 {
		g.fail("laptop", g.accountKey("bob@home.test"), later)
	}
	g.succeed("laptop", alice, later)
	if ok, _, _ := g.allow("laptop", alice, later); ok {
		t.Fatal("an old failure at alice forgave new ones at bob")
	}
}

func TestGuardBoundedMemory(t *testing.T) {
	g := newGuard()
	g.maxPairs = 10
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 100 {
		at := now.Add(time.Duration(i) * time.Millisecond)
		c, a := fmt.Sprintf("c%d", i), g.accountKey(fmt.Sprintf("u%d@home.test", i))
		g.fail(c, a, at)
		g.succeed(c+"x", a, at)
	}
	if len(g.pairs) > 10 || len(g.trusted) > 10 {
		t.Fatalf("%d pairs, %d trusted, want at most 10 each", len(g.pairs), len(g.trusted))
	}
	if _, ok := g.pairs[pair{"c99", g.accountKey("u99@home.test")}]; !ok {
		t.Fatal("the newest pair was evicted")
	}
}
