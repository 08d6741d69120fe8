package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/emersion/go-smtp"
)

// Send submits one message (raw RFC 5322 bytes, CRLF or LF line endings) to
// the account's SMTP server: connect with the account's security and pin,
// AUTH PLAIN (LOGIN if PLAIN is not offered), MAIL FROM, RCPT TO for each
// recipient, DATA.
//
// A nil error means the server accepted the message for every recipient.
// Errors wrap ErrPermanent when the server refused the message or a
// recipient with a 5xx reply (do not retry), ErrTemporary for a 4xx reply,
// and otherwise the connection sentinels (ErrDNS, ErrRefused, ErrTimeout,
// ErrTLS, ErrPinMismatch, ErrAuth); see Retryable. Send is all or nothing:
// when one recipient is refused nothing is sent.
func Send(ctx context.Context, acct Account, from string, rcpts []string, raw []byte) error {
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
	if err := acct.Validate(); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultConnectTimeout+smtpDataTimeout)
		defer cancel()
	}
	c, conn, err := connectSMTP(ctx, &acct)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer c.Close()

	if err := submit(c, from, rcpts, raw); err != nil {
		return fmt.Errorf("send via %s: %w", acct.SMTP.HostPort, classify(ctxErr(ctx, err)))
	}
	// The message is accepted; a failing QUIT changes nothing.
	_ = c.Quit()
	return nil
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
