package nats

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/herald-sse/herald"
)

// A message's body holds the update (its subject holds the publisher's id,
// see subjectFor). Layout, version 1:
//
//	byte     version (1)
//	byte     flags: 1 private, 2 the id was generated (not stored)
//	uvarint  Time, nanoseconds since the Unix epoch
//	uvarint  Retry, nanoseconds
//	string   id (absent when generated)
//	string   type
//	uvarint  number of topics, then each topic as a string
//	string   data
//
// where a string is a uvarint length and that many bytes.
const codecVersion = 1

const (
	flagPrivate   = 1
	flagGenerated = 2
)

var errCorrupt = errors.New("not a message Herald wrote")

// encode returns the body of the message that stores u, appended at t.
func encode(u *herald.Update, t time.Time) []byte {
	n := 32 + len(u.ID) + len(u.Type) + len(u.Data)
	for _, tp := range u.Topics {
		n += 4 + len(tp)
	}
	b := make([]byte, 0, n)
	var flags byte
	if u.Private {
		flags |= flagPrivate
	}
	if u.ID == "" {
		flags |= flagGenerated
	}
	b = append(b, codecVersion, flags)
	b = binary.AppendUvarint(b, uint64(t.UnixNano()))
	b = binary.AppendUvarint(b, uint64(u.Retry))
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	if u.ID != "" {
		str(u.ID)
	}
	str(u.Type)
	b = binary.AppendUvarint(b, uint64(len(u.Topics)))
	for _, tp := range u.Topics {
		str(tp)
	}
	str(u.Data)
	return b
}

// decode reads a body written by encode. A generated id is made from
// instance and seq.
func decode(b []byte, seq uint64, instance string) (herald.Update, error) {
	if len(b) < 2 || b[0] != codecVersion {
		return herald.Update{}, errCorrupt
	}
	flags := b[1]
	b = b[2:]
	ok := true
	num := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			ok = false
			return 0
		}
		b = b[n:]
		return v
	}
	str := func() string {
		n := num()
		if !ok || n > uint64(len(b)) {
			ok = false
			return ""
		}
		s := string(b[:n])
		b = b[n:]
		return s
	}
	u := herald.Update{Seq: seq, Private: flags&flagPrivate != 0}
	u.Time = time.Unix(0, int64(num()))
	u.Retry = time.Duration(num())
	if flags&flagGenerated != 0 {
		u.ID = herald.FormatID(instance, seq)
	} else {
		u.ID = str()
	}
	u.Type = str()
	nt := num()
	if !ok || nt == 0 || nt > uint64(len(b)) {
		return herald.Update{}, errCorrupt
	}
	u.Topics = make([]string, nt)
	for i := range u.Topics {
		u.Topics[i] = str()
	}
	u.Data = str()
	if !ok || len(b) != 0 {
		return herald.Update{}, errCorrupt
	}
	return u, nil
}
