package thing

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/thingpost/thingpost/transport"
)

// What the quarantine folder keeps by default: refused mail is evidence
// for the owner, but anyone can send it, so only the newest samples stay.
const (
	DefaultQuarantineMessages = 100
	DefaultQuarantineBytes    = 8 << 20
	DefaultQuarantineAge      = 30 * 24 * time.Hour
)

// QuarantineLimits bound the quarantine folder: the newest Messages
// refused messages, at most Bytes together, none older than Age (zero
// fields: the defaults). The thing still counts every refused message, by
// reason (Store.Quarantined).
type QuarantineLimits struct {
	Messages int
	Bytes    int64
	Age      time.Duration
}

// quarantineSetup checks the folders and the limits of cfg, fills in the
// defaults and has the watcher trim the quarantine folder in its session
// (transport.Retention): a flood costs a trim per eighth of the limit, and
// nothing outside the folder can be deleted.
func (cfg *Config) quarantineSetup() error {
	if err := checkQuarantine(cfg.Quarantine, cfg.Processed, cfg.QuarantineKeep); err != nil {
		return err
	}
	q := &cfg.QuarantineKeep
	q.Messages = cmp.Or(q.Messages, DefaultQuarantineMessages)
	q.Bytes = cmp.Or(q.Bytes, DefaultQuarantineBytes)
	q.Age = cmp.Or(q.Age, DefaultQuarantineAge)
	cfg.Watch.Retain = append(slices.Clone(cfg.Watch.Retain), transport.Retention{
		Folder: cfg.Quarantine, MaxMessages: q.Messages, MaxBytes: q.Bytes, MaxAge: q.Age, Now: cfg.Now})
	return nil
}

// checkQuarantine refuses negative limits, and a quarantine folder whose
// trimming would delete other mail.
func checkQuarantine(folder, processed string, q QuarantineLimits) error {
	if q.Messages < 0 || q.Bytes < 0 || q.Age < 0 {
		return errors.New("quarantine_max_messages, quarantine_max_bytes and quarantine_max_age must not be negative")
	}
	if strings.EqualFold(folder, "INBOX") || folder == processed {
		return fmt.Errorf("quarantine_folder %q: must be neither INBOX nor the processed folder (old quarantined mail is deleted)", folder)
	}
	return nil
}

// aside counts a refused message under reason and moves it to the
// quarantine folder.
func (a *Agent) aside(m transport.Msg, reason string) transport.Disposition {
	a.store.noteQuarantined(m, reason)
	return transport.Move(a.cfg.Quarantine)
}

// quarantineSummary is the line the owner's "status" gets about refused
// mail; "" when there was none.
func (a *Agent) quarantineSummary() string {
	counts, err := a.store.Quarantined()
	if err != nil {
		a.log.Error("read quarantine counts", "err", err)
		return ""
	}
	var total uint64
	for _, n := range counts {
		total += n
	}
	if total == 0 {
		return ""
	}
	reasons := slices.SortedFunc(maps.Keys(counts), func(x, y string) int {
		return cmp.Or(cmp.Compare(counts[y], counts[x]), cmp.Compare(x, y))
	})
	parts := make([]string, len(reasons))
	for i, r := range reasons {
		parts[i] = fmt.Sprintf("%s %d", r, counts[r])
	}
	return fmt.Sprintf("\nRefused mail: %d (%s); the newest are kept in %s.", total, strings.Join(parts, ", "), a.cfg.Quarantine)
}
