package app

import (
	"context"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/thingpost/thingpost/wire"
)

func TestRoleFromUsers(t *testing.T) {
	const me, other = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
	end := time.Date(2026, 3, 1, 12, 0, 30, 5, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		name    string
		users   []wire.User
		ok      bool
		role    wire.Role
		expires time.Time
	}{
		{"welcome", []wire.User{{Fingerprint: me, Role: wire.RoleMember}}, true, wire.RoleMember, time.Time{}},
		{"guest with an end, in UTC", []wire.User{{Fingerprint: me, Role: wire.RoleGuest, Expires: end}}, true, wire.RoleGuest, end.UTC()},
		{"lower-case fingerprint", []wire.User{{Fingerprint: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Role: wire.RoleOwner}}, true, wire.RoleOwner, time.Time{}},
		{"users list", []wire.User{{Fingerprint: other, Role: wire.RoleOwner}, {Fingerprint: me, Role: wire.RoleGuest}}, true, wire.RoleGuest, time.Time{}},
		{"not us", []wire.User{{Fingerprint: other, Role: wire.RoleOwner}}, false, "", time.Time{}},
		{"unknown role", []wire.User{{Fingerprint: me, Role: "admin"}}, false, "", time.Time{}},
		{"none", nil, false, "", time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th := Thing{}
			ok := roleFromUsers(&th, tc.users, me)
			if ok != tc.ok || th.Role != tc.role || !th.RoleExpires.Equal(tc.expires) || th.RoleExpires.Location() != time.UTC {
				t.Fatalf("got %v, %q until %v; want %v, %q until %v", ok, th.Role, th.RoleExpires, tc.ok, tc.role, tc.expires)
			}
		})
	}
	// A role that ends no more clears an earlier end.
	th := Thing{Role: wire.RoleGuest, RoleExpires: end}
	if !roleFromUsers(&th, []wire.User{{Fingerprint: me, Role: wire.RoleMember}}, me) || th.Role != wire.RoleMember || !th.RoleExpires.IsZero() {
		t.Fatalf("%+v", th)
	}
}

// TestHeldOfUnpairedThing: a message held for a pairing that never
// finished stays while pairings may run, and is dropped at a start.
func TestHeldOfUnpairedThing(t *testing.T) {
	a, err := Open(Options{Dir: t.TempDir(), Secrets: NoKeyring{}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	key := []byte("0123456789ABCDEF0123456789ABCDEF01234567/x")
	put := func() {
		if err := a.st.db.Update(func(tx *bbolt.Tx) error {
			return putJSON(tx.Bucket(bucketHeld), key, heldMsg{Raw: []byte("From: x\r\n\r\nhi"), Time: time.Now()})
		}); err != nil {
			t.Fatal(err)
		}
	}
	held := func() bool {
		var found bool
		a.st.db.View(func(tx *bbolt.Tx) error {
			found = tx.Bucket(bucketHeld).Get(key) != nil
			return nil
		})
		return found
	}
	put()
	a.applyHeld(context.Background(), false)
	if !held() {
		t.Fatal("dropped while a pairing may still run")
	}
	a.applyHeld(context.Background(), true)
	if held() {
		t.Fatal("kept at a start")
	}
	put()
	a.dropHeld(context.Background(), "0123456789ABCDEF0123456789ABCDEF01234567")
	if held() {
		t.Fatal("kept after its pairing failed")
	}
}
