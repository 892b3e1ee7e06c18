package dkimsign

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"mailhost/store"
)

// Record is the TXT record publishing a public key (RFC 6376 3.6.1,
// RFC 8463 4) at <selector>._domainkey.<domain>.
func Record(algorithm, publicKey string) string {
	return "v=DKIM1; k=" + algorithm + "; p=" + publicKey
}

// ErrTooManyKeys: every selector of the day is taken.
var ErrTooManyKeys = errors.New("dkimsign: too many keys made today")

// NewKeys makes a domain's pair of keys, an RSA-2048 and an Ed25519 one,
// in state ("pending" or "active"). Their selectors are named by now's
// day, r20261203 and e20261203, with a letter added (r20261203b) while
// taken has the name.
func NewKeys(now time.Time, state string, taken map[string]bool) ([]store.NewDKIMKey, error) {
	day := now.UTC().Format("20060102")
	suffix := ""
	for c := 'b'; taken["r"+day+suffix] || taken["e"+day+suffix]; c++ {
		if c > 'z' {
			return nil, ErrTooManyKeys
		}
		suffix = string(c)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("dkimsign: rsa key: %w", err)
	}
	_, ek, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("dkimsign: ed25519 key: %w", err)
	}
	rpub, err := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("dkimsign: rsa public key: %w", err)
	}
	keys := []store.NewDKIMKey{
		{Selector: "r" + day + suffix, Algorithm: "rsa", PublicKey: base64.StdEncoding.EncodeToString(rpub), State: state},
		// RFC 8463 4: the Ed25519 p= is the raw 32-byte key, not a SubjectPublicKeyInfo.
		{Selector: "e" + day + suffix, Algorithm: "ed25519",
			PublicKey: base64.StdEncoding.EncodeToString(ek.Public().(ed25519.PublicKey)), State: state},
	}
	for i, priv := range []any{rk, ek} {
		if keys[i].PrivateKey, err = x509.MarshalPKCS8PrivateKey(priv); err != nil {
			return nil, fmt.Errorf("dkimsign: private key: %w", err)
		}
	}
	return keys, nil
}
