//go:build !cgo

package dkimsign

import (
	"crypto"
	"crypto/rsa"
)

// newOpenSSLRSA: a build without cgo signs with crypto/rsa.
func newOpenSSLRSA([]byte, *rsa.PrivateKey) (crypto.Signer, error) {
	return nil, errNoLibcrypto
}

// libcrypto says that this build signs RSA with OpenSSL.
const libcrypto = false
