package connlimit

import (
	"net"
	"net/netip"
)

// ClientKey is the client a connection from a is counted under: its IPv4
// address or IPv6 /64, for other per-client limits (rate limits) to match.
func ClientKey(a net.Addr) netip.Prefix { return clientKey(a) }
