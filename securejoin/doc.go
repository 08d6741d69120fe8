// Package securejoin implements Delta Chat's setup-contact protocol: the QR
// invite code (an i.delta.chat link or OPENPGP4FPR: URI) and the handshake that
// exchanges and verifies keys, as inviter (Alice: a thing showing its code) and
// as joiner (Bob: a person scanning it), in both the v3 and the legacy flow.
package securejoin
