package homenode

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"time"

	"github.com/thingpost/thingpost/internal/certpin"
)

// certLifetime is long because nobody renews a pinned self-signed certificate
// on a router; clients pin the fingerprint, not the expiry.
const certLifetime = 10 * 365 * 24 * time.Hour

// dkimBits: RSA-2048 is what every receiver verifies (Ed25519 DKIM is not
// checked by the large providers).
const dkimBits = 2048

// GenerateCert makes a self-signed ECDSA P-256 certificate for names (DNS names
// or IP addresses) and returns the PEM certificate and PKCS#8 key.
func GenerateCert(names []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	if len(names) == 0 {
		return nil, nil, errors.New("generate certificate: no names")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate certificate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("generate certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: names[0], Organization: []string{"homenode"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(certLifetime),
		// CA + CertSign so that OpenSSL-based clients (curl --cacert) accept
		// the certificate as its own trust anchor.
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	seen := map[string]bool{}
	for _, n := range names {
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate: %w", err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("marshal certificate key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), nil
}

// CertNames picks the subject names for the node certificate: hostname,
// domains and every concrete listener host (wildcard hosts add nothing).
func CertNames(hostname string, domains []string, listenAddrs []string) []string {
	names := []string{hostname}
	names = append(names, domains...)
	for _, a := range listenAddrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil || host == "" {
			continue
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			continue
		}
		names = append(names, host)
	}
	return names
}

// LoadTLS loads the node certificate and key.
func LoadTLS(certFile, keyFile string) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s: %w", certFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// CertFingerprint reads a PEM certificate file and returns the pin of its
// first certificate (certpin.Fingerprint: colon-separated upper-case hex, as
// openssl prints it).
func CertFingerprint(certFile string) (string, error) {
	der, err := firstCertDER(certFile)
	if err != nil {
		return "", err
	}
	return certpin.Fingerprint(der), nil
}

func firstCertDER(certFile string) ([]byte, error) {
	data, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("read certificate %s: no CERTIFICATE block", certFile)
		}
		if b.Type == "CERTIFICATE" {
			return b.Bytes, nil
		}
	}
}

// GenerateDKIMKey makes an RSA-2048 DKIM key as PKCS#8 PEM.
func GenerateDKIMKey() ([]byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, dkimBits)
	if err != nil {
		return nil, fmt.Errorf("generate DKIM key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal DKIM key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// LoadDKIMKey reads a PEM DKIM private key, PKCS#8 or PKCS#1; DKIM knows RSA
// and Ed25519 keys only.
func LoadDKIMKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read DKIM key: %w", err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("read DKIM key %s: no PEM block", path)
	}
	var key any
	switch b.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("read DKIM key %s: unexpected PEM block %q", path, b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("read DKIM key %s: %w", path, err)
	}
	if s, ok := key.(crypto.Signer); ok && dkimAlgo(s) != "" {
		return s, nil
	}
	return nil, fmt.Errorf("read DKIM key %s: DKIM needs an RSA or Ed25519 key", path)
}

// dkimAlgo is the DKIM k= tag for a key, or "" if DKIM cannot use it.
func dkimAlgo(key crypto.Signer) string {
	switch key.(type) {
	case *rsa.PrivateKey:
		return "rsa"
	case ed25519.PrivateKey:
		return "ed25519"
	}
	return ""
}

// DKIMRecord is the DNS TXT record that publishes a DKIM public key.
type DKIMRecord struct {
	Name  string // selector._domainkey.domain.
	Value string // v=DKIM1; k=rsa; p=...
}

// String is zone-file syntax, with the value cut into 255-byte strings as DNS
// requires.
func (r DKIMRecord) String() string {
	var parts []string
	for v := r.Value; v != ""; {
		n := min(len(v), 255)
		parts = append(parts, `"`+v[:n]+`"`)
		v = v[n:]
	}
	return r.Name + " IN TXT ( " + strings.Join(parts, " ") + " )"
}

// DKIMRecords gives one TXT record per domain for the key.
func DKIMRecords(key crypto.Signer, selector string, domains []string) ([]DKIMRecord, error) {
	algo := dkimAlgo(key)
	var p []byte
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return nil, fmt.Errorf("DKIM public key: %w", err)
		}
		p = der
	case ed25519.PublicKey:
		p = pub // RFC 8463: the raw 32 bytes
	default:
		return nil, errors.New("DKIM public key: unsupported key type")
	}
	value := fmt.Sprintf("v=DKIM1; k=%s; p=%s", algo, base64.StdEncoding.EncodeToString(p))
	out := make([]DKIMRecord, 0, len(domains))
	for _, d := range domains {
		out = append(out, DKIMRecord{Name: selector + "._domainkey." + d + ".", Value: value})
	}
	return out, nil
}
