package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/herald-sse/herald"
	"github.com/herald-sse/herald/topic"
)

// DetailType is the type of a Mercure authorization detail
// (draft-dunglas-mercure-08, "Authorization Details"), compared byte by byte.
const DetailType = "https://mercure.rocks/authorization-detail"

// The actions of a Mercure authorization detail this package knows.
const (
	ActionPublish   = "publish"
	ActionSubscribe = "subscribe"
)

// Default limits on the authorization details of one token (draft-08 asks a
// hub to bound them, and to refuse a token over them as invalid_token).
const (
	// DefaultMaxDetails is the most Mercure authorization details a token
	// may carry.
	DefaultMaxDetails = 32
	// DefaultMaxDetailTopics is the most topic matchers one detail may hold.
	DefaultMaxDetailTopics = 100
)

// detailLimits bounds what parseDetails accepts.
type detailLimits struct {
	details, topics int
}

// parseDetails compiles the Mercure entries of an authorization_details
// claim; entries of other types are left to other APIs. Any invalid Mercure
// entry refuses the whole token (draft-08 forbids acting on the others).
// compile compiles one matcher (type, value). The error says what is wrong
// and where; the caller wraps it.
func parseDetails(raw json.RawMessage, lim detailLimits, compile func(typ, value string) (*topic.Matcher, error)) ([]Detail, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var entries []json.RawMessage
	if raw[0] != '[' || json.Unmarshal(raw, &entries) != nil {
		return nil, errors.New("authorization_details is not a JSON array")
	}
	var out []Detail
	for i, e := range entries {
		var obj map[string]json.RawMessage
		if !isObject(e) || json.Unmarshal(e, &obj) != nil {
			return nil, fmt.Errorf("authorization_details[%d] is not a JSON object", i)
		}
		var typ string
		if err := json.Unmarshal(obj["type"], &typ); err != nil {
			return nil, fmt.Errorf("authorization_details[%d] has no string type", i)
		}
		if typ != DetailType {
			continue
		}
		if len(out) == lim.details {
			return nil, fmt.Errorf("more than %d Mercure authorization details", lim.details)
		}
		d, err := parseDetail(obj, lim, compile)
		if err != nil {
			return nil, fmt.Errorf("authorization_details[%d]: %v", i, err)
		}
		out = append(out, d)
	}
	return out, nil
}

func parseDetail(obj map[string]json.RawMessage, lim detailLimits, compile func(typ, value string) (*topic.Matcher, error)) (Detail, error) {
	var d Detail
	var actions []json.RawMessage
	if a := obj["actions"]; !isArray(a) || json.Unmarshal(a, &actions) != nil || len(actions) == 0 {
		return d, errors.New("actions must be a non-empty array of strings")
	}
	for j, a := range actions {
		var s string
		if json.Unmarshal(a, &s) != nil {
			return d, fmt.Errorf("actions[%d] is not a string", j)
		}
		switch s { // other actions grant nothing (draft-08)
		case ActionPublish:
			d.Publish = true
		case ActionSubscribe:
			d.Subscribe = true
		}
	}
	var topics []json.RawMessage
	if t := obj["topics"]; !isArray(t) || json.Unmarshal(t, &topics) != nil || len(topics) == 0 {
		return d, errors.New("topics must be a non-empty array of topic matcher objects")
	}
	if len(topics) > lim.topics {
		return d, fmt.Errorf("%d topic matchers, the limit is %d", len(topics), lim.topics)
	}
	for j, t := range topics {
		var m struct {
			Match     *string `json:"match"`
			MatchType *string `json:"match_type"`
		}
		if !isObject(t) || json.Unmarshal(t, &m) != nil {
			return d, fmt.Errorf("topics[%d] is not an object with a string match and an optional string match_type", j)
		}
		if m.Match == nil {
			return d, fmt.Errorf("topics[%d] has no match", j)
		}
		typ := topic.MatchExact
		if m.MatchType != nil {
			typ = *m.MatchType
		}
		matcher, err := compile(typ, *m.Match)
		if err != nil {
			return d, fmt.Errorf("topics[%d]: %s", j, strings.TrimPrefix(err.Error(), herald.ErrInvalid.Error()+": "))
		}
		d.Topics = append(d.Topics, matcher)
	}
	if p, ok := obj["payload"]; ok && !bytes.Equal(p, []byte("null")) {
		if !isObject(p) {
			return d, errors.New("payload is not a JSON object")
		}
		d.Payload = bytes.Clone(p)
	}
	return d, nil
}

func isObject(b json.RawMessage) bool { return len(b) > 0 && b[0] == '{' }
func isArray(b json.RawMessage) bool  { return len(b) > 0 && b[0] == '[' }
