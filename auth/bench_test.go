package auth_test

import (
	"testing"
	"time"

	"github.com/herald-sse/herald/auth"
)

// BenchmarkVerify compares a full verification (cache disabled) with a
// cache hit, per algorithm: the cached path is what a publisher reusing its
// token pays on every request.
func BenchmarkVerify(b *testing.B) {
	keys := testKeys()
	for _, tt := range []struct {
		alg             string
		signKey, verKey []byte
	}{
		{"HS256", []byte(secret), []byte(secret)},
		{"RS256", keys["rsa"].privPEM, keys["rsa"].pubPEM},
		{"ES256", keys["p256"].privPEM, keys["p256"].pubPEM},
	} {
		tok := mustSign(b, tt.alg, tt.signKey, auth.Grant{
			Publish:   []string{"https://example.com/books/{id}"},
			Subscribe: []string{"https://example.com/users/1"},
			TTL:       time.Hour,
		})
		b.Run(tt.alg+"/cold", func(b *testing.B) {
			v := mustVerifier(b, auth.Config{Keys: [][]byte{tt.verKey}, CacheSize: -1})
			for b.Loop() {
				if _, err := v.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tt.alg+"/cached", func(b *testing.B) {
			v := mustVerifier(b, auth.Config{Keys: [][]byte{tt.verKey}})
			for b.Loop() {
				if _, err := v.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("HS256/cached-parallel", func(b *testing.B) {
		tok := mustSign(b, "HS256", []byte(secret), auth.Grant{Publish: []string{"*"}, TTL: time.Hour})
		v := mustVerifier(b, auth.Config{Keys: [][]byte{[]byte(secret)}})
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := v.Verify(tok); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
