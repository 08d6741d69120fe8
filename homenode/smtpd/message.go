package smtpd

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
)

// normAddr lower-cases the domain of an envelope address (a remote local part
// may be case-sensitive; the store lower-cases local ones itself) and rejects
// what this server never routes: no "@", an empty part, an address literal,
// spaces or control characters.
func normAddr(addr string) (string, error) {
	local, domain, err := splitAddr(addr)
	if err != nil {
		return "", err
	}
	return local + "@" + domain, nil
}

// splitAddr splits an envelope address into local part and lower-case domain.
func splitAddr(addr string) (local, domain string, err error) {
	i := strings.LastIndexByte(addr, '@')
	if i <= 0 || i == len(addr)-1 {
		return "", "", errors.New("want local@domain")
	}
	if len(addr) > 254 {
		return "", "", errors.New("address longer than 254 characters")
	}
	local, domain = addr[:i], strings.ToLower(addr[i+1:])
	for _, c := range []byte(local) {
		if c <= ' ' || c == 0x7f {
			return "", "", errors.New("space or control character in local part")
		}
	}
	for _, label := range strings.Split(strings.TrimSuffix(domain, "."), ".") {
		if label == "" || len(label) > 63 {
			return "", "", fmt.Errorf("bad domain %q", domain)
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", "", fmt.Errorf("bad domain %q", domain)
			}
		}
	}
	return local, strings.TrimSuffix(domain, "."), nil
}

// headroom is the room readData leaves in front of a message for the header
// fields the server adds (Return-Path, Received, Date, Message-ID: under a
// kilobyte even with the longest names).
const headroom = 2 << 10

// dataMsg is a message read from DATA with room in front of it, so that the
// server's header fields go in front without another copy of the message
// (which the store then copies once more, into its pages).
type dataMsg struct {
	buf   []byte // buf[start:] is the message
	start int
}

func (m *dataMsg) bytes() []byte { return m.buf[m.start:] }

// prepend puts header lines in front of the message. Slices from bytes
// taken before stay valid and unchanged.
func (m *dataMsg) prepend(lines []byte) {
	if len(lines) > m.start {
		// More than the room left: one copy, with new room.
		buf := make([]byte, headroom+len(lines)+len(m.bytes()))
		copy(buf[headroom+len(lines):], m.bytes())
		m.buf, m.start = buf, headroom+len(lines)
	}
	m.start -= len(lines)
	copy(m.buf[m.start:], lines)
}

// field is one unfolded header field.
type field struct{ name, value string }

// headerFields returns the fields of the header section of raw (up to the
// first empty line), unfolded. Lines without a colon are skipped. bad is set
// for a bare CR or a NUL, which parsers disagree about: a message carrying
// them could show one From to us and another to the recipient.
func headerFields(raw []byte) (fields []field, bad bool) {
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break
		}
		if bytes.IndexByte(line, '\r') >= 0 || bytes.IndexByte(line, 0) >= 0 {
			bad = true
		}
		if line[0] == ' ' || line[0] == '\t' {
			if n := len(fields); n > 0 {
				fields[n-1].value += " " + strings.TrimSpace(string(line))
			}
			continue
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		fields = append(fields, field{
			name:  strings.TrimSpace(string(name)),
			value: strings.TrimSpace(string(value)),
		})
	}
	return fields, bad
}

func countReceived(raw []byte) int {
	fields, _ := headerFields(raw)
	n := 0
	for _, f := range fields {
		if strings.EqualFold(f.name, "Received") {
			n++
		}
	}
	return n
}

// addrParser reads From headers whatever charset the display name uses:
// only the address matters here.
var addrParser = mail.AddressParser{WordDecoder: &mime.WordDecoder{
	CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil },
}}

// addrInText finds address-like words: in a display name (`"bob@home.test"
// <mallory@home.test>` shows bob to most readers) or in a From value that
// does not parse.
var addrInText = regexp.MustCompile(`[^\s"'<>()\[\],;:]+@[^\s"'<>()\[\],;:]+`)

// checkHeaderFrom makes sure the message has exactly one From field, at
// most one Sender field, and that every address in them, and every address
// their display names show, is user's.
func checkHeaderFrom(raw []byte, user string) error {
	fields, bad := headerFields(raw)
	if bad {
		return errors.New("malformed header: bare CR or NUL")
	}
	var from, sender []string
	for _, f := range fields {
		switch {
		case strings.EqualFold(f.name, "From"):
			from = append(from, f.value)
		case strings.EqualFold(f.name, "Sender"):
			sender = append(sender, f.value)
		}
	}
	switch {
	case len(from) == 0:
		return errors.New("message has no From header")
	case len(from) > 1:
		return errors.New("message has more than one From header")
	case len(sender) > 1:
		return errors.New("message has more than one Sender header")
	}
	if err := checkOwnAddrs("From", from[0], user); err != nil {
		return err
	}
	if len(sender) == 1 {
		return checkOwnAddrs("Sender", sender[0], user)
	}
	return nil
}

func checkOwnAddrs(field, value, user string) error {
	list, err := addrParser.ParseList(value)
	if err != nil {
		return fmt.Errorf("unreadable %s header: %v", field, err)
	}
	if len(list) == 0 {
		return fmt.Errorf("the %s header names no address", field)
	}
	for _, a := range list {
		if !strings.EqualFold(a.Address, user) {
			return fmt.Errorf("the %s address <%s> is not yours: you are logged in as <%s>", field, a.Address, user)
		}
		for _, shown := range addrInText.FindAllString(a.Name, -1) {
			if !strings.EqualFold(shown, user) {
				return fmt.Errorf("the %s display name %q shows an address that is not yours, <%s>", field, a.Name, user)
			}
		}
	}
	return nil
}

// localFrom returns an address in a local domain that the From field
// shows, or "". A From that does not parse is searched as text: a mail
// reader may still show an address from it.
func localFrom(fields []field, isLocal func(domain string) bool) string {
	for _, f := range fields {
		if !strings.EqualFold(f.name, "From") {
			continue
		}
		var addrs []string
		if list, err := addrParser.ParseList(f.value); err == nil {
			for _, a := range list {
				addrs = append(addrs, a.Address)
			}
		} else {
			addrs = addrInText.FindAllString(f.value, -1)
		}
		for _, a := range addrs {
			if _, domain, err := splitAddr(strings.TrimRight(a, ".")); err == nil && isLocal(domain) {
				return a
			}
		}
	}
	return ""
}

// hasBareCR reports a CR not followed by LF: a server down the line may
// take it for a line end, and "\r.\r\n" for the end of the data.
func hasBareCR(b []byte) bool {
	for {
		i := bytes.IndexByte(b, '\r')
		if i < 0 {
			return false
		}
		if i+1 == len(b) || b[i+1] != '\n' {
			return true
		}
		b = b[i+2:]
	}
}

func writeReturnPath(b *bytes.Buffer, from string) {
	fmt.Fprintf(b, "Return-Path: <%s>\r\n", from)
}

type receivedFields struct {
	helo   string
	remote net.Addr
	by     string
	proto  string
	id     string
	rcpts  []string
}

// writeReceived writes the trace header (RFC 5321 section 4.4). The
// submission role leaves out the client (its address is private and says
// nothing to the recipient).
func writeReceived(b *bytes.Buffer, f receivedFields) {
	b.WriteString("Received: ")
	if f.helo != "" || f.remote != nil {
		fmt.Fprintf(b, "from %s", traceToken(f.helo))
		if ta, ok := f.remote.(*net.TCPAddr); ok {
			fmt.Fprintf(b, " ([%s])", ta.IP)
		}
		b.WriteString("\r\n\t")
	}
	fmt.Fprintf(b, "by %s (Thingpost homenode) with %s id %s", f.by, f.proto, f.id)
	if len(f.rcpts) == 1 {
		fmt.Fprintf(b, "\r\n\tfor <%s>", f.rcpts[0])
	}
	fmt.Fprintf(b, ";\r\n\t%s\r\n", time.Now().Format(time.RFC1123Z))
}

// traceToken keeps a client-chosen HELO name harmless inside a header.
func traceToken(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if b.Len() >= 255 {
			break
		}
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".-_:[]", c) >= 0 {
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}

// writeMissingHeaders adds Date and Message-ID when the client left them out
// (RFC 6409 section 8): receivers and DKIM expect both.
func writeMissingHeaders(b *bytes.Buffer, raw []byte, hostname string) {
	fields, _ := headerFields(raw)
	var hasDate, hasID bool
	for _, f := range fields {
		hasDate = hasDate || strings.EqualFold(f.name, "Date")
		hasID = hasID || strings.EqualFold(f.name, "Message-ID")
	}
	if !hasDate {
		fmt.Fprintf(b, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	}
	if !hasID {
		fmt.Fprintf(b, "Message-ID: <%s.%s@%s>\r\n", newID(), newID(), hostname)
	}
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// loginServer is the server side of the LOGIN SASL mechanism (go-sasl has
// only the client): "Username:" then "Password:", the user name may come as
// the initial response.
type loginServer struct {
	authenticate func(user, pass string) error
	state        int
	user         string
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.state {
	case 0:
		if response == nil {
			l.state = 1
			return []byte("Username:"), false, nil
		}
		l.user, l.state = string(response), 2
		return []byte("Password:"), false, nil
	case 1:
		l.user, l.state = string(response), 2
		return []byte("Password:"), false, nil
	case 2:
		l.state = 3
		return nil, true, l.authenticate(l.user, string(response))
	}
	return nil, false, sasl.ErrUnexpectedClientResponse
}
