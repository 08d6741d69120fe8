package main

// The demo home: demo.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/thingpost/thingpost/demo"
	"github.com/thingpost/thingpost/internal/cli"
)

func cmdDemo(ctx context.Context, g *globals, c *cli.Call) error {
	fs := c.Flags
	dir := fs.String("dir", "", "demo home directory (default DATA/demo)")
	name := fs.String("name", "Me", "your display name, when a profile is made")
	pair := fs.Bool("pair", false, "also pair with the three things")
	asJSON := fs.Bool("json", false, "print the things as one JSON line")
	if err := c.Parse(0, 0); err != nil {
		return err
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	pw, err := g.passphrase("Passphrase for your identity: ")
	if err != nil {
		a.Close()
		return err
	}
	if _, found, _ := a.Profile(); found {
		if err := a.Unlock(ctx, pw); err != nil {
			a.Close()
			return err
		}
	}
	host := demo.NewHost(a, g.logger())
	defer host.Close()
	d, err := host.Run(ctx, demo.RunOptions{Dir: *dir, Name: *name, Passphrase: pw})
	if err != nil {
		a.Close()
		return err
	}
	if *pair {
		err = a.Start(ctx)
		for _, t := range d.Things {
			if err != nil {
				break
			}
			_, err = a.Pair(ctx, t.Invite)
		}
	}
	// Other thingctl commands need the data directory while the demo runs.
	a.Close()
	if err != nil {
		return err
	}
	type thingOut struct {
		Kind   string `json:"kind"`
		Name   string `json:"name"`
		Addr   string `json:"addr"`
		Invite string `json:"invite"`
		QRFile string `json:"qr_file"`
	}
	var out []thingOut
	for _, t := range d.Things {
		f := filepath.Join(d.Dir, "qr-"+t.Kind+".png")
		if err := os.WriteFile(f, t.QR, 0o600); err != nil {
			return err
		}
		out = append(out, thingOut{t.Kind, t.Name, t.Addr, t.Invite, f})
	}
	if *asJSON {
		b, _ := json.Marshal(map[string]any{"account": d.Person.Address, "things": out})
		fmt.Fprintln(g.stdout, string(b))
	} else {
		fmt.Fprintf(g.stdout, "demo home running; your account %s is set in %s\n", d.Person.Address, g.data)
		for _, t := range out {
			fmt.Fprintf(g.stdout, "%-10s %s <%s>\n           %s\n           QR: %s\n", t.Kind, t.Name, t.Addr, t.Invite, t.QRFile)
		}
		fmt.Fprintln(g.stdout, `type "open" or "close" for the front door, "quit" to stop (or Ctrl-C)`)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(g.stdin)
		for sc.Scan() {
			lines <- strings.TrimSpace(sc.Text())
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case l := <-lines:
			var err error
			switch l {
			case "open":
				err = d.OpenDoor()
			case "close":
				err = d.CloseDoor()
			case "quit", "exit":
				return nil
			case "":
				continue
			default:
				err = fmt.Errorf("unknown %q: open, close or quit", l)
			}
			if err != nil {
				fmt.Fprintln(g.stderr, err)
			} else {
				fmt.Fprintln(g.stdout, "ok")
			}
		}
	}
}
