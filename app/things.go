package app

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"go.etcd.io/bbolt"

	"github.com/thingpost/thingpost/keystore"
	"github.com/thingpost/thingpost/wire"
)

// loadThings reads the paired things into memory, checking every key.
func (a *App) loadThings() error {
	recs, err := a.st.things()
	if err != nil {
		return err
	}
	for i := range recs {
		r := &recs[i]
		pub, err := keystore.ImportPublic(r.Key)
		if err != nil {
			a.log.Error("stored key of a thing is unusable; the thing is ignored", "thing", r.ID, "err", err)
			continue
		}
		r.pub = pub
		a.things[r.ID] = r
	}
	return nil
}

// Things lists the paired things, by display name.
func (a *App) Things() []Thing {
	a.mu.RLock()
	out := make([]Thing, 0, len(a.things))
	for _, r := range a.things {
		out = append(out, cloneThing(&r.Thing))
	}
	a.mu.RUnlock()
	slices.SortFunc(out, func(x, y Thing) int {
		return cmp.Or(strings.Compare(strings.ToLower(x.DisplayName()), strings.ToLower(y.DisplayName())), strings.Compare(x.ID, y.ID))
	})
	return out
}

// Thing returns the thing with this ID.
func (a *App) Thing(id string) (Thing, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	r, ok := a.things[id]
	if !ok {
		return Thing{}, fmt.Errorf("thing %s: %w", id, ErrNotFound)
	}
	return cloneThing(&r.Thing), nil
}

// FindThing finds a thing by ID, fingerprint prefix (at least 8 hex digits,
// spaces allowed), address, local or own name (case-insensitive).
func (a *App) FindThing(query string) (Thing, error) {
	q := strings.TrimSpace(query)
	if q == "" {
		return Thing{}, fmt.Errorf("no thing named: %w", ErrNotFound)
	}
	hex := strings.ToUpper(strings.ReplaceAll(q, " ", ""))
	var matches []Thing
	for _, t := range a.Things() {
		switch {
		case t.ID == hex, strings.EqualFold(t.Addr, q):
			return t, nil
		case len(hex) >= 8 && strings.HasPrefix(t.ID, hex),
			strings.EqualFold(t.LocalName, q), strings.EqualFold(t.Name, q):
			matches = append(matches, t)
		}
	}
	switch len(matches) {
	case 0:
		return Thing{}, fmt.Errorf("thing %q: %w", query, ErrNotFound)
	case 1:
		return matches[0], nil
	}
	names := make([]string, len(matches))
	for i, m := range matches {
		names[i] = m.Addr
	}
	return Thing{}, fmt.Errorf("thing %q: %w: %s", query, errAmbiguous, strings.Join(names, ", "))
}

// Rename gives a thing a local name ("" to use the thing's own name). The
// thing itself is not told; its owner can send "rename NAME" for that.
func (a *App) Rename(_ context.Context, id, name string) (Thing, error) {
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > wire.MaxThingName || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return Thing{}, fmt.Errorf("rename: a name is at most %d characters, without control characters", wire.MaxThingName)
	}
	return a.updateThing(id, func(t *Thing) { t.LocalName = name })
}

// updateThing changes a stored thing, publishes it and returns it.
func (a *App) updateThing(id string, f func(*Thing)) (Thing, error) {
	var out Thing
	err := a.st.db.Update(func(tx *bbolt.Tx) error {
		r, err := getThing(tx, id)
		if err != nil {
			return err
		}
		f(&r.Thing)
		if err := putThing(tx, r); err != nil {
			return err
		}
		a.keep(r)
		out = cloneThing(&r.Thing)
		return nil
	})
	if err != nil {
		return Thing{}, err
	}
	a.emit(Event{Kind: EventThing, ThingID: id, Thing: &out})
	return out, nil
}

// keep puts a stored thing's changed record in memory, with the key parsed
// at load, unless the thing was removed meanwhile.
func (a *App) keep(r *thingRecord) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if old, ok := a.things[r.ID]; ok {
		r.pub = old.pub
		a.things[r.ID] = r
	}
}

func cloneThing(t *Thing) Thing {
	c := *t
	if t.State != nil {
		c.State = make(wire.State, len(t.State))
		for k, v := range t.State {
			c.State[k] = v
		}
	}
	return c
}

// thingKey returns a paired thing's key.
func (a *App) thingKey(id string) (*keystore.PublicKey, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	r, ok := a.things[id]
	if !ok {
		return nil, fmt.Errorf("thing %s: %w", id, ErrNotFound)
	}
	return r.pub, nil
}

// trusted gives envelope.Open the keys of the things at addr.
func (a *App) trusted(addr string) []*keystore.PublicKey {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var out []*keystore.PublicKey
	for _, r := range a.things {
		if r.Addr == addr {
			out = append(out, r.pub)
		}
	}
	return out
}

// known gives envelope.Open any paired thing's key by fingerprint.
func (a *App) known(f keystore.Fingerprint) (*keystore.PublicKey, bool) {
	k, err := a.thingKey(f.String())
	return k, err == nil
}
