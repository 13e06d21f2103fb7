package mercure_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/internal/hubtest"
	"github.com/herald-sse/herald/mercure"
)

const secretTopic = "https://example.com/secret/1"

// TestTokenLocations: a subscriber's token is read from the Authorization
// header, the authorization query parameter or the mercureAuthorization
// cookie, and the first of those present decides: a bad token there is a
// 401 even if a good one is in a later location.
func TestTokenLocations(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{})
	good := hubtest.SubscriberToken(t, secretTopic)
	bad := hubtest.Sign(t, []byte("wrong key"), auth.Grant{Subscribe: []string{"*"}})
	cookie := func(tok string) string { return (&http.Cookie{Name: auth.CookieName, Value: tok}).String() }
	q := hubtest.Topics(secretTopic, hubtest.Sentinel)

	var streams []*hubtest.Stream
	for _, tc := range []struct {
		name  string
		query string
		hdr   http.Header
	}{
		{"header", q, hubtest.Bearer(good)},
		{"query", q + "&authorization=" + url.QueryEscape(good), nil},
		{"cookie", q, http.Header{"Cookie": {cookie(good)}}},
		{"good header, bad query and cookie", q + "&authorization=" + url.QueryEscape(bad), http.Header{"Authorization": {"Bearer " + good}, "Cookie": {cookie(bad)}}},
		{"good query, bad cookie", q + "&authorization=" + url.QueryEscape(good), http.Header{"Cookie": {cookie(bad)}}},
	} {
		s := e.Subscribe(t, tc.query, tc.hdr)
		streams = append(streams, s)
	}
	id := e.Publish(t, url.Values{"topic": {secretTopic}, "data": {"secret"}, "private": {"on"}})
	for i, evs := range e.Flush(t, streams...) {
		if got := hubtest.IDs(evs); !slices.Equal(got, []string{id}) {
			t.Errorf("subscriber %d received %q, want the private update %q", i, got, id)
		}
	}

	for _, tc := range []struct {
		name  string
		query string
		hdr   http.Header
	}{
		{"bad header, good cookie", q, http.Header{"Authorization": {"Bearer " + bad}, "Cookie": {cookie(good)}}},
		{"bad header, good query", q + "&authorization=" + url.QueryEscape(good), hubtest.Bearer(bad)},
		{"bad query, good cookie", q + "&authorization=" + url.QueryEscape(bad), http.Header{"Cookie": {cookie(good)}}},
		{"malformed header, good cookie", q, http.Header{"Authorization": {"Basic Zm9vOmJhcg=="}, "Cookie": {cookie(good)}}},
		{"empty query parameter, good cookie", q + "&authorization=", http.Header{"Cookie": {cookie(good)}}},
		{"bad cookie", q, http.Header{"Cookie": {cookie(bad)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.GetText(t, "?"+tc.query, tc.hdr)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s %q, want 401", resp.Status, body)
			}
			if strings.TrimSpace(body) == "" {
				t.Error("401 without a message")
			}
		})
	}

	// Publishers may use every location too.
	for name, hdr := range map[string]http.Header{
		"query":  nil,
		"cookie": {"Cookie": {cookie(hubtest.PublisherToken(t))}},
	} {
		target := e.URL
		if name == "query" {
			target += "?authorization=" + url.QueryEscape(hubtest.PublisherToken(t))
		}
		req, _ := http.NewRequest(http.MethodPost, target, strings.NewReader("topic=t&data=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := e.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("publish with the token in the %s: %s, want 200", name, resp.Status)
		}
	}
}

// TestPrivateUpdates: a private update reaches only the subscribers whose
// mercure.subscribe claim selects one of its topics; anonymous subscribers
// and others get the public updates only.
func TestPrivateUpdates(t *testing.T) {
	for _, m := range hubtest.Modes {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			e := hubtest.New(t, hubtest.Config{Mode: m})
			const book1, book9, author1 = "https://example.com/books/1", "https://example.com/books/9", "https://example.com/authors/1"
			anon := e.Subscribe(t, hubtest.Topics("*"), nil)
			books := e.Subscribe(t, hubtest.Topics("*"), hubtest.Bearer(hubtest.SubscriberToken(t, "https://example.com/books/{id}")))
			author := e.Subscribe(t, hubtest.Topics("*"), hubtest.Bearer(hubtest.SubscriberToken(t, author1)))
			everything := e.Subscribe(t, hubtest.Topics(book1, author1, "urn:other", hubtest.Sentinel), hubtest.Bearer(hubtest.SubscriberToken(t, "*")))
			noClaim := e.Subscribe(t, hubtest.Topics("*"), hubtest.Bearer(hubtest.Sign(t, hubtest.SubKey, auth.Grant{Payload: "x"})))

			e.PublishData(t, "public", book1)
			e.Publish(t, url.Values{"topic": {book1}, "data": {"book1"}, "private": {"on"}})
			e.Publish(t, url.Values{"topic": {author1}, "data": {"author1"}, "private": {"on"}})
			e.Publish(t, url.Values{"topic": {"urn:other", book9}, "data": {"alternate"}, "private": {"on"}})
			got := e.Flush(t, anon, books, author, everything, noClaim)
			for i, want := range [][]string{
				{"public"},
				{"public", "book1", "alternate"},
				{"public", "author1"},
				{"public", "book1", "author1", "alternate"},
				{"public"},
			} {
				if g := hubtest.Datas(got[i]); !slices.Equal(g, want) {
					t.Errorf("subscriber %d received %q, want %q", i, g, want)
				}
			}
		})
	}
}

// TestNoAnonymous: with Config.NoAnonymous a subscriber must present a token.
func TestNoAnonymous(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{Mercure: mercure.Config{NoAnonymous: true}})
	resp, body := e.GetText(t, "?"+hubtest.Topics("t"), nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "token") {
		t.Errorf("anonymous subscribe: %s %q, want 401 asking for a token", resp.Status, body)
	}
	s := e.Subscribe(t, hubtest.Topics("t"), hubtest.Bearer(hubtest.SubscriberToken(t)))
	id := e.PublishData(t, "x", "t")
	if ev := s.Next(t); ev.ID != id {
		t.Errorf("subscriber with a token received %+v, want %q", ev, id)
	}
}

// TestSeparateKeys: publisher and subscriber tokens are verified with their
// own keys, so neither kind of token can stand in for the other.
func TestSeparateKeys(t *testing.T) {
	t.Parallel()
	e := hubtest.New(t, hubtest.Config{})
	pubSigned := hubtest.Sign(t, hubtest.PubKey, auth.Grant{Publish: []string{"*"}, Subscribe: []string{"*"}})
	subSigned := hubtest.Sign(t, hubtest.SubKey, auth.Grant{Publish: []string{"*"}, Subscribe: []string{"*"}})
	if resp, body := e.GetText(t, "?"+hubtest.Topics(secretTopic), hubtest.Bearer(pubSigned)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("subscribe with a token signed by the publisher key: %s %q, want 401", resp.Status, body)
	}
	if resp, body := e.Post(t, "topic=t&data=x", hubtest.Bearer(subSigned)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("publish with a token signed by the subscriber key: %s %q, want 401", resp.Status, body)
	}
}

// keyPair is a private key (PEM, for signing) and its public half (PEM, for
// the hub).
type keyPair struct{ private, public []byte }

var (
	rsaPair = sync.OnceValue(func() keyPair {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return pemPair(k, &k.PublicKey)
	})
	ecPair = sync.OnceValue(func() keyPair {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return pemPair(k, &k.PublicKey)
	})
)

func pemPair(priv, pub any) keyPair {
	p, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		panic(err)
	}
	u, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return keyPair{
		private: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p}),
		public:  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: u}),
	}
}

// TestAlgorithms: HS256, RS256 and ES256 tokens publish and subscribe to
// private updates; "none" and HMAC tokens signed with the public key
// (algorithm confusion) are refused.
func TestAlgorithms(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		alg     string
		private []byte // signs
		public  []byte // verifies
	}{
		{"HS256", hubtest.PubKey, hubtest.PubKey},
		{"RS256", rsaPair().private, rsaPair().public},
		{"ES256", ecPair().private, ecPair().public},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			v, err := auth.NewVerifier(auth.Config{Keys: [][]byte{tc.public}, Algs: []string{tc.alg}})
			if err != nil {
				t.Fatal(err)
			}
			e := hubtest.New(t, hubtest.Config{Mercure: mercure.Config{Publishers: v, Subscribers: v}})
			signWith := func(g auth.Grant) string {
				tok, err := auth.Sign(tc.alg, tc.private, g)
				if err != nil {
					t.Fatal(err)
				}
				return tok
			}
			s := e.Subscribe(t, hubtest.Topics(secretTopic), hubtest.Bearer(signWith(auth.Grant{Subscribe: []string{secretTopic}})))
			resp, body := e.Post(t, url.Values{"topic": {secretTopic}, "data": {"x"}, "private": {"on"}}.Encode(),
				hubtest.Bearer(signWith(auth.Grant{Publish: []string{secretTopic}})))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("publish with a %s token: %s %q", tc.alg, resp.Status, body)
			}
			if ev := s.Next(t); ev.ID != body {
				t.Errorf("received %+v, want the private update %q", ev, body)
			}

			claims := map[string]any{"mercure": map[string]any{"publish": []string{"*"}, "subscribe": []string{"*"}}}
			refused := map[string]string{"none": noneToken(t, claims)}
			if tc.alg != "HS256" {
				// The public key is no secret: an HS256 token signed with it
				// must not verify against the RSA/EC key.
				confused, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(claims)).SignedString(tc.public)
				if err != nil {
					t.Fatal(err)
				}
				refused["HS256 with the public key"] = confused
			}
			for name, tok := range refused {
				if resp, body := e.Post(t, "topic=t&data=x", hubtest.Bearer(tok)); resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("publish with a %s token: %s %q, want 401", name, resp.Status, body)
				}
				if resp, body := e.GetText(t, "?"+hubtest.Topics("t"), hubtest.Bearer(tok)); resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("subscribe with a %s token: %s %q, want 401", name, resp.Status, body)
				}
			}
		})
	}
}

// TestTokenExpiryEndsStream: a subscriber's stream is closed when its token
// expires (other streams go on), and the expired token is refused from then
// on.
func TestTokenExpiryEndsStream(t *testing.T) {
	for _, m := range hubtest.Modes {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			e := hubtest.New(t, hubtest.Config{Mode: m})
			// exp has a resolution of one second: this token expires
			// between 1 and 2 seconds from now.
			exp := time.Now().Add(2 * time.Second).Truncate(time.Second)
			tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
				"mercure": map[string]any{"subscribe": []string{secretTopic}},
				"exp":     exp.Unix(),
			}).SignedString(hubtest.SubKey)
			if err != nil {
				t.Fatal(err)
			}
			expiring := e.Subscribe(t, hubtest.Topics(secretTopic, hubtest.Sentinel), hubtest.Bearer(tok))
			other := e.Subscribe(t, hubtest.Topics(secretTopic, hubtest.Sentinel), hubtest.Bearer(hubtest.SubscriberToken(t, secretTopic)))
			e.Flush(t, expiring, other) // both are live

			evs, err := expiring.End(t)
			if len(evs) != 0 {
				t.Errorf("events after the last publish: %q", hubtest.Datas(evs))
			}
			if ended := time.Now(); ended.Before(exp) {
				t.Errorf("the stream ended at %v, before the token's exp %v (err %v)", ended, exp, err)
			}
			id := e.Publish(t, url.Values{"topic": {secretTopic}, "data": {"after"}, "private": {"on"}})
			if ev := other.Next(t); ev.ID != id {
				t.Errorf("the stream with a valid token received %+v, want %q", ev, id)
			}
			if resp, body := e.GetText(t, "?"+hubtest.Topics(secretTopic), hubtest.Bearer(tok)); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("subscribe with the expired token: %s %q, want 401", resp.Status, body)
			}
		})
	}
}
