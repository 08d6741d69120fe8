package mailstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// MessageInfo is what the store keeps about a message besides its bytes.
type MessageInfo struct {
	UID          uint32
	Flags        []string
	InternalDate time.Time
	Size         int64
}

// msgMeta is the stored form of MessageInfo (without the UID, the key).
type msgMeta struct {
	flags flagSet
	date  int64 // unix nanoseconds
	size  int64
}

const metaVersion = 1

var errBadRecord = errors.New("bad record")

// encode: version, system flag bits, date (varint), size (uvarint),
// keyword count (uvarint), keywords (uvarint length + bytes).
func (m *msgMeta) encode() []byte {
	b := make([]byte, 0, 2+2*binary.MaxVarintLen64+8*len(m.flags.keywords)+8)
	b = append(b, metaVersion, m.flags.sys)
	b = binary.AppendVarint(b, m.date)
	b = binary.AppendUvarint(b, uint64(m.size))
	b = binary.AppendUvarint(b, uint64(len(m.flags.keywords)))
	for _, k := range m.flags.keywords {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	return b
}

func decodeMeta(b []byte) (msgMeta, error) {
	var m msgMeta
	if len(b) < 2 || b[0] != metaVersion {
		return m, fmt.Errorf("%w: message record version", errBadRecord)
	}
	m.flags.sys = b[1] & (1<<len(systemFlags) - 1)
	b = b[2:]
	date, n := binary.Varint(b)
	if n <= 0 {
		return m, fmt.Errorf("%w: message date", errBadRecord)
	}
	b = b[n:]
	size, n := binary.Uvarint(b)
	if n <= 0 || size > 1<<62 {
		return m, fmt.Errorf("%w: message size", errBadRecord)
	}
	b = b[n:]
	count, n := binary.Uvarint(b)
	if n <= 0 || count > maxKeywords {
		return m, fmt.Errorf("%w: keyword count", errBadRecord)
	}
	b = b[n:]
	for i := uint64(0); i < count; i++ {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > maxKeywordLn || uint64(len(b)-n) < l {
			return m, fmt.Errorf("%w: keyword", errBadRecord)
		}
		m.flags.keywords = append(m.flags.keywords, string(b[n:n+int(l)]))
		b = b[n+int(l):]
	}
	if len(b) != 0 {
		return m, fmt.Errorf("%w: trailing bytes", errBadRecord)
	}
	m.date, m.size = date, int64(size)
	return m, nil
}

func (m *msgMeta) info(uid uint32) MessageInfo {
	return MessageInfo{
		UID:          uid,
		Flags:        m.flags.list(),
		InternalDate: time.Unix(0, m.date),
		Size:         m.size,
	}
}

func u32key(v uint32) []byte {
	return binary.BigEndian.AppendUint32(nil, v)
}

func u64key(v uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, v)
}

func keyU32(k []byte) (uint32, bool) {
	if len(k) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(k), true
}

func keyU64(k []byte) (uint64, bool) {
	if len(k) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(k), true
}
