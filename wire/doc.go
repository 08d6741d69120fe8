// Package wire is the message model between people and things: commands,
// replies, events, capability descriptions and thing state, in two forms.
//
// The human form is the plain text a person types or reads in any Delta Chat
// client ("on", "set brightness 40", "status"). ParseCommand reads it and
// Command.String writes it back in canonical form.
//
// The machine form is compact, versioned JSON that the app sends and reads
// inside the same signed and encrypted part, carried base64-encoded in one
// protected header (HeaderName). Encode and Decode convert a Message to and
// from that header value and validate it strictly.
//
// The JSON has a version and exactly one of "cmd", "reply" and "event":
//
//	{"v":1,"cmd":{"name":"set","args":["brightness","40"]}}
//	{"v":1,"reply":{"ok":true,"text":"The lamp is on, brightness 40%.",
//	  "cmd":{"name":"set","args":["brightness","40"]},"state":{"brightness":40,"power":true}}}
//	{"v":1,"reply":{"ok":false,"code":"bad-value","reason":"brightness goes from 0 to 100%, not \"140\"","text":"..."}}
//	{"v":1,"event":{"kind":"temperature-above","time":"2026-03-01T12:00:00Z","text":"...",
//	  "values":{"threshold":30.0,"value":31.5}}}
//
// A reply may also carry "caps" (answer to describe), "users" and "invite".
// State values are JSON booleans, numbers and strings; a float always has a
// point or exponent ("30.0"), so it reads back as a float.
//
// A Capabilities description says what a thing offers (properties and
// commands with typed arguments). A UI renders controls from it, and
// Capabilities.Resolve checks a command against it, converting units, before
// a driver sees the command.
//
// Guard is the replay guard: a window on the protected Date and a durable
// record of seen Message-IDs (BoltSeen keeps it in the caller's bbolt file).
//
// wire imports no other Thingpost package.
package wire
