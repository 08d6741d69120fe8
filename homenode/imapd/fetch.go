package imapd

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"

	"github.com/thingpost/thingpost/homenode/mailstore"
)

func (s *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	sel := s.sel
	refs, err := sel.resolve(numSet)
	if err != nil || len(refs) == 0 {
		return err
	}
	infos, err := s.srv.store.Messages(s.ctx, s.user, sel.id, uidsOf(refs))
	if err != nil {
		return storeErr(err)
	}
	byUID := make(map[uint32]mailstore.MessageInfo, len(infos))
	for _, in := range infos {
		byUID[in.UID] = in
	}

	// BODY[...] and BINARY[...] without .PEEK set \Seen (not in EXAMINE);
	// the new flags go into this FETCH's responses.
	seenSet := map[uint32]bool{}
	if !sel.readOnly && setsSeen(options) {
		var unseen []uint32
		for _, in := range infos {
			if !slices.Contains(in.Flags, mailstore.FlagSeen) {
				unseen = append(unseen, in.UID)
			}
		}
		if len(unseen) > 0 {
			updated, err := s.srv.store.UpdateFlags(s.ctx, s.user, sel.id, unseen, mailstore.FlagsAdd, []string{mailstore.FlagSeen}, sel.watcher)
			if err != nil {
				return storeErr(err)
			}
			for _, in := range updated {
				byUID[in.UID] = in
				seenSet[in.UID] = true
			}
		}
	}

	needRaw := options.Envelope || options.BodyStructure != nil || len(options.BodySection) > 0 ||
		len(options.BinarySection) > 0 || len(options.BinarySectionSize) > 0
	for _, r := range refs {
		in, ok := byUID[r.uid]
		if !ok {
			continue // expunged meanwhile; its EXPUNGE is queued
		}
		if err := s.fetchOne(w, r.seq, in, options, needRaw, seenSet[r.uid]); err != nil {
			return err
		}
	}
	return nil
}

// fetchOne writes one message's FETCH response; a message it needs the
// bytes of is held within the server's FETCH memory budget until written.
func (s *session) fetchOne(w *imapserver.FetchWriter, seq uint32, in mailstore.MessageInfo, options *imap.FetchOptions, needRaw, flagsChanged bool) error {
	var raw []byte
	if needRaw {
		release, err := s.srv.fetchMem.take(s.ctx, s.user, in.Size)
		if err != nil {
			return err
		}
		defer release()
		raw, err = s.srv.store.MessageRaw(s.ctx, s.user, s.sel.id, in.UID)
		if errors.Is(err, mailstore.ErrNoSuchMessage) {
			return nil
		} else if err != nil {
			return storeErr(err)
		}
	}
	return s.writeFetch(w.CreateMessage(seq), in, raw, options, flagsChanged)
}

func setsSeen(options *imap.FetchOptions) bool {
	for _, bs := range options.BodySection {
		if !bs.Peek {
			return true
		}
	}
	for _, bs := range options.BinarySection {
		if !bs.Peek {
			return true
		}
	}
	return false
}

// writeFetch writes one message's FETCH response. It always closes mw,
// which holds the connection's write lock. A literal must be read at the
// same minimum rate as an APPEND literal is sent, so that a client that
// stops reading gives back its share of the FETCH memory budget soon.
func (s *session) writeFetch(mw *imapserver.FetchResponseWriter, in mailstore.MessageInfo, raw []byte, options *imap.FetchOptions, flagsChanged bool) error {
	var werr error
	literal := func(wc io.WriteCloser, b []byte) {
		// imapserver resets the deadline when the literal is closed.
		_ = s.netConn.SetWriteDeadline(time.Now().Add(s.srv.literalDeadline(int64(len(b)))))
		_, err := wc.Write(b)
		if cerr := wc.Close(); err == nil {
			err = cerr
		}
		if werr == nil {
			werr = err
		}
	}
	mw.WriteUID(imap.UID(in.UID))
	if options.Flags || flagsChanged {
		mw.WriteFlags(imapFlags(in.Flags))
	}
	if options.InternalDate {
		mw.WriteInternalDate(in.InternalDate)
	}
	if options.RFC822Size {
		mw.WriteRFC822Size(in.Size)
	}
	if options.Envelope {
		h, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
		mw.WriteEnvelope(imapserver.ExtractEnvelope(h))
	}
	if options.BodyStructure != nil {
		mw.WriteBodyStructure(bodyStructure(raw))
	}
	for _, bs := range options.BodySection {
		b := bodySection(raw, bs)
		literal(mw.WriteBodySection(bs, int64(len(b))), b)
	}
	for _, bs := range options.BinarySection {
		b := imapserver.ExtractBinarySection(bytes.NewReader(raw), bs)
		literal(mw.WriteBinarySection(bs, int64(len(b))), b)
	}
	for _, bss := range options.BinarySectionSize {
		mw.WriteBinarySectionSize(bss, imapserver.ExtractBinarySectionSize(bytes.NewReader(raw), bss))
	}
	if err := mw.Close(); werr == nil {
		werr = err
	}
	return werr
}

// bodySection is imapserver.ExtractBodySection without its copy of the
// whole message for BODY[] when that copy would be the stored bytes (the
// header written back as read, which go-message does for any well-formed
// header): the clients that fetch whole messages then cost one copy of each,
// not two.
func bodySection(raw []byte, bs *imap.FetchItemBodySection) []byte {
	whole := bs.Specifier == imap.PartSpecifierNone && len(bs.Part) == 0 && bs.Partial == nil &&
		len(bs.HeaderFields) == 0 && len(bs.HeaderFieldsNot) == 0
	if whole && headerRoundTrips(raw) {
		return raw
	}
	return imapserver.ExtractBodySection(bytes.NewReader(raw), bs)
}

// headerRoundTrips reports whether go-message reads raw's header and writes
// it back byte for byte, blank line included.
func headerRoundTrips(raw []byte) bool {
	r := bytes.NewReader(raw)
	br := bufio.NewReader(r)
	h, err := textproto.ReadHeader(br)
	if err != nil {
		return false
	}
	n := len(raw) - r.Len() - br.Buffered()
	var out bytes.Buffer
	if err := textproto.WriteHeader(&out, h); err != nil {
		return false
	}
	return bytes.Equal(out.Bytes(), raw[:n])
}

// maxNesting bounds how deep bodyStructure follows nested parts, so a
// hostile message cannot make it recurse without end.
const maxNesting = 32

// bodyStructure is imapserver.ExtractBodyStructure with the gaps a stranger's
// mail can hit closed: a part without Content-Type is text/plain (RFC 2045;
// message/rfc822 inside multipart/digest) instead of an empty type, and a
// multipart without any part gets one empty text/plain part instead of
// making imapserver panic (it refuses to write a childless multipart).
func bodyStructure(raw []byte) imap.BodyStructure {
	br := bufio.NewReader(bytes.NewReader(raw))
	h, _ := textproto.ReadHeader(br)
	return partStructure(h, br, "", 0)
}

func partStructure(h textproto.Header, body io.Reader, parentType string, depth int) imap.BodyStructure {
	header := gomessage.Header{Header: h}
	mediaType, params, err := header.ContentType()
	if !header.Has("Content-Type") || err != nil || !strings.Contains(mediaType, "/") {
		mediaType, params = "text/plain", map[string]string{"charset": "us-ascii"}
		if parentType == "multipart/digest" {
			mediaType, params = "message/rfc822", nil
		}
	}
	typ, sub, _ := strings.Cut(mediaType, "/")
	disposition := func() *imap.BodyStructureDisposition {
		d, dp, _ := header.ContentDisposition()
		if d == "" {
			return nil
		}
		return &imap.BodyStructureDisposition{Value: d, Params: dp}
	}
	var lang []string
	if v := header.Get("Content-Language"); v != "" {
		for _, l := range strings.Split(v, ",") {
			lang = append(lang, strings.TrimSpace(l))
		}
	}

	if typ == "multipart" && depth < maxNesting {
		mp := &imap.BodyStructureMultiPart{Subtype: sub}
		mr := textproto.NewMultipartReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			mp.Children = append(mp.Children, partStructure(p.Header, p, mediaType, depth+1))
		}
		if len(mp.Children) == 0 {
			mp.Children = append(mp.Children, partStructure(textproto.Header{}, strings.NewReader(""), "", depth+1))
		}
		mp.Extended = &imap.BodyStructureMultiPartExt{
			Params:      params,
			Disposition: disposition(),
			Language:    lang,
			Location:    header.Get("Content-Location"),
		}
		return mp
	}

	b, _ := io.ReadAll(body)
	sp := &imap.BodyStructureSinglePart{
		Type:        typ,
		Subtype:     sub,
		Params:      params,
		ID:          header.Get("Content-Id"),
		Description: header.Get("Content-Description"),
		Encoding:    header.Get("Content-Transfer-Encoding"),
		Size:        uint32(len(b)),
		Extended: &imap.BodyStructureSinglePartExt{
			Disposition: disposition(),
			Language:    lang,
			Location:    header.Get("Content-Location"),
		},
	}
	lines := int64(bytes.Count(b, []byte("\n")))
	isMessage := mediaType == "message/rfc822" || mediaType == "message/global"
	switch {
	case typ == "multipart" || isMessage && depth >= maxNesting:
		// Nested too deep: reported as an opaque part.
		sp.Type, sp.Subtype, sp.Params = "application", "octet-stream", nil
	case isMessage:
		br := bufio.NewReader(bytes.NewReader(b))
		ch, _ := textproto.ReadHeader(br)
		sp.MessageRFC822 = &imap.BodyStructureMessageRFC822{
			Envelope:      imapserver.ExtractEnvelope(ch),
			BodyStructure: partStructure(ch, br, "", depth+1),
			NumLines:      lines,
		}
	case typ == "text":
		sp.Text = &imap.BodyStructureText{NumLines: lines}
	}
	return sp
}
