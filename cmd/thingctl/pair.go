package main

// Pairing and the people of a thing: pair, invite, users, confirm, revoke.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/internal/cli"
	"github.com/thingpost/thingpost/wire"
)

func cmdPair(ctx context.Context, g *globals, c *cli.Call) error {
	fs := c.Flags
	asJSON := fs.Bool("json", false, "print the thing as JSON")
	if err := c.Parse(1, 1); err != nil {
		return err
	}
	a, err := g.connected(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	arg := c.Arg(0)
	var th app.Thing
	data, rerr := os.ReadFile(arg)
	switch ext := strings.ToLower(filepath.Ext(arg)); {
	case rerr == nil:
		th, err = a.PairImage(ctx, data)
	case ext == ".png" || ext == ".jpg" || ext == ".jpeg":
		return rerr
	default:
		th, err = a.Pair(ctx, arg)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return g.printJSON(th)
	}
	if th.Pending {
		fmt.Fprintf(g.stdout, "paired with %s <%s>; it waits for its owner to confirm you as %s (it could not verify your address); key %s\n", th.DisplayName(), th.Addr, th.Role, th.ID)
		return nil
	}
	fmt.Fprintf(g.stdout, "paired with %s <%s>, a %s; you are its %s; key %s\n", th.DisplayName(), th.Addr, th.Kind, th.Role, th.ID)
	return nil
}

func cmdInvite(ctx context.Context, g *globals, c *cli.Call) error {
	fs := c.Flags
	qr := fs.String("qr", "", "write the invite's QR code to this PNG file")
	asJSON := fs.Bool("json", false, "print JSON")
	return g.withThing(ctx, c, 1, 3, true, func(a *app.App, th app.Thing) error {
		inv, err := a.Invite(ctx, th.ID, wire.Role(c.Arg(1)), c.Arg(2))
		if err != nil {
			return err
		}
		if *qr != "" {
			if err := os.WriteFile(*qr, inv.QR, 0o600); err != nil {
				return err
			}
		}
		if *asJSON {
			return g.printJSON(inv)
		}
		fmt.Fprintf(g.stdout, "%s\n%s invite, works once until %s\n", inv.URL, inv.Role, inv.Expires.Local().Format(time.DateTime))
		return nil
	})
}

func cmdUsers(ctx context.Context, g *globals, c *cli.Call) error {
	fs := c.Flags
	asJSON := fs.Bool("json", false, "print JSON")
	return g.withThing(ctx, c, 1, 1, true, func(a *app.App, th app.Thing) error {
		users, err := a.Users(ctx, th.ID)
		if err != nil {
			return err
		}
		if *asJSON {
			return g.printJSON(users)
		}
		for _, u := range users {
			until := ""
			if !u.Expires.IsZero() {
				until = " until " + u.Expires.Local().Format(time.DateTime)
			}
			if u.Pending {
				until += " (waits for confirm or revoke)"
			}
			fmt.Fprintf(g.stdout, "%s\t%s\t%s%s\n", u.Role, u.Addr, u.Fingerprint, until)
		}
		return nil
	})
}

func cmdConfirm(ctx context.Context, g *globals, c *cli.Call) error {
	return g.withThing(ctx, c, 2, 2, true, func(a *app.App, th app.Thing) error {
		if err := a.Confirm(ctx, th.ID, c.Arg(1)); err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "%s may use %s now\n", c.Arg(1), th.DisplayName())
		return nil
	})
}

func cmdRevoke(ctx context.Context, g *globals, c *cli.Call) error {
	return g.withThing(ctx, c, 2, 2, true, func(a *app.App, th app.Thing) error {
		if err := a.Revoke(ctx, th.ID, c.Arg(1)); err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "%s can no longer use %s\n", c.Arg(1), th.DisplayName())
		return nil
	})
}
