package thing

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/thingpost/thingpost/envelope"
	"github.com/thingpost/thingpost/internal/qr"
	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/transport"
	"github.com/thingpost/thingpost/wire"
)

// seal writes a reply or event as a signed, encrypted message to key: the
// sentence as text, the machine form in the protected wire header, an invite
// also as a QR code image.
func (a *Agent) seal(ctx context.Context, to *keystore.PublicKey, inReplyTo string, refs []string, r wire.Reply) (outboxEntry, error) {
	return a.sealMessage(ctx, to, inReplyTo, refs, wire.Message{Version: wire.Version, Reply: &r}, r.Text, r.Invite)
}

func (a *Agent) sealMessage(ctx context.Context, to *keystore.PublicKey, inReplyTo string, refs []string, wm wire.Message, text string, inv *wire.Invite) (outboxEntry, error) {
	hv, err := wire.Encode(wm)
	if err != nil {
		return outboxEntry{}, fmt.Errorf("encode reply: %w", err)
	}
	d := &envelope.Draft{
		From:          a.self,
		To:            []*keystore.PublicKey{to},
		Date:          a.cfg.Now(),
		Subject:       "Message from " + a.name(),
		InReplyTo:     inReplyTo,
		References:    refs,
		AutoSubmitted: true,
		Headers:       []envelope.Field{{Name: wire.HeaderName, Value: hv}},
		Text:          text,
	}
	if inv != nil {
		png, err := qr.Encode(inv.URL, qr.Size)
		if err != nil {
			return outboxEntry{}, fmt.Errorf("invite: %w", err)
		}
		d.Parts = []envelope.Part{{ContentType: "image/png", Filename: "invite.png", Body: png}}
	}
	s, err := envelope.Seal(ctx, d)
	if err != nil {
		return outboxEntry{}, fmt.Errorf("seal to %s: %w", to.Addr(), err)
	}
	return outboxEntry{To: []string{to.Addr()}, Raw: s.Raw}, nil
}

// sendNow tries to submit a reply at once, for a prompt answer; it reports
// whether the server took it. It gives up quickly: the outbox retries.
func (a *Agent) sendNow(ctx context.Context, e outboxEntry) bool {
	if a.sender == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.sender.Send(ctx, a.self.Addr(), e.To, e.Raw); err != nil {
		a.log.Warn("reply not sent yet, queued", "to", e.To, "err", err)
		return false
	}
	return true
}

// send puts messages into the durable outbox and wakes the sender. Once
// queued they survive a crash; the caller may consider them sent.
func (a *Agent) send(_ context.Context, msgs ...outboxEntry) error {
	if err := a.store.queue(msgs...); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	a.wake()
	return nil
}

func (a *Agent) wake() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// runOutbox submits queued messages, retrying with backoff while the mail
// server is unreachable; a message it rejects for good is dropped with a log.
func (a *Agent) runOutbox(ctx context.Context, sender *transport.Sender) {
	const minDelay, maxDelay = time.Second, 5 * time.Minute
	delay := minDelay
	for {
		failed := a.flush(ctx, sender)
		wait := time.Minute
		if failed {
			wait = delay + rand.N(delay/2+1)
			delay = min(2*delay, maxDelay)
		} else {
			delay = minDelay
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-a.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// flush sends what is queued; it reports whether a retryable failure stopped it.
func (a *Agent) flush(ctx context.Context, sender *transport.Sender) bool {
	items, err := a.store.outbox()
	if err != nil {
		a.log.Error("read outbox", "err", err)
		return true
	}
	for _, it := range items {
		err := sender.Send(ctx, a.self.Addr(), it.To, it.Raw)
		if err != nil && transport.Retryable(err) {
			a.log.Warn("send failed, will retry", "to", it.To, "err", err)
			return true
		}
		if err != nil {
			a.log.Error("send rejected, dropped", "to", it.To, "err", err)
		}
		if err := a.store.unqueue(it.key); err != nil {
			a.log.Error("outbox", "err", err)
			return true
		}
	}
	return false
}

// sealEvent seals e to each of people.
func (a *Agent) sealEvent(ctx context.Context, people []Person, e wire.Event) ([]outboxEntry, error) {
	var out []outboxEntry
	for _, p := range people {
		k, err := a.keys.get(p.Key)
		if err != nil {
			return nil, fmt.Errorf("key of %s: %w", p.Addr, err)
		}
		m, err := a.sealMessage(ctx, k, "", nil, wire.Message{Version: wire.Version, Event: &e}, e.Text, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// notify receives the device's events; it must not block the driver.
func (a *Agent) notify(e wire.Event) {
	select {
	case a.events <- e:
	default:
		a.log.Warn("event dropped: too many pending", "kind", e.Kind)
	}
}

// runEvents seals each device event to every subscriber.
func (a *Agent) runEvents(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-a.events:
			if err := a.publish(ctx, e); err != nil {
				a.log.Error("publish event", "kind", e.Kind, "err", err)
			}
		}
	}
}

func (a *Agent) publish(ctx context.Context, e wire.Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	people, err := a.store.People()
	if err != nil {
		return err
	}
	now := a.cfg.Now()
	out, err := a.sealEvent(ctx, slices.DeleteFunc(people, func(p Person) bool { return !p.Subscribed || !p.Active(now) }), e)
	if err != nil {
		return err
	}
	if len(out) == 0 {
		return nil
	}
	a.log.Info("event", "kind", e.Kind, "subscribers", len(out))
	return a.send(ctx, out...)
}
