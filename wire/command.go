package wire

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on human text.
const (
	// MaxBodyLen bounds the text body ParseCommand reads, quoted lines and
	// signature included.
	MaxBodyLen = 16 << 10
	// MaxCommandLen bounds the one line that holds the command.
	MaxCommandLen = 512
	// MaxThingName bounds a thing's display name, in characters.
	MaxThingName = 64
	// MaxArgs bounds the arguments of a command.
	MaxArgs = 8

	maxNameLen  = 32
	maxTokenLen = 64
	maxExpiry   = 366 * 24 * time.Hour
)

// Sentinel errors for commands. A *CommandError wraps one of them.
var (
	// ErrUnknownCommand means the command name is not known at all.
	ErrUnknownCommand = errors.New("unknown command")
	// ErrBadCommand means a known command has the wrong form or arguments.
	ErrBadCommand = errors.New("malformed command")
	// ErrUnsupported means the command is well formed but this thing does not
	// offer it: an undeclared command, an unknown or read-only property.
	ErrUnsupported = errors.New("command not supported")
	// ErrBadValue means an argument has the wrong type, is out of range, is
	// not among the allowed values or has a unit that does not convert.
	ErrBadValue = errors.New("bad value")
)

// CommandError is a refused command. Its Error text is written for the
// person who sent the command and goes into the reply as the reason.
type CommandError struct {
	Err    error  // ErrUnknownCommand, ErrBadCommand, ErrUnsupported or ErrBadValue
	Reason string // e.g. `unknown command "blink"; try "help"`
}

func (e *CommandError) Error() string { return e.Reason }
func (e *CommandError) Unwrap() error { return e.Err }

// Code is the reply code for the refusal.
func (e *CommandError) Code() Code {
	switch e.Err {
	case ErrUnknownCommand:
		return CodeUnknownCommand
	case ErrUnsupported:
		return CodeUnsupported
	case ErrBadValue:
		return CodeBadValue
	}
	return CodeBadCommand
}

func refuse(kind error, format string, a ...any) error {
	return &CommandError{Err: kind, Reason: fmt.Sprintf(format, a...)}
}

// Command is one instruction from a person to a thing in canonical form:
// Name is the lower-case command name, Args its arguments in canonical
// spelling (see ParseCommand). String gives the human text back.
type Command struct {
	Name string   `json:"name"`
	Args []string `json:"args,omitempty"`
}

// String is the canonical human text of c, e.g. "set brightness 40%".
// ParseCommand(c.String()) gives c back for every valid c.
func (c Command) String() string {
	if len(c.Args) == 0 {
		return c.Name
	}
	return c.Name + " " + strings.Join(c.Args, " ")
}

// Equal reports whether c and d are the same command.
func (c Command) Equal(d Command) bool {
	return c.Name == d.Name && slices.Equal(c.Args, d.Args)
}

// Class says who handles a command.
type Class int

// Command classes.
const (
	// ClassDevice commands act on the thing itself and go to its driver:
	// on, off, toggle, set, lock, unlock and the commands a Capabilities
	// description declares.
	ClassDevice Class = iota + 1
	// ClassAgent commands are answered by the thing agent for the sender:
	// help, describe, status, subscribe, unsubscribe, leave.
	ClassAgent
	// ClassOwner commands manage who may use the thing (users, invite,
	// confirm, role, revoke) and its name (rename).
	ClassOwner
)

func (c Class) String() string {
	switch c {
	case ClassDevice:
		return "device"
	case ClassAgent:
		return "agent"
	case ClassOwner:
		return "owner"
	}
	return "Class(" + strconv.Itoa(int(c)) + ")"
}

// Class says who handles c. Names that are not built in are device commands.
func (c Command) Class() Class {
	if b, ok := builtin(c.Name); ok {
		return b.class
	}
	return ClassDevice
}

// Usage is the one-line usage of a built-in command with an example, for
// help replies; "" for other names.
func Usage(name string) string {
	b, ok := builtin(name)
	if !ok {
		return ""
	}
	if b.example == "" {
		return b.usage
	}
	return fmt.Sprintf("%s, e.g. %q", b.usage, b.example)
}

// Builtins lists the built-in command names in the order help shows them.
func Builtins() []string {
	return []string{
		"on", "off", "toggle", "set", "lock", "unlock",
		"status", "describe", "help", "subscribe", "unsubscribe", "leave",
		"users", "invite", "confirm", "role", "revoke", "rename",
	}
}

type builtinSpec struct {
	class   Class
	usage   string
	example string
	parse   func(name string, args []string) ([]string, error)
}

func builtin(name string) (builtinSpec, bool) {
	switch name {
	case "on", "off", "toggle", "lock", "unlock":
		return builtinSpec{ClassDevice, name, "", parseNoArgs}, true
	case "set":
		return builtinSpec{ClassDevice, "set PROPERTY VALUE", "set brightness 40", parseSet}, true
	case "status", "describe", "subscribe", "unsubscribe", "leave":
		return builtinSpec{ClassAgent, name, "", parseNoArgs}, true
	case "help":
		return builtinSpec{ClassAgent, "help [COMMAND]", "help set", parseHelp}, true
	case "users":
		return builtinSpec{ClassOwner, name, "", parseNoArgs}, true
	case "revoke":
		return builtinSpec{ClassOwner, "revoke ADDRESS|FINGERPRINT", "revoke alice@example.org", parseWhoOnly}, true
	case "confirm":
		return builtinSpec{ClassOwner, "confirm ADDRESS|FINGERPRINT", "confirm alice@example.org", parseWhoOnly}, true
	case "role":
		return builtinSpec{ClassOwner, "role ADDRESS|FINGERPRINT member|guest [EXPIRY]", "role alice@example.org guest 2h", parseRole}, true
	case "rename":
		return builtinSpec{ClassOwner, "rename NAME", "rename Kitchen lamp", parseRename}, true
	case "invite":
		return builtinSpec{ClassOwner, "invite [member|guest [EXPIRY]]", "invite guest 2h", parseInvite}, true
	}
	return builtinSpec{}, false
}

// reserved names cannot be declared by a Capabilities description: the
// parser reads them itself.
func reserved(name string) bool {
	_, ok := builtin(name)
	return ok || name == "turn" || name == "switch"
}

// ParseCommand reads a command a person wrote: the text body of a message.
//
// Quoted lines (starting with ">") and a signature (from a "-- " line on) are
// ignored; exactly one other non-blank line must remain. A leading "/" is
// allowed, case does not matter except in a name given to rename, runs of
// white space count as one, "turn on"/"switch off" mean on/off and "?" means
// help. Numbers may carry units ("21.5C", "21.5 °C", "40%"): known units are
// written canonically ("°C", "°F", "%") right after the number. "set" takes
// "to" or "=" between property and value.
//
// Only built-in commands are known here; (*Capabilities).ParseCommand also
// knows the commands a thing declares. Errors are *CommandError values whose
// text is meant for the person, e.g. `unknown command "blink"; try "help"`.
func ParseCommand(text string) (Command, error) {
	return parseBody(text, nil)
}

func parseBody(text string, declared func(string) bool) (Command, error) {
	line, err := commandLine(text)
	if err != nil {
		return Command{}, err
	}
	return parseLine(line, declared)
}

// commandLine finds the one line that holds the command.
func commandLine(text string) (string, error) {
	if len(text) > MaxBodyLen {
		return "", refuse(ErrBadCommand, "message is too long for a command")
	}
	if !utf8.ValidString(text) {
		return "", refuse(ErrBadCommand, "message is not valid UTF-8 text")
	}
	var found string
	n := 0
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSuffix(line, "\r")
		trimmed := strings.TrimFunc(line, isSpace)
		if t := strings.TrimRightFunc(line, isSpace); t == "--" || t == "---" {
			break // signature (RFC 3676 "-- " and the common variants)
		}
		if trimmed == "" || strings.HasPrefix(trimmed, ">") {
			continue
		}
		n++
		found = line
	}
	switch {
	case n == 0:
		return "", refuse(ErrBadCommand, `empty message; try "help"`)
	case n > 1:
		return "", refuse(ErrBadCommand, `send one command per message; try "help"`)
	}
	return found, nil
}

func isSpace(r rune) bool {
	// Zero-width spaces and BOMs slip in from mobile keyboards and editors.
	return unicode.IsSpace(r) || r == '\u200b' || r == '\u2060' || r == '\ufeff'
}

// parseLine parses one command line. declared says which other names are
// commands (nil: none).
func parseLine(line string, declared func(string) bool) (Command, error) {
	// The canonical form can be longer than what was typed (lower-casing,
	// "c" -> "°C"), so the limit that counts is checked on the result.
	if len(line) > 2*MaxCommandLen {
		return Command{}, refuse(ErrBadCommand, "command is too long")
	}
	if !utf8.ValidString(line) {
		return Command{}, refuse(ErrBadCommand, "command is not valid UTF-8 text")
	}
	for _, r := range line {
		if unicode.IsControl(r) && r != '\t' {
			return Command{}, refuse(ErrBadCommand, "command contains a control character")
		}
	}
	fields := strings.FieldsFunc(line, isSpace)
	if len(fields) == 0 {
		return Command{}, refuse(ErrBadCommand, `empty message; try "help"`)
	}
	name := strings.ToLower(strings.TrimPrefix(fields[0], "/"))
	args := fields[1:]
	if name == "?" {
		name = "help"
	}
	name = strings.TrimRight(name, ".!?")
	if (name == "turn" || name == "switch") && len(args) > 0 {
		if w := strings.TrimRight(strings.ToLower(args[0]), ".!"); w == "on" || w == "off" {
			name, args = w, args[1:]
		}
	}
	var out []string
	var err error
	if b, ok := builtin(name); ok {
		out, err = b.parse(name, args)
	} else if declared != nil && IsName(name) && declared(name) {
		out, err = parseGeneric(name, args)
	} else {
		return Command{}, refuse(ErrUnknownCommand, "unknown command %q; try \"help\"", clip(name, maxNameLen))
	}
	if err != nil {
		return Command{}, err
	}
	c := Command{Name: name, Args: out}
	if len(c.String()) > MaxCommandLen {
		return Command{}, refuse(ErrBadCommand, "command is too long")
	}
	return c, nil
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

func usageError(name string) error {
	return refuse(ErrBadCommand, "usage: %s", Usage(name))
}

func parseNoArgs(name string, args []string) ([]string, error) {
	if len(args) > 0 {
		return nil, refuse(ErrBadCommand, "%q takes no arguments", name)
	}
	return nil, nil
}

func parseHelp(name string, args []string) ([]string, error) {
	switch len(args) {
	case 0:
		return nil, nil
	case 1:
		topic := strings.ToLower(strings.TrimPrefix(args[0], "/"))
		if !IsName(topic) {
			return nil, refuse(ErrBadCommand, "%q is not a command name", clip(args[0], maxNameLen))
		}
		return []string{topic}, nil
	}
	return nil, usageError(name)
}

func parseSet(name string, args []string) ([]string, error) {
	var toks []string
	for _, a := range args {
		for p := range strings.SplitSeq(strings.ToLower(a), "=") {
			if p != "" {
				toks = append(toks, p)
			}
		}
	}
	if len(toks) >= 3 && toks[1] == "to" {
		toks = slices.Delete(toks, 1, 2)
	}
	var value string
	switch len(toks) {
	case 2:
		value = toks[1]
	case 3:
		if !isNumber(toks[1]) || strings.ContainsAny(toks[2], "0123456789") {
			return nil, usageError(name)
		}
		value = toks[1] + toks[2]
	default:
		return nil, usageError(name)
	}
	if !IsName(toks[0]) {
		return nil, refuse(ErrBadCommand, "%q is not a property name", clip(toks[0], maxNameLen))
	}
	value = canonValueToken(value)
	if len(value) > maxTokenLen {
		return nil, refuse(ErrBadCommand, "value for %s is too long", toks[0])
	}
	return []string{toks[0], value}, nil
}

// parseGeneric reads the arguments of a declared command: lower-cased
// tokens, units canonical, a known unit written apart joined to its number.
func parseGeneric(name string, args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		a = strings.ToLower(a)
		if n := len(out); n > 0 && isNumber(out[n-1]) && knownUnit(a) {
			out[n-1] = canonValueToken(out[n-1] + a)
			continue
		}
		out = append(out, canonValueToken(a))
	}
	if len(out) > MaxArgs {
		return nil, refuse(ErrBadCommand, "%q takes at most %d arguments", name, MaxArgs)
	}
	for _, a := range out {
		if len(a) > maxTokenLen {
			return nil, refuse(ErrBadCommand, "an argument of %q is too long", name)
		}
	}
	return out, nil
}

func parseWhoOnly(name string, args []string) ([]string, error) {
	who, rest, err := parseWho(args)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, usageError(name)
	}
	return []string{who}, nil
}

func parseRole(name string, args []string) ([]string, error) {
	who, rest, err := parseWho(args)
	if err != nil {
		return nil, err
	}
	if len(rest) == 0 {
		return nil, usageError(name)
	}
	role, exp, err := parseRoleExpiry(name, rest)
	if err != nil {
		return nil, err
	}
	return append([]string{who, role}, exp...), nil
}

func parseInvite(name string, args []string) ([]string, error) {
	if len(args) == 0 {
		return nil, nil
	}
	role, exp, err := parseRoleExpiry(name, args)
	if err != nil {
		return nil, err
	}
	return append([]string{role}, exp...), nil
}

// parseRoleExpiry reads "member|guest [for] [EXPIRY]"; EXPIRY may be written
// in parts ("2 hours 30 minutes").
func parseRoleExpiry(name string, args []string) (string, []string, error) {
	role := strings.ToLower(args[0])
	if role != string(RoleMember) && role != string(RoleGuest) {
		return "", nil, refuse(ErrBadCommand, "role must be member or guest, not %q", clip(args[0], maxNameLen))
	}
	rest := args[1:]
	if len(rest) > 0 && strings.ToLower(rest[0]) == "for" {
		rest = rest[1:]
	}
	if len(rest) == 0 {
		if len(args) > 1 {
			return "", nil, usageError(name)
		}
		return role, nil, nil
	}
	s := strings.ToLower(strings.Join(rest, ""))
	d, ok := parseExpiry(s)
	if !ok {
		return "", nil, refuse(ErrBadCommand, "%q is not an expiry like 30m, 2h or 7d (at most 366 days)", clip(strings.Join(rest, " "), maxTokenLen))
	}
	return role, []string{FormatExpiry(d)}, nil
}

// ParseExpiry reads an expiry in canonical form ("1d2h30m") or as a person
// writes it ("2 hours", "90min", "1w"); it lies between one minute and 366
// days and has whole minutes.
func ParseExpiry(s string) (time.Duration, error) {
	d, ok := parseExpiry(strings.ToLower(strings.Join(strings.FieldsFunc(s, isSpace), "")))
	if !ok {
		return 0, refuse(ErrBadValue, "%q is not an expiry like 30m, 2h or 7d (at most 366 days)", clip(s, maxTokenLen))
	}
	return d, nil
}

func parseExpiry(s string) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	var total time.Duration
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i > 6 {
			return 0, false
		}
		n, _ := strconv.Atoi(s[:i])
		s = s[i:]
		j := 0
		for j < len(s) && s[j] >= 'a' && s[j] <= 'z' {
			j++
		}
		var unit time.Duration
		switch s[:j] {
		case "m", "min", "mins", "minute", "minutes":
			unit = time.Minute
		case "h", "hr", "hrs", "hour", "hours":
			unit = time.Hour
		case "d", "day", "days":
			unit = 24 * time.Hour
		case "w", "wk", "wks", "week", "weeks":
			unit = 7 * 24 * time.Hour
		default:
			return 0, false
		}
		s = s[j:]
		if time.Duration(n) > maxExpiry/unit {
			return 0, false
		}
		total += time.Duration(n) * unit
		if total > maxExpiry {
			return 0, false
		}
	}
	return total, total >= time.Minute
}

// FormatExpiry writes d in canonical form: days, hours and minutes, e.g.
// "1d2h30m"; seconds are dropped.
func FormatExpiry(d time.Duration) string {
	var b strings.Builder
	for _, u := range []struct {
		d time.Duration
		s string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}} {
		if n := d / u.d; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteString(u.s)
			d -= n * u.d
		}
	}
	if b.Len() == 0 {
		return "0m"
	}
	return b.String()
}

func parseRename(name string, args []string) ([]string, error) {
	if len(args) == 0 {
		return nil, usageError(name)
	}
	n := strings.Join(args, " ")
	if utf8.RuneCountInString(n) > MaxThingName {
		return nil, refuse(ErrBadCommand, "name is too long (at most %d characters)", MaxThingName)
	}
	return []string{n}, nil
}

// parseWho reads an address or a v4 fingerprint (one token, or ten groups
// of four hex digits as GnuPG prints it).
func parseWho(args []string) (string, []string, error) {
	if len(args) == 0 {
		return "", nil, refuse(ErrBadCommand, "say whom: an email address or a key fingerprint")
	}
	a := args[0]
	if strings.Contains(a, "@") {
		addr, ok := normalizeAddr(a)
		if !ok {
			return "", nil, refuse(ErrBadCommand, "%q is not an email address", clip(a, maxTokenLen))
		}
		return addr, args[1:], nil
	}
	if len(a) == 40 && isHex(a) {
		return strings.ToUpper(a), args[1:], nil
	}
	if len(args) >= 10 {
		var b strings.Builder
		for _, g := range args[:10] {
			if len(g) != 4 || !isHex(g) {
				break
			}
			b.WriteString(g)
		}
		if b.Len() == 40 {
			return strings.ToUpper(b.String()), args[10:], nil
		}
	}
	return "", nil, refuse(ErrBadCommand, "%q is neither an email address nor a key fingerprint", clip(a, maxTokenLen))
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// normalizeAddr checks a plain addr-spec (ASCII, as Delta Chat addresses
// are) and lower-cases it; "<addr>" and "mailto:addr" are accepted.
func normalizeAddr(s string) (string, bool) {
	s = strings.ToLower(s)
	if strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">") {
		s = s[1 : len(s)-1]
	}
	s = strings.TrimPrefix(s, "mailto:")
	return s, validAddr(s)
}

func validAddr(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	if !ok || len(s) > 254 || local == "" || len(local) > 64 || domain == "" || strings.Contains(domain, "@") {
		return false
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte(".!#$%&'*+/=?^_`{|}~-", c) >= 0) {
			return false
		}
	}
	for label := range strings.SplitSeq(domain, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// IsName reports whether s is a name token: a lower-case letter, then
// lower-case letters, digits, '-' or '_', at most 32 bytes in all. Command,
// property, argument, event and State names are name tokens.
func IsName(s string) bool {
	return s != "" && 'a' <= s[0] && s[0] <= 'z' && IsEnumValue(s)
}
