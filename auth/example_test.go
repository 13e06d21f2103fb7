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
