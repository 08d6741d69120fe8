package queue

import "bytes"

// crlf returns raw with every bare CR and bare LF made a CRLF, so that what
// goes out is lines the remote server reads the way we do: the DATA writer
// dot-stuffs only after a LF, and "\r.\r\n" unstuffed could end the data
// early at a server that takes a bare CR for a line end. Mail with proper
// line ends, nearly all of it, is returned as it is.
func crlf(raw []byte) []byte {
	if !hasBareLineEnd(raw) {
		return raw
	}
	out := make([]byte, 0, len(raw)+len(raw)/32)
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '\r' && i+1 < len(raw) && raw[i+1] == '\n':
			out = append(out, '\r', '\n')
			i++
		case c == '\r' || c == '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, c)
		}
	}
	return out
}

func hasBareLineEnd(raw []byte) bool {
	for i := 0; ; {
		j := bytes.IndexAny(raw[i:], "\r\n")
		if j < 0 {
			return false
		}
		i += j
		if raw[i] == '\n' || i+1 == len(raw) || raw[i+1] != '\n' {
			return true
		}
		i += 2
	}
}
