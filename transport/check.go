package transport

import (
	"context"
	"errors"
	"fmt"

	"github.com/emersion/go-imap/v2/imapclient"
)

// Check connects to both servers, logs in and logs out, and reports what
// failed. The error wraps one sentinel per failing server, so
// errors.Is(err, ErrAuth) etc. work; ErrDNS, ErrRefused, ErrTimeout, ErrTLS,
// ErrPinMismatch and ErrAuth are the usual ones. Each server gets its own
// 30 s budget unless ctx ends sooner. nil means both servers accept the login.
func Check(ctx context.Context, acct Account) error {
	if err := acct.Validate(); err != nil {
		return fmt.Errorf("check: %w", err)
	}
	return errors.Join(checkIMAP(ctx, &acct), checkSMTP(ctx, &acct))
}

func checkIMAP(ctx context.Context, a *Account) error {
	ctx, cancel := context.WithTimeout(ctx, defaultConnectTimeout)
	defer cancel()
	c, conn, err := connectIMAP(ctx, a, &imapclient.Options{})
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer c.Close()
	if err := c.Logout().Wait(); err != nil {
		return fmt.Errorf("%s: logout: %w", a.IMAP.where("imap"), classify(ctxErr(ctx, err)))
	}
	return nil
}

func checkSMTP(ctx context.Context, a *Account) error {
	ctx, cancel := context.WithTimeout(ctx, defaultConnectTimeout)
	defer cancel()
	c, conn, err := connectSMTP(ctx, a)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer c.Close()
	if err := c.Quit(); err != nil {
		return fmt.Errorf("%s: quit: %w", a.SMTP.where("smtp"), classify(ctxErr(ctx, err)))
	}
	return nil
}
