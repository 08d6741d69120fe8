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

	"github.com/thingpost/thingpost/app"
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
	host, d, err := g.runDemo(ctx, demo.RunOptions{Dir: *dir, Name: *name}, *pair)
	if err != nil {
		return err
	}
	defer host.Close()
	things, err := writeQRFiles(d)
	if err != nil {
		return err
	}
	g.printDemo(d, things, *asJSON)
	return g.doorConsole(ctx, d)
}

// runDemo runs the demo home for the app, whose profile the passphrase
// unlocks or makes, and with pair pairs the app with the demo's things.
// The app is closed when it returns: other thingctl commands need the data
// directory while the demo runs. The home runs until the Host is closed.
func (g *globals) runDemo(ctx context.Context, opts demo.RunOptions, pair bool) (*demo.Host, *demo.Demo, error) {
	a, err := g.open()
	if err != nil {
		return nil, nil, err
	}
	if opts.Passphrase, err = g.passphrase("Passphrase for your identity: "); err != nil {
		a.Close()
		return nil, nil, err
	}
	if _, found, _ := a.Profile(); found {
		if err := a.Unlock(ctx, opts.Passphrase); err != nil {
			a.Close()
			return nil, nil, err
		}
	}
	host := demo.NewHost(a, g.logger())
	d, err := host.Run(ctx, opts)
	if err == nil && pair {
		err = pairAll(ctx, a, d)
	}
	a.Close()
	if err != nil {
		host.Close()
		return nil, nil, err
	}
	return host, d, nil
}

// pairAll starts the app and pairs it with every thing of the demo.
func pairAll(ctx context.Context, a *app.App, d *demo.Demo) error {
	if err := a.Start(ctx); err != nil {
		return err
	}
	for _, t := range d.Things {
		if _, err := a.Pair(ctx, t.Invite); err != nil {
			return err
		}
	}
	return nil
}

// demoThing is a thing of the demo as "thingctl demo" prints it.
type demoThing struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Addr   string `json:"addr"`
	Invite string `json:"invite"`
	QRFile string `json:"qr_file"`
}

// writeQRFiles writes the QR code of each thing of the demo to a PNG file
// in the demo's directory.
func writeQRFiles(d *demo.Demo) ([]demoThing, error) {
	var out []demoThing
	for _, t := range d.Things {
		f := filepath.Join(d.Dir, "qr-"+t.Kind+".png")
		if err := os.WriteFile(f, t.QR, 0o600); err != nil {
			return nil, err
		}
		out = append(out, demoThing{t.Kind, t.Name, t.Addr, t.Invite, f})
	}
	return out, nil
}

func (g *globals) printDemo(d *demo.Demo, things []demoThing, asJSON bool) {
	if asJSON {
		b, _ := json.Marshal(map[string]any{"account": d.Person.Address, "things": things})
		fmt.Fprintln(g.stdout, string(b))
		return
	}
	fmt.Fprintf(g.stdout, "demo home running; your account %s is set in %s\n", d.Person.Address, g.data)
	for _, t := range things {
		fmt.Fprintf(g.stdout, "%-10s %s <%s>\n           %s\n           QR: %s\n", t.Kind, t.Name, t.Addr, t.Invite, t.QRFile)
	}
	fmt.Fprintln(g.stdout, `type "open" or "close" for the front door, "quit" to stop (or Ctrl-C)`)
}

// doorConsole opens and closes the demo's front door as the lines on
// standard input say, until "quit" or the end of ctx.
func (g *globals) doorConsole(ctx context.Context, d *demo.Demo) error {
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
