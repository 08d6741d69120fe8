package main

// Commands and events: send, watch.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/internal/cli"
)

func cmdSend(ctx context.Context, g *globals, c *cli.Call) error {
	fs := c.Flags
	timeout := fs.Duration("timeout", app.DefaultCommandTimeout, "how long to wait for the answer")
	asJSON := fs.Bool("json", false, "print the command and its outcome as JSON")
	err := g.withThing(ctx, c, 2, -1, true, func(a *app.App, th app.Thing) error {
		cmd, err := a.Send(ctx, th.ID, strings.Join(c.Args()[1:], " "), *timeout)
		if err != nil {
			return err
		}
		cmd, err = a.Wait(ctx, cmd.ID)
		if *asJSON {
			if jerr := g.printJSON(cmd); jerr != nil {
				return cli.Exit(cli.ExitFailure, jerr)
			}
		} else if cmd.Reply != nil {
			fmt.Fprintln(g.stdout, cmd.Reply.Text)
		}
		if errors.Is(err, app.ErrRefused) {
			return cli.Exit(exitRefused, err)
		}
		return err
	})
	// Any other failure, from a bad command line (whose message stays a
	// usage error's) to an expired command, is exitFailed.
	var ee *cli.ExitError
	if err == nil || errors.As(err, &ee) {
		return err
	}
	return cli.Exit(exitFailed, err)
}

func cmdWatch(ctx context.Context, g *globals, c *cli.Call) error {
	fs := c.Flags
	asJSON := fs.Bool("json", false, "print one JSON object per event")
	if err := c.Parse(0, 0); err != nil {
		return err
	}
	a, err := g.unlocked(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	events, stop := a.Events()
	defer stop()
	if err := g.start(ctx, a); err != nil {
		return err
	}
	enc := json.NewEncoder(g.stdout)
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-events:
			if *asJSON {
				if err := enc.Encode(e); err != nil {
					return err
				}
				continue
			}
			if line := eventText(a, e); line != "" {
				fmt.Fprintf(g.stdout, "%s %s\n", e.Time.Local().Format(time.TimeOnly), line)
			}
		}
	}
}

func eventText(a *app.App, e app.Event) string {
	name := e.ThingID
	if t, err := a.Thing(e.ThingID); err == nil {
		name = t.DisplayName()
	}
	switch e.Kind {
	case app.EventConnection:
		if e.Conn.Err != "" {
			return fmt.Sprintf("connection %s: %s", e.Conn.State, e.Conn.Err)
		}
		return "connection " + string(e.Conn.State)
	case app.EventPairing:
		if e.Pairing.Err != "" {
			return fmt.Sprintf("pairing with %s failed: %s", e.Pairing.ThingAddr, e.Pairing.Err)
		}
		return fmt.Sprintf("pairing with %s: %s", e.Pairing.ThingAddr, e.Pairing.Step)
	case app.EventCommand:
		s := fmt.Sprintf("%s: %q %s", name, e.Command.Command.String(), e.Command.Status)
		if e.Command.Reply != nil {
			s += ": " + e.Command.Reply.Text
		} else if e.Command.Error != "" {
			s += ": " + e.Command.Error
		}
		return s
	case app.EventThingEvent:
		return fmt.Sprintf("%s says: %s", name, e.Entry.Text)
	case app.EventThingRemoved:
		return name + " removed"
	}
	return ""
}
