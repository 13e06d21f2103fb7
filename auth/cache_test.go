package auth

import (
	"fmt"
	"testing"
)

func TestTokenCacheBounded(t *testing.T) {
	const size = 8
	v, err := NewVerifier(Config{Keys: [][]byte{[]byte("secret")}, CacheSize: size})
	if err != nil {
		t.Fatal(err)
	}
	hot, err := Sign("HS256", []byte("secret"), Grant{Subject: "hot"})
	if err != nil {
		t.Fatal(err)
	}
	hotClaims, err := v.Verify(hot)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		tok, err := Sign("HS256", []byte("secret"), Grant{Subject: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		c, err := v.Verify(tok)
		if err != nil {
			t.Fatal(err)
		}
		if c.Subject != fmt.Sprint(i) {
			t.Fatalf("Subject = %q, want %d", c.Subject, i)
		}
		if n := v.cache.Len(); n > size {
			t.Fatalf("cache holds %d tokens, want at most %d", n, size)
		}
		// Used between every insertion, the hot token stays cached.
		if c, err := v.Verify(hot); err != nil || c != hotClaims {
			t.Fatalf("hot token: %p, %v; want the cached claims %p", c, err, hotClaims)
		}
	}
	if n := v.cache.Len(); n != size {
		t.Errorf("cache holds %d tokens, want %d (full, bounded)", n, size)
	}
}
