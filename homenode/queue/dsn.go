package queue

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"strings"
	"time"

	"github.com/thingpost/thingpost/homenode/mailstore"
)

// bounce stores a delivery status notification (RFC 3464) for the failed
// recipients in the sender's INBOX. Mail from the null sender (itself a
// bounce) is never bounced, and a sender that is no longer a local user
// gets none (logged).
func (q *Queue) bounce(ctx context.Context, it mailstore.QueueItem, failed []result, now time.Time) error {
	if it.From == "" {
		q.log.Info("bounce suppressed: null sender", "id", it.ID, "rcpts", rcptsOf(failed))
		return nil
	}
	dsn, err := q.buildDSN(it, failed, now)
	if err != nil {
		return err
	}
	err = q.store.Deliver(ctx, []string{it.From}, dsn)
	if errors.Is(err, mailstore.ErrNoSuchUser) || errors.Is(err, mailstore.ErrInvalidAddress) {
		q.log.Warn("bounce dropped: sender is not a local user", "id", it.ID, "from", it.From, "rcpts", rcptsOf(failed))
		return nil
	}
	if err != nil {
		return fmt.Errorf("deliver bounce: %w", err)
	}
	q.log.Info("bounced", "id", it.ID, "from", it.From, "rcpts", rcptsOf(failed))
	return nil
}

func rcptsOf(rs []result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.rcpt
	}
	return out
}

// buildDSN writes a multipart/report; report-type=delivery-status message:
// a text part for people, the machine-readable status, and the headers of
// the original message (not its body: it may be large, and it is encrypted
// anyway).
func (q *Queue) buildDSN(it mailstore.QueueItem, failed []result, now time.Time) ([]byte, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	date := now.Format(time.RFC1123Z)

	var b bytes.Buffer
	fmt.Fprintf(&b, "Return-Path: <>\r\n")
	fmt.Fprintf(&b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", q.opts.Hostname)
	fmt.Fprintf(&b, "To: <%s>\r\n", it.From)
	fmt.Fprintf(&b, "Subject: Undelivered Mail Returned to Sender\r\n")
	fmt.Fprintf(&b, "Date: %s\r\n", date)
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", randomID(), q.opts.Hostname)
	fmt.Fprintf(&b, "Auto-Submitted: auto-replied\r\n")
	fmt.Fprintf(&b, "MIME-Version: 1.0\r\n")
	fmt.Fprintf(&b, "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n\r\n", mw.Boundary())

	var text strings.Builder
	fmt.Fprintf(&text, "This is the mail system at %s.\r\n\r\n", q.opts.Hostname)
	fmt.Fprintf(&text, "Your message could not be delivered to the following recipients:\r\n\r\n")
	for _, r := range failed {
		reason := r.err.Error()
		if r.expired {
			reason = fmt.Sprintf("gave up after %s of trying; last error: %s", fmtAge(q.opts.MaxAge), reason)
		}
		fmt.Fprintf(&text, "<%s>: %s\r\n", r.rcpt, oneLine(reason))
	}
	if err := writePart(mw, "text/plain; charset=utf-8", text.String()); err != nil {
		return nil, err
	}

	var st strings.Builder
	fmt.Fprintf(&st, "Reporting-MTA: dns; %s\r\n", q.opts.Hostname)
	fmt.Fprintf(&st, "Arrival-Date: %s\r\n", it.Created.Format(time.RFC1123Z))
	for _, r := range failed {
		var de *deliveryError
		status := "5.0.0"
		if errors.As(r.err, &de) && de.status != "" {
			status = de.status
		}
		fmt.Fprintf(&st, "\r\nFinal-Recipient: rfc822; %s\r\n", oneLine(r.rcpt))
		fmt.Fprintf(&st, "Action: failed\r\n")
		fmt.Fprintf(&st, "Status: %s\r\n", status)
		if r.host != "" {
			fmt.Fprintf(&st, "Remote-MTA: dns; %s\r\n", oneLine(r.host))
		}
		if de != nil && de.reply != "" {
			fmt.Fprintf(&st, "Diagnostic-Code: smtp; %s\r\n", oneLine(de.reply))
		}
		fmt.Fprintf(&st, "Last-Attempt-Date: %s\r\n", date)
	}
	if err := writePart(mw, "message/delivery-status", st.String()); err != nil {
		return nil, err
	}
	if err := writePart(mw, "text/rfc822-headers", string(headerSection(it.Raw))); err != nil {
		return nil, err
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	b.Write(body.Bytes())
	return b.Bytes(), nil
}

func writePart(mw *multipart.Writer, contentType, content string) error {
	w, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {contentType}})
	if err != nil {
		return err
	}
	_, err = w.Write([]byte(content))
	return err
}

// headerSection is raw up to (and with) the empty line ending its header.
func headerSection(raw []byte) []byte {
	for _, sep := range []string{"\r\n\r\n", "\n\n"} {
		if i := bytes.Index(raw, []byte(sep)); i >= 0 {
			return raw[:i+len(sep)]
		}
	}
	return raw
}

// oneLine keeps server-supplied text on one header line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func fmtAge(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

func randomID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
