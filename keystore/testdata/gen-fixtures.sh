#!/bin/sh
# Regenerates the GnuPG-made fixtures used by the table tests. Run from this
# directory with GnuPG 2.2 installed: sh gen-fixtures.sh
# The secret keys are test fixtures only; their passphrase is "fixture-pass".
set -eu
export GNUPGHOME="$(mktemp -d /tmp/gpgfx.XXXXXX)"
trap 'gpgconf --kill gpg-agent; rm -rf "$GNUPGHOME"' EXIT
g() { gpg --batch --pinentry-mode loopback --passphrase fixture-pass "$@"; }
fpr() { gpg --with-colons --list-keys "$1" | awk -F: '$1=="fpr"{print $10; exit}'; }

# RSA primary (sign, certify) + RSA encryption subkey: accepted on import.
g --quick-gen-key '<rsa@example.org>' rsa3072 sign,cert 0
g --quick-add-key "$(fpr rsa@example.org)" rsa3072 encr 0
g --armor --export-secret-keys rsa@example.org > rsa-secret.asc
gpg --armor --export rsa@example.org > rsa.pub.asc

# Ed25519 + Curve25519, protected: the Delta Chat shape, made by gpg.
g --quick-gen-key '<ed@example.org>' ed25519 sign 0
g --quick-add-key "$(fpr ed@example.org)" cv25519 encr 0
g --armor --export-secret-keys ed@example.org > ed-secret.asc

# Ed25519 without an encryption subkey: refused.
g --quick-gen-key '<signonly@example.org>' ed25519 sign 0
gpg --armor --export signonly@example.org > sign-only.pub.asc

# A User ID without an address: refused.
g --quick-gen-key 'Lamp Without Address' ed25519 sign 0
g --quick-add-key "$(fpr 'Lamp Without Address')" cv25519 encr 0
gpg --armor --export 'Lamp Without Address' > no-addr.pub.asc

# Made in 2020 with a one-day lifetime: expired.
g --faked-system-time 20200101T000000 --quick-gen-key '<expired@example.org>' ed25519 sign 1d
g --faked-system-time 20200101T000000 --quick-add-key "$(fpr expired@example.org)" cv25519 encr 1d
gpg --armor --export expired@example.org > expired.pub.asc
