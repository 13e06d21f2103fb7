package auth_test

import (
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/herald-sse/herald/auth"
)

func Example() {
	key := []byte("!ChangeThisMercureHubJWTSecretKey!")
	tok, err := auth.Sign("HS256", key, auth.Grant{
		Publish: []string{"https://example.com/books/{id}"},
		TTL:     time.Hour,
	})
	if err != nil {
		panic(err)
	}

	v, err := auth.NewVerifier(auth.Config{Keys: [][]byte{key}, Algs: []string{"HS256"}})
	if err != nil {
		panic(err)
	}
	r := httptest.NewRequest("POST", "/.well-known/mercure", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	t, from := auth.TokenFromRequest(r)
	claims, err := v.Verify(t)
	if err != nil {
		panic(err)
	}
	fmt.Println(from)
	fmt.Println(claims.CanPublish([]string{"https://example.com/books/1"}))
	fmt.Println(claims.CanPublish([]string{"https://example.com/books/1", "https://example.com/authors/1"}))

	_, err = v.Verify(t + "x")
	fmt.Println(err)
	// Output:
	// header
	// true
	// false
	// herald: unauthorized: invalid signature: no configured key verifies this HS256 token
}

func ExampleAccessVerifier() {
	// A self-issuing publisher signs draft-08 access tokens with a key
	// the hub knows as the key of its issuer identifier.
	key := []byte("a-shared-secret-of-at-least-32-bytes!")
	hub := "https://hub.example.com/.well-known/mercure"
	tok, err := auth.SignAccess("HS256", key, auth.AccessGrant{
		Issuer:   "https://example.com",
		Audience: hub,
		TTL:      time.Hour,
		Details: []auth.DetailGrant{{
			Actions: []string{auth.ActionPublish},
			Topics:  []auth.MatcherGrant{{Match: "https://example.com/books/:id", MatchType: "urlpattern"}},
		}},
	})
	if err != nil {
		panic(err)
	}

	v, err := auth.NewAccessVerifier(auth.AccessConfig{
		Issuers: []auth.Issuer{{ID: "https://example.com", Keys: [][]byte{key}}},
	})
	if err != nil {
		panic(err)
	}
	claims, err := v.Verify(tok, hub)
	if err != nil {
		panic(err)
	}
	fmt.Println(claims.CanPublish([]string{"https://example.com/books/1"}))
	fmt.Println(claims.CanPublish([]string{"https://example.com/authors/1"}))

	_, err = v.Verify(tok, "https://other.example.com/.well-known/mercure")
	status, code, _ := auth.BearerError(err)
	metadata := "https://hub.example.com/.well-known/oauth-protected-resource/.well-known/mercure"
	fmt.Println(status, auth.Challenge(code, "", metadata))
	// Output:
	// true
	// false
	// 401 Bearer error="invalid_token", resource_metadata="https://hub.example.com/.well-known/oauth-protected-resource/.well-known/mercure"
}
