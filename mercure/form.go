package mercure

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// The fields of a publish form besides "topic", which may be given at most
// once each.
const (
	fieldData = iota
	fieldID
	fieldType
	fieldRetry
	fieldPrivate
	numFields

	fieldTopic   = -1
	fieldUnknown = -2
)

var fieldNames = [numFields]string{"data", "id", "type", "retry", "private"}

// publishForm holds what parseUpdate reads of a publish body: every topic,
// and for each other field how many times it is given and its first value,
// as r.PostForm["topic"], len(r.PostForm[k]) and r.PostForm.Get(k) would.
type publishForm struct {
	topics  []string // all the topics, or only the first ones when there are more than the limit
	nTopics int      // how many topic fields there are
	vals    [numFields]string
	n       [numFields]int
}

// formFromValues is the publishForm of a parsed form.
func formFromValues(vs url.Values) publishForm {
	var f publishForm
	f.topics = vs["topic"]
	f.nTopics = len(f.topics)
	for k, name := range fieldNames {
		v := vs[name]
		f.n[k] = len(v)
		if len(v) > 0 {
			f.vals[k] = v[0]
		}
	}
	return f
}

const formMediaType = "application/x-www-form-urlencoded"

// isFormMediaType reports whether a Content-Type is a form, as
// mime.ParseMediaType(ct) reading formMediaType, but without parsing the
// common spellings.
func isFormMediaType(ct string) bool {
	if asciiEqualFold(ct, formMediaType) || asciiEqualFold(ct, formMediaType+"; charset=utf-8") {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == formMediaType
}

// asciiEqualFold is strings.EqualFold for ASCII only: a non-ASCII letter
// such as U+017F (ſ), which EqualFold equates with "s", is not a token
// character for mime.ParseMediaType.
func asciiEqualFold(s, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		a, b := s[i], t[i]
		if a == b {
			continue
		}
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// readPublishForm reads the fields of a publish request's form body as
// r.ParseForm and r.PostForm did, with the same errors (a
// *http.MaxBytesError when the body is over the limit), but without
// building maps: the body is read into a pooled buffer and decoded in place,
// and the values kept are substrings of one string.
//
// As with r.ParseForm, the body is read only when there is a Content-Type
// (the caller checked that it is a form; without one ParseForm takes the
// body for application/octet-stream and leaves it), and the URL's query is
// not read for fields but must be a valid query all the same.
func (h *Handler) readPublishForm(w http.ResponseWriter, r *http.Request) (publishForm, error) {
	if r.PostForm != nil || r.Form != nil || !defaultParamLimit() {
		// Already parsed (by a middleware), or a GODEBUG urlmaxqueryparams
		// setting that parseForm does not know: let net/http do it.
		r.Body = http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes)
		if err := r.ParseForm(); err != nil {
			return publishForm{}, err
		}
		return formFromValues(r.PostForm), nil
	}
	var f publishForm
	if r.Header.Get("Content-Type") != "" {
		limit := h.cfg.MaxBodyBytes
		if r.Body == nil {
			r.Body = http.NoBody
		}
		if r.ContentLength < 0 || r.ContentLength > limit {
			// A server's body reader stops at a declared length within the
			// limit (and readBody checks it anyway); otherwise the server
			// must learn that the limit was hit, to close the connection
			// rather than drain the rest of the body.
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		fb := formBufs.Get().(*formBuf)
		defer fb.release()
		var err error
		if fb.b, err = readBody(fb.b[:0], r.Body, r.ContentLength, limit); err != nil {
			return f, err
		}
		if f, err = fb.parse(h.cfg.MaxTopics); err != nil {
			return f, err
		}
	}
	if r.URL != nil && r.URL.RawQuery != "" {
		if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
			return f, err
		}
	}
	return f, nil
}

// formBuf is a publish body being parsed.
type formBuf struct {
	b      []byte
	topics []span // where the kept topics are in b, once decoded
}

type span struct{ start, end int }

// maxPooledForm bounds the buffers kept for reuse: a rare large body does
// not pin its buffer.
const maxPooledForm = 64 << 10

var formBufs = sync.Pool{New: func() any { return new(formBuf) }}

func (fb *formBuf) release() {
	if cap(fb.b) > maxPooledForm {
		fb.b = nil
	}
	fb.b, fb.topics = fb.b[:0], fb.topics[:0]
	formBufs.Put(fb)
}

// readBody appends r's content to b up to EOF, as io.ReadAll, with a
// *http.MaxBytesError once there is more than limit bytes. size is the
// expected length, or -1.
func readBody(b []byte, r io.Reader, size, limit int64) ([]byte, error) {
	// Room for the expected length and the read that returns EOF.
	if want := size + 1; size >= 0 && size <= limit && int64(cap(b)) < want {
		b = make([]byte, 0, want)
	} else if cap(b) == 0 {
		b = make([]byte, 0, 512)
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		p := b[len(b):cap(b)]
		if room := limit + 1 - int64(len(b)); int64(len(p)) > room {
			p = p[:room]
		}
		n, err := r.Read(p)
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			return b, &http.MaxBytesError{Limit: limit}
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// maxParams is url.ParseQuery's default limit on the number of parameters.
const maxParams = 10000

var errTooManyParams = errors.New("number of URL query parameters exceeded limit")

// defaultParamLimit reports whether url.ParseQuery accepts maxParams
// parameters and refuses one more, as it does unless the GODEBUG setting
// urlmaxqueryparams changes the limit.
var defaultParamLimit = sync.OnceValue(func() bool {
	_, under := url.ParseQuery(strings.Repeat("&", maxParams-1))
	_, over := url.ParseQuery(strings.Repeat("&", maxParams))
	return under == nil && over != nil
})

// parse decodes the form in fb.b as url.ParseQuery would, with the same
// error, and returns the publish fields; at most maxTopics topics are kept
// (all are counted). The values kept are decoded in place, moved to the
// front of fb.b, and copied out as one string.
func (fb *formBuf) parse(maxTopics int) (publishForm, error) {
	var f publishForm
	b := fb.b
	if bytes.Count(b, []byte{'&'})+1 > maxParams {
		return f, errTooManyParams
	}
	if bytes.IndexByte(b, ';') >= 0 {
		// url.ParseQuery reports a semicolon whatever other error there is.
		return f, errors.New("invalid semicolon separator in query")
	}
	var vals [numFields]span
	w := 0 // end of the decoded values kept, at the front of b
	for rest := b; len(rest) > 0; {
		seg := rest
		if i := bytes.IndexByte(rest, '&'); i >= 0 {
			seg, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		if len(seg) == 0 {
			continue
		}
		key, val := seg, seg[len(seg):]
		if i := bytes.IndexByte(seg, '='); i >= 0 {
			key, val = seg[:i], seg[i+1:]
		}
		field, err := lookupKey(key)
		if err != nil {
			return f, err
		}
		keep := false
		switch field {
		case fieldUnknown:
		case fieldTopic:
			f.nTopics++
			keep = f.nTopics <= maxTopics
		default:
			f.n[field]++
			keep = f.n[field] == 1
		}
		if !keep {
			if err := checkEscapes(val); err != nil {
				return f, err
			}
			continue
		}
		start := w
		if w, err = unescapeTo(b, w, val); err != nil {
			return f, err
		}
		if field == fieldTopic {
			fb.topics = append(fb.topics, span{start, w})
		} else {
			vals[field] = span{start, w}
		}
	}
	s := string(b[:w]) // not b's memory, which is reused
	if len(fb.topics) > 0 {
		f.topics = make([]string, len(fb.topics))
		for i, sp := range fb.topics {
			f.topics[i] = s[sp.start:sp.end]
		}
	}
	for k, sp := range vals {
		f.vals[k] = s[sp.start:sp.end]
	}
	return f, nil
}

// lookupKey is the field a form key names once unescaped, or fieldUnknown.
func lookupKey(key []byte) (int, error) {
	var kb [8]byte // longer than any field name
	n := 0
	for i := 0; i < len(key); {
		c := key[i]
		switch c {
		case '%':
			if i+2 >= len(key) || !ishex(key[i+1]) || !ishex(key[i+2]) {
				return 0, escapeError(key[i:])
			}
			c = unhex(key[i+1])<<4 | unhex(key[i+2])
			i += 3
		case '+':
			c = ' '
			i++
		default:
			i++
		}
		if n < len(kb) {
			kb[n] = c
		}
		n++
	}
	if n > len(kb) {
		return fieldUnknown, nil
	}
	switch string(kb[:n]) {
	case "topic":
		return fieldTopic, nil
	case "data":
		return fieldData, nil
	case "id":
		return fieldID, nil
	case "type":
		return fieldType, nil
	case "retry":
		return fieldRetry, nil
	case "private":
		return fieldPrivate, nil
	}
	return fieldUnknown, nil
}

// checkEscapes returns the error url.QueryUnescape(s) would.
func checkEscapes(s []byte) error {
	for {
		i := bytes.IndexByte(s, '%')
		if i < 0 {
			return nil
		}
		if i+2 >= len(s) || !ishex(s[i+1]) || !ishex(s[i+2]) {
			return escapeError(s[i:])
		}
		s = s[i+3:]
	}
}

// unescapeTo writes url.QueryUnescape(s) to b[w:] and returns its end; s
// may be in b after w, as the result is never longer. The error is
// url.QueryUnescape's.
func unescapeTo(b []byte, w int, s []byte) (int, error) {
	pct, plus := bytes.IndexByte(s, '%'), bytes.IndexByte(s, '+')
	i := 0 // s[:i] is written
	for {
		j := pct
		if j < 0 || (plus >= 0 && plus < j) {
			j = plus
		}
		if j < 0 {
			return w + copy(b[w:], s[i:]), nil
		}
		w += copy(b[w:], s[i:j])
		if j == plus {
			b[w] = ' '
			w++
			i = j + 1
			if plus = bytes.IndexByte(s[i:], '+'); plus >= 0 {
				plus += i
			}
			continue
		}
		if j+2 >= len(s) || !ishex(s[j+1]) || !ishex(s[j+2]) {
			return w, escapeError(s[j:])
		}
		b[w] = unhex(s[j+1])<<4 | unhex(s[j+2])
		w++
		i = j + 3
		if pct = bytes.IndexByte(s[i:], '%'); pct >= 0 {
			pct += i
		}
	}
}

// escapeError is url.QueryUnescape's error for the bad escape at the start
// of s.
func escapeError(s []byte) error {
	if len(s) > 3 {
		s = s[:3]
	}
	return url.EscapeError(s)
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
