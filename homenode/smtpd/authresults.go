package smtpd

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-msgauth/dkim"
)

// The node records what it verified about a message in an
// Authentication-Results field (RFC 8601) in its own name, its hostname:
// "auth=pass smtp.auth=ADDR" for an authenticated submission, the DKIM
// results at the MX. Things use it to check that a joiner really sends
// from the address he claims. Every such field in the node's name that
// arrives with a message is removed first (RFC 8601 section 5), on both
// roles, so only the node can write one.

const (
	authResultsField = "Authentication-Results"
	// maxDKIMSignatures bounds the verification work one message costs.
	maxDKIMSignatures = 5
	dnsTimeout        = 10 * time.Second
)

// authResults removes the forged results from msg and puts the node's own
// in front.
func (sess *session) authResults(msg *dataMsg) *dataMsg {
	s := sess.srv
	if clean, n := stripAuthResults(msg.bytes(), s.hostname); n > 0 {
		s.log.Info("removed Authentication-Results in the node's name", "client", sess.client(), "from", sess.from, "fields", n)
		msg = &dataMsg{buf: append(make([]byte, headroom, headroom+len(clean)), clean...), start: headroom}
	}
	var results []string
	if s.submission {
		results = []string{"auth=pass" + property("smtp.auth", sess.user)}
	} else {
		results = s.dkimResults(msg.bytes())
	}
	msg.prepend(formatAuthResults(s.hostname, results))
	return msg
}

// formatAuthResults writes the field; no results is "none".
func formatAuthResults(authservID string, results []string) []byte {
	if len(results) == 0 {
		results = []string{"none"}
	}
	return fmt.Appendf(nil, "%s: %s;\r\n\t%s\r\n", authResultsField, authservID, strings.Join(results, ";\r\n\t"))
}

// property is " ptype.name=value", or nothing when value is not a plain
// token: a value is written unquoted, so a ";" or a space in it could
// forge another result.
func property(name, value string) string {
	if value == "" {
		return ""
	}
	for _, c := range []byte(value) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("@.-_+", c) >= 0) {
			return ""
		}
	}
	return " " + name + "=" + value
}

// dkimResults verifies the DKIM signatures of an incoming message: one
// result per signature (only the first few are looked at).
func (s *Server) dkimResults(raw []byte) []string {
	fields, _ := headerFields(raw)
	signed := false
	for _, f := range fields {
		signed = signed || strings.EqualFold(f.name, "DKIM-Signature")
	}
	if !signed {
		return nil
	}
	lookup := s.lookupTXT
	if lookup == nil {
		lookup = lookupTXT
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: lookup, MaxVerifications: maxDKIMSignatures})
	if err != nil && len(vs) == 0 {
		return []string{"dkim=permerror"}
	}
	var out []string
	for _, v := range vs {
		result := "pass"
		switch {
		case v.Err == nil:
		case dkim.IsTempFail(v.Err):
			result = "temperror"
		case dkim.IsPermFail(v.Err):
			result = "permerror"
		default:
			result = "fail"
		}
		d := strings.ToLower(v.Domain)
		if _, _, err := splitAddr("x@" + d); err != nil {
			d = ""
		}
		out = append(out, "dkim="+result+property("header.d", d))
	}
	return out
}

func lookupTXT(domain string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dnsTimeout)
	defer cancel()
	return net.DefaultResolver.LookupTXT(ctx, domain)
}

// stripAuthResults removes from the header of raw every
// Authentication-Results field whose authserv-id is authservID. It
// returns raw itself when there is none, else a new message and how many
// fields it removed. It reads the identifier generously (comments, quotes,
// case, a trailing dot): whatever a reader might take for the node's name
// goes.
func stripAuthResults(raw []byte, authservID string) ([]byte, int) {
	var out []byte
	removed := 0
	copied := 0 // raw[:copied] is in out or dropped
	dropping := false
	for pos := 0; pos < len(raw); {
		end := len(raw)
		if i := bytes.IndexByte(raw[pos:], '\n'); i >= 0 {
			end = pos + i + 1
		}
		content := bytes.TrimRight(raw[pos:end], "\r\n")
		if len(content) == 0 {
			break // the end of the header
		}
		if content[0] != ' ' && content[0] != '\t' {
			name, _, ok := bytes.Cut(content, []byte(":"))
			dropping = ok && strings.EqualFold(strings.TrimSpace(string(name)), authResultsField) &&
				strings.EqualFold(authservIDOf(fieldValue(raw[pos:])), strings.TrimSuffix(authservID, "."))
			if dropping {
				out = append(out, raw[copied:pos]...)
				removed++
			}
		}
		pos = end
		if dropping {
			copied = pos
		}
	}
	if removed == 0 {
		return raw, 0
	}
	return append(out, raw[copied:]...), removed
}

// fieldValue is the unfolded value of the field that starts rest.
func fieldValue(rest []byte) string {
	var b strings.Builder
	for first := true; len(rest) > 0; first = false {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		line = bytes.TrimRight(line, "\r")
		if !first && (len(line) == 0 || line[0] != ' ' && line[0] != '\t') {
			break
		}
		if first {
			_, line, _ = bytes.Cut(line, []byte(":"))
		}
		b.Write(line)
		b.WriteByte(' ')
	}
	return b.String()
}

// authservIDOf reads the authserv-id of an Authentication-Results value:
// the first token before ";", without comments and quotes, lower case,
// without a trailing dot.
func authservIDOf(v string) string {
	var b strings.Builder
	depth := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && i+1 < len(v):
			i++
			if depth == 0 {
				b.WriteByte(v[i])
			}
		case c == '(':
			depth++
			b.WriteByte(' ')
		case c == ')' && depth > 0:
			depth--
		case depth > 0, c == '"':
		default:
			b.WriteByte(c)
		}
	}
	id, _, _ := strings.Cut(b.String(), ";")
	f := strings.Fields(id)
	if len(f) == 0 {
		return ""
	}
	return strings.TrimSuffix(strings.ToLower(f[0]), ".")
}
