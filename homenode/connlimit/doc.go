// Package connlimit caps how many connections a listener holds at once, in
// total and per client network, so that one client cannot take every slot
// of a home node's SMTP or IMAP port. It counts from accept, before any
// protocol step, and knows nothing of the protocol but the one line it
// writes to a connection it refuses.
package connlimit
