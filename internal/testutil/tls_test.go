package testutil

import (
	"crypto/tls"
	"path/filepath"
	"testing"

	"github.com/thingpost/thingpost/internal/certpin"
)

// handshake runs a TLS handshake over loopback with client and returns the
// server's leaf as the client saw it.
func handshake(t *testing.T, srv, client *tls.Config) ([]byte, error) {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	c, err := tls.Dial("tcp", l.Addr().String(), client)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Raw, nil
}

func TestSelfSignedTLS(t *testing.T) {
	c := SelfSignedTLS(t, "mx.home.test", "192.0.2.7")
	for _, name := range []string{"127.0.0.1", "localhost", "mx.home.test", "192.0.2.7"} {
		if _, err := handshake(t, c.ServerConfig(), &tls.Config{RootCAs: c.Pool(), ServerName: name}); err != nil {
			t.Errorf("verified as %s: %v", name, err)
		}
	}
	if _, err := handshake(t, c.ServerConfig(), &tls.Config{RootCAs: c.Pool(), ServerName: "other.test"}); err == nil {
		t.Error("verified for a name it does not carry")
	}
	if _, err := handshake(t, c.ServerConfig(), &tls.Config{ServerName: "localhost"}); err == nil {
		t.Error("verified without its pool")
	}
	leaf, err := handshake(t, c.ServerConfig(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := certpin.Parse(c.Pin()); err != nil || !p.Matches(leaf) {
		t.Errorf("Pin %s does not match the served certificate: %v", c.Pin(), err)
	}
}

func TestTLSCertWritePEM(t *testing.T) {
	c := SelfSignedTLS(t)
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := c.WritePEM(cert, key); err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	if certpin.Fingerprint(pair.Certificate[0]) != c.Pin() {
		t.Error("written certificate is not the one made")
	}
}
