package queue

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"testing"
)

// fakeDNS answers MX and A queries from a table over UDP on loopback, so the
// DNS route is tested with Go's real resolver and no network.
type fakeDNS struct {
	mx     map[string][]mxRecord // name -> MX answers
	a      map[string]net.IP
	nx     map[string]bool // NXDOMAIN
	broken map[string]bool // SERVFAIL
}

type mxRecord struct {
	pref uint16
	host string
}

func (f *fakeDNS) start(t *testing.T) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := f.answer(buf[:n]); resp != nil {
				pc.WriteTo(resp, from)
			}
		}
	}()
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

func (f *fakeDNS) answer(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	// Question: name, type, class.
	i := 12
	var labels []string
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	i++
	if i+4 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i:])
	question := q[12 : i+4]
	name := strings.ToLower(strings.Join(labels, "."))

	var answers [][]byte
	rcode := 0
	switch {
	case f.broken[name]:
		rcode = 2
	case f.nx[name]:
		rcode = 3
	case qtype == 15: // MX
		for _, mx := range f.mx[name] {
			rdata := binary.BigEndian.AppendUint16(nil, mx.pref)
			rdata = append(rdata, encodeName(mx.host)...)
			answers = append(answers, rr(15, rdata))
		}
	case qtype == 1: // A
		if ip := f.a[name]; ip != nil {
			answers = append(answers, rr(1, ip.To4()))
		}
	}
	resp := append([]byte(nil), q[:2]...)                 // ID
	resp = append(resp, 0x81|q[2]&0x01, 0x80|byte(rcode)) // QR, RD copied, RA, rcode
	resp = binary.BigEndian.AppendUint16(resp, 1)
	resp = binary.BigEndian.AppendUint16(resp, uint16(len(answers)))
	resp = append(resp, 0, 0, 0, 0)
	resp = append(resp, question...)
	for _, a := range answers {
		resp = append(resp, a...)
	}
	return resp
}

func encodeName(name string) []byte {
	var b []byte
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if l == "" {
			continue
		}
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

// rr is an answer record for the question's name (a pointer to offset 12).
func rr(typ uint16, rdata []byte) []byte {
	b := []byte{0xc0, 12}
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, 1)
	b = binary.BigEndian.AppendUint32(b, 300)
	b = binary.BigEndian.AppendUint16(b, uint16(len(rdata)))
	return append(b, rdata...)
}

func TestRouteDNS(t *testing.T) {
	dns := &fakeDNS{
		mx: map[string][]mxRecord{
			"multi.test":  {{20, "backup.multi.test."}, {10, "mx1.multi.test."}},
			"nullmx.test": {{0, "."}},
		},
		a:      map[string]net.IP{"nomx.test": net.IPv4(192, 0, 2, 7)},
		nx:     map[string]bool{"gone.test": true},
		broken: map[string]bool{"broken.test": true},
	}
	q := New(nil, Options{Resolver: dns.start(t)})
	ctx := context.Background()

	dests, err := q.route(ctx, "multi.test")
	if err != nil || len(dests) != 2 || dests[0].addr != "mx1.multi.test:25" || dests[1].addr != "backup.multi.test:25" || dests[0].allowPlain {
		t.Fatalf("MX route = %+v, %v; want mx1 then backup on port 25, TLS required", dests, err)
	}
	if !dests[0].tlsConfig.InsecureSkipVerify || dests[0].tlsConfig.ServerName != "mx1.multi.test" {
		t.Errorf("MX TLS config %+v, want opportunistic with the MX name", dests[0].tlsConfig)
	}
	dests, err = q.route(ctx, "nomx.test")
	if err != nil || len(dests) != 1 || dests[0].addr != "nomx.test:25" {
		t.Fatalf("no-MX route = %+v, %v; want the domain itself", dests, err)
	}
	for domain, want := range map[string]struct {
		perm   bool
		status string
	}{
		"nullmx.test": {true, "5.1.10"},
		"gone.test":   {true, "5.1.2"},
		"broken.test": {false, "4.4.3"},
	} {
		_, err := q.route(ctx, domain)
		var de *deliveryError
		if !errors.As(err, &de) || de.perm != want.perm || de.status != want.status {
			t.Errorf("route(%s) = %v, want perm=%v status %s", domain, err, want.perm, want.status)
		}
	}
}
