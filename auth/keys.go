package auth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/herald-sse/herald"
)

// Algorithms by key type. A key verifies (or signs) only the algorithms of
// its own type: this pinning is what rules out algorithm confusion.
var (
	hmacAlgs = []string{"HS256", "HS384", "HS512"}
	rsaAlgs  = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	edAlgs   = []string{"EdDSA"}
)

// ecAlgs returns the one algorithm of an ECDSA curve (RFC 7518 §3.4).
func ecAlgs(c elliptic.Curve) []string {
	switch c {
	case elliptic.P256():
		return []string{"ES256"}
	case elliptic.P384():
		return []string{"ES384"}
	case elliptic.P521():
		return []string{"ES512"}
	}
	return nil
}

// knownAlg reports whether alg is one this package can verify.
func knownAlg(alg string) bool {
	for _, list := range [][]string{hmacAlgs, rsaAlgs, edAlgs, {"ES256", "ES384", "ES512"}} {
		for _, a := range list {
			if a == alg {
				return true
			}
		}
	}
	return false
}

// LoadKey returns the key bytes a command-line flag or environment variable
// names. A value starting with '@' names a file, whose content is returned
// (with trailing CR/LF removed when it is not PEM, so that a secret written
// with echo works). Any other value is the key itself: an HMAC secret, or PEM
// text. PEM text given on one line with literal "\n" sequences (as some
// environment files hold it) has them turned into line breaks. To use an HMAC
// secret that starts with '@', put it in a file. Errors wrap
// [herald.ErrInvalid].
func LoadKey(s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty key", herald.ErrInvalid)
	}
	if path, ok := strings.CutPrefix(s, "@"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%w: reading key: %w", herald.ErrInvalid, err)
		}
		if !isPEM(b) {
			b = bytes.TrimRight(b, "\r\n")
		}
		if len(b) == 0 {
			return nil, fmt.Errorf("%w: key file %s is empty", herald.ErrInvalid, path)
		}
		return b, nil
	}
	if isPEM([]byte(s)) && !strings.Contains(s, "\n") && strings.Contains(s, `\n`) {
		s = strings.ReplaceAll(s, `\n`, "\n")
	}
	return []byte(s), nil
}

// isPEM reports whether b is PEM text rather than an HMAC secret.
func isPEM(b []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("-----BEGIN "))
}

// verificationKey is one configured key with the algorithms it may verify.
type verificationKey struct {
	key  any // []byte (HMAC), *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
	algs []string
	desc string // for error messages: "HMAC secret", "RSA public key", ...
	kid  string // the JWK's kid; "" for configured keys
}

// keysEqual reports whether two verification keys are the same key.
func keysEqual(a, b any) bool {
	switch a := a.(type) {
	case []byte:
		b, ok := b.([]byte)
		return ok && bytes.Equal(a, b)
	case interface{ Equal(crypto.PublicKey) bool }:
		return a.Equal(b)
	}
	return false
}

// parseVerificationKeys turns one configured key into verification keys:
// an HMAC secret, or each PEM block of a public key ("PUBLIC KEY",
// "RSA PUBLIC KEY"), a certificate ("CERTIFICATE"), or a private key whose
// public half is used ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY").
func parseVerificationKeys(b []byte) ([]verificationKey, error) {
	if len(b) == 0 {
		return nil, errors.New("empty key")
	}
	if !isPEM(b) {
		return []verificationKey{{key: bytes.Clone(b), algs: hmacAlgs, desc: "HMAC secret"}}, nil
	}
	var keys []verificationKey
	rest := b
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		pub, err := parsePublicBlock(block)
		if err != nil {
			return nil, err
		}
		k, err := describePublic(pub)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("key looks like PEM but holds no valid PEM block")
	}
	return keys, nil
}

func parsePublicBlock(block *pem.Block) (crypto.PublicKey, error) {
	switch block.Type {
	case "PUBLIC KEY":
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM %s: %w", block.Type, err)
		}
		return pub, nil
	case "RSA PUBLIC KEY":
		pub, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM %s: %w", block.Type, err)
		}
		return pub, nil
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM %s: %w", block.Type, err)
		}
		return cert.PublicKey, nil
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
		priv, err := parsePrivateBlock(block)
		if err != nil {
			return nil, err
		}
		return priv.Public(), nil
	}
	return nil, fmt.Errorf("unsupported PEM block %q (want PUBLIC KEY, CERTIFICATE or a private key)", block.Type)
}

func describePublic(pub crypto.PublicKey) (verificationKey, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return verificationKey{key: k, algs: rsaAlgs, desc: "RSA public key"}, nil
	case *ecdsa.PublicKey:
		algs := ecAlgs(k.Curve)
		if algs == nil {
			return verificationKey{}, fmt.Errorf("unsupported ECDSA curve %s", k.Curve.Params().Name)
		}
		return verificationKey{key: k, algs: algs, desc: "ECDSA " + k.Curve.Params().Name + " public key"}, nil
	case ed25519.PublicKey:
		return verificationKey{key: k, algs: edAlgs, desc: "Ed25519 public key"}, nil
	}
	return verificationKey{}, fmt.Errorf("unsupported public key type %T", pub)
}

// signer is the private-key interface every supported key implements.
type signer interface {
	Public() crypto.PublicKey
}

func parsePrivateBlock(block *pem.Block) (signer, error) {
	var (
		key any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key (want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("PEM %s: %w", block.Type, err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return k.(signer), nil
	}
	return nil, fmt.Errorf("unsupported private key type %T", key)
}

// signingKey parses the key of [Sign]: an HMAC secret, or the first PEM
// block of a private key. It returns the key in the form the jwt library
// signs with and the algorithms it can sign.
func signingKey(b []byte) (key any, algs []string, err error) {
	if len(b) == 0 {
		return nil, nil, errors.New("empty key")
	}
	if !isPEM(b) {
		return b, hmacAlgs, nil
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, nil, errors.New("key looks like PEM but holds no valid PEM block")
	}
	priv, err := parsePrivateBlock(block)
	if err != nil {
		return nil, nil, err
	}
	vk, err := describePublic(priv.Public())
	if err != nil {
		return nil, nil, err
	}
	return priv, vk.algs, nil
}

// DefaultAlg returns the algorithm [Sign] uses for key when given none:
// HS256 for an HMAC secret, RS256 for an RSA key, ES256, ES384 or ES512 for
// an ECDSA key on P-256, P-384 or P-521, EdDSA for an Ed25519 key. key is a
// secret or a PEM private or public key. Errors wrap [herald.ErrInvalid].
func DefaultAlg(key []byte) (string, error) {
	if !isPEM(key) {
		if len(key) == 0 {
			return "", fmt.Errorf("%w: empty key", herald.ErrInvalid)
		}
		return hmacAlgs[0], nil
	}
	keys, err := parseVerificationKeys(key)
	if err != nil {
		return "", fmt.Errorf("%w: %w", herald.ErrInvalid, err)
	}
	return keys[0].algs[0], nil
}
