package keystore

import (
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

func TestNewKeyShape(t *testing.T) {
	tests := []struct{ addr, name, wantUID string }{
		{"Lamp@Home.Example", "", "<lamp@home.example>"},
		{"alice@home.example", "Alice", "Alice <alice@home.example>"},
	}
	for _, tt := range tests {
		id, err := New(tt.addr, tt.name)
		if err != nil {
			t.Fatal(err)
		}
		e := id.Entity()
		if e.PrimaryKey.Version != 4 || e.PrimaryKey.PubKeyAlgo != packet.PubKeyAlgoEdDSA {
			t.Errorf("primary: v%d algo %d", e.PrimaryKey.Version, e.PrimaryKey.PubKeyAlgo)
		}
		if len(e.Subkeys) != 1 || e.Subkeys[0].PublicKey.PubKeyAlgo != packet.PubKeyAlgoECDH {
			t.Fatalf("want one ECDH subkey, got %d", len(e.Subkeys))
		}
		if len(e.Identities) != 1 {
			t.Fatalf("want one user id, got %d", len(e.Identities))
		}
		for uid, ident := range e.Identities {
			if uid != tt.wantUID {
				t.Errorf("user id %q, want %q", uid, tt.wantUID)
			}
			if !ident.SelfCertifications[0].Packet.SEIPDv2 {
				t.Error("SEIPDv2 feature not advertised")
			}
		}
		if id.Addr() != tt.wantUID[len(tt.wantUID)-len(id.Addr())-1:len(tt.wantUID)-1] {
			t.Errorf("addr %q", id.Addr())
		}
		if h := id.Fingerprint().Human(); len(h) != 49 {
			t.Errorf("human fingerprint %q", h)
		}
	}
}

func TestNormalizeAddrRejects(t *testing.T) {
	for _, a := range []string{"", "nobody", "Alice <a@b.c>", "a@b.c, d@e.f", " a@b.c"} {
		if _, err := NormalizeAddr(a); err == nil {
			t.Errorf("NormalizeAddr(%q) accepted", a)
		}
	}
}
