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
// ExportPrivate writes what GnuPG 2.2 imports; ImportPublic, ImportKeydata,
// PublicKey.Armor and PublicKey.Keydata carry public keys, the latter in the
// minimal five-packet form of Autocrypt.
//
// A Keyring holds peers' public keys by fingerprint and address and marshals
// to bytes for the caller's own store.
package keystore
