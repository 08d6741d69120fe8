package accounts

import (
	"errors"
	"testing"
)

func TestCheckPassword(t *testing.T) {
	for _, tc := range []struct {
		pw   string
		weak bool
	}{
		{"sunshine", true},
		{"password1", true},
		{"Password123", true},
		{"Sunshine2024!", true},
		{"qwertyuiop", true},
		{"1234567890", true},
		{"iloveyou12", true},
		{"short", true},
		{"aaaaaaaaaaaa", true},
		{"abababababab", true},
		{"correct horse battery", false},
		{"pw-lamp-secret", false},
		{"grün-äpfel-7", false},
	} {
		err := CheckPassword(tc.pw)
		if tc.weak != errors.Is(err, ErrWeakPassword) || (!tc.weak && err != nil) {
			t.Errorf("CheckPassword(%q) = %v, want weak %v", tc.pw, err, tc.weak)
		}
	}
	for range 20 {
		pw, err := GeneratePassword()
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckPassword(pw); err != nil {
			t.Errorf("generated password %q refused: %v", pw, err)
		}
	}
	if n := len(commonPasswords()); n < 500 {
		t.Errorf("%d common passwords embedded, want the list", n)
	}
}
