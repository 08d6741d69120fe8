package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Send submits one message over a connection of its own; see Sender.Send
// for the semantics and errors. Use a Sender to send several messages
// without logging in each time.
func Send(ctx context.Context, acct Account, from string, rcpts []string, raw []byte) error {
	s, err := NewSender(acct)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	defer s.Close()
	return s.Send(ctx, from, rcpts, raw)
}

// senderIdle is how long a Sender keeps an unused connection: below the
// 5 minutes after which RFC 5321 servers may drop a silent client.
const senderIdle = 2 * time.Minute

// Sender submits messages over one authenticated SMTP connection, kept
// open between sends (for up to 2 minutes of inactivity) and checked with
// RSET before reuse. A login costs the server a password hash (tens of
// milliseconds on a home node with argon2id), which a Sender pays once.
// It is safe for concurrent use; sends are serialised.
type Sender struct {
	acct Account

	mu   sync.Mutex
	c    *smtp.Client
	conn net.Conn
	idle *time.Timer
}

// NewSender checks the account and returns a Sender; it does not connect.
func NewSender(acct Account) (*Sender, error) {
	if err := acct.Validate(); err != nil {
		return nil, err
	}
	return &Sender{acct: acct}, nil
}

// Send submits one message (raw RFC 5322 bytes, CRLF or LF line endings):
// connect if needed with the account's security and pin, AUTH PLAIN (LOGIN
// if PLAIN is not offered), MAIL FROM, RCPT TO for each recipient, DATA.
//
// A nil error means the server accepted the message for every recipient.
// Errors wrap ErrPermanent when the server refused the message or a
// recipient with a 5xx reply (do not retry), ErrTemporary for a 4xx reply,
// and otherwise the connection sentinels (ErrDNS, ErrRefused, ErrTimeout,
// ErrTLS, ErrPinMismatch, ErrAuth); see Retryable. Send is all or nothing:
// when one recipient is refused nothing is sent. Without a deadline in ctx
// a send is bounded by 30 s to connect plus 5 minutes to submit.
func (s *Sender) Send(ctx context.Context, from string, rcpts []string, raw []byte) error {
	if err := checkAddress(from); err != nil {
		return fmt.Errorf("send: %w: sender: %w", ErrPermanent, err)
	}
	for _, r := range rcpts {
		if err := checkAddress(r); err != nil {
			return fmt.Errorf("send: %w: recipient: %w", ErrPermanent, err)
		}
	}
	switch {
	case len(rcpts) == 0:
		return fmt.Errorf("send: %w: no recipients", ErrPermanent)
	case len(raw) == 0:
		return fmt.Errorf("send: %w: empty message", ErrPermanent)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultConnectTimeout+smtpDataTimeout)
		defer cancel()
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.idle != nil {
		s.idle.Stop()
	}
	if s.c != nil {
		// The server may have dropped the connection meanwhile.
		if err := s.guard(ctx, s.c.Reset); err != nil {
			s.drop()
		}
	}
	if s.c == nil {
		c, conn, err := connectSMTP(ctx, &s.acct)
		if err != nil {
			return fmt.Errorf("send: %w", err)
		}
		s.c, s.conn = c, conn
	}
	if err := s.guard(ctx, func() error { return submit(s.c, from, rcpts, raw) }); err != nil {
		// After a failure the session state is unclear: start afresh.
		s.drop()
		return fmt.Errorf("send via %s: %w", s.acct.SMTP.HostPort, classify(ctxErr(ctx, err)))
	}
	s.idle = time.AfterFunc(senderIdle, func() { s.Close() })
	return nil
}

// guard runs f with the connection closed if ctx ends first.
func (s *Sender) guard(ctx context.Context, f func() error) error {
	conn := s.conn
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	return f()
}

func (s *Sender) drop() {
	if s.c != nil {
		s.c.Close()
	}
	s.c, s.conn = nil, nil
}

// Close ends the connection (QUIT) if one is open. The Sender stays
// usable: a later Send connects again.
func (s *Sender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.idle != nil {
		s.idle.Stop()
	}
	if s.c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.guard(ctx, s.c.Quit)
	s.drop()
	return err
}

func submit(c *smtp.Client, from string, rcpts []string, raw []byte) error {
	if max, ok := c.MaxMessageSize(); ok && max > 0 && len(raw) > max {
		return fmt.Errorf("%w: message is %d bytes, server accepts at most %d", ErrPermanent, len(raw), max)
	}
	opts := &smtp.MailOptions{Size: int64(len(raw))}
	if !isASCII(from) || !allASCII(rcpts) {
		opts.UTF8 = true
	}
	if err := c.Mail(from, opts); err != nil {
		return replyErr("MAIL FROM "+from, err)
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			return replyErr("RCPT TO "+r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return replyErr("DATA", err)
	}
	if _, err := bytes.NewReader(raw).WriteTo(w); err != nil {
		w.Close()
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return replyErr("end of DATA", err)
	}
	return nil
}

// replyErr classifies an SMTP reply as permanent (5xx) or temporary (4xx).
func replyErr(step string, err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		if se.Code >= 500 {
			return fmt.Errorf("%s: %w: %w", step, ErrPermanent, err)
		}
		return fmt.Errorf("%s: %w: %w", step, ErrTemporary, err)
	}
	return fmt.Errorf("%s: %w", step, err)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func allASCII(ss []string) bool {
	for _, s := range ss {
		if !isASCII(s) {
			return false
		}
	}
	return true
}
