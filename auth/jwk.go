package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// minRSABits is the smallest RSA modulus a JWK may have (RFC 7518 §3.3).
const minRSABits = 2048

// minHMACBytes is the shortest "oct" key accepted (RFC 7518 §3.2 wants a key
// at least as long as the hash: 32 bytes for HS256).
const minHMACBytes = 32

// jwk holds the members of a JSON Web Key (RFC 7517 §4, RFC 7518 §6, RFC
// 8037 §2) that verification uses.
type jwk struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	Alg    string   `json:"alg"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
	K      string   `json:"k"`
}

// parseJWKS parses a JWK Set and keeps the keys usable for verifying
// signatures with one of allowed: a key meant for another use, of an
// unsupported type or curve, too weak, or pinned by its "alg" to an
// algorithm that is not allowed or does not fit its type is skipped. It
// fails when the document is not a JWK Set, holds more than MaxJWKSKeys
// keys, or no usable key; the error then lists why keys were skipped.
func parseJWKS(body []byte, allowed []string, allowHMAC bool) (*jwkKeys, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("not a JWK Set: %v", err)
	}
	if set.Keys == nil {
		return nil, errors.New(`not a JWK Set: no "keys" array`)
	}
	if len(set.Keys) > MaxJWKSKeys {
		return nil, fmt.Errorf("the key set holds %d keys, the limit is %d", len(set.Keys), MaxJWKSKeys)
	}
	keys := &jwkKeys{byKid: make(map[string][]verificationKey)}
	var skipped []string
	for i, raw := range set.Keys {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d: %v", i, err))
			continue
		}
		vk, err := k.verificationKey(allowed, allowHMAC)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d (kid %q): %v", i, k.Kid, err))
			continue
		}
		keys.all = append(keys.all, vk)
		keys.byKid[vk.kid] = append(keys.byKid[vk.kid], vk)
	}
	if len(keys.all) == 0 {
		msg := "the key set holds no usable key"
		if len(skipped) > 0 {
			msg += " (" + strings.Join(skipped, "; ") + ")"
		}
		return nil, errors.New(msg)
	}
	return keys, nil
}

// verificationKey returns the key and the algorithms it may verify.
func (k *jwk) verificationKey(allowed []string, allowHMAC bool) (verificationKey, error) {
	if k.Use != "" && k.Use != "sig" {
		return verificationKey{}, fmt.Errorf("use is %q, not sig", k.Use)
	}
	if k.KeyOps != nil && !slices.Contains(k.KeyOps, "verify") {
		return verificationKey{}, errors.New(`key_ops does not include "verify"`)
	}
	var (
		vk  verificationKey
		err error
	)
	switch k.Kty {
	case "RSA":
		vk, err = k.rsa()
	case "EC":
		vk, err = k.ec()
	case "OKP":
		vk, err = k.okp()
	case "oct":
		if !allowHMAC {
			return verificationKey{}, errors.New("symmetric (oct) keys are not allowed")
		}
		vk, err = k.oct()
	default:
		return verificationKey{}, fmt.Errorf("unsupported kty %q", k.Kty)
	}
	if err != nil {
		return verificationKey{}, err
	}
	if k.Alg != "" {
		if !slices.Contains(vk.algs, k.Alg) {
			return verificationKey{}, fmt.Errorf("alg %q does not fit a %s", k.Alg, vk.desc)
		}
		vk.algs = []string{k.Alg}
	}
	vk.algs = intersect(vk.algs, allowed)
	if len(vk.algs) == 0 {
		return verificationKey{}, fmt.Errorf("a %s verifies no allowed algorithm", vk.desc)
	}
	vk.kid = k.Kid
	return vk, nil
}

// b64 decodes a base64url member, with or without padding.
func b64(name, s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("missing %q", name)
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("%q is not base64url: %v", name, err)
	}
	return b, nil
}

func (k *jwk) rsa() (verificationKey, error) {
	n, err := b64("n", k.N)
	if err != nil {
		return verificationKey{}, err
	}
	e, err := b64("e", k.E)
	if err != nil {
		return verificationKey{}, err
	}
	if len(e) > 4 {
		return verificationKey{}, errors.New("exponent too large")
	}
	exp := int(new(big.Int).SetBytes(e).Int64())
	if exp < 3 || exp%2 == 0 {
		return verificationKey{}, errors.New("invalid exponent")
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}
	if bits := pub.N.BitLen(); bits < minRSABits {
		return verificationKey{}, fmt.Errorf("RSA key of %d bits, the minimum is %d", bits, minRSABits)
	}
	return describePublic(pub)
}

func (k *jwk) ec() (verificationKey, error) {
	var curve elliptic.Curve
	switch k.Crv {
	case "P-256":
		curve = elliptic.P256()
	case "P-384":
		curve = elliptic.P384()
	case "P-521":
		curve = elliptic.P521()
	default:
		return verificationKey{}, fmt.Errorf("unsupported EC curve %q", k.Crv)
	}
	x, err := b64("x", k.X)
	if err != nil {
		return verificationKey{}, err
	}
	y, err := b64("y", k.Y)
	if err != nil {
		return verificationKey{}, err
	}
	size := (curve.Params().BitSize + 7) / 8
	if len(x) != size || len(y) != size {
		return verificationKey{}, fmt.Errorf("coordinates of %s must be %d bytes", k.Crv, size)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, slices.Concat([]byte{4}, x, y))
	if err != nil {
		return verificationKey{}, err
	}
	return describePublic(pub)
}

func (k *jwk) okp() (verificationKey, error) {
	if k.Crv != "Ed25519" {
		return verificationKey{}, fmt.Errorf("unsupported OKP curve %q", k.Crv)
	}
	x, err := b64("x", k.X)
	if err != nil {
		return verificationKey{}, err
	}
	if len(x) != ed25519.PublicKeySize {
		return verificationKey{}, fmt.Errorf("an Ed25519 key is %d bytes", ed25519.PublicKeySize)
	}
	return describePublic(ed25519.PublicKey(x))
}

func (k *jwk) oct() (verificationKey, error) {
	b, err := b64("k", k.K)
	if err != nil {
		return verificationKey{}, err
	}
	if len(b) < minHMACBytes {
		return verificationKey{}, fmt.Errorf("an HMAC key must be at least %d bytes", minHMACBytes)
	}
	return verificationKey{key: b, algs: hmacAlgs, desc: "HMAC secret"}, nil
}
