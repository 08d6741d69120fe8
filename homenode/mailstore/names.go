package mailstore

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Delim is the mailbox hierarchy delimiter.
const Delim = "/"

// Inbox is the name of the mailbox every user has.
const Inbox = "INBOX"

const (
	maxAddrLen        = 254
	maxMailboxNameLen = 512
)

// normAddr lower-cases and checks an address: local@domain, no spaces or
// control characters.
func normAddr(addr string) (string, error) {
	a := strings.ToLower(strings.TrimSpace(addr))
	at := strings.LastIndexByte(a, '@')
	if a == "" || len(a) > maxAddrLen || at <= 0 || at == len(a)-1 || !utf8.ValidString(a) {
		return "", fmt.Errorf("%w: %q", ErrInvalidAddress, addr)
	}
	for _, r := range a {
		if unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune("<>,;()[]\\", r) {
			return "", fmt.Errorf("%w: %q", ErrInvalidAddress, addr)
		}
	}
	return a, nil
}

// normAddrMailbox normalises an address and the name of one of its
// mailboxes.
func normAddrMailbox(addr, name string) (string, string, error) {
	addr, err := normAddr(addr)
	if err != nil {
		return "", "", err
	}
	name, err = normMailboxName(name)
	return addr, name, err
}

// normMailboxName checks a mailbox name and returns its canonical form:
// "INBOX" in upper case whatever the client wrote (also as the first
// hierarchy level), a trailing delimiter removed.
func normMailboxName(name string) (string, error) {
	n := strings.TrimSuffix(name, Delim)
	if n == "" || len(n) > maxMailboxNameLen || !utf8.ValidString(n) {
		return "", fmt.Errorf("%w: %q", ErrInvalidMailboxName, name)
	}
	parts := strings.Split(n, Delim)
	for _, p := range parts {
		if p == "" {
			return "", fmt.Errorf("%w: %q (empty hierarchy level)", ErrInvalidMailboxName, name)
		}
	}
	for _, r := range n {
		if unicode.IsControl(r) || r == '*' || r == '%' {
			return "", fmt.Errorf("%w: %q", ErrInvalidMailboxName, name)
		}
	}
	if strings.EqualFold(parts[0], Inbox) {
		parts[0] = Inbox
	}
	return strings.Join(parts, Delim), nil
}

// System flags, in the canonical spelling the store returns.
const (
	FlagSeen     = `\Seen`
	FlagAnswered = `\Answered`
	FlagFlagged  = `\Flagged`
	FlagDeleted  = `\Deleted`
	FlagDraft    = `\Draft`
)

// systemFlags in bit order of the stored bitmask.
var systemFlags = [...]string{FlagSeen, FlagAnswered, FlagFlagged, FlagDeleted, FlagDraft}

const (
	maxKeywords  = 64
	maxKeywordLn = 128
)

// flagSet is a message's flags: system flags as bits, keywords in the order
// they were first set, compared case-insensitively.
type flagSet struct {
	sys      uint8
	keywords []string
}

func sysBit(flag string) (uint8, bool) {
	for i, f := range systemFlags {
		if strings.EqualFold(flag, f) {
			return 1 << i, true
		}
	}
	return 0, false
}

func (f *flagSet) has(flag string) bool {
	if bit, ok := sysBit(flag); ok {
		return f.sys&bit != 0
	}
	for _, k := range f.keywords {
		if strings.EqualFold(k, flag) {
			return true
		}
	}
	return false
}

// add sets flag. Unknown backslash flags (\Recent among them, which clients
// may not set) are ignored.
func (f *flagSet) add(flag string) error {
	if bit, ok := sysBit(flag); ok {
		f.sys |= bit
		return nil
	}
	if strings.HasPrefix(flag, `\`) {
		return nil
	}
	if err := checkKeyword(flag); err != nil {
		return err
	}
	if f.has(flag) {
		return nil
	}
	if len(f.keywords) >= maxKeywords {
		return fmt.Errorf("%w: more than %d keywords on one message", ErrInvalidFlag, maxKeywords)
	}
	f.keywords = append(f.keywords, flag)
	return nil
}

func (f *flagSet) remove(flag string) {
	if bit, ok := sysBit(flag); ok {
		f.sys &^= bit
		return
	}
	for i, k := range f.keywords {
		if strings.EqualFold(k, flag) {
			f.keywords = append(f.keywords[:i:i], f.keywords[i+1:]...)
			return
		}
	}
}

func (f *flagSet) list() []string {
	out := make([]string, 0, len(systemFlags)+len(f.keywords))
	for i, name := range systemFlags {
		if f.sys&(1<<i) != 0 {
			out = append(out, name)
		}
	}
	return append(out, f.keywords...)
}

func (f *flagSet) equal(g *flagSet) bool {
	if f.sys != g.sys || len(f.keywords) != len(g.keywords) {
		return false
	}
	for i := range f.keywords {
		if f.keywords[i] != g.keywords[i] {
			return false
		}
	}
	return true
}

// checkKeyword accepts an IMAP atom: printable ASCII without the atom
// specials.
func checkKeyword(k string) error {
	if k == "" || len(k) > maxKeywordLn {
		return fmt.Errorf("%w: keyword %q", ErrInvalidFlag, k)
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return fmt.Errorf("%w: keyword %q", ErrInvalidFlag, k)
		}
	}
	return nil
}

func parseFlags(flags []string) (flagSet, error) {
	var f flagSet
	for _, fl := range flags {
		if err := f.add(fl); err != nil {
			return flagSet{}, err
		}
	}
	return f, nil
}
