package mercure

import (
	"errors"
	"net/http/httptest"
	"testing"
)

// TestReserved: a topic is in the hub's reserved namespace when, resolved
// against the hub's URL as a URL, its path is the hub's or below it,
// however it is spelt, whatever its scheme or host (draft-08
// "Publication"); and checking a topic that is plainly elsewhere, as most
// are, costs no allocation, since every publish of both generations asks.
func TestReserved(t *testing.T) {
	hb := internalHub(t)
	for _, id := range []string{"", "https://hub.example.com/hub/.well-known/mercure"} {
		h, err := New(Config{Hub: hb, ResourceIdentifier: id})
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("POST", "http://127.0.0.1:8080"+Path, nil)
		for topic, want := range map[string]bool{
			Path:                                   true,
			Path + "/subscriptions/exact/a/b":      true,
			"https://other.example" + Path + "/x":  true,
			"urn://authority" + Path:               true,
			"/.well-known/%6Dercure/subscriptions": true,
			"/.well-known/%6dercure":               true,
			"/a/../.well-known/mercure/x":          true,
			"/a/%2e%2e/.well-known/mercure":        true,
			"mercure/x":                            true, // relative to the hub's URL: in its directory
			"?query":                               true, // the hub's URL itself
			"#fragment":                            true,
			"https://example.com/books/1":          false,
			"/books/1":                             false,
			Path + "x":                             false,
			"/.WELL-KNOWN/mercure":                 false,
			"/.well-known/mercure/../books":        false,
			"urn:x:.well-known/mercure":            false,
			"/.well-known/%2Fmercure":              false, // an encoded slash is not a slash
			"not a url %zz":                        false,
		} {
			if got := h.reserved(r, topic); got != want {
				t.Errorf("identifier %q: reserved(%q) = %v, want %v", id, topic, got, want)
			}
		}
		if id != "" {
			for _, topic := range []string{"https://hub.example.com/hub/.well-known/mercure/x", "/hub/.well-known/%6Dercure"} {
				if !h.reserved(r, topic) {
					t.Errorf("identifier %q: reserved(%q) = false, want true: the path of the hub's URL", id, topic)
				}
			}
		}
		if allocs := testing.AllocsPerRun(100, func() { h.reserved(r, "https://example.com/books/1") }); allocs != 0 {
			t.Errorf("identifier %q: checking an ordinary topic costs %v allocations, want 0", id, allocs)
		}
	}
}

// TestDescribe08EchoesNothingOfTheToken: a draft-08 refusal says what is
// wrong without the values it would quote from the token.
func TestDescribe08EchoesNothingOfTheToken(t *testing.T) {
	h := &Handler{}
	for _, tc := range []struct{ msg, want string }{
		{`herald: unauthorized: token issuer "https://evil/<x>" is not trusted`, "token issuer is not trusted"},
		{`herald: unauthorized: unknown kid "k\"1": no key of issuer "i" has it`, "unknown kid: no key of issuer has it"},
		{`herald: unauthorized: malformed token: could not JSON decode header: invalid character 'x' looking for beginning of value`,
			"malformed token: could not JSON decode header: invalid character looking for beginning of value"},
		{`herald: unauthorized: the token's typ is wrong`, "the token's typ is wrong"},
	} {
		if got := h.describe08(nil, errors.New(tc.msg)); got != tc.want {
			t.Errorf("describe08(%q) = %q, want %q", tc.msg, got, tc.want)
		}
	}
}
