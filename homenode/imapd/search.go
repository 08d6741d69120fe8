package imapd

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"

	"github.com/thingpost/thingpost/homenode/mailstore"
)

func (s *session) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	sel := s.sel
	crit, err := sel.staticCriteria(*criteria)
	if err != nil {
		return nil, err
	}
	infos, err := s.srv.store.Messages(s.ctx, s.user, sel.id, nil)
	if err != nil {
		return nil, storeErr(err)
	}
	byUID := make(map[uint32]mailstore.MessageInfo, len(infos))
	for _, in := range infos {
		byUID[in.UID] = in
	}
	var (
		data    imap.SearchData
		seqs    imap.SeqSet
		uids    imap.UIDSet
		matched []uint32
	)
	for i, uid := range sel.uids {
		in, ok := byUID[uid]
		if !ok {
			continue // expunged meanwhile
		}
		m := &candidate{s: s, seq: uint32(i + 1), info: in}
		ok, err := m.match(&crit)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		matched = append(matched, uid)
		num := m.seq
		if kind == imapserver.NumKindUID {
			num = uid
			uids.AddNum(imap.UID(uid))
		} else {
			seqs.AddNum(num)
		}
		if data.Min == 0 || num < data.Min {
			data.Min = num
		}
		if num > data.Max {
			data.Max = num
		}
		data.Count++
	}
	if kind == imapserver.NumKindUID {
		data.All = uids
	} else {
		data.All = seqs
	}
	if options.ReturnSave {
		sel.searchRes = matched
	}
	return &data, nil
}

// staticCriteria resolves "*" and "$" in the number sets of c (and of its
// NOT and OR branches) against the client's view, as UID sets.
func (sel *selection) staticCriteria(c imap.SearchCriteria) (imap.SearchCriteria, error) {
	var uidSets []imap.UIDSet
	for _, set := range c.SeqNum {
		refs, err := sel.resolveLoose(set)
		if err != nil {
			return c, err
		}
		uidSets = append(uidSets, refsToUIDSet(refs))
	}
	for _, set := range c.UID {
		refs, err := sel.resolveLoose(set)
		if err != nil {
			return c, err
		}
		uidSets = append(uidSets, refsToUIDSet(refs))
	}
	c.SeqNum, c.UID = nil, uidSets
	c.Not = slices.Clone(c.Not)
	for i := range c.Not {
		n, err := sel.staticCriteria(c.Not[i])
		if err != nil {
			return c, err
		}
		c.Not[i] = n
	}
	c.Or = slices.Clone(c.Or)
	for i := range c.Or {
		for j := range c.Or[i] {
			o, err := sel.staticCriteria(c.Or[i][j])
			if err != nil {
				return c, err
			}
			c.Or[i][j] = o
		}
	}
	return c, nil
}

// resolveLoose is resolve for SEARCH, where a sequence number beyond the
// mailbox simply matches nothing.
func (sel *selection) resolveLoose(set imap.NumSet) ([]msgRef, error) {
	if seqs, ok := set.(imap.SeqSet); ok {
		n := uint32(len(sel.uids))
		clipped := imap.SeqSet{}
		for _, r := range seqs {
			start, stop := staticRange(r.Start, r.Stop, n)
			if start == 0 || start > n {
				continue
			}
			clipped = append(clipped, imap.SeqRange{Start: start, Stop: min(stop, n)})
		}
		set = clipped
	}
	return sel.resolve(set)
}

func refsToUIDSet(refs []msgRef) imap.UIDSet {
	set := imap.UIDSet{}
	for _, r := range refs {
		set.AddNum(imap.UID(r.uid))
	}
	return set
}

// candidate is a message being matched; its bytes are read only when a
// criterion needs them, and at most once.
type candidate struct {
	s    *session
	seq  uint32
	info mailstore.MessageInfo
	raw  []byte
	read bool
}

func (m *candidate) bytes() ([]byte, error) {
	if !m.read {
		raw, err := m.s.srv.store.MessageRaw(m.s.ctx, m.s.user, m.s.sel.id, m.info.UID)
		if err != nil && !errors.Is(err, mailstore.ErrNoSuchMessage) {
			return nil, storeErr(err)
		}
		m.raw, m.read = raw, true
	}
	return m.raw, nil
}

func (m *candidate) entity() (*gomessage.Entity, error) {
	raw, err := m.bytes()
	if err != nil {
		return nil, err
	}
	e, err := gomessage.Read(bytes.NewReader(raw))
	if e == nil {
		// Unreadable header: an empty message matches no text.
		e, _ = gomessage.New(gomessage.Header{}, bytes.NewReader(nil))
	}
	_ = err // an unknown charset still leaves a usable entity
	return e, nil
}

// match reports whether the message meets every criterion of c.
func (m *candidate) match(c *imap.SearchCriteria) (bool, error) {
	if !m.matchInfo(c) {
		return false, nil
	}
	if ok, err := m.matchContent(c); err != nil || !ok {
		return false, err
	}
	return m.matchNotOr(c)
}

// matchInfo checks the criteria the store's record answers: UIDs, flags,
// size and internal date.
func (m *candidate) matchInfo(c *imap.SearchCriteria) bool {
	for _, set := range c.UID {
		if !set.Contains(imap.UID(m.info.UID)) {
			return false
		}
	}
	for _, f := range c.Flag {
		if !hasFlag(m.info.Flags, string(f)) {
			return false
		}
	}
	for _, f := range c.NotFlag {
		if hasFlag(m.info.Flags, string(f)) {
			return false
		}
	}
	if c.Larger != 0 && m.info.Size <= c.Larger {
		return false
	}
	if c.Smaller != 0 && m.info.Size >= c.Smaller {
		return false
	}
	return dateIn(m.info.InternalDate, c.Since, c.Before)
}

// matchContent checks the criteria that read the message: header fields,
// the sent date, body and text.
func (m *candidate) matchContent(c *imap.SearchCriteria) (bool, error) {
	if len(c.Header) == 0 && c.SentSince.IsZero() && c.SentBefore.IsZero() && len(c.Body) == 0 && len(c.Text) == 0 {
		return true, nil
	}
	e, err := m.entity()
	if err != nil {
		return false, err
	}
	h := mail.Header{Header: e.Header}
	for _, hc := range c.Header {
		if !headerContains(h.FieldsByKey(hc.Key), hc.Value) {
			return false, nil
		}
	}
	if !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		// Without a usable Date field, the internal date stands in
		// (as in Dovecot).
		t, err := h.Date()
		if err != nil || t.IsZero() {
			t = m.info.InternalDate
		}
		if !dateIn(t, c.SentSince, c.SentBefore) {
			return false, nil
		}
	}
	for _, q := range []struct {
		texts   []string
		headers bool
	}{{c.Body, false}, {c.Text, true}} {
		for _, text := range q.texts {
			// Each search reads the body afresh: entityContains consumes it.
			e, err := m.entity()
			if err != nil {
				return false, err
			}
			if !entityContains(e, text, q.headers, 0) {
				return false, nil
			}
		}
	}
	return true, nil
}

// matchNotOr checks the NOT and OR criteria of c.
func (m *candidate) matchNotOr(c *imap.SearchCriteria) (bool, error) {
	for i := range c.Not {
		ok, err := m.match(&c.Not[i])
		if err != nil || ok {
			return false, err
		}
	}
	for i := range c.Or {
		ok, err := m.match(&c.Or[i][0])
		if err != nil {
			return false, err
		}
		if !ok {
			if ok, err = m.match(&c.Or[i][1]); err != nil || !ok {
				return false, err
			}
		}
	}
	return true, nil
}

func hasFlag(flags []string, f string) bool {
	return slices.ContainsFunc(flags, func(g string) bool { return strings.EqualFold(g, f) })
}

// dateIn compares dates only, disregarding time and zone (RFC 3501 6.4.4).
func dateIn(t, since, before time.Time) bool {
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if !since.IsZero() && d.Before(since) {
		return false
	}
	if !before.IsZero() && !d.Before(before) {
		return false
	}
	return true
}

// headerContains: an empty pattern asks only that the field exists.
func headerContains(fields gomessage.HeaderFields, pattern string) bool {
	if pattern == "" {
		return fields.Len() > 0
	}
	pattern = strings.ToLower(pattern)
	for fields.Next() {
		v, err := fields.Text()
		if err != nil {
			v = fields.Value()
		}
		if strings.Contains(strings.ToLower(v), pattern) {
			return true
		}
	}
	return false
}

// entityContains looks for pattern in the text parts of e (decoded from
// their transfer encoding), and in the headers too for TEXT.
func entityContains(e *gomessage.Entity, pattern string, headers bool, depth int) bool {
	if pattern == "" {
		return true
	}
	if headers && headerContains(e.Header.Fields(), pattern) {
		return true
	}
	if mr := e.MultipartReader(); mr != nil {
		if depth >= maxNesting {
			return false
		}
		for {
			p, err := mr.NextPart()
			if err != nil {
				return false
			}
			if entityContains(p, pattern, headers, depth+1) {
				return true
			}
		}
	}
	t, _, _ := e.Header.ContentType()
	if t != "" && !strings.HasPrefix(t, "text/") && !strings.HasPrefix(t, "message/") {
		return false
	}
	b, err := io.ReadAll(e.Body)
	if err != nil && len(b) == 0 {
		return false
	}
	return bytes.Contains(bytes.ToLower(b), bytes.ToLower([]byte(pattern)))
}
