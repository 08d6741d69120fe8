package app_test

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/demo"
	"github.com/thingpost/thingpost/internal/qr"
	"github.com/thingpost/thingpost/securejoin"
)

// TestPairForms pairs by the legacy handshake (a code without v=3) and
// from an OPENPGP4FPR: code.
func TestPairForms(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	d := startDemo(t, demo.Options{})
	alice := person(t, "Alice", d.Person, app.Options{})

	inv, err := securejoin.ParseInvite(d.Thing("light").Invite)
	if err != nil {
		t.Fatal(err)
	}
	inv.V3 = false
	legacy := inv.URL()
	if strings.Contains(legacy, "v=3") {
		t.Fatalf("legacy code %s", legacy)
	}
	th, err := alice.Pair(ctx, legacy)
	if err != nil {
		t.Fatalf("legacy pairing: %v", err)
	}
	if th.Capabilities == nil || th.Kind != "light" {
		t.Fatalf("legacy pairing: %+v", th)
	}

	inv, err = securejoin.ParseInvite(d.Thing("lock").Invite)
	if err != nil {
		t.Fatal(err)
	}
	th, err = alice.Pair(ctx, inv.OpenPGP4FPR())
	if err != nil || th.Kind != "lock" {
		t.Fatalf("OPENPGP4FPR pairing: %+v %v", th, err)
	}
	if _, err := do(ctx, alice, th.ID, "status"); err != nil {
		t.Fatal(err)
	}
}

// TestPairFailures: every way pairing can fail ends with a reason, an
// event and nothing stored.
func TestPairFailures(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	d := startDemo(t, demo.Options{})
	alice := person(t, "Alice", d.Person, app.Options{})
	ev := watchEvents(t, alice)

	if _, err := alice.Pair(ctx, "https://example.org/not-a-code"); !errors.Is(err, securejoin.ErrNotInvite) {
		t.Fatalf("web address: %v", err)
	}
	if _, err := alice.Pair(ctx, d.Thing("light").Invite[:60]); !errors.Is(err, securejoin.ErrBadInvite) {
		t.Fatalf("cut code: %v", err)
	}
	var noCode bytes.Buffer
	if err := png.Encode(&noCode, image.NewGray(image.Rect(0, 0, 200, 200))); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.PairImage(ctx, noCode.Bytes()); !errors.Is(err, qr.ErrNoCode) {
		t.Fatalf("image without a code: %v", err)
	}

	// A code whose fingerprint is not the thing's key (legacy, so the
	// thing answers and the joiner sees the wrong key): fails at once, with
	// the wrong key as the reason (waiting for PairTimeout would end with
	// "no answer" instead; a wall-clock bound failed under -race on a
	// loaded machine).
	inv, err := securejoin.ParseInvite(d.Thing("light").Invite)
	if err != nil {
		t.Fatal(err)
	}
	inv.V3 = false
	inv.Fingerprint = d.Thing("lock").Agent.Identity().Fingerprint()
	_, err = alice.Pair(ctx, inv.URL())
	if !errors.Is(err, app.ErrPairing) || !errors.Is(err, securejoin.ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	e := ev.wait(time.Second, "pairing failed", func(e app.Event) bool {
		return e.Kind == app.EventPairing && e.Pairing.Step == app.PairFailed
	})
	if !strings.Contains(e.Pairing.Err, "not the one in the code") {
		t.Errorf("reason %q", e.Pairing.Err)
	}

	// A code of a thing that does not answer: the timeout with a reason.
	// Carol waits a second for it (Alice's default would take minutes).
	carolAcct, err := d.Home.AddAccount(ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	carol := person(t, "Carol", carolAcct, app.Options{PairTimeout: time.Second})
	inv, _ = securejoin.ParseInvite(d.Thing("thermostat").Invite)
	inv.Addr = "nobody@" + demo.DefaultDomain
	_, err = carol.Pair(ctx, inv.URL())
	if !errors.Is(err, app.ErrPairing) || !strings.Contains(err.Error(), "no answer from nobody@") {
		t.Fatalf("silent thing: %v", err)
	}
	for _, a := range []*app.App{alice, carol} {
		if n := len(a.Things()); n != 0 {
			t.Fatalf("%d things stored after failures", n)
		}
	}
}
