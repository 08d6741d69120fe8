package demo_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/thingpost/thingpost/demo"
	"github.com/thingpost/thingpost/transport"
)

// TestReopen: a demo started again in its directory keeps its things'
// keys and codes and its ports, and gives the person a working account.
func TestReopen(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	d, err := demo.Start(ctx, demo.Options{Dir: dir, Logger: log, Person: "alice@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Things) != 3 || len(d.Things[0].QR) == 0 || d.Person.Address != "alice@example.org" {
		t.Fatalf("demo %+v", d)
	}
	first := map[string]string{}
	for _, th := range d.Things {
		first[th.Kind] = th.Invite
	}
	smtp, imap := d.Home.SMTPAddr(), d.Person.IMAP.HostPort
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}

	d, err = demo.Start(ctx, demo.Options{Dir: dir, Logger: log, Person: "alice@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	for _, th := range d.Things {
		if th.Invite != first[th.Kind] {
			t.Errorf("%s: code changed across a restart", th.Kind)
		}
	}
	if d.Home.SMTPAddr() != smtp || d.Person.IMAP.HostPort != imap {
		t.Errorf("ports changed: %s %s -> %s %s", smtp, imap, d.Home.SMTPAddr(), d.Person.IMAP.HostPort)
	}
	if err := transport.Check(ctx, d.Person); err != nil {
		t.Fatalf("the person's account after the restart: %v", err)
	}
	if err := d.OpenDoor(); err == nil {
		t.Fatal("opened a locked door")
	}
}
