// Package keystore holds OpenPGP identities: the person's or the thing's own key
// pair (create, import, export, lock at rest) and the keyring of known peers.
//
// Keys have the shape Delta Chat makes and accepts: OpenPGP v4, an Ed25519
// primary key for signing and a Curve25519 subkey for encryption, one User ID
// "<addr>" or "Name <addr>", and the SEIPDv2 feature advertised.
package keystore
