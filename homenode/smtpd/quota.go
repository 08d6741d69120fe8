package smtpd

import (
	"context"
	"errors"
	"syscall"

	"github.com/emersion/go-smtp"

	"github.com/thingpost/thingpost/homenode/mailstore"
)

// quotaChecker is the part of the store that answers whether a message
// fits an account (*mailstore.Store). A store without it is checked at
// DATA only.
type quotaChecker interface {
	CheckQuota(ctx context.Context, addr string, size int64) error
}

// Quota replies (RFC 3463: X.2.2 mailbox full, X.2.3 message length over
// the recipient's limit, X.3.1 mail system full). Full is temporary (452):
// the sender tries again later and nothing is lost; a message that can never
// fit the account is permanent (552).
var (
	errOverQuota = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "Mailbox full, try again later"}
	errNeverFits = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2}, Message: "Message larger than the mailbox's whole quota"}
	errTooBigFor = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 3}, Message: "Message larger than the recipient accepts"}
)

// quotaReply is the reply for a store error that is about room, or nil.
func quotaReply(err error) *smtp.SMTPError {
	switch {
	case errors.Is(err, mailstore.ErrMessageTooBig) && errors.Is(err, mailstore.ErrQuota):
		return errNeverFits
	case errors.Is(err, mailstore.ErrMessageTooBig):
		return errTooBigFor
	case errors.Is(err, mailstore.ErrQuota):
		return errOverQuota
	case errors.Is(err, mailstore.ErrStoreFull):
		return errNoStorage
	}
	return nil
}

// storeReply is the reply to a failed store or queue write: the quota
// replies, 452 for a full disk (the client retries rather than bounces), or
// 451.
// Deliver stores all recipients or none, so a recipient that went over
// quota between RCPT and DATA makes the whole message 452: the sender tries
// again, and at that RCPT the full recipient is refused on its own.
func storeReply(err error) *smtp.SMTPError {
	if r := quotaReply(err); r != nil {
		return r
	}
	if errors.Is(err, syscall.ENOSPC) {
		return errNoStorage
	}
	return errStoreFailed
}

// announcedSize is the SIZE= of MAIL FROM, 0 when not given.
func announcedSize(opts *smtp.MailOptions) int64 {
	if opts == nil {
		return 0
	}
	return opts.Size
}

// checkRoom is the RCPT check of a local recipient: refused on its own
// with the quota replies when the message (of the size MAIL FROM announced,
// or of unknown size when it did not) cannot go in now.
func (sess *session) checkRoom(ctx context.Context, addr string) error {
	qc, ok := sess.srv.store.(quotaChecker)
	if !ok {
		return nil
	}
	err := qc.CheckQuota(ctx, addr, sess.size)
	if err == nil {
		return nil
	}
	if r := quotaReply(err); r != nil {
		sess.refuse("recipient refused", addr, err.Error())
		return r
	}
	sess.srv.log.Error("quota check failed", "client", sess.client(), "rcpt", addr, "err", err)
	return errStoreFailed
}
