package envelope

import (
	"bytes"
	"compress/zlib"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/ProtonMail/go-crypto/openpgp/s2k"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/thingpost/thingpost/keystore"
)

// The symmetric algorithms Delta Chat uses: AES-128, and OCB with 8 KiB
// chunks for SEIPDv2. Both are mandatory to implement in RFC 9580, so every
// peer that reads SEIPDv2 reads these.
const (
	cipherAlgo    = packet.CipherAES128
	aeadMode      = packet.AEADModeOCB
	aeadChunkSize = 8192
)

// pgpConfig is keystore.Config with what messages need on top: Delta
// Chat's AEAD chunk size, and a bound on decompressed output (a compressed
// packet can expand a thousandfold).
func pgpConfig(now time.Time, maxPlain int64) *packet.Config {
	cfg := keystore.Config(func() time.Time { return now })
	cfg.AEADConfig = &packet.AEADConfig{DefaultMode: aeadMode, ChunkSize: aeadChunkSize}
	if maxPlain > 0 {
		cfg.MaxDecompressedMessageSize = &maxPlain
	}
	return cfg
}

// nopCloser keeps a literal data writer from closing the stream beneath it,
// which still has to take the signature packet.
type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// encryptTo writes data signed by signer and encrypted to recipients as
// binary OpenPGP packets: one anonymous PKESK per recipient (all-zero key
// IDs, like Delta Chat), then one SEIPD packet, v2 (AES-128 OCB) when every
// recipient advertises SEIPDv2, else v1 (AES-128). The signature carries the
// Intended Recipient Fingerprint of every recipient.
//
// go-crypto's EncryptWithParams cannot do both at once: it lists intended
// recipients only for recipients whose key IDs it also writes in clear, so
// the packets are assembled here from go-crypto's packet layer.
func encryptTo(w io.Writer, data []byte, recipients []*openpgp.Entity, signer *openpgp.Entity, compress bool, now time.Time) (v2 bool, err error) {
	return encryptStream(w, recipients, now, func(seipd io.WriteCloser, intended []*packet.Recipient, cfg *packet.Config) error {
		if !compress {
			return signedLiteral(seipd, data, signer, intended, cfg)
		}
		var inner bytes.Buffer
		if err := signedLiteral(nopCloser{&inner}, data, signer, intended, cfg); err != nil {
			return err
		}
		if err := writeCompressed(seipd, inner.Bytes()); err != nil {
			return err
		}
		return seipd.Close()
	})
}

// encryptStream writes the PKESKs and opens the SEIPD packet for
// encryptTo; body writes the packets inside and closes seipd.
func encryptStream(w io.Writer, recipients []*openpgp.Entity, now time.Time,
	body func(seipd io.WriteCloser, intended []*packet.Recipient, cfg *packet.Config) error) (v2 bool, err error) {
	cfg := pgpConfig(now, 0)
	keys := make([]*packet.PublicKey, 0, len(recipients))
	intended := make([]*packet.Recipient, 0, len(recipients))
	v2 = true
	for _, e := range recipients {
		k, err := e.EncryptionKeyWithError(now, cfg)
		if err != nil {
			return false, fmt.Errorf("recipient %X: %w", e.PrimaryKey.Fingerprint, err)
		}
		self, err := e.PrimarySelfSignature(now, cfg)
		if err != nil {
			return false, fmt.Errorf("recipient %X: %w", e.PrimaryKey.Fingerprint, err)
		}
		v2 = v2 && self.SEIPDv2
		keys = append(keys, k.PublicKey)
		intended = append(intended, &packet.Recipient{KeyVersion: e.PrimaryKey.Version, Fingerprint: e.PrimaryKey.Fingerprint})
	}
	sessionKey := make([]byte, cipherAlgo.KeySize())
	if _, err := rand.Read(sessionKey); err != nil {
		return false, err
	}
	for _, k := range keys {
		if err := packet.SerializeEncryptedKeyAEADwithHiddenOption(w, k, cipherAlgo, v2, sessionKey, true, cfg); err != nil {
			return false, fmt.Errorf("encrypt session key: %w", err)
		}
	}
	seipd, err := packet.SerializeSymmetricallyEncrypted(w, cipherAlgo, v2,
		packet.CipherSuite{Cipher: cipherAlgo, Mode: aeadMode}, sessionKey, cfg)
	if err != nil {
		return false, err
	}
	return v2, body(seipd, intended, cfg)
}

// signedLiteral writes data as a literal data packet into out, with a
// one-pass signature by signer around it when signer is not nil, and
// closes out.
func signedLiteral(out io.WriteCloser, data []byte, signer *openpgp.Entity, intended []*packet.Recipient, cfg *packet.Config) error {
	var sig *packet.Signature
	var key openpgp.Key
	if signer != nil {
		var ok bool
		if key, ok = signer.SigningKeyById(cfg.Now(), 0, cfg); !ok || key.PrivateKey == nil || key.PrivateKey.Encrypted {
			return fmt.Errorf("signer %X: no usable secret signing key", signer.PrimaryKey.Fingerprint)
		}
		sig = &packet.Signature{
			Version:            key.PublicKey.Version,
			SigType:            packet.SigTypeBinary,
			PubKeyAlgo:         key.PublicKey.PubKeyAlgo,
			Hash:               cfg.Hash(),
			CreationTime:       cfg.Now(),
			IssuerKeyId:        &key.PublicKey.KeyId,
			IssuerKeyVersion:   uint8(key.PublicKey.Version),
			IssuerFingerprint:  key.PublicKey.Fingerprint,
			IntendedRecipients: intended,
		}
		ops := &packet.OnePassSignature{
			Version:    3,
			SigType:    sig.SigType,
			Hash:       sig.Hash,
			PubKeyAlgo: sig.PubKeyAlgo,
			KeyId:      key.PublicKey.KeyId,
			IsLast:     true,
		}
		if err := ops.Serialize(out); err != nil {
			return err
		}
	}
	lit, err := packet.SerializeLiteral(nopCloser{out}, true, "", 0)
	if err != nil {
		return err
	}
	if _, err := lit.Write(data); err != nil {
		return err
	}
	if err := lit.Close(); err != nil {
		return err
	}
	if sig != nil {
		h, err := sig.PrepareSign(cfg)
		if err != nil {
			return err
		}
		h.Write(data)
		if err := sig.Sign(h, key.PrivateKey, cfg); err != nil {
			return fmt.Errorf("sign: %w", err)
		}
		if err := sig.Serialize(out); err != nil {
			return err
		}
	}
	return out.Close()
}

// zlibWriters recycles ZLIB compressors: each holds about 800 KiB of
// tables, and allocating them for every message costs more than the
// signing and encryption together. The pool is a cache of scratch memory
// and changes no behaviour.
var zlibWriters = sync.Pool{New: func() any { return zlib.NewWriter(nil) }}

// writeCompressed writes b as a ZLIB compressed data packet (Delta Chat
// compresses this way) with a definite length. packet.SerializeCompressed
// would allocate a fresh compressor each time.
func writeCompressed(w io.Writer, b []byte) error {
	var z bytes.Buffer
	z.WriteByte(byte(packet.CompressionZLIB))
	zw := zlibWriters.Get().(*zlib.Writer)
	zw.Reset(&z)
	zw.Write(b) // writes to a bytes.Buffer do not fail
	err := zw.Close()
	zlibWriters.Put(zw)
	if err != nil {
		return err
	}
	if err := writePacketHeader(w, tagCompressed, z.Len()); err != nil {
		return err
	}
	_, err = w.Write(z.Bytes())
	return err
}

// writePacketHeader writes a new-format packet header with a definite
// length (RFC 9580 4.2.1).
func writePacketHeader(w io.Writer, tag byte, n int) error {
	h := []byte{0xc0 | tag}
	switch {
	case n < 192:
		h = append(h, byte(n))
	case n < 8384:
		n -= 192
		h = append(h, byte(n>>8)+192, byte(n))
	default:
		h = append(h, 255, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	_, err := w.Write(h)
	return err
}

// encryptSymmetric writes data encrypted with passphrase the way Securejoin
// v3 wants it: exactly one SKESK (v6, S2K type 1 "Salted"), SEIPDv2 AES-128
// OCB, never compressed, signed by signer if it is not nil.
func encryptSymmetric(w io.Writer, data, passphrase []byte, signer *openpgp.Entity, now time.Time) error {
	cfg := pgpConfig(now, 0)
	cfg.S2KConfig = &s2k.Config{S2KMode: s2k.SaltedS2K, PassphraseIsHighEntropy: true}
	params := &openpgp.EncryptParams{Config: cfg}
	if signer != nil {
		params.Signers = []*openpgp.Entity{signer}
	}
	pt, err := openpgp.SymmetricallyEncryptWithParams(passphrase, w, params)
	if err != nil {
		return err
	}
	if _, err := pt.Write(data); err != nil {
		return err
	}
	return pt.Close()
}

// armorMessage wraps binary OpenPGP data as an ASCII-armored PGP MESSAGE
// without Version header but with the CRC line: RFC 9580 drops the CRC,
// but Delta Chat still writes it and GnuPG 2.2 misreads the END line as
// base64 data when it is missing.
func armorMessage(bin []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := armor.EncodeWithChecksumOption(&b, "PGP MESSAGE", nil, true)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(bin); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	b.WriteString("\n")
	return b.Bytes(), nil
}

// dearmor returns the binary body of an armored PGP MESSAGE.
func dearmor(armored []byte, limit int64) ([]byte, error) {
	block, err := armor.Decode(bytes.NewReader(armored))
	if err != nil {
		return nil, fmt.Errorf("%w: armor: %v", ErrMalformed, err)
	}
	if block.Type != "PGP MESSAGE" {
		return nil, fmt.Errorf("%w: armor block is %q, want PGP MESSAGE", ErrMalformed, block.Type)
	}
	bin, err := io.ReadAll(io.LimitReader(block.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: armor: %v", ErrMalformed, err)
	}
	if int64(len(bin)) > limit {
		return nil, ErrTooLarge
	}
	return bin, nil
}

// decrypted is what came out of an OpenPGP message after its integrity
// check passed: the literal data and the signature packets, not yet
// verified against any key.
type decrypted struct {
	data []byte
	sigs []*packet.Signature
}

// decryptRing hands go-crypto our decryption key and nothing else, so that
// no signature is judged inside go-crypto: verify does that, against the
// keys the caller trusts for the From address.
type decryptRing struct{ self *openpgp.Entity }

func (r decryptRing) KeysById(uint64) []openpgp.Key { return nil }

func (r decryptRing) EntitiesById(id uint64) []*openpgp.Entity {
	if r.self == nil {
		return nil
	}
	if id == 0 { // anonymous recipient
		return []*openpgp.Entity{r.self}
	}
	for _, sk := range r.self.Subkeys {
		if sk.PublicKey.KeyId == id {
			return []*openpgp.Entity{r.self}
		}
	}
	return nil
}

// decrypt reads an encrypted OpenPGP message with the given key ring (for
// public-key encryption) or prompt (for a passphrase). It reads the literal
// data to EOF, so that the MDC or AEAD tag has been checked before anything
// is returned, and collects the signature packets.
func decrypt(bin []byte, ring openpgp.KeyRing, prompt openpgp.PromptFunction, limit int64, now time.Time) (*decrypted, error) {
	// Allow go-crypto's decompression bound some room above ours for the
	// packet framing around the literal data, so that ours trips first and
	// the caller learns ErrTooLarge rather than a generic failure.
	cfg := pgpConfig(now, limit+64<<10)
	md, err := openpgp.ReadMessage(bytes.NewReader(bin), ring, prompt, cfg)
	if err != nil {
		if errors.Is(err, pgperrors.ErrKeyIncorrect) {
			return nil, fmt.Errorf("%w: no key or passphrase fits", ErrDecrypt)
		}
		var se pgperrors.StructuralError
		var ue pgperrors.UnsupportedError
		if errors.As(err, &se) || errors.As(err, &ue) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: openpgp: %v", ErrMalformed, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	if !md.IsEncrypted {
		return nil, fmt.Errorf("%w: OpenPGP payload is not encrypted", ErrNotEncrypted)
	}
	data, err := io.ReadAll(io.LimitReader(md.UnverifiedBody, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: integrity check: %v", ErrDecrypt, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: decrypted content over %d bytes", ErrTooLarge, limit)
	}
	d := &decrypted{data: data}
	if !md.IsSigned {
		return d, nil
	}
	for _, c := range md.SignatureCandidates {
		// With decryptRing no candidate has a key, so a well-formed one ends
		// as ErrUnknownIssuer; anything else is a structural fault (OPS and
		// signature disagree, count mismatch, unknown hash).
		if c.CorrespondingSig == nil || (c.SignatureError != nil && !errors.Is(c.SignatureError, pgperrors.ErrUnknownIssuer)) {
			return nil, fmt.Errorf("%w: %v", ErrBadSignature, c.SignatureError)
		}
		d.sigs = append(d.sigs, c.CorrespondingSig)
	}
	return d, nil
}

// verify checks sig over data against keys and returns the key that made
// it. errUnknownIssuer means none of keys did; any other error means a key
// matched and the signature is bad.
func verify(data []byte, sig *packet.Signature, keys []*keystore.PublicKey, now time.Time) (*keystore.PublicKey, error) {
	if len(keys) == 0 {
		return nil, errUnknownIssuer
	}
	ring := make(openpgp.EntityList, 0, len(keys))
	for _, k := range keys {
		ring = append(ring, k.Entity())
	}
	var sb bytes.Buffer
	if err := sig.Serialize(&sb); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	_, signer, err := openpgp.VerifyDetachedSignature(ring, bytes.NewReader(data), &sb, pgpConfig(now, 0))
	if errors.Is(err, pgperrors.ErrUnknownIssuer) {
		return nil, errUnknownIssuer
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	for _, k := range keys {
		if k.Entity() == signer {
			return k, nil
		}
	}
	return nil, errUnknownIssuer
}

// errUnknownIssuer is internal: verify found no matching key among those
// it was given, which the callers turn into the right sentinel.
var errUnknownIssuer = errors.New("no matching key")

// canonicalPKESK rejects a public-key encrypted session key packet whose
// framing go-crypto reads leniently: an MPI bit count that does not match
// its value (any count from 257 to 264 reads the same 33 octets), an ECDH
// point format octet that does not fit the point, an X25519 point with the
// ignored top bit set, a v6 key field length that does not match the key
// version. None of these change a cryptographic input.
func canonicalPKESK(c []byte) error {
	if len(c) < 2 {
		return errors.New("truncated")
	}
	var algo packet.PublicKeyAlgorithm
	var rest []byte
	switch c[0] {
	case 3:
		if len(c) < 10 {
			return errors.New("truncated")
		}
		algo, rest = packet.PublicKeyAlgorithm(c[9]), c[10:]
	case 6:
		n := int(c[1])
		switch {
		case n == 0: // anonymous
		case len(c) > 2 && (n == 21 && c[2] == 4 || n == 33 && c[2] == 6):
		default:
			return fmt.Errorf("key field of %d octets", n)
		}
		if len(c) < 3+n {
			return errors.New("truncated")
		}
		algo, rest = packet.PublicKeyAlgorithm(c[2+n]), c[3+n:]
	default:
		return nil // go-crypto refuses unknown versions
	}
	mpis := 0
	switch algo {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSAEncryptOnly, packet.PubKeyAlgoECDH:
		mpis = 1
	case packet.PubKeyAlgoElGamal:
		mpis = 2
	}
	for range mpis {
		mpi := rest
		var err error
		if rest, err = canonicalMPI(rest); err != nil {
			return err
		}
		if algo == packet.PubKeyAlgoECDH {
			// go-crypto drops the point format octet of a native
			// Curve25519/X448 point unread: require the one that fits the
			// length (0x40 native, 0x04 uncompressed SEC1).
			v := mpi[2 : len(mpi)-len(rest)]
			switch {
			case len(v) == 33 || len(v) == 57:
				if v[0] != 0x40 {
					return fmt.Errorf("ECDH point format %#x for a native point", v[0])
				}
				// X25519 ignores the top bit of a u-coordinate (RFC 7748),
				// and the OpenPGP KDF does not hash the ephemeral point:
				// the bit must be zero, as every real sender makes it.
				if len(v) == 33 && v[32]&0x80 != 0 {
					return errors.New("X25519 point with the top bit set")
				}
			case len(v) >= 65 && len(v)%2 == 1:
				if v[0] != 0x04 {
					return fmt.Errorf("ECDH point format %#x for a SEC1 point", v[0])
				}
			default:
				return fmt.Errorf("ECDH point of %d octets", len(v))
			}
		}
	}
	return nil
}

// canonicalMPI checks the MPI at the start of b and returns what follows.
func canonicalMPI(b []byte) ([]byte, error) {
	if len(b) < 2 {
		return nil, errors.New("truncated MPI")
	}
	nbits := int(b[0])<<8 | int(b[1])
	n := (nbits + 7) / 8
	if len(b) < 2+n {
		return nil, errors.New("truncated MPI")
	}
	if n > 0 && (b[2] == 0 || nbits != (n-1)*8+bits.Len8(b[2])) {
		return nil, fmt.Errorf("MPI bit count %d does not match its value", nbits)
	}
	return b[2+n:], nil
}

// checkPackets walks the packet headers of a binary OpenPGP message. It
// requires that the declared lengths cover the input exactly: go-crypto
// reads a final packet that claims more octets than there are as if it
// ended early. And it requires canonical PKESK packets (canonicalPKESK).
// Both close gaps where a changed octet would go unnoticed, because no
// cryptographic check covers it; a one-byte change anywhere in a message
// must make it fail.
func checkPackets(b []byte) error {
	for len(b) > 0 {
		ctb := b[0]
		if ctb&0x80 == 0 {
			return fmt.Errorf("%w: openpgp: invalid packet header %#x", ErrMalformed, ctb)
		}
		b = b[1:]
		if ctb&0x40 == 0 { // old format: the low two bits give the length size
			size := [4]int{1, 2, 4, 0}[ctb&3]
			if size == 0 { // indeterminate: to the end
				return nil
			}
			if len(b) < size {
				return fmt.Errorf("%w: openpgp: truncated packet header", ErrMalformed)
			}
			n := 0
			for _, c := range b[:size] {
				n = n<<8 | int(c)
			}
			if b = b[size:]; n > len(b) {
				return fmt.Errorf("%w: openpgp: packet of %d octets, %d left", ErrMalformed, n, len(b))
			}
			if err := checkBody(ctb>>2&0xf, b[:n]); err != nil {
				return err
			}
			b = b[n:]
			continue
		}
		for first := true; ; first = false { // new format, possibly in partial lengths
			if len(b) == 0 {
				return fmt.Errorf("%w: openpgp: truncated packet header", ErrMalformed)
			}
			c, n, partial := b[0], 0, false
			switch {
			case c < 192:
				n, b = int(c), b[1:]
			case c < 224:
				if len(b) < 2 {
					return fmt.Errorf("%w: openpgp: truncated packet header", ErrMalformed)
				}
				n, b = (int(c)-192)<<8+int(b[1])+192, b[2:]
			case c == 255:
				if len(b) < 5 {
					return fmt.Errorf("%w: openpgp: truncated packet header", ErrMalformed)
				}
				n, b = int(b[1])<<24|int(b[2])<<16|int(b[3])<<8|int(b[4]), b[5:]
			default:
				n, b, partial = 1<<(c&0x1f), b[1:], true
			}
			if n > len(b) {
				return fmt.Errorf("%w: openpgp: packet of %d octets, %d left", ErrMalformed, n, len(b))
			}
			tag := ctb & 0x3f
			switch {
			case partial && first && tag != tagCompressed && tag != 9 && tag != 11 && tag != tagSEIPD && tag != 20:
				// RFC 9580 4.2.1.4: only data packets have partial lengths.
				return fmt.Errorf("%w: openpgp: packet %d with a partial length", ErrMalformed, tag)
			case first && !partial:
				if err := checkBody(tag, b[:n]); err != nil {
					return err
				}
			}
			b = b[n:]
			if !partial {
				break
			}
		}
	}
	return nil
}

// checkBody checks the contents of one packet given whole.
func checkBody(tag byte, body []byte) error {
	if tag == tagPKESK {
		if err := canonicalPKESK(body); err != nil {
			return fmt.Errorf("%w: PKESK: %v", ErrMalformed, err)
		}
	}
	return nil
}
