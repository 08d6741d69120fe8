package thing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/thingpost/thingpost/wire"
)

// A joiner whose address the thing cannot verify (no trusted
// Authentication-Results vouch that he sends from it) waits, without any
// rights, for the owner: the owner gets a join-request event and answers
// "confirm ADDRESS" or "revoke ADDRESS".

// bucketPending holds the joiners waiting for the owner, like the people.
var bucketPending = []byte("pending")

// EventJoinRequest is the event kind that asks the owner to confirm a joiner.
const EventJoinRequest = "join-request"

// ErrAddrTaken means a pending joiner's address belongs to another key
// meanwhile.
var ErrAddrTaken = errors.New("the address is paired with another key")

// Pending lists the joiners waiting for the owner.
func (s *Store) Pending() ([]Person, error) { return s.persons(bucketPending) }

// Confirm makes the pending joiner with this address or fingerprint a
// person at now; a guest's time starts then. It refuses when the address
// is paired with another key by now: the owner revokes that one first.
func (s *Store) Confirm(who string, now time.Time) (*Person, error) {
	var confirmed *Person
	err := s.db.Update(func(tx *bbolt.Tx) error {
		wb, pb := tx.Bucket(bucketPending), tx.Bucket(bucketPeople)
		var err error
		if confirmed, err = findPerson(wb, who); err != nil {
			return err
		}
		if confirmed == nil {
			return ErrNotFound
		}
		err = eachJSON(pb, "person", func(_ []byte, p Person) error {
			if p.Addr == confirmed.Addr && p.Fingerprint != confirmed.Fingerprint {
				return fmt.Errorf("%s: %w", p.Addr, ErrAddrTaken)
			}
			return nil
		})
		if err != nil {
			return err
		}
		p := confirmed
		if !p.Expires.IsZero() {
			p.Expires = now.Add(p.Expires.Sub(p.Since))
		}
		p.Since, p.Pending = now, false
		if err := wb.Delete([]byte(p.Fingerprint)); err != nil {
			return err
		}
		return putJSON(pb, []byte(p.Fingerprint), p)
	})
	if err != nil {
		return nil, err
	}
	return confirmed, nil
}

func (p *Person) user() wire.User {
	return wire.User{Addr: p.Addr, Fingerprint: p.Fingerprint, Role: p.Role, Expires: p.Expires, Pending: p.Pending}
}

// askOwner tells every owner that p waits for a confirmation.
func (a *Agent) askOwner(ctx context.Context, p *Person) error {
	people, err := a.store.People()
	if err != nil {
		return err
	}
	e := wire.Event{
		Kind: EventJoinRequest,
		Time: a.cfg.Now(),
		Text: fmt.Sprintf(`%s paired as %s with a code you gave out, but the mail server did not vouch for that address. `+
			`Send "confirm %s" to let them in, or "revoke %s" to refuse.`, p.Addr, p.Role, p.Addr, p.Addr),
		Values: wire.State{"addr": wire.StringValue(p.Addr), "fpr": wire.StringValue(p.Fingerprint), "role": wire.StringValue(string(p.Role))},
	}
	out, err := a.sealEvent(ctx, slices.DeleteFunc(people, func(o Person) bool { return o.Role != wire.RoleOwner }), e)
	if err != nil {
		return err
	}
	return a.send(ctx, out...)
}

// confirm is the owner's "confirm": the joiner gets his role and the
// welcome.
func (a *Agent) confirm(ctx context.Context, cmd wire.Command) wire.Reply {
	p, err := a.store.Confirm(cmd.Args[0], a.cfg.Now())
	switch {
	case errors.Is(err, ErrNotFound):
		return refuse(&cmd, wire.CodeBadValue, "nobody waits with %s", cmd.Args[0])
	case errors.Is(err, ErrAddrTaken):
		return refuse(&cmd, wire.CodeNotAllowed, "%v: revoke it first", err)
	case err != nil:
		return wire.Refusal(&cmd, err)
	}
	a.log.Info("paired", "addr", p.Addr, "fpr", p.Fingerprint, "role", p.Role, "confirmed", true)
	k, err := a.keys.get(p.Key)
	if err == nil {
		var welcome outboxEntry
		if welcome, err = a.seal(ctx, k, "", nil, wire.Reply{OK: true, Text: a.welcome(p), Users: []wire.User{p.user()}}); err == nil {
			err = a.send(ctx, welcome)
		}
	}
	if err != nil {
		a.log.Error("welcome after confirm", "addr", p.Addr, "err", err)
	}
	return wire.Reply{OK: true, Text: fmt.Sprintf("%s is %s now.", p.Addr, p.Role), Command: &cmd, Users: []wire.User{p.user()}}
}

// pendingUsers adds the waiting joiners to the answer to "users".
func (a *Agent) pendingUsers(r *wire.Reply, lines []string) ([]string, error) {
	pending, err := a.store.Pending()
	if err != nil {
		return nil, err
	}
	slices.SortFunc(pending, func(x, y Person) int { return strings.Compare(x.Addr, y.Addr) })
	for _, p := range pending {
		r.Users = append(r.Users, p.user())
		lines = append(lines, fmt.Sprintf("pending %s %s (%s): send \"confirm %s\" or \"revoke %s\"", p.Role, p.Addr, p.Fingerprint, p.Addr, p.Addr))
	}
	return lines, nil
}
