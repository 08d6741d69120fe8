package imapd

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// checkStructure reports what imapserver could not write or a client could
// not parse: a multipart without children, a part without a type, a text
// part without a line count, a message/rfc822 part without its inner data.
func checkStructure(bs imap.BodyStructure, depth int) error {
	if depth > maxNesting+2 {
		return fmt.Errorf("nested %d deep", depth)
	}
	switch p := bs.(type) {
	case *imap.BodyStructureMultiPart:
		if len(p.Children) == 0 {
			return fmt.Errorf("multipart/%s without parts", p.Subtype)
		}
		if p.Extended == nil {
			return fmt.Errorf("multipart without extension data")
		}
		for _, c := range p.Children {
			if err := checkStructure(c, depth+1); err != nil {
				return err
			}
		}
	case *imap.BodyStructureSinglePart:
		if p.Type == "" || p.Subtype == "" {
			return fmt.Errorf("part with type %q/%q", p.Type, p.Subtype)
		}
		if p.Extended == nil {
			return fmt.Errorf("part without extension data")
		}
		if strings.EqualFold(p.Type, "text") && p.Text == nil {
			return fmt.Errorf("text part without line count")
		}
		if strings.EqualFold(p.Type, "message") && strings.EqualFold(p.Subtype, "rfc822") {
			if p.MessageRFC822 == nil {
				return fmt.Errorf("message/rfc822 without envelope")
			}
			return checkStructure(p.MessageRFC822.BodyStructure, depth+1)
		}
	default:
		return fmt.Errorf("unknown structure %T", bs)
	}
	return nil
}

func TestBodyStructure(t *testing.T) {
	deep := strings.Repeat("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n", 100)
	tests := []struct {
		name string
		raw  string
		want string // a compact rendering: type/subtype, children in []
	}{
		{"no content type", "Subject: x\r\n\r\nhi\r\n", "text/plain"},
		{"plain", plainMsg, "text/plain"},
		{"multipart", multipartMsg, "multipart/mixed[text/plain application/octet-stream]"},
		{"multipart without boundary parameter", "Content-Type: multipart/mixed\r\n\r\nhello\r\n", "multipart/mixed[text/plain]"},
		{"multipart whose boundary never appears", "Content-Type: multipart/alternative; boundary=zz\r\n\r\nhello\r\n", "multipart/alternative[text/plain]"},
		{"digest part defaults to message/rfc822", "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: inner\r\n\r\nbody\r\n--d--\r\n",
			"multipart/digest[message/rfc822(text/plain)]"},
		{"nested message", "Content-Type: message/rfc822\r\n\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n", "message/rfc822(text/html)"},
		{"bad content type", "Content-Type: ;;;\r\n\r\nx\r\n", "text/plain"},
		{"empty message", "", "text/plain"},
		{"nesting bomb", deep, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bs := bodyStructure([]byte(tc.raw))
			if err := checkStructure(bs, 0); err != nil {
				t.Fatal(err)
			}
			if tc.want != "" {
				if got := render(bs); got != tc.want {
					t.Fatalf("structure %s, want %s", got, tc.want)
				}
			}
		})
	}
}

func render(bs imap.BodyStructure) string {
	switch p := bs.(type) {
	case *imap.BodyStructureMultiPart:
		var kids []string
		for _, c := range p.Children {
			kids = append(kids, render(c))
		}
		return "multipart/" + strings.ToLower(p.Subtype) + "[" + strings.Join(kids, " ") + "]"
	case *imap.BodyStructureSinglePart:
		s := strings.ToLower(p.Type + "/" + p.Subtype)
		if p.MessageRFC822 != nil {
			s += "(" + render(p.MessageRFC822.BodyStructure) + ")"
		}
		return s
	}
	return "?"
}

// A stranger's malformed message must not break the mailbox for its owner:
// FETCH BODYSTRUCTURE of a childless multipart over a real connection (with
// imapserver's own ExtractBodyStructure, the server panics and hangs up).
func TestFetchMalformedStructure(t *testing.T) {
	e := newEnv(t, Options{AllowInsecureAuth: true})
	e.deliver(alice, "Content-Type: multipart/mixed; boundary=nowhere\r\n\r\njust text\r\n")
	e.deliver(alice, "Content-Type: multipart/mixed\r\n\r\n")
	c, _ := e.selectInbox(alice, nil)
	msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true}, Envelope: true,
	}).Collect()
	if err != nil || len(msgs) != 2 {
		t.Fatalf("FETCH BODYSTRUCTURE: %v, %d messages", err, len(msgs))
	}
	for _, m := range msgs {
		if err := checkStructure(m.BodyStructure, 0); err != nil {
			t.Fatalf("message %d: %v", m.SeqNum, err)
		}
	}
	if err := c.Noop().Wait(); err != nil {
		t.Fatalf("connection broken after FETCH: %v", err)
	}
}

func FuzzBodyStructure(f *testing.F) {
	for _, s := range []string{plainMsg, multipartMsg, "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nx\r\n--d--\r\n",
		"Content-Type: message/rfc822\r\n\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n\r\n--a--\r\n", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if err := checkStructure(bodyStructure(raw), 0); err != nil {
			t.Fatal(err)
		}
	})
}

// TestBodySectionWhole: BODY[] gives exactly what imapserver's extraction
// gives, for well-formed and malformed messages alike, and for a
// well-formed one it is the stored bytes themselves, not a copy.
func TestBodySectionWhole(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		same      bool // the stored bytes come back, not a copy
	}{
		{"plain", "From: a@b\r\nSubject: hi\r\n\r\nbody\r\n", true},
		{"folded", "From: a@b\r\nSubject: a\r\n long one\r\n\r\nbody\r\n", true},
		{"header only", "From: a@b\r\n\r\n", true},
		{"bare LF", "From: a@b\nSubject: hi\n\nbody\n", false},
		{"no blank line", "From: a@b\r\nSubject: hi\r\n", false},
		{"no colon", "From a@b\r\n\r\nbody\r\n", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := []byte(tc.raw)
			whole := &imap.FetchItemBodySection{}
			got := bodySection(raw, whole)
			if want := imapserver.ExtractBodySection(bytes.NewReader(raw), whole); !bytes.Equal(got, want) {
				t.Fatalf("BODY[] = %q, imapserver gives %q", got, want)
			}
			if same := len(got) > 0 && len(raw) > 0 && &got[0] == &raw[0]; same != tc.same {
				t.Errorf("stored bytes returned: %v, want %v", same, tc.same)
			}
			// Any other section goes through imapserver.
			text := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierText}
			if got, want := bodySection(raw, text), imapserver.ExtractBodySection(bytes.NewReader(raw), text); !bytes.Equal(got, want) {
				t.Errorf("BODY[TEXT] = %q, imapserver gives %q", got, want)
			}
		})
	}
}
