package mercure

import (
	"net/url"
	"strings"
)

// parseQuery parses a request's raw query as url.ParseQuery does, but fails
// on the first malformed pair, with an error (wrapping herald.ErrInvalid)
// that names the parameter, instead of dropping it: a subscription to
// ?topic=a&topic=%zz must not silently subscribe to a alone.
func parseQuery(raw string) (url.Values, error) {
	q := make(url.Values)
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if strings.Contains(pair, ";") {
			return nil, invalid("malformed query: %q holds a semicolon, which does not separate parameters; use &", pair)
		}
		if pair == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			return nil, invalid("malformed query parameter name %q: %s", rawKey, unescapeReason(err))
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return nil, invalid("malformed query parameter %q: %s", key, unescapeReason(err))
		}
		q[key] = append(q[key], value)
	}
	return q, nil
}

// unescapeReason is what url.QueryUnescape's error says is wrong.
func unescapeReason(err error) string {
	if e, ok := err.(url.EscapeError); ok {
		return "invalid URL escape " + `"` + string(e) + `"`
	}
	return err.Error()
}
