package bolt

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald"
)

func TestRecordRoundTrip(t *testing.T) {
	now := time.Now().Round(0)
	for _, u := range []herald.Update{
		{Topics: []string{"t"}, Seq: 1, Time: now},
		{ID: "custom-é", Topics: []string{"a", "", strings.Repeat("b", 3000)}, Private: true, Type: "ty", Data: "x\ny\x00\xff", Retry: 1500 * time.Millisecond, Seq: 1 << 40, Time: time.Unix(0, -5)},
		{Topics: []string{"t"}, Data: strings.Repeat("d", 1<<20), Seq: 7, Time: time.Unix(1<<33, 999)},
	} {
		custom := u.ID != ""
		if !custom {
			u.ID = herald.FormatID("inst", u.Seq)
		}
		rec := appendRecord(nil, &u, custom)
		got, err := decodeRecord(rec, u.Seq, "inst")
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != u.ID || !slices.Equal(got.Topics, u.Topics) || got.Private != u.Private || got.Type != u.Type ||
			got.Data != u.Data || got.Retry != u.Retry || got.Seq != u.Seq || !got.Time.Equal(u.Time) {
			t.Fatalf("round trip of %+v gave %+v", u, got)
		}
		tm, id, err := recordHead(rec)
		if err != nil || !tm.Equal(u.Time) || custom != (id != nil) || custom && string(id) != u.ID {
			t.Fatalf("recordHead = %v, %q, %v; want %v, custom id %v", tm, id, err, u.Time, custom)
		}
		// Every truncation is an error, never a panic or a wrong update.
		for i := range min(len(rec), 64) {
			if _, err := decodeRecord(rec[:i], u.Seq, "inst"); !errors.Is(err, errRecord) {
				t.Fatalf("decoding %d of %d bytes: err = %v, want errRecord", i, len(rec), err)
			}
		}
	}
	// A generated id is not stored: the record is smaller than the id.
	u := herald.Update{Topics: []string{"t"}, Data: "d", Time: now}
	if rec := appendRecord(nil, &u, false); len(rec) > 20 {
		t.Fatalf("record of a small update is %d bytes", len(rec))
	}
}

// FuzzDecodeRecord feeds arbitrary bytes to the decoder: it must never
// panic, and whatever it accepts must encode and decode back to the same
// update.
func FuzzDecodeRecord(f *testing.F) {
	now := time.Now()
	for _, u := range []herald.Update{
		{Topics: []string{"t"}, Time: now},
		{ID: "x", Topics: []string{"a", "b"}, Private: true, Type: "y", Data: "z\n", Retry: time.Second, Time: now},
	} {
		f.Add(appendRecord(nil, &u, u.ID != ""))
	}
	f.Add([]byte{recordVersion, 0, flagID, 0})
	f.Add([]byte{recordVersion, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, rec []byte) {
		u, err := decodeRecord(rec, 42, "inst")
		tm, id, herr := recordHead(rec)
		if err != nil {
			if !errors.Is(err, errRecord) {
				t.Fatalf("error %v does not wrap errRecord", err)
			}
			return
		}
		if herr != nil || !tm.Equal(u.Time) {
			t.Fatalf("decodeRecord accepted what recordHead refused (%v) or disagreed on time", herr)
		}
		custom := id != nil
		if custom && u.ID != string(id) || !custom && u.ID != herald.FormatID("inst", 42) {
			t.Fatalf("id %q, head id %q", u.ID, id)
		}
		again := appendRecord(nil, &u, custom)
		v, err := decodeRecord(again, 42, "inst")
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if v.ID != u.ID || !slices.Equal(v.Topics, u.Topics) || v.Private != u.Private || v.Type != u.Type ||
			v.Data != u.Data || v.Retry != u.Retry || !v.Time.Equal(u.Time) {
			t.Fatalf("round trip changed %+v into %+v", u, v)
		}
		if !bytes.Equal(appendRecord(nil, &v, custom), again) {
			t.Fatal("encoding is not stable")
		}
	})
}
