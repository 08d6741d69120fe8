package queue

import (
	"bufio"
	"bytes"
	"fmt"
	"net/mail"
	"strings"

	"github.com/emersion/go-message/textproto"
	"github.com/emersion/go-msgauth/dkim"

	"github.com/thingpost/thingpost/homenode/mailstore"
)

// signedHeaders are the fields signed when present (RFC 6376 section 5.4.1,
// plus Autocrypt and Chat-Version that Delta Chat relies on).
var signedHeaders = []string{
	"From", "Reply-To", "Sender", "Subject", "Date", "Message-ID", "To", "Cc",
	"In-Reply-To", "References", "MIME-Version", "Content-Type",
	"Content-Transfer-Encoding", "Content-Disposition", "Autocrypt", "Chat-Version",
	"List-Unsubscribe",
}

// sign returns the message, with CRLF line ends, with a DKIM-Signature
// prepended, or without one when no key is configured or it cannot be
// signed (logged: the mail still goes out, receivers just see it unsigned).
func (q *Queue) sign(it mailstore.QueueItem) []byte {
	raw := crlf(it.Raw)
	k := q.opts.DKIM
	if k == nil || k.Signer == nil {
		return raw
	}
	sig, err := dkimSignature(raw, k)
	if err != nil {
		q.log.Error("DKIM signing failed; sending unsigned", "id", it.ID, "err", err)
		return raw
	}
	out := make([]byte, 0, len(sig)+len(raw))
	return append(append(out, sig...), raw...)
}

// dkimSignature computes the DKIM-Signature field (with its CRLF) for raw.
func dkimSignature(raw []byte, k *DKIM) (string, error) {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return "", fmt.Errorf("read header: %w", err)
	}
	from, err := mail.ParseAddress(h.Get("From"))
	if err != nil {
		return "", fmt.Errorf("parse the From header: %w", err)
	}
	domain := normDomain(from.Address[strings.LastIndexByte(from.Address, '@')+1:])
	if len(k.Domains) > 0 && !containsFold(k.Domains, domain) {
		domain = normDomain(k.Domains[0])
	}
	var keys []string
	for _, name := range signedHeaders {
		for range h.Values(name) {
			keys = append(keys, name)
		}
	}
	// Listing From once more than it occurs makes an added From field
	// break the signature.
	keys = append(keys, "From")
	s, err := dkim.NewSigner(&dkim.SignOptions{
		Domain:                 domain,
		Selector:               k.Selector,
		Signer:                 k.Signer,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             keys,
	})
	if err != nil {
		return "", err
	}
	if _, err := s.Write(raw); err != nil {
		s.Close()
		return "", err
	}
	if err := s.Close(); err != nil {
		return "", err
	}
	return s.Signature(), nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if normDomain(x) == s {
			return true
		}
	}
	return false
}
