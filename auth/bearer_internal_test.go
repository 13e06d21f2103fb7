package auth

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzDecodeBase64URL: the allocation-free decoder IsAccessToken uses agrees
// with base64.RawURLEncoding, and containsFold with strings.Contains of the
// lower-cased input.
func FuzzDecodeBase64URL(f *testing.F) {
	for _, s := range []string{"", "e", "eyJ0eXAiOiJhdCtqd3QifQ", "eyJ0eXAiOiJKV1QifQ", "YQ", "YR", "YWI", "YWJ", "a+b/", "____"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, werr := base64.RawURLEncoding.DecodeString(s)
		got, ok := decodeBase64URL(nil, s)
		if ok != (werr == nil) || ok && !bytes.Equal(got, want) {
			t.Fatalf("decodeBase64URL(%q) = %q, %v; DecodeString: %q, %v", s, got, ok, want, werr)
		}
		if got, want := containsFold([]byte(s), "at+jwt"), strings.Contains(strings.ToLower(s), "at+jwt"); got != want && isASCII(s) {
			t.Fatalf("containsFold(%q) = %v, want %v", s, got, want)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
