package envelope

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/thingpost/thingpost/keystore"
)

// craft builds a PGP/MIME message with d's headers but lets pgp produce the
// OpenPGP layer from the protected inner entity.
func craft(t testing.TB, d *Draft, pgp func(inner []byte) []byte) []byte {
	t.Helper()
	_, _, outer, inner, err := d.build()
	if err != nil {
		t.Fatal(err)
	}
	arm, err := armorMessage(pgp(inner))
	if err != nil {
		t.Fatal(err)
	}
	return wrapEncrypted(outer, arm)
}

// encryptBody encrypts to recipients with body writing the content.
func encryptBody(t testing.TB, recipients []*openpgp.Entity, body func(seipd io.WriteCloser, intended []*packet.Recipient, cfg *packet.Config) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := encryptStream(&b, recipients, time.Now(), body); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// openAs decrypts a sealed message's OpenPGP layer as self without checking
// the signature: what a recipient who turns attacker can see.
func openAs(t testing.TB, raw []byte, self *keystore.Identity) *decrypted {
	t.Helper()
	d, err := decrypt(payload(t, raw), decryptRing{self: self.Entity()}, nil, DefaultMaxSize, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// armoredPayload returns the armored OpenPGP message of a PGP/MIME message.
func armoredPayload(t testing.TB, raw []byte) []byte {
	t.Helper()
	_, arm, err := parseOuter(raw, DefaultMaxSize)
	if err != nil {
		t.Fatal(err)
	}
	return arm
}

// payload returns the binary OpenPGP message of a PGP/MIME message.
func payload(t testing.TB, raw []byte) []byte {
	t.Helper()
	bin, err := dearmor(armoredPayload(t, raw), DefaultMaxSize)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// rewrap replaces the OpenPGP payload of a PGP/MIME message.
func rewrap(t testing.TB, raw, bin []byte) []byte {
	t.Helper()
	oldArm := armoredPayload(t, raw)
	newArm, err := armorMessage(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, old := range [][]byte{oldArm, []byte(crlf(string(oldArm)))} {
		if bytes.Contains(raw, old) {
			return bytes.Replace(raw, old, []byte(crlf(string(newArm))), 1)
		}
	}
	t.Fatal("rewrap: payload not found")
	return nil
}

func TestOpenRefuses(t *testing.T) {
	var tk testKeys
	alice, bob, carol, mallory := tk.id(t, "alice@home.example"), tk.id(t, "bob@home.example"),
		tk.id(t, "carol@home.example"), tk.id(t, "mallory@home.example")
	draft := func() *Draft {
		return &Draft{From: alice, To: []*keystore.PublicKey{bob.Public()}, Subject: "cmd", Text: "on"}
	}
	good := seal(t, draft()).Raw
	opts := OpenOptions{Self: bob, Trusted: trust(alice.Public(), mallory.Public()), Known: known(alice.Public(), mallory.Public())}
	// Sanity: the unmodified message opens, so each refusal below is caused
	// by what the case changes.
	if _, err := Open(context.Background(), good, opts); err != nil {
		t.Fatalf("good message refused: %v", err)
	}
	toBob := []*openpgp.Entity{bob.Public().Entity(), alice.Public().Entity()}

	tests := []struct {
		name string
		raw  func() []byte
		opts func(OpenOptions) OpenOptions
		want error
	}{
		{"encrypted but unsigned", func() []byte {
			return craft(t, draft(), func(inner []byte) []byte {
				return encryptBody(t, toBob, func(w io.WriteCloser, _ []*packet.Recipient, cfg *packet.Config) error {
					return signedLiteral(w, inner, nil, nil, cfg)
				})
			})
		}, nil, ErrUnsigned},
		{"signed by an unknown key", func() []byte {
			return seal(t, &Draft{From: carol, To: []*keystore.PublicKey{bob.Public()}, Text: "on"}).Raw
		}, nil, ErrUnknownSigner},
		{"unknown key, and From claims a trusted sender", func() []byte {
			return craft(t, draft(), func(inner []byte) []byte {
				return encryptBody(t, toBob, func(w io.WriteCloser, ir []*packet.Recipient, cfg *packet.Config) error {
					return signedLiteral(w, inner, carol.Entity(), ir, cfg)
				})
			})
		}, nil, ErrUnknownSigner},
		{"signed by a trusted key but From another address", func() []byte {
			return craft(t, draft(), func(inner []byte) []byte {
				return encryptBody(t, toBob, func(w io.WriteCloser, ir []*packet.Recipient, cfg *packet.Config) error {
					return signedLiteral(w, inner, mallory.Entity(), ir, cfg)
				})
			})
		}, nil, ErrSignerMismatch},
		{"Trusted hands out a key of another address for From", func() []byte {
			return craft(t, draft(), func(inner []byte) []byte {
				return encryptBody(t, toBob, func(w io.WriteCloser, ir []*packet.Recipient, cfg *packet.Config) error {
					return signedLiteral(w, inner, mallory.Entity(), ir, cfg)
				})
			})
		}, func(o OpenOptions) OpenOptions {
			o.Known = nil
			o.Trusted = func(string) []*keystore.PublicKey { return []*keystore.PublicKey{mallory.Public()} }
			return o
		}, ErrSignerMismatch},
		{"legacy part without protected headers, signed by another than the outer From", func() []byte {
			return craft(t, draft(), func([]byte) []byte {
				return encryptBody(t, toBob, func(w io.WriteCloser, ir []*packet.Recipient, cfg *packet.Config) error {
					return signedLiteral(w, []byte("Content-Type: text/plain\r\n\r\non\r\n"), mallory.Entity(), ir, cfg)
				})
			})
		}, nil, ErrSignerMismatch},
		{"our key missing from the intended recipients", func() []byte {
			// Carol received alice's message and re-encrypts it, signature
			// and all, to bob.
			return craft(t, draft(), func(inner []byte) []byte {
				return encryptBody(t, toBob, func(w io.WriteCloser, _ []*packet.Recipient, cfg *packet.Config) error {
					ir := []*packet.Recipient{{KeyVersion: 4, Fingerprint: carol.Entity().PrimaryKey.Fingerprint}}
					return signedLiteral(w, inner, alice.Entity(), ir, cfg)
				})
			})
		}, nil, ErrNotIntendedRecipient},
		{"tampered ciphertext", func() []byte {
			bin := payload(t, good)
			bin[len(bin)-5] ^= 0x01
			return rewrap(t, good, bin)
		}, nil, ErrDecrypt},
		{"tampered signed part (re-encrypted with the original signature)", func() []byte {
			d := openAs(t, good, bob)
			forged := bytes.Replace(d.data, []byte("\r\n\r\non"), []byte("\r\n\r\nof"), 1)
			if bytes.Equal(forged, d.data) {
				t.Fatal("body not found")
			}
			sig := d.sigs[0]
			return craft(t, draft(), func([]byte) []byte {
				return encryptBody(t, toBob, func(w io.WriteCloser, _ []*packet.Recipient, cfg *packet.Config) error {
					ops := &packet.OnePassSignature{Version: 3, SigType: sig.SigType, Hash: sig.Hash, PubKeyAlgo: sig.PubKeyAlgo, KeyId: *sig.IssuerKeyId, IsLast: true}
					if err := ops.Serialize(w); err != nil {
						return err
					}
					lit, err := packet.SerializeLiteral(nopCloser{w}, true, "", 0)
					if err != nil {
						return err
					}
					lit.Write(forged)
					lit.Close()
					if err := sig.Serialize(w); err != nil {
						return err
					}
					return w.Close()
				})
			})
		}, nil, ErrBadSignature},
		{"two signatures", func() []byte {
			return craft(t, draft(), func(inner []byte) []byte {
				var b bytes.Buffer
				w, err := openpgp.EncryptWithParams(&b, nil, toBob, &openpgp.EncryptParams{
					Signers: []*openpgp.Entity{alice.Entity(), alice.Entity()}, Config: pgpConfig(time.Now(), 0)})
				if err != nil {
					t.Fatal(err)
				}
				w.Write(inner)
				w.Close()
				return b.Bytes()
			})
		}, nil, ErrBadSignature},
		{"signature dated in the future", func() []byte {
			d := draft()
			d.Date = time.Now().Add(time.Hour)
			return seal(t, d).Raw
		}, nil, ErrBadSignature},
		{"outer From changed on the way", func() []byte {
			return bytes.Replace(good, []byte("From: <alice@home.example>"), []byte("From: <mallory@home.example>"), 1)
		}, nil, ErrMalformed},
		{"not encrypted to us", func() []byte {
			return seal(t, &Draft{From: alice, To: []*keystore.PublicKey{carol.Public()}, Text: "on"}).Raw
		}, nil, ErrDecrypt},
		{"symmetric message where public-key encryption is expected", func() []byte {
			s, err := SealSymmetric(context.Background(), &Draft{From: alice, ToAddrs: []string{"bob@home.example"}, Text: "x"}, []byte("pw"), true)
			if err != nil {
				t.Fatal(err)
			}
			return s.Raw
		}, nil, ErrDecrypt},
		{"signed but not encrypted OpenPGP payload", func() []byte {
			var b bytes.Buffer
			w, err := openpgp.SignWithParams(&b, []*openpgp.Entity{alice.Entity()}, nil)
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte("Content-Type: text/plain\r\n\r\non"))
			w.Close()
			return rewrap(t, good, b.Bytes())
		}, nil, ErrNotEncrypted},
		{"plaintext mail", func() []byte {
			return []byte("From: <alice@home.example>\r\nTo: <bob@home.example>\r\nSubject: on\r\nContent-Type: text/plain\r\n\r\non\r\n")
		}, nil, ErrNotEncrypted},
		{"garbage", func() []byte {
			return []byte("\x00\x01\x02 this is: not\x00 mail\r\n \xff\xfe\r\n")
		}, nil, ErrMalformed},
		{"garbage payload", func() []byte {
			return []byte("Content-Type: multipart/encrypted; boundary=x\r\n\r\n--x\r\nContent-Type: application/octet-stream\r\n\r\n" +
				"-----BEGIN PGP MESSAGE-----\r\n\r\n!!!!not base64!!!!\r\n-----END PGP MESSAGE-----\r\n--x--\r\n")
		}, nil, ErrMalformed},
		{"truncated MIME", func() []byte {
			return good[:len(good)/2]
		}, nil, ErrMalformed},
		{"over the default size limit", func() []byte {
			return append(bytes.Clone(good), bytes.Repeat([]byte("x"), DefaultMaxSize)...)
		}, nil, ErrTooLarge},
		{"over a configured size limit", func() []byte { return good }, func(o OpenOptions) OpenOptions {
			o.MaxSize = 1000
			return o
		}, ErrTooLarge},
		{"decompresses beyond the limit", func() []byte {
			d := draft()
			d.Text = strings.Repeat("on ", DefaultMaxSize/3+100)
			return seal(t, d).Raw
		}, nil, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opts
			if tt.opts != nil {
				o = tt.opts(o)
			}
			m, err := Open(context.Background(), tt.raw(), o)
			t.Logf("refused: %v", err)
			if m != nil {
				t.Errorf("Open returned a Message (from %s) with error %v", m.From, err)
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
}
