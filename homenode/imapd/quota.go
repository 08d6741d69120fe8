package imapd

import (
	"errors"

	"github.com/emersion/go-imap/v2"

	"github.com/thingpost/thingpost/homenode/mailstore"
)

// quotaErr is the NO response to a store error about room, or nil: RFC
// 9208's [OVERQUOTA] for a full account or store (also for a message larger
// than the whole quota), RFC 7889's [TOOBIG] for one over the account's
// message size limit.
func quotaErr(err error) error {
	code := imap.ResponseCode("")
	switch {
	case errors.Is(err, mailstore.ErrQuota), errors.Is(err, mailstore.ErrStoreFull):
		code = imap.ResponseCodeOverQuota
	case errors.Is(err, mailstore.ErrMessageTooBig):
		code = imap.ResponseCodeTooBig
	default:
		return nil
	}
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: code, Text: err.Error()}
}
