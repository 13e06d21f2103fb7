package mercure

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/herald-sse/herald"
)

// A batch body is NDJSON: one JSON object per line, with the fields of a
// publish form. parseLine reads one line strictly: an unknown field, a
// field given twice, a value of the wrong type (null included), invalid
// UTF-8 or an escaped lone surrogate is an error, never ignored or
// replaced, so that what is stored is exactly what the publisher meant.
//
//	{"topic": "https://example.com/users/1", "data": "{\"unread\": 3}", "private": true}
//	{"topic": ["https://example.com/books/1", "https://example.com/alt/1"], "id": "book-1-v2", "type": "book.updated", "retry": 1500}

// lineFields is what parseLine read of one line: spans of the line, whose
// start it overwrote with the decoded values.
type lineFields struct {
	topics  []span // every topic, decoded
	topic   bool   // the topic field is given
	given   [numFields]bool
	vals    [numFields]span // fieldData, fieldID, fieldType
	private bool
	retry   uint64 // milliseconds
	end     int    // the decoded values are line[:end]
}

// syntaxError is a line that is not JSON.
type syntaxError struct {
	col int // from 1, in bytes
	msg string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at column %d: %s", e.col, e.msg)
}

// lineParser reads one line, writing the decoded strings over its start:
// a decoded string is never longer than its JSON form, so the write
// position w never passes the read position r.
type lineParser struct {
	b    []byte
	r, w int
}

// parseLine reads line, a JSON object with the fields of a publish form
// (topic: a string or an array of strings; data, id, type: strings;
// private: a boolean; retry: a whole number of milliseconds below 2^32),
// into f. At most maxTopics topics are accepted. Errors wrap
// [herald.ErrInvalid] and say what is wrong, without the line number.
func parseLine(line []byte, maxTopics int, f *lineFields) error {
	*f = lineFields{topics: f.topics[:0]}
	p := lineParser{b: line}
	p.space()
	if p.r == len(p.b) {
		return invalid("empty line; give one JSON object per line")
	}
	if p.b[p.r] != '{' {
		return invalid("not a JSON object; give one object per line, such as {\"topic\": \"…\", \"data\": \"…\"}")
	}
	p.r++
	p.space()
	if !p.eat('}') {
		for {
			if p.r == len(p.b) || p.b[p.r] != '"' {
				return p.syntax("expected a field name in double quotes")
			}
			field, name, err := p.key()
			if err != nil {
				return err
			}
			p.space()
			if !p.eat(':') {
				return p.syntax("expected ':' after the field name")
			}
			p.space()
			if err := p.value(field, name, f, maxTopics); err != nil {
				return err
			}
			p.space()
			if p.eat('}') {
				break
			}
			if !p.eat(',') {
				return p.syntax("expected ',' or '}' after a value")
			}
			p.space()
		}
	}
	p.space()
	if p.r != len(p.b) {
		return p.syntax("unexpected text after the object; give one JSON object per line")
	}
	if !f.topic {
		return invalid(`missing "topic" field`)
	}
	f.end = p.w
	return nil
}

func (p *lineParser) syntax(msg string) error {
	return fmt.Errorf("%w: %w", herald.ErrInvalid, &syntaxError{col: p.r + 1, msg: msg})
}

func (p *lineParser) space() {
	for p.r < len(p.b) {
		switch p.b[p.r] {
		case ' ', '\t', '\r', '\n':
			p.r++
		default:
			return
		}
	}
}

func (p *lineParser) eat(c byte) bool {
	if p.r < len(p.b) && p.b[p.r] == c {
		p.r++
		return true
	}
	return false
}

// fieldNamesList is how errors list the fields a line may have.
const fieldNamesList = "topic, data, id, type, private, retry"

// key reads a field name and returns the field it names.
func (p *lineParser) key() (field int, name string, err error) {
	w := p.w
	sp, err := p.str()
	p.w = w // names are not kept
	if err != nil {
		return 0, "", err
	}
	k := p.b[sp.start:sp.end]
	switch string(k) {
	case "topic":
		return fieldTopic, "topic", nil
	case "data":
		return fieldData, "data", nil
	case "id":
		return fieldID, "id", nil
	case "type":
		return fieldType, "type", nil
	case "private":
		return fieldPrivate, "private", nil
	case "retry":
		return fieldRetry, "retry", nil
	}
	if len(k) > 64 {
		k = append(k[:61:61], "..."...)
	}
	return 0, "", invalid("unknown field %q; the fields are %s", k, fieldNamesList)
}

// value reads the value of field into f.
func (p *lineParser) value(field int, name string, f *lineFields, maxTopics int) error {
	given := &f.topic
	if field != fieldTopic {
		given = &f.given[field]
	}
	if *given {
		return invalid("field %q is given twice; give it once", name)
	}
	*given = true
	if p.r == len(p.b) {
		return p.syntax("expected a value")
	}
	c := p.b[p.r]
	switch field {
	case fieldTopic:
		switch c {
		case '"':
			sp, err := p.str()
			if err != nil {
				return err
			}
			f.topics = append(f.topics, sp)
			return nil
		case '[':
			p.r++
			p.space()
			if p.eat(']') {
				return invalid(`field "topic" is an empty array; give at least one topic`)
			}
			for {
				if p.r == len(p.b) || p.b[p.r] != '"' {
					if p.r < len(p.b) && startsValue(p.b[p.r]) {
						return invalid(`field "topic" must be a string or an array of strings, not an array holding %s`, kind(p.b[p.r]))
					}
					return p.syntax("expected a string in the topic array")
				}
				if len(f.topics) == maxTopics {
					return invalid("too many topics: the limit is %d", maxTopics)
				}
				sp, err := p.str()
				if err != nil {
					return err
				}
				f.topics = append(f.topics, sp)
				p.space()
				if p.eat(']') {
					return nil
				}
				if !p.eat(',') {
					return p.syntax("expected ',' or ']' in the topic array")
				}
				p.space()
			}
		}
		return p.wrongType(name, "a string or an array of strings")
	case fieldData, fieldID, fieldType:
		if c != '"' {
			return p.wrongType(name, "a string")
		}
		sp, err := p.str()
		if err != nil {
			return err
		}
		f.vals[field] = sp
		return nil
	case fieldPrivate:
		switch {
		case p.literal("true"):
			f.private = true
			return nil
		case p.literal("false"):
			return nil
		}
		return p.wrongType(name, "true or false")
	default: // fieldRetry
		if c != '-' && (c < '0' || c > '9') {
			return p.wrongType(name, "a whole number of milliseconds")
		}
		start := p.r
		if err := p.number(); err != nil {
			return err
		}
		s := string(p.b[start:p.r])
		ms, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return invalid("retry must be a whole number of milliseconds below 2^32, not %s", s)
		}
		f.retry = ms
		return nil
	}
}

// literal consumes word (true, false or null) when it comes next.
func (p *lineParser) literal(word string) bool {
	if len(p.b)-p.r >= len(word) && string(p.b[p.r:p.r+len(word)]) == word {
		p.r += len(word)
		return true
	}
	return false
}

// startsValue reports whether c starts a JSON value.
func startsValue(c byte) bool {
	switch c {
	case '{', '[', '"', 't', 'f', 'n', '-':
		return true
	}
	return '0' <= c && c <= '9'
}

// kind names the JSON value that starts with c.
func kind(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// wrongType reports a value that is not of the field's type (or no value).
func (p *lineParser) wrongType(name, want string) error {
	c := p.b[p.r]
	if !startsValue(c) {
		return p.syntax("expected a value")
	}
	if c == 'n' && !p.literal("null") || c == 't' && !p.literal("true") || c == 'f' && !p.literal("false") {
		return p.syntax("expected a value")
	}
	if c == 'n' {
		return invalid("field %q must be %s, not null; leave the field out instead", name, want)
	}
	return invalid("field %q must be %s, not %s", name, want, kind(c))
}

// number consumes a JSON number.
func (p *lineParser) number() error {
	p.eat('-')
	switch {
	case p.eat('0'):
	case p.r < len(p.b) && '1' <= p.b[p.r] && p.b[p.r] <= '9':
		p.digits()
	default:
		return p.syntax("expected a digit")
	}
	if p.eat('.') {
		if p.digits() == 0 {
			return p.syntax("expected a digit after the decimal point")
		}
	}
	if p.eat('e') || p.eat('E') {
		if !p.eat('+') {
			p.eat('-')
		}
		if p.digits() == 0 {
			return p.syntax("expected a digit in the exponent")
		}
	}
	return nil
}

func (p *lineParser) digits() int {
	start := p.r
	for p.r < len(p.b) && '0' <= p.b[p.r] && p.b[p.r] <= '9' {
		p.r++
	}
	return p.r - start
}

// str reads a JSON string (p.b[p.r] is its opening quote), writes it
// decoded at p.w, and returns where it is.
func (p *lineParser) str() (span, error) {
	b := p.b
	p.r++ // the opening quote
	start := p.w
	for {
		// Copy the run of plain bytes up to the next quote, backslash or
		// control character.
		i := p.r
		for i < len(b) && b[i] != '"' && b[i] != '\\' && b[i] >= 0x20 {
			i++
		}
		p.w += copy(b[p.w:], b[p.r:i])
		p.r = i
		if i == len(b) {
			return span{}, p.syntax("the string is not closed")
		}
		switch c := b[i]; {
		case c == '"':
			p.r++
			sp := span{start, p.w}
			if !utf8.Valid(b[sp.start:sp.end]) {
				return span{}, invalid("a string is not valid UTF-8")
			}
			return sp, nil
		case c < 0x20:
			return span{}, p.syntax(fmt.Sprintf("control character %U in a string; escape it (\\n, \\u%04x)", rune(c), c))
		}
		// A backslash.
		if p.r+1 == len(b) {
			return span{}, p.syntax("the string is not closed")
		}
		e := b[p.r+1]
		var out byte
		switch e {
		case '"', '\\', '/':
			out = e
		case 'b':
			out = '\b'
		case 'f':
			out = '\f'
		case 'n':
			out = '\n'
		case 'r':
			out = '\r'
		case 't':
			out = '\t'
		case 'u':
			r, err := p.unicodeEscape()
			if err != nil {
				return span{}, err
			}
			p.w += utf8.EncodeRune(b[p.w:], r)
			continue
		default:
			p.r++
			return span{}, p.syntax(fmt.Sprintf("invalid escape \\%c", e))
		}
		b[p.w] = out
		p.w++
		p.r += 2
	}
}

// unicodeEscape reads \uXXXX (or a surrogate pair of them) at p.r.
func (p *lineParser) unicodeEscape() (rune, error) {
	r, ok := p.hex4(p.r + 2)
	if !ok {
		p.r++
		return 0, p.syntax(`invalid \u escape: give four hexadecimal digits`)
	}
	p.r += 6
	if !utf16.IsSurrogate(r) {
		return r, nil
	}
	if r < 0xdc00 && p.r+1 < len(p.b) && p.b[p.r] == '\\' && p.b[p.r+1] == 'u' {
		if r2, ok := p.hex4(p.r + 2); ok {
			if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
				p.r += 6
				return dec, nil
			}
		}
	}
	return 0, invalid(`a string holds the lone surrogate \u%04x, which is not a character`, r)
}

// hex4 reads four hexadecimal digits at i.
func (p *lineParser) hex4(i int) (rune, bool) {
	if i+4 > len(p.b) {
		return 0, false
	}
	var r rune
	for _, c := range p.b[i : i+4] {
		if !ishex(c) {
			return 0, false
		}
		r = r<<4 | rune(unhex(c))
	}
	return r, true
}

// update is the update f describes: its strings are substrings of one copy
// of the decoded values.
func (f *lineFields) update(line []byte) herald.Update {
	s := string(line[:f.end])
	u := herald.Update{
		Topics:  make([]string, len(f.topics)),
		Data:    s[f.vals[fieldData].start:f.vals[fieldData].end],
		ID:      s[f.vals[fieldID].start:f.vals[fieldID].end],
		Type:    s[f.vals[fieldType].start:f.vals[fieldType].end],
		Private: f.private,
		Retry:   time.Duration(f.retry) * time.Millisecond,
	}
	for i, sp := range f.topics {
		u.Topics[i] = s[sp.start:sp.end]
	}
	return u
}
