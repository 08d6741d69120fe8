package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/thingpost/thingpost/envelope"
	"github.com/thingpost/thingpost/internal/qr"
	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/securejoin"
	"github.com/thingpost/thingpost/transport"
	"github.com/thingpost/thingpost/wire"
)

// pairing is one Securejoin run as joiner.
type pairing struct {
	id       string
	inv      *securejoin.Invite
	deadline time.Time

	mu       sync.Mutex
	j        *securejoin.Joiner
	verified bool
	done     bool
	joined   chan struct{} // closed once the thing is stored
	storeErr error
	// wrong is closed when the inviter's key is not the code's: the
	// pairing fails at once instead of waiting for its timeout.
	wrong    chan struct{}
	wrongErr error
}

// Pair pairs with the thing of a scanned or pasted invite code (an
// i.delta.chat link or OPENPGP4FPR: URI): Securejoin v3 when the code says
// v=3, legacy otherwise; the thing's key must have the code's fingerprint.
// Then it asks the thing to describe itself and stores its capabilities.
// Progress and failure are published as EventPairing. It gives up after
// Options.PairTimeout (2 minutes) with a reason.
//
// A code that is not an invite fails with an error wrapping ErrNotInvite
// (and ErrContactCode for a person's contact code), ErrBadInvite or
// ErrGroupInvite.
func (a *App) Pair(ctx context.Context, code string) (Thing, error) {
	inv, err := parseInvite(code)
	if err != nil {
		return Thing{}, fmt.Errorf("pair: %w", err)
	}
	id, err := a.identity()
	if err != nil {
		return Thing{}, err
	}
	if inv.Fingerprint == id.Fingerprint() {
		return Thing{}, fmt.Errorf("pair: %w: this is your own code", errPairing)
	}
	r := a.running()
	if r == nil {
		return Thing{}, fmt.Errorf("pair: %w", ErrNotRunning)
	}
	ctx, cancel := context.WithTimeout(ctx, a.opts.PairTimeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	p := &pairing{id: securejoin.NewToken(), inv: inv, deadline: deadline,
		j: securejoin.NewJoiner(id, inv, a.now), joined: make(chan struct{}), wrong: make(chan struct{})}

	p.mu.Lock()
	out, err := p.j.Start(ctx)
	p.mu.Unlock()
	if err != nil {
		return a.pairFailed(ctx, p, "cannot start the handshake", err)
	}
	a.mu.Lock()
	a.pairings[p.id] = p
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.pairings, p.id)
		a.mu.Unlock()
	}()
	if err := a.queueRaw(out.MessageID, out.To, out.Raw, deadline); err != nil {
		return a.pairFailed(ctx, p, "cannot queue the handshake", err)
	}
	a.emitPairing(p.status(), PairRequested)
	if reason, cause := a.awaitJoin(ctx, p, r); reason != "" {
		return a.pairFailed(ctx, p, reason, cause)
	}
	return a.describePaired(ctx, p)
}

// awaitJoin waits until the thing of a pairing confirmed it and is stored;
// otherwise it says why not, for people, and what caused it.
func (a *App) awaitJoin(ctx context.Context, p *pairing, r *running) (reason string, cause error) {
	addr := p.inv.Addr
	select {
	case <-p.joined:
		if p.storeErr != nil {
			return "cannot store the thing", p.storeErr
		}
		return "", nil
	case <-ctx.Done():
		p.mu.Lock()
		verified := p.verified
		p.done = true
		p.mu.Unlock()
		if errors.Is(ctx.Err(), context.Canceled) {
			return "cancelled", ctx.Err()
		}
		if verified {
			return fmt.Sprintf("%s sent its key but did not confirm within %s", addr, a.opts.PairTimeout), nil
		}
		return fmt.Sprintf("no answer from %s within %s: the thing may be offline, or the code was already used or has expired", addr, a.opts.PairTimeout), nil
	case <-p.wrong:
		return fmt.Sprintf("the key of %s is not the one in the code: do not trust this code", addr), p.wrongErr
	case <-r.stopped:
		return "the app was stopped", nil
	}
}

// pendingPoll is how often describePaired looks whether the welcome said
// that we wait for the owner.
const pendingPoll = 250 * time.Millisecond

// describePaired asks the thing just paired to describe itself, within
// the pairing's time, and returns it with its capabilities. A thing whose
// welcome says we wait for its owner's confirmation (Thing.Pending)
// answers nothing until then: it is returned as it is.
func (a *App) describePaired(ctx context.Context, p *pairing) (Thing, error) {
	thingID := p.inv.Fingerprint.String()
	c, err := a.sendCommand(ctx, thingID, wire.Command{Name: "describe"}, time.Until(p.deadline))
	for err == nil {
		wctx, cancel := context.WithTimeout(ctx, pendingPoll)
		_, err = a.Wait(wctx, c.ID)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			break
		}
		if t, terr := a.Thing(thingID); terr == nil && t.Pending {
			return t, nil
		}
		err = nil
	}
	if err != nil {
		t, _ := a.Thing(thingID)
		_, ferr := a.pairFailed(ctx, p, "paired, but the thing did not describe itself", err)
		return t, ferr
	}
	t, err := a.Thing(thingID)
	if err != nil {
		return a.pairFailed(ctx, p, "the thing was removed meanwhile", err)
	}
	s := p.status()
	s.Step, s.ThingName = PairDescribed, t.DisplayName()
	a.emit(Event{Kind: EventPairing, ThingID: t.ID, Pairing: &s})
	return t, nil
}

// pairFailed ends a pairing that failed for reason (for people), caused by
// cause (nil: none to wrap): what was held for a thing not paired is
// dropped, and the failure is published.
func (a *App) pairFailed(ctx context.Context, p *pairing, reason string, cause error) (Thing, error) {
	thingID := p.inv.Fingerprint.String()
	if _, err := a.Thing(thingID); err != nil {
		a.dropHeld(context.WithoutCancel(ctx), thingID)
	}
	s := p.status()
	s.Err = reason
	a.emitPairing(s, PairFailed)
	if cause != nil {
		return Thing{}, fmt.Errorf("%w: %s: %w", errPairing, reason, cause)
	}
	return Thing{}, fmt.Errorf("%w: %s", errPairing, reason)
}

// PairImage pairs with the code in a picture (PNG or JPEG): see Pair. A
// picture without a readable code fails with an error wrapping
// qr.ErrNoCode, data that is no picture with qr.ErrBadImage (package
// internal/qr).
func (a *App) PairImage(ctx context.Context, image []byte) (Thing, error) {
	code, err := qr.Decode(image)
	if err != nil {
		return Thing{}, fmt.Errorf("pair: %w", err)
	}
	return a.Pair(ctx, code)
}

func (a *App) emitPairing(s PairingStatus, step PairingStep) {
	s.Step = step
	a.emit(Event{Kind: EventPairing, Pairing: &s})
}

// queueRaw puts a handshake message into the outbox.
func (a *App) queueRaw(id, to string, raw []byte, deadline time.Time) error {
	err := a.st.db.Update(func(tx *bbolt.Tx) error {
		return putOut(tx, &outItem{ID: id, To: []string{to}, Raw: raw, Deadline: deadline})
	})
	if err != nil {
		return err
	}
	kick(a.outKick)
	return nil
}

// offerToPairings hands a message that is not from a paired thing to the
// pairings waiting for the sender; it reports whether one took it.
func (a *App) offerToPairings(ctx context.Context, raw []byte) bool {
	from := senderAddr(raw)
	a.mu.RLock()
	var ps []*pairing
	for _, p := range a.pairings {
		if p.inv.Addr == from {
			ps = append(ps, p)
		}
	}
	a.mu.RUnlock()
	for _, p := range ps {
		if a.step(ctx, p, raw) {
			return true
		}
	}
	return false
}

// step gives one message to a pairing's joiner.
func (a *App) step(ctx context.Context, p *pairing, raw []byte) bool {
	p.mu.Lock()
	taken, joined := a.stepLocked(ctx, p, raw)
	p.mu.Unlock()
	if joined {
		if p.storeErr == nil {
			// Outside p.mu: what was held goes through the inbox handler.
			a.applyHeld(ctx, false)
		}
		close(p.joined)
		if p.storeErr == nil {
			a.emitPairing(p.status(), PairJoined)
		}
	}
	return taken
}

// stepLocked is step under p.mu. It reports whether the message was
// taken, and whether the thing confirmed the pairing with it.
func (a *App) stepLocked(ctx context.Context, p *pairing, raw []byte) (taken, joined bool) {
	if p.done {
		return false, false
	}
	out, err := p.j.Handle(ctx, raw)
	if errors.Is(err, securejoin.ErrWrongKey) {
		a.log.Warn("pairing: the inviter's key is not the code's", "thing", p.inv.Addr, "err", err)
		p.done, p.wrongErr = true, err
		close(p.wrong)
		return true, false
	}
	if errors.Is(err, securejoin.ErrNotHandshake) && p.j.Peer() != nil {
		// Signed by the thing's verified key, and not its confirm: the
		// welcome, which a mail server may deliver before the confirm.
		return a.hold(ctx, p, raw), false
	}
	if err != nil {
		a.log.Debug("not a step of this pairing", "thing", p.inv.Addr, "err", err)
		return false, false
	}
	if !p.verified && p.j.Peer() != nil {
		p.verified = true
		a.emitPairing(p.status(), PairVerified)
	}
	if out != nil {
		if err := a.queueRaw(out.MessageID, out.To, out.Raw, p.deadline); err != nil {
			a.log.Error("queue handshake step", "err", err)
		}
	}
	if p.j.Done() {
		p.done = true
		p.storeErr = a.storePaired(p)
		return true, true
	}
	return true, false
}

func (p *pairing) status() PairingStatus {
	return PairingStatus{ID: p.id, ThingAddr: p.inv.Addr, ThingName: p.inv.Name, Fingerprint: p.inv.Fingerprint.String()}
}

// hold keeps a message the thing of a pairing sent before its
// vc-contact-confirm (in app.db, so that a crash loses nothing) until the
// thing is paired: then applyHeld hands it to the inbox handler. It takes
// only a message that opens with the thing's verified key and is no
// handshake step.
func (a *App) hold(ctx context.Context, p *pairing, raw []byte) bool {
	id, err := a.identity()
	if err != nil {
		return false
	}
	peer := p.j.Peer()
	msg, err := envelope.Open(ctx, raw, envelope.OpenOptions{Self: id, Now: a.now(),
		Trusted: func(addr string) []*keystore.PublicKey {
			if addr == peer.Addr() {
				return []*keystore.PublicKey{peer}
			}
			return nil
		}})
	if err != nil || msg.Header.Get(securejoin.HeaderStep) != "" {
		return false
	}
	sum := sha256.Sum256(raw)
	key := []byte(peer.Fingerprint().String() + "/" + hex.EncodeToString(sum[:]))
	err = a.st.db.Update(func(tx *bbolt.Tx) error {
		return putJSON(tx.Bucket(bucketHeld), key, heldMsg{Raw: raw, Time: a.now()})
	})
	if err != nil {
		a.log.Error("hold a message of a pairing", "thing", p.inv.Addr, "err", err)
		return false
	}
	a.log.Info("pairing: a message of the thing came before its confirm; held until then", "thing", p.inv.Addr)
	return true
}

// heldMsg is a message held by hold.
type heldMsg struct {
	Raw  []byte    `json:"raw"`
	Time time.Time `json:"time"`
}

// applyHeld hands the held messages of the things now paired to the inbox
// handler, and forgets them. With dropUnpaired it also forgets those of
// things not paired (no pairing survives a restart).
func (a *App) applyHeld(ctx context.Context, dropUnpaired bool) {
	a.heldFor(ctx, "", dropUnpaired)
}

// dropHeld forgets what was held for a pairing that failed.
func (a *App) dropHeld(ctx context.Context, thingID string) {
	a.heldFor(ctx, thingID, true)
}

// heldFor is applyHeld for the messages held for thingID ("": all).
func (a *App) heldFor(ctx context.Context, thingID string, dropUnpaired bool) {
	type item struct {
		key []byte
		msg heldMsg
	}
	var items []item
	err := a.st.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketHeld).Cursor()
		for k, v := c.Seek([]byte(thingID)); k != nil && bytes.HasPrefix(k, []byte(thingID)); k, v = c.Next() {
			it := item{key: bytes.Clone(k)}
			if err := json.Unmarshal(v, &it.msg); err != nil {
				a.log.Error("a held message is damaged; dropped", "key", string(k), "err", err)
			}
			items = append(items, it)
		}
		return nil
	})
	if err != nil {
		a.log.Error("read held messages", "err", err)
		return
	}
	for _, it := range items {
		owner, _, _ := strings.Cut(string(it.key), "/")
		if _, err := a.thingKey(owner); err == nil && it.msg.Raw != nil {
			if _, err := a.handle(ctx, transport.Msg{Raw: it.msg.Raw}); err != nil {
				a.log.Warn("apply a held message; kept for the next start", "thing", owner, "err", err)
				continue
			}
		} else if !dropUnpaired {
			continue
		}
		if err := a.st.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketHeld).Delete(it.key) }); err != nil {
			a.log.Error("forget a held message", "err", err)
		}
	}
}

// storePaired records the thing whose key the handshake verified.
func (a *App) storePaired(p *pairing) error {
	peer := p.j.Peer()
	if peer == nil || peer.Fingerprint() != p.inv.Fingerprint || peer.Addr() != p.inv.Addr {
		return fmt.Errorf("%w: the key is not the code's", securejoin.ErrWrongKey)
	}
	id := peer.Fingerprint().String()
	now := a.now()
	var rec *thingRecord
	err := a.st.db.Update(func(tx *bbolt.Tx) error {
		r, err := getThing(tx, id)
		if errors.Is(err, ErrNotFound) {
			r = &thingRecord{Thing: Thing{ID: id, Addr: peer.Addr(), Name: p.inv.Name}}
		} else if err != nil {
			return err
		}
		r.Key, r.Paired, r.LastSeen, r.Unanswered = peer.Bytes(), now, now, 0
		if err := putThing(tx, r); err != nil {
			return err
		}
		rec = r
		return addEntry(tx, &Entry{Thing: id, Kind: EntryPaired, Time: now, Verified: true,
			Text: fmt.Sprintf("Paired with %s, key %s", peer.Addr(), peer.Fingerprint().Human())})
	})
	if err != nil {
		return err
	}
	rec.pub = peer
	a.mu.Lock()
	a.things[id] = rec
	a.mu.Unlock()
	t := cloneThing(&rec.Thing)
	a.emit(Event{Kind: EventThing, ThingID: id, Thing: &t})
	return nil
}
