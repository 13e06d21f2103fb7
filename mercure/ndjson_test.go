package mercure_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/internal/hubtest"
	"github.com/herald-sse/herald/mercure"
)

// parseBatchLine parses a copy of line (the parser overwrites it).
func parseBatchLine(line string, maxTopics int) (herald.Update, bool, error) {
	return mercure.ParseBatchLine([]byte(line), maxTopics)
}

// TestBatchLine: a line of a batch body is a JSON object with the fields
// of a publish form, each decoded exactly as JSON says.
func TestBatchLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line string
		want herald.Update
	}{
		{`{"topic":"t"}`, herald.Update{Topics: []string{"t"}}},
		{` { "topic" : "t" , "data" : "x" } ` + "\r", herald.Update{Topics: []string{"t"}, Data: "x"}},
		{`{"topic":["a","b"],"data":"d","id":"i","type":"ty","private":true,"retry":1500}`,
			herald.Update{Topics: []string{"a", "b"}, Data: "d", ID: "i", Type: "ty", Private: true, Retry: 1500 * time.Millisecond}},
		{`{"private":false,"retry":0,"topic":["only"]}`, herald.Update{Topics: []string{"only"}}},
		{`{"topic":"t","retry":4294967295}`, herald.Update{Topics: []string{"t"}, Retry: 4294967295 * time.Millisecond}},
		{`{"topic":"t","data":"a\"b\\c\/d\be\ff\ng\rh\ti"}`, herald.Update{Topics: []string{"t"}, Data: "a\"b\\c/d\be\ff\ng\rh\ti"}},
		{`{"topic":"t","data":"\u00e9\u20AC\ud83d\ude00\u0000"}`, herald.Update{Topics: []string{"t"}, Data: "é€😀\x00"}},
		{`{"topic":"https://example.com/é","data":"{\"unread\": 3}"}`, herald.Update{Topics: []string{"https://example.com/é"}, Data: `{"unread": 3}`}},
		{`{"\u0074opic":"t"}`, herald.Update{Topics: []string{"t"}}},
		{`{"topic":"t","data":""}`, herald.Update{Topics: []string{"t"}}},
		{"{\"topic\":\"t\",\"data\":\"\x7f\"}", herald.Update{Topics: []string{"t"}, Data: "\x7f"}},
	} {
		got, _, err := parseBatchLine(tc.line, 8)
		if err != nil {
			t.Errorf("%s: %v", tc.line, err)
			continue
		}
		if !slices.Equal(got.Topics, tc.want.Topics) || got.Data != tc.want.Data || got.ID != tc.want.ID || got.Type != tc.want.Type ||
			got.Private != tc.want.Private || got.Retry != tc.want.Retry {
			t.Errorf("%s: read %+v, want %+v", tc.line, got, tc.want)
		}
	}
}

// TestBatchLineRefused: anything but such an object is refused with a
// message that says what is wrong; nothing is ignored or replaced.
func TestBatchLineRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line, want string
		syntax     bool
	}{
		{``, "empty line", false},
		{"  \r", "empty line", false},
		{`[{"topic":"t"}]`, "not a JSON object", false},
		{`"topic"`, "not a JSON object", false},
		{`{}`, `missing "topic" field`, false},
		{`{"data":"x"}`, `missing "topic" field`, false},
		{`{"topic":"t","Data":"x"}`, `unknown field "Data"; the fields are topic, data, id, type, private, retry`, false},
		{`{"topic":"t","extra":1}`, `unknown field "extra"`, false},
		{`{"topic":"t","data":"a","data":"b"}`, `field "data" is given twice`, false},
		{`{"topic":"t","topic":"u"}`, `field "topic" is given twice`, false},
		{`{"topic":[]}`, `field "topic" is an empty array`, false},
		{`{"topic":["a",1]}`, `field "topic" must be a string or an array of strings, not an array holding a number`, false},
		{`{"topic":{"a":1}}`, `field "topic" must be a string or an array of strings, not an object`, false},
		{`{"topic":["a","b","c"]}`, "too many topics: the limit is 2", false},
		{`{"topic":"t","data":null}`, `field "data" must be a string, not null; leave the field out instead`, false},
		{`{"topic":null}`, `field "topic" must be a string or an array of strings, not null`, false},
		{`{"topic":"t","data":3}`, `field "data" must be a string, not a number`, false},
		{`{"topic":"t","id":true}`, `field "id" must be a string, not a boolean`, false},
		{`{"topic":"t","private":"on"}`, `field "private" must be true or false, not a string`, false},
		{`{"topic":"t","private":1}`, `field "private" must be true or false, not a number`, false},
		{`{"topic":"t","retry":"1000"}`, `field "retry" must be a whole number of milliseconds, not a string`, false},
		{`{"topic":"t","retry":1.5}`, "retry must be a whole number of milliseconds below 2^32, not 1.5", false},
		{`{"topic":"t","retry":1e3}`, "not 1e3", false},
		{`{"topic":"t","retry":-1}`, "not -1", false},
		{`{"topic":"t","retry":4294967296}`, "not 4294967296", false},
		{"{\"topic\":\"t\",\"data\":\"\xff\"}", "not valid UTF-8", false},
		{`{"topic":"t","data":"\ud800"}`, `lone surrogate \ud800`, false},
		{`{"topic":"t","data":"\udc00\ud800"}`, `lone surrogate \udc00`, false},
		{`{"topic":"t","data":"\ud800\u0041"}`, `lone surrogate \ud800`, false},
		{`{"topic":"t"`, "expected ',' or '}'", true},
		{`{"topic":"t",}`, "expected a field name", true},
		{`{"topic" "t"}`, "expected ':'", true},
		{`{"topic":"t"} {"topic":"u"}`, "unexpected text after the object", true},
		{`{"topic":"t"}x`, "unexpected text after the object", true},
		{`{"topic":"t","data":"a`, "the string is not closed", true},
		{"{\"topic\":\"t\",\"data\":\"a\nb\"}", "control character U+000A in a string", true},
		{`{"topic":"t","data":"\x41"}`, `invalid escape \x`, true},
		{`{"topic":"t","data":"\u12"}`, `invalid \u escape`, true},
		{`{"topic":"t","retry":01}`, "expected ',' or '}'", true},
		{`{"topic":"t","retry":-}`, "expected a digit", true},
		{`{"topic":"t","retry":1.}`, "expected a digit after the decimal point", true},
		{`{"topic":"t","private":tru}`, "expected a value", true},
		{`{"topic":"t","data":nul}`, "expected a value", true},
		{`{"topic":"t","data":}`, "expected a value", true},
		{`{"topic":["a" "b"]}`, "expected ',' or ']'", true},
		{`{"topic":["a",]}`, "expected a string in the topic array", true},
		{`{'topic':"t"}`, "expected a field name in double quotes", true},
	} {
		_, syntax, err := parseBatchLine(tc.line, 2)
		if err == nil {
			t.Errorf("%s: accepted", tc.line)
			continue
		}
		if !errors.Is(err, herald.ErrInvalid) || !strings.Contains(err.Error(), tc.want) || syntax != tc.syntax {
			t.Errorf("%s: %v (syntax error: %v); want ErrInvalid saying %q (syntax error: %v)", tc.line, err, syntax, tc.want, tc.syntax)
		}
		if syntax && !strings.Contains(err.Error(), "invalid JSON at column ") {
			t.Errorf("%s: %v does not say where the line stops being JSON", tc.line, err)
		}
	}
}

// strictCheck says whether line is acceptable as the batch endpoint reads
// lines, by another route: encoding/json's tokenizer, with the checks it
// does not make (unique field names, exact case, types, no null, valid
// UTF-8, retry in range) made on its tokens.
func strictCheck(line []byte, maxTopics int) error {
	if !utf8.Valid(line) {
		return errors.New("not UTF-8")
	}
	if !json.Valid(line) {
		return errors.New("not JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	if tok, _ := dec.Token(); tok != json.Delim('{') {
		return errors.New("not an object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, _ := dec.Token()
		key := tok.(string)
		if seen[key] {
			return errors.New("twice: " + key)
		}
		seen[key] = true
		tok, _ = dec.Token()
		switch key {
		case "topic":
			if _, ok := tok.(string); ok {
				continue
			}
			if tok != json.Delim('[') {
				return errors.New("topic type")
			}
			n := 0
			for dec.More() {
				if tok, _ := dec.Token(); !isString(tok) {
					return errors.New("topic array type")
				}
				n++
			}
			dec.Token()
			if n == 0 || n > maxTopics {
				return errors.New("topic count")
			}
		case "data", "id", "type":
			if !isString(tok) {
				return errors.New(key + " type")
			}
		case "private":
			if _, ok := tok.(bool); !ok {
				return errors.New("private type")
			}
		case "retry":
			n, ok := tok.(json.Number)
			if !ok {
				return errors.New("retry type")
			}
			if _, err := strconv.ParseUint(string(n), 10, 32); err != nil {
				return errors.New("retry value")
			}
		default:
			return errors.New("unknown " + key)
		}
		// A value that is an object or array where a scalar was expected
		// was refused above; nothing is left to skip.
	}
	if !seen["topic"] {
		return errors.New("no topic")
	}
	return nil
}

func isString(tok json.Token) bool { _, ok := tok.(string); return ok }

// surrogateEscape matches an escaped UTF-16 surrogate, which encoding/json
// turns into U+FFFD when it is not paired, and the batch endpoint refuses.
var surrogateEscape = regexp.MustCompile(`\\u[dD][89a-fA-F][0-9a-fA-F]{2}`)

// FuzzBatchLine: the batch endpoint's line parser agrees with
// encoding/json. A line it accepts is valid JSON with unique known fields
// of the right types, and it reads every value as encoding/json does; a
// line it refuses breaks one of those rules (or holds an escaped lone
// surrogate, which encoding/json silently replaces); and it says "not
// JSON" only of lines that are not.
func FuzzBatchLine(f *testing.F) {
	for _, s := range []string{
		`{"topic":"t"}`,
		`{"topic":["a","b"],"data":"d","id":"i","type":"ty","private":true,"retry":1500}`,
		`{"topic":"t","data":"\u00e9\ud83d\ude00\\\"\/\b\f\n\r\t"}`,
		`{"topic":"t","data":"\ud800"}`,
		`{"topic":"t","data":null}`,
		`{"topic":"t","retry":1e3}`,
		`{"topic":"t","Topic":"u"}`,
		`{"topic":"t","data":"a","data":"b"}`,
		"{\"topic\":\"\xff\"}",
		` {"topic" : [ "a" , "b" ] } `,
		`{"topic":[]}`,
		`[]`,
		`{"topic":"t"}x`,
	} {
		f.Add([]byte(s))
	}
	const maxTopics = 3
	f.Fuzz(func(t *testing.T, line []byte) {
		if bytes.IndexByte(line, '\n') >= 0 {
			return // not one line
		}
		orig := bytes.Clone(line)
		u, syntax, err := mercure.ParseBatchLine(line, maxTopics)
		ref := strictCheck(orig, maxTopics)
		if err != nil {
			if syntax && json.Valid(orig) {
				t.Fatalf("%q: said not JSON (%v), but it is", orig, err)
			}
			if ref == nil && !surrogateEscape.Match(orig) {
				t.Fatalf("%q: refused (%v), but it follows every rule", orig, err)
			}
			return
		}
		if ref != nil {
			t.Fatalf("%q: accepted as %+v, but %v", orig, u, ref)
		}
		var want struct {
			Topic    json.RawMessage
			Data, ID string
			Type     string
			Private  bool
			Retry    uint32
		}
		dec := json.NewDecoder(bytes.NewReader(orig))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("%q: accepted, but encoding/json refuses it: %v", orig, err)
		}
		var topics []string
		if err := json.Unmarshal(want.Topic, &topics); err != nil {
			var one string
			if err := json.Unmarshal(want.Topic, &one); err != nil {
				t.Fatalf("%q: topic %s: %v", orig, want.Topic, err)
			}
			topics = []string{one}
		}
		if !slices.Equal(u.Topics, topics) || u.Data != want.Data || u.ID != want.ID || u.Type != want.Type ||
			u.Private != want.Private || u.Retry != time.Duration(want.Retry)*time.Millisecond {
			t.Fatalf("%q: read %+v, encoding/json reads topics %q and %+v", orig, u, topics, want)
		}
	})
}

// FuzzBatch: whatever the body of a batch, the handler does not panic,
// answers 200 or a refusal with a message (naming a line that exists when
// it names one), and a 200 means that each line was stored as one update,
// in order, exactly as encoding/json reads the line.
func FuzzBatch(f *testing.F) {
	e := hubtest.New(f, hubtest.Config{Mercure: mercure.Config{MaxBatchBodyBytes: 4096, MaxBatch: 8, MaxTopics: 3, MaxDataBytes: 512}})
	tok := hubtest.Sign(f, hubtest.PubKey, auth.Grant{Publish: []string{"t", "https://example.com/{x}"}})
	for _, s := range []string{
		`{"topic":"t"}`,
		"{\"topic\":\"t\",\"data\":\"a\"}\n{\"topic\":[\"https://example.com/1\",\"t\"],\"id\":\"x\",\"type\":\"y\",\"private\":true,\"retry\":5}\n",
		"{\"topic\":\"t\",\"id\":\"d\"}\n{\"topic\":\"t\",\"id\":\"d\"}",
		"{\"topic\":\"u\"}",
		"{\"topic\":\"t\"}\n\n",
		"{\"topic\":\"t\",\"id\":\"#x\"}",
		"{\"topic\":\"t\",\"data\":\"\\ud800\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, mercure.BatchPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-ndjson")
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		e.Handler.ServeHTTP(rec, req)
		lines := bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n"))
		if len(body) == 0 {
			lines = nil
		}
		switch rec.Code {
		case http.StatusOK:
		case http.StatusBadRequest, http.StatusForbidden, http.StatusConflict, http.StatusRequestEntityTooLarge:
			msg := rec.Body.String()
			if strings.TrimSpace(msg) == "" {
				t.Fatalf("%d without a message", rec.Code)
			}
			if h := rec.Header().Get(mercure.BatchLineHeader); h != "" {
				n, err := strconv.Atoi(h)
				if err != nil || n < 1 || n > len(lines) || !strings.HasPrefix(msg, "line "+h+": ") {
					t.Fatalf("%q: %d %q names line %q of %d", body, rec.Code, msg, h, len(lines))
				}
			}
			return
		default:
			t.Fatalf("%q: status %d %q", body, rec.Code, rec.Body.String())
		}
		ids := strings.Split(rec.Body.String(), "\n")
		if len(ids) != len(lines)+1 {
			t.Fatalf("%q: %d lines, answered %q", body, len(lines), rec.Body.String())
		}
		for i, line := range lines {
			var want struct {
				Topic          json.RawMessage
				Data, ID, Type string
				Private        bool
				Retry          uint32
			}
			if err := json.Unmarshal(line, &want); err != nil {
				t.Fatalf("line %q accepted, but encoding/json refuses it: %v", line, err)
			}
			u, err := e.Store.Lookup(context.Background(), ids[i])
			if err != nil {
				t.Fatalf("id %q of line %q: %v", ids[i], line, err)
			}
			var topics []string
			if json.Unmarshal(want.Topic, &topics) != nil {
				topics = []string{""}
				json.Unmarshal(want.Topic, &topics[0])
			}
			if (want.ID != "" && u.ID != want.ID) || u.Data != want.Data || u.Type != want.Type || u.Private != want.Private ||
				u.Retry != time.Duration(want.Retry)*time.Millisecond || !slices.Equal(u.Topics, topics) {
				t.Fatalf("line %q stored as %+v", line, u)
			}
		}
	})
}
