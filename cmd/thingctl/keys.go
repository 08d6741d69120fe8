package main

// The secret key: export-key, import-key.

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/thingpost/thingpost/internal/cli"
)

func cmdExportKey(_ context.Context, g *globals, c *cli.Call) error {
	fs := c.Flags
	out := fs.String("out", "", "write to FILE (0600) instead of standard output")
	expPass := fs.String("export-passphrase-file", "", "lock the export with this passphrase (default: the identity's)")
	if err := c.Parse(0, 0); err != nil {
		return err
	}
	a, err := g.unlocked(context.Background())
	if err != nil {
		return err
	}
	defer a.Close()
	pw, err := g.passphrase("")
	if err != nil {
		return err
	}
	if *expPass != "" {
		if pw, err = readSecret(*expPass); err != nil {
			return err
		}
	}
	armored, err := a.ExportKey(pw)
	if err != nil {
		return err
	}
	if *out != "" {
		return os.WriteFile(*out, []byte(armored), 0o600)
	}
	_, err = io.WriteString(g.stdout, armored)
	return err
}

func cmdImportKey(ctx context.Context, g *globals, c *cli.Call) error {
	fs := c.Flags
	keyPass := fs.String("key-passphrase-file", "", "passphrase of the key file (default: none)")
	if err := c.Parse(1, 1); err != nil {
		return err
	}
	key, kp, err := readKey(c.Arg(0), *keyPass)
	if err != nil {
		return err
	}
	a, err := g.open()
	if err != nil {
		return err
	}
	defer a.Close()
	pw, err := g.passphrase("Passphrase for your identity: ")
	if err != nil {
		return err
	}
	p, err := a.ImportProfile(ctx, key, kp, pw)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "identity %s <%s>, key %s\n", p.Name, p.Addr, p.Fingerprint)
	return nil
}

// readKey reads a secret key file and, when passFile is set, the key's
// passphrase.
func readKey(keyFile, passFile string) (key, pass []byte, err error) {
	if key, err = os.ReadFile(keyFile); err != nil {
		return nil, nil, err
	}
	if passFile != "" {
		if pass, err = readSecret(passFile); err != nil {
			return nil, nil, err
		}
	}
	return key, pass, nil
}
