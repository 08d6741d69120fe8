package envelope

import "errors"

// Sentinel errors callers decide on. Open and OpenSymmetric wrap them with
// context; test with errors.Is.
var (
	// ErrNotEncrypted: the message is not a PGP/MIME encrypted message (or
	// its payload is an OpenPGP message without encryption).
	ErrNotEncrypted = errors.New("envelope: message is not encrypted")
	// ErrUnsigned: the message decrypted but carries no signature (Delta
	// Chat's Keyupdate and read receipts are like this: ignore quietly).
	ErrUnsigned = errors.New("envelope: message is not signed")
	// ErrUnknownSigner: the signature is by a key not trusted for the From
	// address.
	ErrUnknownSigner = errors.New("envelope: signed by an unknown key")
	// ErrSignerMismatch: the signature is by a key we know, but that key
	// belongs to another address than From.
	ErrSignerMismatch = errors.New("envelope: signer does not match From")
	// ErrBadSignature: a signature does not verify, is malformed, is dated in
	// the future, or there are several.
	ErrBadSignature = errors.New("envelope: bad signature")
	// ErrNotIntendedRecipient: the signature names its intended recipients
	// and our key is not among them (the message was re-encrypted to us).
	ErrNotIntendedRecipient = errors.New("envelope: not an intended recipient")
	// ErrMalformed: the MIME or OpenPGP structure cannot be parsed, or the
	// outer and protected headers contradict each other.
	ErrMalformed = errors.New("envelope: malformed message")
	// ErrTooLarge: the message, or its decompressed content, is over the
	// size limit.
	ErrTooLarge = errors.New("envelope: message too large")
	// ErrDecrypt: the message is not encrypted to our key (or to any given
	// passphrase), or its integrity check failed.
	ErrDecrypt = errors.New("envelope: cannot decrypt")
	// ErrBadAutocrypt: an Autocrypt or Autocrypt-Gossip header is invalid.
	ErrBadAutocrypt = errors.New("envelope: invalid Autocrypt header")
)
