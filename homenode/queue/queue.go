package queue

import (
	"context"
	"crypto"
	"crypto/tls"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/thingpost/thingpost/homenode/mailstore"
)

// Store is what the queue needs from the mail store (*mailstore.Store).
type Store interface {
	Enqueue(ctx context.Context, from string, rcpts []string, raw []byte) (uint64, error)
	QueueDue(ctx context.Context, now time.Time) ([]mailstore.QueueItem, error)
	QueueUpdate(ctx context.Context, it mailstore.QueueItem) error
	QueueRemove(ctx context.Context, id uint64) error
	// Deliver stores bounces in the sender's INBOX.
	Deliver(ctx context.Context, rcpts []string, raw []byte) error
}

// Defaults for zero Options values.
const (
	DefaultMaxAge       = 5 * 24 * time.Hour
	DefaultRetryMin     = time.Minute
	DefaultRetryMax     = time.Hour
	DefaultPollInterval = 30 * time.Second
	DefaultConcurrency  = 4
	DefaultDialTimeout  = 30 * time.Second
)

// Options configure the outbound queue.
type Options struct {
	// Hostname is the name sent in EHLO and written into bounces.
	Hostname string
	// DKIM signs outbound mail; nil sends it unsigned.
	DKIM *DKIM
	// StaticMX maps a domain to "host:port", replacing DNS for it. Plain
	// text is allowed to these hosts when they offer no STARTTLS.
	StaticMX map[string]string
	// Smarthost, when set, carries all mail for domains not in StaticMX.
	Smarthost *Smarthost
	// TLSConfig is the base for STARTTLS to MX hosts. Nil encrypts without
	// checking the certificate, as MTAs do for opportunistic TLS (MX
	// certificates are rarely valid for the MX name).
	TLSConfig *tls.Config
	// Resolver for MX lookups; nil means net.DefaultResolver.
	Resolver *net.Resolver
	Logger   *slog.Logger
	// Now is the clock (tests move it); nil means time.Now.
	Now func() time.Time

	MaxAge       time.Duration // give up and bounce after this long (5 days)
	RetryMin     time.Duration // first retry delay, doubled per attempt (1 min)
	RetryMax     time.Duration // retry delay cap (1 h)
	PollInterval time.Duration // how often the queue is looked at without Kick (30 s)
	Concurrency  int           // items delivered at once (4)
	DialTimeout  time.Duration // per connection attempt (30 s)
}

// DKIM is the signing identity for outbound mail.
type DKIM struct {
	Selector string
	// Signer is an *rsa.PrivateKey (RSA-2048 is what receivers verify) or
	// an ed25519.PrivateKey.
	Signer crypto.Signer
	// Domains the key is published under. The signature's d= is the header
	// From's domain when it is one of them (or Domains is empty), else
	// Domains[0].
	Domains []string
}

// TLSMode says how to talk to a smarthost.
type TLSMode string

// Smarthost TLS modes.
const (
	StartTLS    TLSMode = "starttls" // the default: STARTTLS required
	ImplicitTLS TLSMode = "implicit" // TLS from the first byte (port 465)
	NoTLS       TLSMode = "none"     // plain text: loopback smarthosts only
)

// Smarthost relays all outbound mail through one server.
type Smarthost struct {
	Addr string // host:port
	// User and Pass for AUTH PLAIN; an empty User skips AUTH.
	User, Pass string
	TLS        TLSMode
	// TLSConfig checks the smarthost's certificate; nil verifies against
	// the system roots for the host name of Addr.
	TLSConfig *tls.Config
}

// Queue delivers queued mail to other domains. Run it in one goroutine.
type Queue struct {
	store Store
	opts  Options
	log   *slog.Logger
	now   func() time.Time
	kick  chan struct{}

	// A queue snapshot can be older than a delivery that just finished; an
	// item finished during the current snapshot (finished[id] == snap) is
	// skipped so it is not delivered twice.
	mu       sync.Mutex
	snap     uint64
	inflight map[uint64]bool
	finished map[uint64]uint64
	// rescan: a due item was skipped because it was in flight; look again
	// when a delivery finishes (its clock may have moved meanwhile).
	rescan bool
	// hold keeps items whose outcome could not be written to the store
	// (disk full) from being retried at once, again and again.
	hold map[uint64]time.Time
}

// New returns a queue over store.
func New(store Store, opts Options) *Queue {
	if opts.Hostname == "" {
		opts.Hostname = "localhost"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Resolver == nil {
		opts.Resolver = net.DefaultResolver
	}
	orDefault(&opts.MaxAge, DefaultMaxAge)
	orDefault(&opts.RetryMin, DefaultRetryMin)
	orDefault(&opts.RetryMax, DefaultRetryMax)
	orDefault(&opts.PollInterval, DefaultPollInterval)
	orDefault(&opts.Concurrency, DefaultConcurrency)
	orDefault(&opts.DialTimeout, DefaultDialTimeout)
	static := make(map[string]string, len(opts.StaticMX))
	for d, a := range opts.StaticMX {
		static[normDomain(d)] = a
	}
	opts.StaticMX = static
	return &Queue{
		store:    store,
		opts:     opts,
		log:      opts.Logger.With("role", "queue"),
		now:      opts.Now,
		kick:     make(chan struct{}, 1),
		inflight: make(map[uint64]bool),
		finished: make(map[uint64]uint64),
		hold:     make(map[uint64]time.Time),
	}
}

// orDefault sets *v to def unless it is positive.
func orDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Enqueue stores a message for delivery (durably: it returns after the fsync)
// and wakes the worker. It makes *Queue an smtpd.Enqueuer.
func (q *Queue) Enqueue(ctx context.Context, from string, rcpts []string, raw []byte) (uint64, error) {
	id, err := q.store.Enqueue(ctx, from, rcpts, raw)
	if err != nil {
		return 0, err
	}
	q.Kick()
	return id, nil
}

// Kick makes Run look at the queue now instead of at the next poll.
func (q *Queue) Kick() {
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// Run delivers due items until ctx is done, then waits for the deliveries in
// progress to stop and returns nil. Stop Run before closing the store.
func (q *Queue) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, q.opts.Concurrency)
	ticker := time.NewTicker(q.opts.PollInterval)
	defer ticker.Stop()
	for {
		q.startDue(ctx, &wg, sem)
		select {
		case <-ctx.Done():
			return nil
		case <-q.kick:
		case <-ticker.C:
		}
	}
}

func (q *Queue) startDue(ctx context.Context, wg *sync.WaitGroup, sem chan struct{}) {
	q.mu.Lock()
	q.snap++
	snap := q.snap
	for id, at := range q.finished {
		if at < snap { // its store update is visible to this snapshot
			delete(q.finished, id)
		}
	}
	q.mu.Unlock()
	now := q.now()
	items, err := q.store.QueueDue(ctx, now)
	if err != nil {
		if ctx.Err() == nil {
			q.log.Error("read queue", "err", err)
		}
		return
	}
	again := false
	defer func() {
		if again {
			q.Kick()
		}
	}()
	for _, it := range items {
		q.mu.Lock()
		_, stale := q.finished[it.ID]
		held := q.hold[it.ID].After(now)
		busy := q.inflight[it.ID] || stale || held
		if q.inflight[it.ID] {
			q.rescan = true
		}
		if !busy {
			q.inflight[it.ID] = true
		}
		q.mu.Unlock()
		if stale {
			// This snapshot may predate the item's update: look again
			// with a fresh one.
			again = true
		}
		if busy {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			q.mu.Lock()
			delete(q.inflight, it.ID)
			q.mu.Unlock()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer q.done(it.ID)
			q.process(ctx, it)
		}()
	}
}

// done is called after the item's store update.
func (q *Queue) done(id uint64) {
	q.mu.Lock()
	delete(q.inflight, id)
	q.finished[id] = q.snap
	rescan := q.rescan
	q.rescan = false
	q.mu.Unlock()
	if rescan {
		q.Kick()
	}
}

// process makes one delivery attempt for every recipient of it and records
// the outcome: delivered recipients leave the item, permanently failed ones
// (and, after MaxAge, temporarily failed ones) are bounced to the sender,
// the rest wait for the next attempt.
func (q *Queue) process(ctx context.Context, it mailstore.QueueItem) {
	now := q.now()
	msg := q.sign(it)
	var results []result
	for _, g := range groupByDomain(it.Rcpts) {
		results = append(results, q.deliverDomain(ctx, it, g.domain, g.rcpts, msg)...)
	}

	expired := now.Sub(it.Created) >= q.opts.MaxAge
	var failed []result
	var remaining []string
	var lastErr string
	for _, r := range results {
		switch {
		case r.err == nil:
		case r.perm:
			failed = append(failed, r)
		case expired:
			r.expired = true
			failed = append(failed, r)
		default:
			remaining = append(remaining, r.rcpt)
			lastErr = r.err.Error()
		}
	}

	// Bookkeeping runs to the end even when ctx was cancelled mid-delivery,
	// so that what was delivered is not sent again after a restart.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if len(failed) > 0 {
		if err := q.bounce(bctx, it, failed, now); err != nil {
			// Keep the failed recipients: the bounce is tried again with
			// the next attempt rather than lost.
			q.log.Error("bounce not stored", "id", it.ID, "from", it.From, "err", err)
			for _, r := range failed {
				remaining = append(remaining, r.rcpt)
			}
			lastErr = "bounce not stored: " + err.Error()
		}
	}
	it.Attempts++
	next := q.nextAttempt(it, now)
	var err error
	if len(remaining) == 0 {
		err = q.store.QueueRemove(bctx, it.ID)
	} else {
		it.Rcpts, it.LastError, it.NextAttempt, it.Raw = remaining, lastErr, next, nil
		err = q.store.QueueUpdate(bctx, it)
	}
	q.mu.Lock()
	if err != nil {
		q.hold[it.ID] = next
	} else {
		delete(q.hold, it.ID)
	}
	q.mu.Unlock()
	if err != nil {
		q.log.Error("queue bookkeeping failed; the item will be retried as it was", "id", it.ID, "err", err)
	}
}

// nextAttempt doubles the delay per attempt up to RetryMax, and never goes
// past the expiry, so the bounce comes on time.
func (q *Queue) nextAttempt(it mailstore.QueueItem, now time.Time) time.Time {
	d := q.opts.RetryMax
	if shift := it.Attempts - 1; shift < 32 && q.opts.RetryMin<<shift < d && q.opts.RetryMin<<shift > 0 {
		d = q.opts.RetryMin << shift
	}
	next := now.Add(d)
	if expiry := it.Created.Add(q.opts.MaxAge); next.After(expiry) && expiry.After(now) {
		next = expiry
	}
	return next
}

type domainGroup struct {
	domain string
	rcpts  []string
}

func groupByDomain(rcpts []string) []domainGroup {
	var groups []domainGroup
	idx := map[string]int{}
	for _, r := range rcpts {
		d := normDomain(r[strings.LastIndexByte(r, '@')+1:])
		i, ok := idx[d]
		if !ok {
			i = len(groups)
			idx[d] = i
			groups = append(groups, domainGroup{domain: d})
		}
		groups[i].rcpts = append(groups[i].rcpts, r)
	}
	return groups
}

func normDomain(d string) string { return strings.ToLower(strings.TrimSuffix(d, ".")) }

func (q *Queue) logResult(it mailstore.QueueItem, r result) {
	args := []any{"id", it.ID, "from", it.From, "rcpt", r.rcpt}
	if r.host != "" {
		args = append(args, "host", r.host, "tls", r.tls)
	}
	switch {
	case r.err == nil:
		q.log.Info("delivered", args...)
	case r.perm:
		q.log.Warn("delivery failed", append(args, "err", r.err)...)
	default:
		q.log.Info("delivery deferred", append(args, "attempt", it.Attempts+1, "err", r.err)...)
	}
}
