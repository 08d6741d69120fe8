package app

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.etcd.io/bbolt"
)

// Page sizes of History.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// History returns a page of a thing's history, newest first, filtered by q.
// Pass the returned Next as q.Before for the next (older) page.
func (a *App) History(ctx context.Context, thingID string, q HistoryQuery) (HistoryPage, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)
	contains := strings.ToLower(q.Contains)
	var page HistoryPage
	err := a.st.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketHistory).Bucket([]byte(thingID))
		if b == nil {
			if tx.Bucket(bucketThings).Get([]byte(thingID)) == nil {
				return fmt.Errorf("thing %s: %w", thingID, ErrNotFound)
			}
			return nil
		}
		c := b.Cursor()
		var k, v []byte
		if q.Before > 0 {
			k, v = c.Seek(seqKey(q.Before))
			if k == nil {
				k, v = c.Last()
			}
			for k != nil && binary.BigEndian.Uint64(k) >= q.Before {
				k, v = c.Prev()
			}
		} else {
			k, v = c.Last()
		}
		for n := 0; k != nil; k, v = c.Prev() {
			if n%256 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			n++
			var e Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("history entry %d of %s is damaged: %w", binary.BigEndian.Uint64(k), thingID, err)
			}
			if !q.Until.IsZero() && e.Time.After(q.Until) {
				continue
			}
			if !q.Since.IsZero() && e.Time.Before(q.Since) {
				// Entries are in arrival order, which is nearly time order:
				// keep looking instead of stopping at the first older one.
				continue
			}
			if q.Kinds != nil && !slices.Contains(q.Kinds, e.Kind) {
				continue
			}
			if contains != "" && !strings.Contains(strings.ToLower(e.Text), contains) {
				continue
			}
			if len(page.Entries) == limit {
				page.Next = page.Entries[limit-1].Seq
				break
			}
			page.Entries = append(page.Entries, e)
		}
		return nil
	})
	if err != nil {
		return HistoryPage{}, err
	}
	return page, nil
}

// Point is one value of a numeric property at a time.
type Point struct {
	Time  time.Time `json:"time"`
	Value float64   `json:"value"`
}

// Series returns the values a numeric property of a thing had, from the
// states in its replies and events since the given time, oldest first (for
// a chart of the temperature).
func (a *App) Series(ctx context.Context, thingID, property string, since time.Time) ([]Point, error) {
	var out []Point
	q := HistoryQuery{Kinds: []EntryKind{EntryReply, EntryEvent}, Since: since, Limit: MaxPageSize}
	for {
		page, err := a.History(ctx, thingID, q)
		if err != nil {
			return nil, err
		}
		for _, e := range page.Entries {
			var v, ok = 0.0, false
			switch {
			case e.Reply != nil:
				v, ok = e.Reply.State[property].AsFloat()
			case e.Event != nil:
				v, ok = e.Event.State[property].AsFloat()
				if !ok {
					v, ok = e.Event.Values[property].AsFloat()
				}
			}
			if ok {
				out = append(out, Point{Time: e.Time, Value: v})
			}
		}
		if page.Next == 0 {
			break
		}
		q.Before = page.Next
	}
	slices.Reverse(out)
	return out, nil
}
