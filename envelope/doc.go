// Package envelope seals and opens the messages people and things exchange:
// RFC 3156 PGP/MIME, signed and encrypted with OpenPGP, RFC 9788 protected
// headers inside, Autocrypt and Autocrypt-Gossip headers, in the shape Delta
// Chat sends and accepts: an outer header that shows only the sender's
// address (To "hidden-recipients": ;, Subject [...], a randomly earlier
// Date), the real headers and the sender's Autocrypt key inside, encrypted
// to every recipient and to self.
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
// The OpenPGP work is done with go-crypto's packet layer and openpgp/v2
// API, not with gopenpgp, on purpose. Seal writes anonymous recipients
// (all-zero key IDs in every PKESK, as Delta Chat does) and still lists
// every recipient in the signature's Intended Recipient Fingerprint
// subpackets, a pair go-crypto's EncryptWithParams does not write
// (encryptTo assembles the packets); it uses SEIPDv2 (AES-128 OCB, 8 KiB
// chunks) when every recipient key advertises it, and signs with the Issuer
// Fingerprint subpacket. SealSymmetric needs exactly one v6 SKESK with S2K
// type 1 "Salted" and SEIPDv2, which gopenpgp's password encryption
// (iterated S2K, SEIPDv1) cannot make. Open gives go-crypto only our
// decryption key and verifies the signature itself against the keys
// trusted for From, so that it knows which key signed and can check the
// intended recipients and the issuer fingerprint; gopenpgp v2's Decrypt
// does not say which key signed, and hands back the plaintext together
// with a signature error. And checkPackets and symmetricKey read the raw packets to refuse
// framing that no cryptographic check covers. gopenpgp v2 is built on
// go-crypto's older openpgp API besides, whose Entity is not the
// openpgp/v2 Entity that keystore hands out.
//
// The package holds no state beyond a pool of compressor buffers; every
// function is safe for concurrent use with shared keys. (go-crypto caches
// signature checks inside key entities; keystore fills those caches when it
// creates or imports a key, before the key can be shared.)
package envelope
