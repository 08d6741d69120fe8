package accounts

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// ErrBadHash means a stored password hash is not a usable argon2id PHC string.
var ErrBadHash = errors.New("accounts: bad password hash")

// Hash parameters for new passwords. Memory is in KiB. 7 MiB and 5 passes is
// one of OWASP's equivalent argon2id settings (as strong as 19 MiB and 2
// passes, at about the same CPU time): on a router it keeps the peak of a
// login 12 MiB lower. Hashes made with other parameters still verify.
const (
	hashMemory  = 7 * 1024
	hashTime    = 5
	hashThreads = 1
	saltLen     = 16
	keyLen      = 32
)

// Bounds accepted when verifying, so a corrupt or hostile hash string cannot
// make the node allocate gigabytes or spin for minutes.
const (
	maxMemory  = 256 * 1024
	maxTime    = 64
	maxThreads = 16
)

var b64 = base64.RawStdEncoding

// HashPassword hashes pw with argon2id and a fresh random salt and returns the
// PHC string form.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: salt: %w", err)
	}
	p := phc{memory: hashMemory, time: hashTime, threads: hashThreads, salt: salt}
	p.key = argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, keyLen)
	return p.String(), nil
}

// VerifyPassword reports whether pw matches hash. The comparison is constant
// time. The error is non-nil (wrapping ErrBadHash) only when hash itself is
// unusable; a wrong password is (false, nil).
func VerifyPassword(hash, pw string) (bool, error) {
	p, err := parsePHC(hash)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(pw), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

// phc is a parsed "$argon2id$v=19$m=..,t=..,p=..$salt$key" string.
type phc struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

func (p phc) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads, b64.EncodeToString(p.salt), b64.EncodeToString(p.key))
}

func parsePHC(s string) (phc, error) {
	var p phc
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[0] != "" {
		return p, fmt.Errorf("%w: not a PHC string", ErrBadHash)
	}
	if parts[1] != "argon2id" {
		return p, fmt.Errorf("%w: algorithm %q, want argon2id", ErrBadHash, parts[1])
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, fmt.Errorf("%w: version %q, want v=%d", ErrBadHash, parts[2], argon2.Version)
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return p, fmt.Errorf("%w: parameters %q", ErrBadHash, parts[3])
	}
	var err error
	if p.memory, err = phcParam(params[0], "m", 8, maxMemory); err != nil {
		return p, err
	}
	if p.time, err = phcParam(params[1], "t", 1, maxTime); err != nil {
		return p, err
	}
	threads, err := phcParam(params[2], "p", 1, maxThreads)
	if err != nil {
		return p, err
	}
	p.threads = uint8(threads)
	if p.memory < 8*uint32(p.threads) {
		return p, fmt.Errorf("%w: memory %d KiB below 8*p", ErrBadHash, p.memory)
	}
	if p.salt, err = b64.DecodeString(parts[4]); err != nil || len(p.salt) < 8 || len(p.salt) > 64 {
		return p, fmt.Errorf("%w: salt", ErrBadHash)
	}
	if p.key, err = b64.DecodeString(parts[5]); err != nil || len(p.key) < 16 || len(p.key) > 64 {
		return p, fmt.Errorf("%w: key", ErrBadHash)
	}
	return p, nil
}

func phcParam(kv, name string, lo, hi uint32) (uint32, error) {
	v, ok := strings.CutPrefix(kv, name+"=")
	if !ok {
		return 0, fmt.Errorf("%w: parameter %q, want %s=", ErrBadHash, kv, name)
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || uint32(n) < lo || uint32(n) > hi {
		return 0, fmt.Errorf("%w: parameter %s=%s outside %d..%d", ErrBadHash, name, v, lo, hi)
	}
	return uint32(n), nil
}

// passwordAlphabet has 32 symbols (5 bits each) without look-alikes (0 o 1 l).
const passwordAlphabet = "abcdefghijkmnpqrstuvwxyz23456789"

// GeneratePassword returns a new random password: 24 symbols (120 bits) in
// four dash-separated groups of six, easy to type on a phone.
func GeneratePassword() (string, error) {
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	var b strings.Builder
	for i, c := range raw {
		if i > 0 && i%6 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(passwordAlphabet[c&31])
	}
	return b.String(), nil
}
