package thing

import (
	"errors"
	"fmt"
	"time"

	"github.com/thingpost/thingpost/envelope"
)

// errNoIntendedRecipient refuses a legacy message (no protected headers)
// whose signature does not name its intended recipients: its To is only
// in the unsigned outer header, so nothing says it was meant for this
// thing and not re-addressed from another one.
var errNoIntendedRecipient = errors.New("legacy message (no protected headers) whose signature names no intended recipient: nothing signed says it is for this thing")

// legacyIDPrefix marks the replay ids made from a legacy message's
// SignedID, apart from the Message-IDs of protected ones.
const legacyIDPrefix = "signed."

// replayIdentity is the id and the date the replay guard holds an
// authenticated message to, both from signed data. A message with
// protected headers has its protected Message-ID and Date, and its
// signature must be dated inside the window as well. A legacy message's
// outer Message-ID and Date are unsigned, so it is keyed by its SignedID
// and dated by its signature; and its signature must name this thing as an
// intended recipient (envelope.Open refused it if it names others only).
// On refusal reason says why, for the log.
func (a *Agent) replayIdentity(msg *envelope.Message) (id string, date time.Time, reason string, err error) {
	if err := a.guard.Fresh(msg.Signed); err != nil {
		return "", time.Time{}, "replay guard", fmt.Errorf("signature time: %w", err)
	}
	if msg.Protected {
		return msg.MessageID, msg.Date, "", nil
	}
	if !msg.IntendedRecipient {
		return "", time.Time{}, "no intended recipient", errNoIntendedRecipient
	}
	return legacyIDPrefix + msg.SignedID, msg.Signed, "", nil
}

// leaving reports whether msg is a "leave": the one command a person whose
// access expired may still send.
func (a *Agent) leaving(msg *envelope.Message) bool {
	cmd, err := a.command(msg)
	return err == nil && cmd.Name == "leave"
}
