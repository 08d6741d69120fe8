// Package envelope seals and opens the messages people and things exchange:
// RFC 3156 PGP/MIME, signed and encrypted with OpenPGP, RFC 9788 protected
// headers inside, Autocrypt and Autocrypt-Gossip headers, in the shape Delta
// Chat sends and accepts (see reference/deltachat-interop.md).
//
// Seal builds a signed and encrypted message from a Draft. Open parses,
// decrypts and verifies one and returns a *Message only when the message is
// encrypted to us and validly signed by a key bound to its From address; every
// other outcome is an error (see the sentinel errors) and a nil *Message, so
// unauthenticated plaintext never reaches a caller labelled as verified.
//
// SealSymmetric and OpenSymmetric do the same with a shared passphrase for the
// Securejoin v3 steps (vc-request-pubkey, vc-pubkey).
//
// The package holds no state beyond a pool of compressor buffers; every
// function is safe for concurrent use with shared keys. (go-crypto caches
// signature checks inside key entities; keystore fills those caches when it
// creates or imports a key, before the key can be shared.)
package envelope
