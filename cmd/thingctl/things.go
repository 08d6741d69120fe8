package main

// The paired things: things, history, rename, remove.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/thingpost/thingpost/app"
	"github.com/thingpost/thingpost/internal/cli"
	"github.com/thingpost/thingpost/wire"
)

func cmdThings(_ context.Context, g *globals, c *cli.Call) error {
	fs := c.Flags
	asJSON := fs.Bool("json", false, "print JSON")
	return g.withApp(c, func(a *app.App) error {
		ts := a.Things()
		if *asJSON {
			return g.printJSON(ts)
		}
		for _, t := range ts {
			seen := "never"
			if !t.LastSeen.IsZero() {
				seen = t.LastSeen.Local().Format(time.DateTime)
			}
			mark := ""
			if t.Unanswered > 0 {
				mark = " (not answering)"
			}
			fmt.Fprintf(g.stdout, "%s\t%s\t%s\t%s\t%s\tseen %s%s\n", t.DisplayName(), t.Kind, t.Addr, t.Role, stateText(t.State), seen, mark)
		}
		return nil
	})
}

func stateText(s wire.State) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func cmdHistory(ctx context.Context, g *globals, c *cli.Call) error {
	fs := c.Flags
	limit := fs.Int("limit", 20, "entries per page")
	before := fs.Uint64("before", 0, "show entries older than this sequence number (paging)")
	kind := fs.String("kind", "", "only command, reply, event, message or paired")
	grep := fs.String("grep", "", "only entries whose text contains this")
	asJSON := fs.Bool("json", false, "print JSON")
	return g.withThing(ctx, c, 1, 1, false, func(a *app.App, th app.Thing) error {
		q := app.HistoryQuery{Limit: *limit, Before: *before, Contains: *grep}
		if *kind != "" {
			q.Kinds = []app.EntryKind{app.EntryKind(*kind)}
		}
		page, err := a.History(ctx, th.ID, q)
		if err != nil {
			return err
		}
		if *asJSON {
			return g.printJSON(page)
		}
		g.printHistory(page)
		return nil
	})
}

func (g *globals) printHistory(page app.HistoryPage) {
	for _, e := range page.Entries {
		mark := "✓"
		if !e.Verified {
			mark = "?"
		}
		status := ""
		if e.Kind == app.EntryCommand {
			status = " [" + string(e.Status) + "]"
		}
		fmt.Fprintf(g.stdout, "%d\t%s\t%s %-7s %s%s\n", e.Seq, e.Time.Local().Format(time.DateTime), mark, e.Kind, strings.ReplaceAll(e.Text, "\n", " / "), status)
	}
	if page.Next != 0 {
		fmt.Fprintf(g.stdout, "(more: --before %d)\n", page.Next)
	}
}

func cmdRename(ctx context.Context, g *globals, c *cli.Call) error {
	return g.withThing(ctx, c, 2, -1, false, func(a *app.App, th app.Thing) error {
		_, err := a.Rename(ctx, th.ID, strings.Join(c.Args()[1:], " "))
		return err
	})
}

func cmdRemove(ctx context.Context, g *globals, c *cli.Call) error {
	fs := c.Flags
	force := fs.Bool("force", false, "forget the thing even if it does not answer")
	return g.withThing(ctx, c, 1, 1, true, func(a *app.App, th app.Thing) error {
		return a.Remove(ctx, th.ID, *force)
	})
}
