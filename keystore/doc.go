// Package keystore holds OpenPGP identities: the person's or the thing's own key
// pair (create, import, export, lock at rest) and the keyring of known peers.
//
// Keys have the shape Delta Chat makes and accepts: OpenPGP v4, an Ed25519
// primary key for signing and a Curve25519 subkey for encryption, one User ID
// "<addr>" or "Name <addr>", and the SEIPDv2 feature advertised. New makes
// only that shape; imports accept any v4 key go-crypto can sign and encrypt
// with (RSA too, as Delta Chat does) that has an encryption subkey and an
// address in its User ID, and is not revoked or expired.
//
// At rest an identity lives in one file, dir/FileName: locked by a
// passphrase through argon2id and XChaCha20-Poly1305 (Save, Load,
// ChangePassphrase), or, for a thing that must boot unattended, explicitly
// unprotected (SaveUnprotected, LoadUnprotected). Writes are atomic and
// never replace a different identity.
//
// For exchange: ImportPrivate reads what gpg --export-secret-keys writes and
// ExportPrivate writes what GnuPG 2.2 imports; ImportPublic and ImportKeydata
// read public keys, and PublicKey.Armor and PublicKey.Keydata write them in
// the minimal form that Autocrypt carries (PublicKey.Bytes).
//
// Keys are made, read and written with go-crypto's openpgp/v2 API, not with
// gopenpgp v2, on purpose. gopenpgp's GenerateKey(name, addr, "x25519", 0)
// makes the same Ed25519 and Curve25519 pair but advertises neither SEIPDv2
// nor AEAD ciphersuites (Features 0x01, not 0x09), so peers would encrypt
// to such a key with SEIPDv1 only. Its Key wraps go-crypto's older openpgp
// Entity, not the openpgp/v2 Entity that envelope works with, so each import
// would parse the key twice. Its Lock protects with 65,536 S2K iterations
// where ExportPrivate uses 65,011,712 (neither replaces argon2id at rest),
// and its Armor adds Version and Comment headers. What is left, armoring
// bytes, is one go-crypto call.
//
// A Keyring holds peers' public keys by fingerprint and address and marshals
// to bytes for the caller's own store.
package keystore
