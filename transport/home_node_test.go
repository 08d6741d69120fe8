package transport

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/thingpost/thingpost/homenode/accounts"
	"github.com/thingpost/thingpost/homenode/imapd"
	"github.com/thingpost/thingpost/homenode/mailstore"
	"github.com/thingpost/thingpost/homenode/smtpd"
	"github.com/thingpost/thingpost/homenode/spool"
)

// nodeHome is the project's own mail server, in process: mailstore, imapd
// and the smtpd submission server on loopback. This test-only import of
// homenode does not make transport depend on it.
type nodeHome struct {
	homeBase
	path string

	mu      sync.Mutex
	store   *mailstore.Store
	imapSrv *imapd.Server
	smtpSrv *smtpd.Server
	served  sync.WaitGroup
}

func newNodeHome(t testing.TB, sec Security) *nodeHome {
	t.Helper()
	h := &nodeHome{path: filepath.Join(t.TempDir(), "mail.db")}
	h.homeBase.init(t, sec)
	hash, err := accounts.HashPassword(h.pw)
	if err != nil {
		t.Fatal(err)
	}
	h.open()
	if err := h.store.AddUser(context.Background(), h.addr, hash); err != nil {
		t.Fatal(err)
	}
	h.start()
	t.Cleanup(func() {
		h.stop()
		h.store.Close()
	})
	return h
}

func (h *nodeHome) open() {
	s, err := mailstore.Open(h.path)
	if err != nil {
		h.t.Fatalf("open mailstore: %v", err)
	}
	h.store = s
}

func (h *nodeHome) start() {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	auth := accounts.NewAuthenticator(h.store, log)
	imapLn, smtpLn, starttls := h.listen()
	sp, err := spool.New(filepath.Join(filepath.Dir(h.path), "imap-spool"), spool.Limits{Disk: 256 << 20, Memory: 64 << 20})
	if err != nil {
		h.t.Fatal(err)
	}
	io := imapd.Options{AllowInsecureAuth: true, Logger: log, TLSConfig: starttls, Spool: sp}
	so := smtpd.SubmissionOptions{Hostname: "home.test", Domains: []string{"home.test"},
		AllowInsecureAuth: true, Queue: h.store, Logger: log, TLSConfig: starttls}
	h.imapSrv = imapd.New(h.store, auth, io)
	h.smtpSrv = smtpd.NewSubmission(h.store, auth, so)
	h.served.Add(2)
	go func() { defer h.served.Done(); h.imapSrv.Serve(imapLn) }()
	go func() { defer h.served.Done(); h.smtpSrv.Serve(smtpLn) }()
}

func (h *nodeHome) stop() {
	h.tr.killAll()
	h.imapSrv.Close()
	h.smtpSrv.Close()
	h.served.Wait()
}

// restart is a process restart: servers and every connection gone, the
// store closed and opened again.
func (h *nodeHome) restart(down time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stop()
	if err := h.store.Close(); err != nil {
		h.t.Fatalf("close mailstore: %v", err)
	}
	time.Sleep(down)
	h.open()
	h.start()
}

func (h *nodeHome) deliver(raw []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.store.Deliver(context.Background(), []string{h.addr}, raw); err != nil {
		h.t.Fatalf("deliver: %v", err)
	}
}
