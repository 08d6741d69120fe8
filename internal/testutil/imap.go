package testutil

import (
	"errors"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// IMAPAppend appends raw to mailbox over c and returns the server's answer.
func IMAPAppend(c *imapclient.Client, mailbox string, raw []byte) error {
	cmd := c.Append(mailbox, int64(len(raw)), nil)
	if _, err := cmd.Write(raw); err != nil {
		return err
	}
	if err := cmd.Close(); err != nil {
		return err
	}
	_, err := cmd.Wait()
	return err
}

// IMAPCode is the response code of an IMAP error (NO [OVERQUOTA] ...), or
// "".
func IMAPCode(err error) imap.ResponseCode {
	var ie *imap.Error
	if errors.As(err, &ie) {
		return ie.Code
	}
	return ""
}
