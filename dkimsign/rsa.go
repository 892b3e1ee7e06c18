package dkimsign

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
)

// errNoLibcrypto: this build signs with crypto/rsa alone.
var errNoLibcrypto = errors.New("built without cgo, so without libcrypto")

// rsaSigner returns the signer of the RSA key k (PKCS #8 der): libcrypto's
// when this build has it (cgo) and it signs exactly as crypto/rsa does,
// else k. RSASSA-PKCS1-v1_5 is deterministic, so the two must give the
// same bytes for one digest; the check costs two signatures per key
// parsed, and keys are parsed once.
func rsaSigner(der []byte, k *rsa.PrivateKey) (crypto.Signer, error) {
	fast, err := newOpenSSLRSA(der, k)
	if err != nil {
		return k, err
	}
	digest := sha256.Sum256([]byte("mailhost dkimsign self-check"))
	want, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, digest[:])
	if err != nil {
		return k, err
	}
	got, err := fast.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		return k, err
	}
	if !bytes.Equal(got, want) {
		return k, fmt.Errorf("libcrypto's signature differs from crypto/rsa's")
	}
	return fast, nil
}
