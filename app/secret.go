package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
	"github.com/zalando/go-keyring"

	"github.com/thingpost/thingpost/keystore"
)

// SecretStore keeps the mail password outside the data directory: the OS
// keyring (the default) or a test double. Set, Get and Delete may be slow or
// hang (a keyring waiting for a prompt), so the app bounds each call.
type SecretStore interface {
	Set(service, user, secret string) error
	// Get returns ErrSecretNotFound (or an error wrapping it) when there is
	// no secret.
	Get(service, user string) (string, error)
	Delete(service, user string) error
}

// PasswordPlace is where the mail password is kept.
type PasswordPlace string

// Where the mail password can be kept.
const (
	PasswordInKeyring PasswordPlace = "keyring"   // in the OS keyring (SecretStore)
	PasswordEncrypted PasswordPlace = "encrypted" // in app.db, encrypted to the person's own key
)

// ErrSecretNotFound means the keyring holds no such secret.
var ErrSecretNotFound = keyring.ErrNotFound

// keyringService names the app's entries in the OS keyring.
const keyringService = "thingpost"

// keyringTimeout bounds one keyring call: a Secret Service that is not
// running can make D-Bus wait for its activation timeout.
const keyringTimeout = 5 * time.Second

// osKeyring is the operating system's keyring (Secret Service on Linux,
// Keychain on macOS, Credential Manager on Windows) through go-keyring.
// Where none works, the app falls back to encrypting the password to the
// person's own key.
type osKeyring struct{}

// Set implements SecretStore.
func (osKeyring) Set(service, user, secret string) error { return keyring.Set(service, user, secret) }

// Get implements SecretStore.
func (osKeyring) Get(service, user string) (string, error) { return keyring.Get(service, user) }

// Delete implements SecretStore.
func (osKeyring) Delete(service, user string) error { return keyring.Delete(service, user) }

// NoKeyring is a SecretStore that has no keyring: every Set fails, so the
// password is always kept encrypted to the person's own key.
type NoKeyring struct{}

var errNoKeyring = errors.New("no keyring")

// Set implements SecretStore.
func (NoKeyring) Set(string, string, string) error { return errNoKeyring }

// Get implements SecretStore.
func (NoKeyring) Get(string, string) (string, error) { return "", ErrSecretNotFound }

// Delete implements SecretStore.
func (NoKeyring) Delete(string, string) error { return nil }

// bounded runs f with keyringTimeout; a call that does not return in time is
// abandoned (go-keyring offers no way to cancel it).
func bounded[T any](ctx context.Context, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	ctx, cancel := context.WithTimeout(ctx, keyringTimeout)
	defer cancel()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("keyring: %w", ctx.Err())
	}
}

// sealSecret encrypts secret to the identity's own key and signs it, so
// that only the unlocked identity reads it and a swapped blob is noticed.
func sealSecret(id *keystore.Identity, secret string) ([]byte, error) {
	var buf bytes.Buffer
	e := id.Entity()
	w, err := openpgp.Encrypt(&buf, []*openpgp.Entity{e}, nil, []*openpgp.Entity{e}, nil, keystore.Config(nil))
	if err != nil {
		return nil, fmt.Errorf("encrypt password: %w", err)
	}
	if _, err := io.WriteString(w, secret); err != nil {
		return nil, fmt.Errorf("encrypt password: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encrypt password: %w", err)
	}
	return buf.Bytes(), nil
}

// openSecret decrypts what sealSecret wrote and checks our signature.
func openSecret(id *keystore.Identity, sealed []byte) (string, error) {
	e := id.Entity()
	md, err := openpgp.ReadMessage(bytes.NewReader(sealed), openpgp.EntityList{e}, nil, keystore.Config(nil))
	if err != nil {
		return "", fmt.Errorf("decrypt password: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(md.UnverifiedBody, 64<<10))
	if err != nil {
		return "", fmt.Errorf("decrypt password: %w", err)
	}
	if !md.IsSigned || md.SignatureError != nil || md.SignedBy == nil || md.SignedBy.PublicKey.Fingerprint == nil ||
		!bytes.Equal(md.SignedBy.Entity.PrimaryKey.Fingerprint, id.Entity().PrimaryKey.Fingerprint) {
		return "", fmt.Errorf("decrypt password: not signed by this identity")
	}
	return string(b), nil
}
