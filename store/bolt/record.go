package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/herald-sse/herald"
)

// A record is the value stored for one update under its big-endian Seq:
//
//	version   byte    recordVersion
//	time      varint  Unix nanoseconds
//	flags     byte    flagPrivate | flagID
//	id        string  only with flagID (a publisher-chosen id); a generated id
//	                  is not stored: it is FormatID(instance, Seq)
//	retry     uvarint nanoseconds
//	type      string
//	topics    uvarint count, then each as a string
//	data      string
//
// where string is a uvarint length followed by the bytes. The fields a
// retention sweep needs (time, flags, id) come first, so it reads them
// without decoding the rest.
const recordVersion = 1

const (
	flagPrivate = 1 << iota
	flagID
	flagsKnown = flagPrivate | flagID
)

var errRecord = errors.New("malformed record")

// appendRecord appends the record of u to b. customID says whether u.ID was
// chosen by the publisher (and must be stored).
func appendRecord(b []byte, u *herald.Update, customID bool) []byte {
	b = append(b, recordVersion)
	b = binary.AppendVarint(b, u.Time.UnixNano())
	var flags byte
	if u.Private {
		flags |= flagPrivate
	}
	if customID {
		flags |= flagID
	}
	b = append(b, flags)
	if customID {
		b = appendString(b, u.ID)
	}
	b = binary.AppendUvarint(b, uint64(u.Retry))
	b = appendString(b, u.Type)
	b = binary.AppendUvarint(b, uint64(len(u.Topics)))
	for _, t := range u.Topics {
		b = appendString(b, t)
	}
	return appendString(b, u.Data)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// recordReader reads a record field by field; the first error sticks.
type recordReader struct {
	b   []byte
	err error
}

func (r *recordReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: bad %s", errRecord, what)
	}
}

func (r *recordReader) byte(what string) byte {
	if r.err != nil || len(r.b) == 0 {
		r.fail(what)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *recordReader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// bytes returns a length-prefixed field, aliasing the record.
func (r *recordReader) bytes(what string) []byte {
	n := r.uvarint(what)
	if r.err != nil || n > uint64(len(r.b)) {
		r.fail(what)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// head reads the version, time, flags and (with flagID) id.
func (r *recordReader) head() (unixNano int64, flags byte, id []byte) {
	if v := r.byte("version"); r.err == nil && v != recordVersion {
		r.err = fmt.Errorf("%w: record version %d, this build reads %d", errRecord, v, recordVersion)
	}
	unixNano = r.varint("time")
	flags = r.byte("flags")
	if r.err == nil && flags&^flagsKnown != 0 {
		r.err = fmt.Errorf("%w: unknown flags %#x", errRecord, flags)
	}
	if flags&flagID != 0 {
		id = r.bytes("id")
		if r.err == nil && len(id) == 0 {
			r.fail("id")
		}
	}
	return unixNano, flags, id
}

// recordHead returns a record's time and, when the publisher chose it, its
// id (aliasing rec). It does not read the rest of the record.
func recordHead(rec []byte) (t time.Time, customID []byte, err error) {
	r := recordReader{b: rec}
	ns, _, id := r.head()
	return time.Unix(0, ns), id, r.err
}

// decodeRecord returns the update stored at seq by the store instance.
// Every string is copied out of rec.
func decodeRecord(rec []byte, seq uint64, instance string) (herald.Update, error) {
	r := recordReader{b: rec}
	ns, flags, id := r.head()
	retry := r.uvarint("retry")
	if r.err == nil && retry > math.MaxInt64 {
		r.fail("retry")
	}
	typ := r.bytes("type")
	n := r.uvarint("topic count")
	if r.err == nil && n > uint64(len(r.b)) { // each topic takes at least one byte
		r.fail("topic count")
	}
	var topics []string
	if r.err == nil && n > 0 {
		topics = make([]string, n)
		for i := range topics {
			topics[i] = string(r.bytes("topic"))
		}
	}
	data := r.bytes("data")
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes", errRecord, len(r.b))
	}
	if r.err != nil {
		return herald.Update{}, r.err
	}
	u := herald.Update{
		ID:      string(id),
		Topics:  topics,
		Private: flags&flagPrivate != 0,
		Type:    string(typ),
		Data:    string(data),
		Retry:   time.Duration(retry),
		Seq:     seq,
		Time:    time.Unix(0, ns),
	}
	if flags&flagID == 0 {
		u.ID = herald.FormatID(instance, seq)
	}
	return u, nil
}
