package redis

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/herald-sse/herald"
	goredis "github.com/redis/go-redis/v9"
)

// Size is the size of u as Retention.MaxBytes counts it: the lengths of its
// strings plus 64 bytes, and 16 bytes per topic. A generated ID is not
// counted (it is made inside Redis).
func Size(u *herald.Update) int64 {
	n := 64 + len(u.ID) + len(u.Type) + len(u.Data)
	for _, t := range u.Topics {
		n += 16 + len(t)
	}
	return int64(n)
}

// streamID is the stream entry id of seq.
func streamID(seq uint64) string {
	return strconv.FormatUint(seq, 10) + "-0"
}

// seqOf parses the Seq out of a stream entry id "<seq>-0".
func seqOf(id string) (uint64, error) {
	ms, rest, ok := strings.Cut(id, "-")
	if !ok || rest != "0" {
		return 0, fmt.Errorf("stream entry id %q is not one Herald writes (<seq>-0)", id)
	}
	return strconv.ParseUint(ms, 10, 64)
}

// decode turns a stream entry back into the update it holds, and returns the
// instance it was appended under.
func decode(m goredis.XMessage) (herald.Update, string, error) {
	seq, err := seqOf(m.ID)
	if err != nil {
		return herald.Update{}, "", err
	}
	str := func(k string) string {
		s, _ := m.Values[k].(string)
		return s
	}
	us, err := strconv.ParseInt(str("t"), 10, 64)
	if err != nil {
		return herald.Update{}, "", fmt.Errorf("stream entry %s: bad time %q", m.ID, str("t"))
	}
	retry, err := strconv.ParseInt(str("r"), 10, 64)
	if err != nil {
		return herald.Update{}, "", fmt.Errorf("stream entry %s: bad retry %q", m.ID, str("r"))
	}
	u := herald.Update{
		ID:      str("id"),
		Topics:  strings.Split(str("tp"), "\n"),
		Private: str("p") == "1",
		Type:    str("ty"),
		Data:    str("d"),
		Retry:   time.Duration(retry),
		Seq:     seq,
		Time:    time.UnixMicro(us),
	}
	if u.ID == "" || str("tp") == "" {
		return herald.Update{}, "", fmt.Errorf("stream entry %s was not written by Herald", m.ID)
	}
	return u, str("i"), nil
}

// xmessage reads one stream entry as a script returns it (the reply of
// XRANGE): {id, {field, value, ...}}.
func xmessage(v any) (goredis.XMessage, error) {
	e, ok := v.([]any)
	if !ok || len(e) != 2 {
		return goredis.XMessage{}, fmt.Errorf("unexpected stream entry %v", v)
	}
	id, ok1 := e[0].(string)
	kv, ok2 := e[1].([]any)
	if !ok1 || !ok2 || len(kv)%2 != 0 {
		return goredis.XMessage{}, fmt.Errorf("unexpected stream entry %v", v)
	}
	m := goredis.XMessage{ID: id, Values: make(map[string]any, len(kv)/2)}
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return goredis.XMessage{}, fmt.Errorf("unexpected stream entry %v", v)
		}
		m.Values[k] = kv[i+1]
	}
	return m, nil
}
