package accounts

import (
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// ErrWeakPassword means a password is too easy to guess to be given to an
// account.
var ErrWeakPassword = errors.New("weak password")

// MinPasswordLen is the shortest password CheckPassword accepts, in
// characters. Generated passwords have 24.
const MinPasswordLen = 10

//go:embed common-passwords.txt
var commonPasswordsText string

// commonPasswords is the embedded list as a set, built on first use.
var commonPasswords = sync.OnceValue(func() map[string]bool {
	set := make(map[string]bool)
	for line := range strings.Lines(commonPasswordsText) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			set[line] = true
		}
	}
	return set
})

// CheckPassword returns an error wrapping ErrWeakPassword, saying why, for
// a password an account must not get: shorter than MinPasswordLen, fewer
// than four different characters, or a common password (ignoring case and
// digits and punctuation at the end, so "Sunshine2024!" is one).
func CheckPassword(pw string) error {
	if n := utf8.RuneCountInString(pw); n < MinPasswordLen {
		return fmt.Errorf("%w: %d characters, want at least %d", ErrWeakPassword, n, MinPasswordLen)
	}
	distinct := map[rune]bool{}
	for _, r := range pw {
		distinct[r] = true
	}
	if len(distinct) < 4 {
		return fmt.Errorf("%w: only %d different characters", ErrWeakPassword, len(distinct))
	}
	lower := strings.ToLower(pw)
	base := strings.TrimRight(lower, "0123456789!?.,;:-_+*#@$%&/=~ ")
	common := commonPasswords()
	if common[lower] || (base != "" && common[base]) {
		return fmt.Errorf("%w: it is one of the most common passwords, which are guessed first", ErrWeakPassword)
	}
	return nil
}
