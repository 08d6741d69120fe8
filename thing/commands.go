package thing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/thingpost/thingpost/envelope"
	"github.com/thingpost/thingpost/securejoin"
	"github.com/thingpost/thingpost/thing/driver"
	"github.com/thingpost/thingpost/wire"
)

// refuse builds a refusal with a code and a reason for the person.
func refuse(cmd *wire.Command, code wire.Code, format string, args ...any) wire.Reply {
	reason := fmt.Sprintf(format, args...)
	return wire.Reply{Code: code, Reason: reason, Text: "Refused: " + reason, Command: cmd}
}

// command reads the command of an authenticated message: the machine form
// when the app sent one, else the text a person wrote.
func (a *Agent) command(msg *envelope.Message) (wire.Command, error) {
	if v := msg.Header.Get(wire.HeaderName); v != "" {
		wm, err := wire.Decode(v)
		if err != nil {
			return wire.Command{}, err
		}
		if wm.Command == nil {
			return wire.Command{}, fmt.Errorf("%w: a %s header without a command", wire.ErrBadMessage, wire.HeaderName)
		}
		return *wm.Command, nil
	}
	return a.dev.Capabilities().ParseCommand(msg.Text)
}

// prepare checks an authenticated message for person without acting: it
// returns the action that carries the command out, or the refusal. The
// sender is authenticated, so a refusal is answered: telling him why helps
// and tells an attacker nothing.
func (a *Agent) prepare(p *Person, msg *envelope.Message) (run func(context.Context) wire.Reply, refusal *wire.Reply) {
	cmd, err := a.command(msg)
	if err != nil {
		r := wire.Refusal(nil, err)
		return nil, &r
	}
	if !a.allowed(p, cmd) {
		r := refuse(&cmd, wire.CodeNotAllowed, "%q is not allowed for a %s", cmd.Name, p.Role)
		return nil, &r
	}
	switch cmd.Class() {
	case wire.ClassAgent:
		return func(context.Context) wire.Reply { return a.agentCommand(p, cmd) }, nil
	case wire.ClassOwner:
		return func(ctx context.Context) wire.Reply { return a.ownerCommand(ctx, cmd) }, nil
	}
	call, err := a.dev.Capabilities().Resolve(cmd)
	if err != nil {
		r := wire.Refusal(&cmd, err)
		return nil, &r
	}
	return func(ctx context.Context) wire.Reply {
		a.log.Info("command", "from", p.Addr, "role", p.Role, "cmd", cmd.String())
		st, err := a.dev.Do(ctx, call)
		if err != nil {
			r := wire.Refusal(&cmd, err)
			if errors.Is(err, driver.ErrOffline) {
				// Not a failure of the command: the person may try again.
				r.Code = wire.CodeUnavailable
			}
			return r
		}
		return wire.Reply{OK: true, Text: st.Text, Command: &cmd, State: st.State}
	}, nil
}

// allowed applies the roles: the owner may do everything; members every
// device and agent command; guests the agent commands and the device
// commands of guest_commands (all device commands when not configured).
func (a *Agent) allowed(p *Person, cmd wire.Command) bool {
	switch {
	case p.Role == wire.RoleOwner:
		return true
	case cmd.Class() == wire.ClassOwner:
		return false
	case cmd.Class() == wire.ClassAgent || p.Role == wire.RoleMember:
		return true
	case p.Role == wire.RoleGuest:
		return a.cfg.GuestCommands == nil || slices.Contains(a.cfg.GuestCommands, cmd.Name)
	}
	return false
}

func (a *Agent) agentCommand(p *Person, cmd wire.Command) wire.Reply {
	switch cmd.Name {
	case "status":
		st := a.dev.Status()
		text := st.Text
		if p.Role == wire.RoleOwner {
			text += a.quarantineSummary()
		}
		return wire.Reply{OK: true, Text: text, Command: &cmd, State: st.State}
	case "describe":
		caps := a.dev.Capabilities()
		caps.Name = a.name()
		st := a.dev.Status()
		return wire.Reply{OK: true, Text: fmt.Sprintf("I am %s, a %s.", a.name(), caps.Kind), Command: &cmd, Capabilities: caps, State: st.State}
	case "leave":
		// Anyone may give up his own access; an owner who leaves puts the
		// thing back to factory state (its printed code works again).
		if _, err := a.store.RemovePerson(p.Fingerprint); err != nil {
			return wire.Refusal(&cmd, err)
		}
		a.log.Info("left", "addr", p.Addr, "fpr", p.Fingerprint, "role", p.Role)
		return wire.Reply{OK: true, Text: "Goodbye: you can no longer use me.", Command: &cmd}
	case "subscribe", "unsubscribe":
		p.Subscribed = cmd.Name == "subscribe"
		if err := a.store.PutPerson(*p); err != nil {
			return wire.Refusal(&cmd, err)
		}
		text := "You will get my events."
		if !p.Subscribed {
			text = "You will no longer get my events."
		}
		return wire.Reply{OK: true, Text: text, Command: &cmd}
	}
	return wire.Reply{OK: true, Text: a.help(p, cmd), Command: &cmd}
}

// help lists what this person may send, one command per line.
func (a *Agent) help(p *Person, cmd wire.Command) string {
	caps := a.dev.Capabilities()
	if len(cmd.Args) == 1 {
		if u := wire.Usage(cmd.Args[0]); u != "" {
			return "Usage: " + u
		}
		if spec, ok := caps.Command(cmd.Args[0]); ok {
			return "Usage: " + spec.Usage()
		}
		return fmt.Sprintf("I do not know %q.", cmd.Args[0])
	}
	var lines []string
	for _, name := range wire.Builtins() {
		c := wire.Command{Name: name}
		if c.Class() == wire.ClassDevice {
			if _, err := caps.Resolve(deviceProbe(name, caps)); err != nil {
				continue
			}
		}
		if a.allowed(p, c) {
			lines = append(lines, "  "+wire.Usage(name))
		}
	}
	for _, spec := range caps.Commands {
		if a.allowed(p, wire.Command{Name: spec.Name}) {
			lines = append(lines, "  "+spec.Usage())
		}
	}
	var props []string
	for _, pr := range caps.Properties {
		if pr.Writable {
			props = append(props, pr.Name)
		}
	}
	s := fmt.Sprintf("I am %s. You can send me:\n%s", a.name(), strings.Join(lines, "\n"))
	if len(props) > 0 {
		s += "\nSettable: " + strings.Join(props, ", ") + "."
	}
	return s
}

// deviceProbe is a command that Resolve accepts if and only if the device
// offers the built-in device command name.
func deviceProbe(name string, caps *wire.Capabilities) wire.Command {
	if name != "set" {
		return wire.Command{Name: name}
	}
	for _, pr := range caps.Properties {
		if pr.Writable {
			return wire.Command{Name: "set", Args: []string{pr.Name, "x"}}
		}
	}
	return wire.Command{Name: "set", Args: []string{"", ""}}
}

func (a *Agent) ownerCommand(ctx context.Context, cmd wire.Command) wire.Reply {
	switch cmd.Name {
	case "users":
		return a.users(cmd)
	case "revoke":
		removed, err := a.store.RemovePerson(cmd.Args[0])
		if errors.Is(err, ErrNotFound) {
			return refuse(&cmd, wire.CodeBadValue, "I do not know %s", cmd.Args[0])
		}
		if err != nil {
			return wire.Refusal(&cmd, err)
		}
		a.log.Info("revoked", "addr", removed.Addr, "fpr", removed.Fingerprint)
		return wire.Reply{OK: true, Text: fmt.Sprintf("%s can no longer use me.", removed.Addr), Command: &cmd}
	case "role":
		return a.setRole(cmd)
	case "rename":
		if err := a.store.SetName(cmd.Args[0]); err != nil {
			return wire.Refusal(&cmd, err)
		}
		a.cfg.Name = cmd.Args[0]
		return wire.Reply{OK: true, Text: fmt.Sprintf("I am %s now.", a.cfg.Name), Command: &cmd}
	case "invite":
		return a.newInvite(cmd)
	case "confirm":
		return a.confirm(ctx, cmd)
	}
	return refuse(&cmd, wire.CodeUnknownCommand, "unknown command %q", cmd.Name)
}

func (a *Agent) users(cmd wire.Command) wire.Reply {
	people, err := a.store.People()
	if err != nil {
		return wire.Refusal(&cmd, err)
	}
	slices.SortFunc(people, func(x, y Person) int { return strings.Compare(string(x.Role)+x.Addr, string(y.Role)+y.Addr) })
	r := wire.Reply{OK: true, Command: &cmd}
	var lines []string
	for _, p := range people {
		r.Users = append(r.Users, p.user())
		line := fmt.Sprintf("%s %s (%s)", p.Role, p.Addr, p.Fingerprint)
		if !p.Expires.IsZero() {
			line += " until " + p.Expires.UTC().Format(time.RFC3339)
		}
		lines = append(lines, line)
	}
	if lines, err = a.pendingUsers(&r, lines); err != nil {
		return wire.Refusal(&cmd, err)
	}
	r.Text = "Users:\n" + strings.Join(lines, "\n")
	return r
}

func (a *Agent) setRole(cmd wire.Command) wire.Reply {
	who, role := cmd.Args[0], wire.Role(cmd.Args[1])
	people, err := a.store.People()
	if err != nil {
		return wire.Refusal(&cmd, err)
	}
	for _, p := range people {
		if p.Addr != who && p.Fingerprint != who {
			continue
		}
		if p.Role == wire.RoleOwner {
			return refuse(&cmd, wire.CodeNotAllowed, "the owner keeps the owner role")
		}
		p.Role, p.Expires = role, time.Time{}
		if len(cmd.Args) == 3 {
			d, err := wire.ParseExpiry(cmd.Args[2])
			if err != nil {
				return wire.Refusal(&cmd, err)
			}
			p.Expires = a.cfg.Now().Add(d)
		}
		if err := a.store.PutPerson(p); err != nil {
			return wire.Refusal(&cmd, err)
		}
		return wire.Reply{OK: true, Text: fmt.Sprintf("%s is %s now.", p.Addr, p.Role), Command: &cmd}
	}
	return refuse(&cmd, wire.CodeBadValue, "I do not know %s", who)
}

// newInvite opens a one-time code that expires after InviteTTL.
func (a *Agent) newInvite(cmd wire.Command) wire.Reply {
	t := Token{InviteNumber: securejoin.NewToken(), Auth: securejoin.NewToken(), Role: wire.RoleMember,
		Expires: a.cfg.Now().Add(a.cfg.InviteTTL)}
	if len(cmd.Args) > 0 {
		t.Role = wire.Role(cmd.Args[0])
	}
	if len(cmd.Args) > 1 {
		d, err := wire.ParseExpiry(cmd.Args[1])
		if err != nil {
			return wire.Refusal(&cmd, err)
		}
		t.For = d
	}
	if err := a.store.PutToken(t); err != nil {
		return wire.Refusal(&cmd, err)
	}
	url := a.invite(&t).URL()
	inv := &wire.Invite{URL: url, Role: t.Role, Expires: t.Expires}
	text := fmt.Sprintf("Here is a %s invite; it works once, until %s:\n%s", t.Role, t.Expires.UTC().Format("15:04 MST"), url)
	if t.For > 0 {
		inv.For = wire.FormatExpiry(t.For)
		text = fmt.Sprintf("Here is a %s invite for %s; it works once, until %s:\n%s", t.Role, inv.For, t.Expires.UTC().Format("15:04 MST"), url)
	}
	return wire.Reply{OK: true, Text: text, Command: &cmd, Invite: inv}
}
