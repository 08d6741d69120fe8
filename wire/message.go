package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// HeaderName is the protected header that carries the machine form.
const HeaderName = "Thingpost-Wire"

// Version is the machine-form version this package writes and reads. Any
// change to the JSON shape, a new field included, makes a new version:
// Decode refuses unknown fields.
const Version = 1

// Limits on the machine form.
const (
	// MaxJSONLen bounds the JSON of one Message.
	MaxJSONLen = 32 << 10
	// MaxHeaderLen bounds a header value, folding white space included.
	MaxHeaderLen = 64 << 10
	// MaxText bounds a human text (Reply.Text, Event.Text), in bytes.
	MaxText = 4096
	// MaxReason bounds Reply.Reason, in bytes.
	MaxReason = 512
	// MaxUsers bounds Reply.Users.
	MaxUsers = 256

	maxDepth  = 16
	maxURLLen = 2048
)

// Sentinel errors of the machine form.
var (
	// ErrBadMessage means a machine-form message is malformed or invalid.
	ErrBadMessage = errors.New("wire: bad message")
	// ErrUnsupportedVersion means the message has a version this package
	// does not know.
	ErrUnsupportedVersion = errors.New("wire: unsupported version")
	// ErrTooLarge means a message exceeds MaxJSONLen or MaxHeaderLen.
	ErrTooLarge = errors.New("wire: message too large")
)

// Code says why a command was refused.
type Code string

// Reply codes. Other name tokens are accepted on the wire, so that a thing
// can say more; these are the ones this package and the agent use.
const (
	CodeUnknownCommand Code = "unknown-command" // ErrUnknownCommand
	CodeBadCommand     Code = "bad-command"     // ErrBadCommand
	CodeBadValue       Code = "bad-value"       // ErrBadValue
	CodeUnsupported    Code = "unsupported"     // ErrUnsupported
	CodeNotAllowed     Code = "not-allowed"     // the sender's role does not allow the command
	CodeUnavailable    Code = "unavailable"     // the device does not answer
	CodeFailed         Code = "failed"          // the device tried and failed
)

// Role is what a person may do with a thing.
type Role string

// Roles.
const (
	RoleOwner  Role = "owner"
	RoleMember Role = "member"
	RoleGuest  Role = "guest"
)

// Message is the machine form: exactly one of Command, Reply and Event.
type Message struct {
	Version int      `json:"v"`
	Command *Command `json:"cmd,omitempty"`
	Reply   *Reply   `json:"reply,omitempty"`
	Event   *Event   `json:"event,omitempty"`
}

// Reply answers a command: done (OK) or refused with a Code and a Reason.
// Text is the sentence the person reads, also in the plain text part.
type Reply struct {
	OK           bool          `json:"ok"`
	Code         Code          `json:"code,omitempty"`   // refused only
	Reason       string        `json:"reason,omitempty"` // refused only: for people
	Text         string        `json:"text"`             // "The lamp is on, brightness 40%."
	Command      *Command      `json:"cmd,omitempty"`    // the command answered, canonical
	State        State         `json:"state,omitempty"`  // the state after the command
	Capabilities *Capabilities `json:"caps,omitempty"`   // answer to describe
	Users        []User        `json:"users,omitempty"`  // answer to users
	Invite       *Invite       `json:"invite,omitempty"` // answer to invite
}

// Refusal is the reply to a refused command. A *CommandError gives its own
// code and reason; any other error is CodeFailed with its text.
func Refusal(cmd *Command, err error) Reply {
	code := CodeFailed
	var ce *CommandError
	if errors.As(err, &ce) {
		code = ce.Code()
	}
	reason := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, clip(err.Error(), MaxReason/4))
	return Reply{Code: code, Reason: reason, Text: upperFirst(reason) + ".", Command: cmd}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// Event is something a thing tells its subscribers on its own.
type Event struct {
	Kind   string    `json:"kind"`             // "door-opened", "temperature-above"
	Time   time.Time `json:"time"`             // when it happened
	Text   string    `json:"text"`             // "The front door opened."
	Values State     `json:"values,omitempty"` // e.g. value 31.5, threshold 30
	State  State     `json:"state,omitempty"`  // the thing's state after the event
}

// User is one person the thing knows, in the answer to "users".
type User struct {
	Addr        string    `json:"addr"`
	Fingerprint string    `json:"fpr"` // 40 upper-case hex digits
	Role        Role      `json:"role"`
	Expires     time.Time `json:"expires,omitzero"` // when the role ends; zero: never
	// Pending: a joiner waiting for the owner's "confirm" (his address was
	// not verified); he has no rights yet.
	Pending bool `json:"pending,omitempty"`
}

// Invite is a fresh invitation code, in the answer to "invite".
type Invite struct {
	URL     string    `json:"url"`           // https://i.delta.chat/#... or OPENPGP4FPR:...
	Role    Role      `json:"role"`          // the role the joiner gets
	For     string    `json:"for,omitempty"` // how long the role lasts, canonical expiry ("2h"); empty: no end
	Expires time.Time `json:"expires"`       // when the code stops working
}

// Check validates m as Encode and Decode do.
func (m *Message) Check() error {
	if m.Version != Version {
		return fmt.Errorf("%w %d", ErrUnsupportedVersion, m.Version)
	}
	n := 0
	for _, set := range []bool{m.Command != nil, m.Reply != nil, m.Event != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("%w: need exactly one of cmd, reply, event; have %d", ErrBadMessage, n)
	}
	var err error
	switch {
	case m.Command != nil:
		err = m.Command.checkAny()
	case m.Reply != nil:
		err = m.Reply.check()
	default:
		err = m.Event.check()
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	return nil
}

// checkAny checks the form of a command that may be declared by any thing.
func (cmd *Command) checkAny() error {
	if err := cmd.check(func(string) bool { return true }); err != nil {
		return fmt.Errorf("cmd: %w", err)
	}
	return nil
}

func (r *Reply) check() error {
	if err := checkText("text", r.Text, MaxText, false); err != nil {
		return err
	}
	if r.OK {
		if r.Code != "" || r.Reason != "" {
			return errors.New("reply: ok with a code or reason")
		}
	} else {
		if !IsName(string(r.Code)) {
			return fmt.Errorf("reply: refusal code %q is not a name token", r.Code)
		}
		if err := checkText("reason", r.Reason, MaxReason, false); err != nil {
			return err
		}
	}
	if r.Command != nil {
		if err := r.Command.checkAny(); err != nil {
			return err
		}
	}
	if err := r.State.check(); err != nil {
		return fmt.Errorf("reply: %w", err)
	}
	if r.Capabilities != nil {
		if err := r.Capabilities.Check(); err != nil {
			return err
		}
	}
	if len(r.Users) > MaxUsers {
		return fmt.Errorf("reply: more than %d users", MaxUsers)
	}
	for _, u := range r.Users {
		if err := u.check(); err != nil {
			return err
		}
	}
	if r.Invite != nil {
		return r.Invite.check()
	}
	return nil
}

func (e *Event) check() error {
	if !IsName(e.Kind) {
		return fmt.Errorf("event: kind %q is not a name token", e.Kind)
	}
	if err := checkTime("event time", e.Time, false); err != nil {
		return err
	}
	if err := checkText("text", e.Text, MaxText, false); err != nil {
		return err
	}
	if err := e.Values.check(); err != nil {
		return fmt.Errorf("event values: %w", err)
	}
	if err := e.State.check(); err != nil {
		return fmt.Errorf("event: %w", err)
	}
	return nil
}

func (u *User) check() error {
	if !validAddr(u.Addr) || strings.ToLower(u.Addr) != u.Addr {
		return fmt.Errorf("user: %q is not a lower-case email address", u.Addr)
	}
	if len(u.Fingerprint) != 40 || !isHex(u.Fingerprint) || strings.ToUpper(u.Fingerprint) != u.Fingerprint {
		return fmt.Errorf("user %s: fingerprint %q is not 40 upper-case hex digits", u.Addr, u.Fingerprint)
	}
	switch u.Role {
	case RoleOwner, RoleMember, RoleGuest:
	default:
		return fmt.Errorf("user %s: unknown role %q", u.Addr, u.Role)
	}
	return checkTime("user expiry", u.Expires, true)
}

func (iv *Invite) check() error {
	lower := strings.ToLower(iv.URL)
	if !strings.HasPrefix(iv.URL, "https://i.delta.chat/#") && !strings.HasPrefix(lower, "openpgp4fpr:") {
		return fmt.Errorf("invite: %q is not an invite link", clip(iv.URL, 40))
	}
	if len(iv.URL) > maxURLLen || strings.ContainsFunc(iv.URL, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return errors.New("invite: link is too long or has spaces or non-ASCII characters")
	}
	if iv.Role != RoleMember && iv.Role != RoleGuest {
		return fmt.Errorf("invite: role %q is not member or guest", iv.Role)
	}
	if iv.For != "" {
		if d, ok := parseExpiry(iv.For); !ok || FormatExpiry(d) != iv.For {
			return fmt.Errorf("invite: %q is not a canonical expiry", iv.For)
		}
	}
	return checkTime("invite expiry", iv.Expires, false)
}

// checkText allows new lines and tabs but no other control characters, so
// that a thing cannot drive the terminal of a person reading its replies.
func checkText(what, s string, limit int, empty bool) error {
	switch {
	case s == "" && !empty:
		return fmt.Errorf("%s is empty", what)
	case len(s) > limit:
		return fmt.Errorf("%s is longer than %d bytes", what, limit)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not UTF-8", what)
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }):
		return fmt.Errorf("%s contains control characters", what)
	}
	return nil
}

func checkTime(what string, t time.Time, zeroOK bool) error {
	if t.IsZero() {
		if zeroOK {
			return nil
		}
		return fmt.Errorf("%s is missing", what)
	}
	if y := t.Year(); y < 1970 || y > 9999 {
		return fmt.Errorf("%s %v is out of range", what, t)
	}
	return nil
}

// EncodeJSON checks m and writes its compact JSON. A zero Version means the
// current one.
func EncodeJSON(m Message) ([]byte, error) {
	if m.Version == 0 {
		m.Version = Version
	}
	if err := m.Check(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	out := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	if len(out) > MaxJSONLen {
		return nil, fmt.Errorf("%w: %d bytes of JSON, at most %d", ErrTooLarge, len(out), MaxJSONLen)
	}
	return out, nil
}

// Encode checks m and writes the HeaderName value: base64 of its JSON. The
// value has no white space; the envelope may fold it anywhere.
func Encode(m Message) (string, error) {
	b, err := EncodeJSON(m)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// Decode reads a HeaderName value: white space from header folding is
// ignored, the rest must be padded base64 of one JSON object of the current
// Version that passes the checks (see DecodeJSON).
func Decode(value string) (Message, error) {
	if len(value) > MaxHeaderLen {
		return Message{}, fmt.Errorf("%w: header value of %d bytes, at most %d", ErrTooLarge, len(value), MaxHeaderLen)
	}
	compact := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, value)
	b, err := base64.StdEncoding.Strict().DecodeString(compact)
	if err != nil {
		return Message{}, fmt.Errorf("%w: base64: %w", ErrBadMessage, err)
	}
	return DecodeJSON(b)
}

// DecodeJSON reads the JSON of one Message strictly: one object; no null,
// unknown field or duplicate key; keys are lower-case name tokens; version
// first (ErrUnsupportedVersion), then every check Encode makes.
func DecodeJSON(b []byte) (Message, error) {
	if len(b) > MaxJSONLen {
		return Message{}, fmt.Errorf("%w: %d bytes of JSON, at most %d", ErrTooLarge, len(b), MaxJSONLen)
	}
	if err := checkShape(b); err != nil {
		return Message{}, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	var head struct {
		V json.RawMessage `json:"v"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return Message{}, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	if head.V == nil {
		return Message{}, fmt.Errorf("%w: no version", ErrBadMessage)
	}
	if v, err := strconv.Atoi(string(head.V)); err != nil || v != Version {
		return Message{}, fmt.Errorf("%w %s", ErrUnsupportedVersion, clip(string(head.V), 16))
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var m Message
	if err := d.Decode(&m); err != nil {
		return Message{}, fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	if err := m.Check(); err != nil {
		return Message{}, err
	}
	return m, nil
}

// checkShape walks the JSON tokens: a single object, nesting at most
// maxDepth, keys that are unique lower-case name tokens (so that the
// standard decoder's case-insensitive matching never applies), no null.
func checkShape(b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if !bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{")) {
		return errors.New("not a JSON object")
	}
	if err := walk(d, 0); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("data after the JSON object")
	}
	return nil
}

func walk(d *json.Decoder, depth int) error {
	t, err := d.Token()
	if err != nil {
		return err
	}
	switch t := t.(type) {
	case nil:
		return errors.New("null is not allowed")
	case json.Delim:
		if depth >= maxDepth {
			return errors.New("JSON nested too deeply")
		}
		if t == '{' {
			keys := map[string]bool{}
			for d.More() {
				kt, err := d.Token()
				if err != nil {
					return err
				}
				k, _ := kt.(string)
				if !IsName(k) || keys[k] {
					return fmt.Errorf("key %q is not a lower-case name token or repeats", clip(k, maxNameLen))
				}
				keys[k] = true
				if err := walk(d, depth+1); err != nil {
					return err
				}
			}
		} else {
			for d.More() {
				if err := walk(d, depth+1); err != nil {
					return err
				}
			}
		}
		_, err := d.Token() // the closing delimiter
		return err
	}
	return nil
}
