package main

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/herald-sse/herald/auth"
	"github.com/herald-sse/herald/topic"
)

// draftFlags make pub, sub and bench speak draft 08 (Mercure 1.0) on
// request: --draft 08, and the issuer and audience of the access tokens
// they sign with --jwt-key.
type draftFlags struct {
	draft    string
	issuer   string
	audience string
}

func (d *draftFlags) register(fs *flag.FlagSet, signs bool) {
	fs.StringVar(&d.draft, "draft", "07", "Mercure generation to speak: 07 (topic=, JWTs with a mercure claim) or 08 (Mercure 1.0: match=, RFC 9068 access tokens)")
	if signs {
		fs.StringVar(&d.issuer, "issuer", "", "with --draft 08 and --jwt-key: the issuer (iss) of the access tokens signed, which the hub trusts with that key (herald serve --issuer ID=KEY)")
		fs.StringVar(&d.audience, "audience", "", "with --draft 08 and --jwt-key: the audience (aud) of the access tokens signed (default: the hub's URL, its resource identifier unless herald serve --resource-identifier says otherwise)")
	}
}

// is08 reports whether --draft asks for draft 08; the error is a usage
// error.
func (d *draftFlags) is08() (bool, error) {
	switch d.draft {
	case "07", "7":
		return false, nil
	case "08", "8":
		return true, nil
	}
	return false, usageError{fmt.Errorf("--draft %q: use 07 or 08", d.draft)}
}

// sign mints a token with key: for draft 07, one whose mercure claim
// allows publish and subscribe (either may be nil); for draft 08, an access
// token of --issuer for --audience (hubURL when empty) granting those
// actions on exact matchers of those topics.
func (d *draftFlags) sign(alg string, key []byte, hubURL string, publish, subscribe []string, ttl time.Duration) (string, error) {
	is08, err := d.is08()
	if err != nil {
		return "", err
	}
	if !is08 {
		return auth.Sign(alg, key, auth.Grant{Publish: publish, Subscribe: subscribe, TTL: ttl})
	}
	if d.issuer == "" {
		return "", usageError{errors.New("--draft 08 with --jwt-key needs --issuer: the issuer the hub trusts with that key")}
	}
	g := auth.AccessGrant{Issuer: d.issuer, Audience: d.audience, TTL: ttl}
	if g.Audience == "" {
		g.Audience = hubURL
	}
	for _, grant := range []struct {
		action string
		topics []string
	}{{auth.ActionPublish, publish}, {auth.ActionSubscribe, subscribe}} {
		if len(grant.topics) == 0 {
			continue
		}
		dg := auth.DetailGrant{Actions: []string{grant.action}}
		for _, t := range grant.topics {
			dg.Topics = append(dg.Topics, auth.MatcherGrant{Match: t, MatchType: topic.MatchExact})
		}
		g.Details = append(g.Details, dg)
	}
	return auth.SignAccess(alg, key, g)
}
