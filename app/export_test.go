package app

import "context"

// What the package keeps to itself, for its tests in package app_test.
var (
	ErrProfileExists = errProfileExists
	ErrPairing       = errPairing
	ErrExpired       = errExpired
)

// Account is account: the stored account with its passwords.
func (a *App) Account(ctx context.Context) (Account, error) { return a.account(ctx) }

// Command is command: a command by its ID.
func (a *App) Command(id string) (Command, error) { return a.command(id) }
