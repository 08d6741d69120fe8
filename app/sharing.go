package app

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/thingpost/thingpost/internal/qr"
	"github.com/thingpost/thingpost/wire"
)

// Invite asks the thing (we must be its owner) for a one-time code for
// another person with role (member or guest), the role lasting roleFor
// (0: no end; at least a minute). The code expires after the thing's
// invite time (15 minutes by default).
func (a *App) Invite(ctx context.Context, thingID string, role wire.Role, roleFor string) (Invite, error) {
	cmd := wire.Command{Name: "invite"}
	if role != "" {
		cmd.Args = append(cmd.Args, string(role))
	}
	if roleFor != "" {
		if role == "" {
			return Invite{}, errors.New("invite: a duration needs a role")
		}
		d, err := wire.ParseExpiry(roleFor)
		if err != nil {
			return Invite{}, fmt.Errorf("invite: %w", err)
		}
		cmd.Args = append(cmd.Args, wire.FormatExpiry(d))
	}
	c, err := a.do(ctx, thingID, cmd)
	if err != nil {
		return Invite{}, fmt.Errorf("invite: %w", err)
	}
	inv := c.Reply.Invite
	if inv == nil {
		return Invite{}, fmt.Errorf("invite: the thing's answer has no invite: %q", c.Reply.Text)
	}
	out := Invite{URL: inv.URL, Role: inv.Role, Expires: inv.Expires, QR: c.Image}
	if inv.For != "" {
		if out.For, err = wire.ParseExpiry(inv.For); err != nil {
			return Invite{}, fmt.Errorf("invite: %w", err)
		}
	}
	if out.QR == nil {
		if out.QR, err = qr.Encode(inv.URL, qr.Size); err != nil {
			return Invite{}, err
		}
	}
	return out, nil
}

// Users asks the thing (we must be its owner) who may use it.
func (a *App) Users(ctx context.Context, thingID string) ([]wire.User, error) {
	c, err := a.do(ctx, thingID, wire.Command{Name: "users"})
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	return c.Reply.Users, nil
}

// Revoke takes the thing away from a person (address or fingerprint); for
// a joiner waiting for confirmation it refuses him.
func (a *App) Revoke(ctx context.Context, thingID, who string) error {
	return a.aboutPerson(ctx, thingID, "revoke", who)
}

// Confirm lets in a joiner who waits for the owner (a "join-request" event,
// a pending entry in Users): the thing could not verify that the address
// is his, so only confirm someone you know paired just now.
func (a *App) Confirm(ctx context.Context, thingID, who string) error {
	return a.aboutPerson(ctx, thingID, "confirm", who)
}

// aboutPerson sends an owner command whose one argument names a person.
func (a *App) aboutPerson(ctx context.Context, thingID, name, who string) error {
	cmd := wire.Command{Name: name, Args: []string{who}}
	if _, err := a.parseCanonical(cmd); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if _, err := a.do(ctx, thingID, cmd); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// parseCanonical checks a command built from arguments by reading its text
// back, so that an address with a space cannot smuggle another argument.
func (a *App) parseCanonical(cmd wire.Command) (wire.Command, error) {
	back, err := wire.ParseCommand(cmd.String())
	if err != nil {
		return back, err
	}
	if !back.Equal(cmd) {
		return back, fmt.Errorf("%w: %q", wire.ErrBadCommand, cmd.String())
	}
	return back, nil
}

// do sends a command and waits for the answer.
func (a *App) do(ctx context.Context, thingID string, cmd wire.Command) (Command, error) {
	c, err := a.sendCommand(ctx, thingID, cmd, 0)
	if err != nil {
		return c, err
	}
	return a.Wait(ctx, c.ID)
}

// Remove unpairs a thing. It first asks the thing to let us go and waits
// for the answer: as owner it revokes us (the thing returns to its factory
// state, and its printed code pairs again); as member or guest, or when
// our role is unknown, it sends "leave" (the thing drops us from its
// users). A guest whose time is up is not asked: the thing ignores him
// already. Then Remove forgets the thing, its key and its history here.
// When the thing refuses or does not answer, Remove fails and keeps it,
// unless force is set.
func (a *App) Remove(ctx context.Context, thingID string, force bool) error {
	id, err := a.identity()
	if err != nil {
		return err
	}
	th, err := a.Thing(thingID)
	if err != nil {
		return err
	}
	cmd := wire.Command{Name: "leave"}
	if th.Role == wire.RoleOwner {
		cmd = wire.Command{Name: "revoke", Args: []string{id.Fingerprint().String()}}
	}
	if th.RoleExpires.IsZero() || a.now().Before(th.RoleExpires) {
		if _, err := a.do(ctx, thingID, cmd); err != nil && !force {
			return fmt.Errorf("remove: the thing did not let us go (%w); remove with force to forget it anyway", err)
		}
	}
	if err := a.st.db.Update(func(tx *bbolt.Tx) error { return deleteThing(tx, thingID) }); err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	a.mu.Lock()
	delete(a.things, thingID)
	// Waiters on the thing's commands find them gone and return.
	ws := a.waiters
	a.waiters = map[string][]chan struct{}{}
	a.mu.Unlock()
	for _, chs := range ws {
		for _, ch := range chs {
			close(ch)
		}
	}
	a.emit(Event{Kind: EventThingRemoved, ThingID: thingID})
	return nil
}
