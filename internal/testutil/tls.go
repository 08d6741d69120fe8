package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"testing"
	"time"

	"github.com/thingpost/thingpost/internal/certpin"
)

// TLSCert is a self-signed ECDSA P-256 server certificate for loopback
// tests, the kind a home node makes at init.
type TLSCert struct {
	// Certificate is the chain of one with its key, and Leaf set.
	Certificate tls.Certificate
}

// SelfSignedTLS makes a TLSCert for 127.0.0.1, ::1, localhost and names
// (DNS names or IP addresses), valid from an hour ago for a week.
func SelfSignedTLS(t testing.TB, names ...string) *TLSCert {
	t.Helper()
	c, err := NewTLSCert(names...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// NewTLSCert is SelfSignedTLS for test support code without a testing.TB.
func NewTLSCert(names ...string) (*TLSCert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("certificate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	if len(names) > 0 {
		tmpl.Subject.CommonName = names[0]
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return &TLSCert{Certificate: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}, nil
}

// ServerConfig is a fresh server configuration that presents the certificate.
func (c *TLSCert) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.Certificate}}
}

// Pool holds the certificate as its own root, for a client's RootCAs.
func (c *TLSCert) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(c.Certificate.Leaf)
	return pool
}

// Pin is the certificate's fingerprint as a client pins it.
func (c *TLSCert) Pin() string { return certpin.Fingerprint(c.Certificate.Leaf.Raw) }

// WritePEM writes the certificate (0644) and its PKCS#8 key (0600), for
// servers that read them from files.
func (c *TLSCert) WritePEM(certFile, keyFile string) error {
	kder, err := x509.MarshalPKCS8PrivateKey(c.Certificate.PrivateKey)
	if err != nil {
		return fmt.Errorf("marshal certificate key: %w", err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate.Leaf.Raw}), 0o644); err != nil {
		return fmt.Errorf("write certificate: %w", err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return fmt.Errorf("write certificate key: %w", err)
	}
	return nil
}
