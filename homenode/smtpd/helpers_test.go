package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/thingpost/thingpost/internal/testutil"

	"github.com/emersion/go-smtp"

	"github.com/thingpost/thingpost/homenode/accounts"
	"github.com/thingpost/thingpost/homenode/mailstore"
)

func addUser(t testing.TB, st *mailstore.Store, addr, pw string) {
	t.Helper()
	h, err := accounts.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddUser(context.Background(), addr, h); err != nil {
		t.Fatal(err)
	}
}

func testLogger(buf *testutil.SyncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, nil))
}

func clientTLS() *tls.Config { return &tls.Config{InsecureSkipVerify: true} }

// code is the SMTP reply code in err, or 0.
func code(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func enhanced(err error) string {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
	}
	return ""
}

func message(from, to, subject, body string) string {
	return "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject +
		"\r\nDate: Mon, 02 Jan 2026 15:04:05 +0000\r\nMessage-ID: <" + subject + "@test>\r\n\r\n" + body + "\r\n"
}

// send runs one transaction on c and returns the first error.
func send(c *smtp.Client, from string, to []string, msg string) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	return w.Close()
}

func dial(t testing.TB, addr string) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func contains(haystack []byte, needles ...string) bool {
	for _, n := range needles {
		if !strings.Contains(string(haystack), n) {
			return false
		}
	}
	return true
}
