package queue

import "testing"

func TestCRLF(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"a\r\nb\r\n", "a\r\nb\r\n"},
		{"a\rb", "a\r\nb"},
		{"a\nb", "a\r\nb"},
		{"a\r", "a\r\n"},
		{"\n", "\r\n"},
		{"x\r.\r\ny", "x\r\n.\r\ny"},
		{"x\n\r\n\r\r\n", "x\r\n\r\n\r\n\r\n"},
	} {
		if got := string(crlf([]byte(tc.in))); got != tc.want {
			t.Errorf("crlf(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
