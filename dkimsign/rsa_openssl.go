//go:build cgo

package dkimsign

/*
#cgo LDFLAGS: -lcrypto
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

// mh_load_key reads a PKCS #8 private key (DER). A failure's errors are
// taken off the thread's queue, which a later call would find.
static EVP_PKEY *mh_load_key(const unsigned char *der, long len) {
	const unsigned char *p = der;
	EVP_PKEY *k = d2i_AutoPrivateKey(NULL, &p, len);
	if (k == NULL) {
		ERR_clear_error();
	}
	return k;
}

// mh_sign_sha256 signs a SHA-256 digest with RSASSA-PKCS1-v1_5
// (RFC 8017 8.2.1), as DKIM's rsa-sha256 does (RFC 6376 3.3.1): 1 when
// sig holds *siglen bytes of signature.
static int mh_sign_sha256(EVP_PKEY *k, const unsigned char *dgst, size_t dlen, unsigned char *sig, size_t *siglen) {
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
	if (ctx == NULL) {
		return 0;
	}
	int ok = EVP_PKEY_sign_init(ctx) > 0 &&
		EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0 &&
		EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) > 0 &&
		EVP_PKEY_sign(ctx, sig, siglen, dgst, dlen) > 0;
	EVP_PKEY_CTX_free(ctx);
	if (!ok) {
		ERR_clear_error();
	}
	return ok;
}
*/
import "C"

import (
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"runtime"
	"unsafe"
)

// opensslRSA signs with the system's libcrypto (OpenSSL), whose RSA-2048
// private operation takes about 0.6 times the CPU of crypto/rsa's
// constant-time one (1.0 against 1.6 ms here): the largest cost of a
// signed message. OpenSSL blinds and runs in constant time too.
type opensslRSA struct {
	pub  *rsa.PublicKey
	pkey *C.EVP_PKEY
}

// newOpenSSLRSA loads the PKCS #8 key der, which is k.
func newOpenSSLRSA(der []byte, k *rsa.PrivateKey) (crypto.Signer, error) {
	if len(der) == 0 {
		return nil, errors.New("empty key")
	}
	p := C.mh_load_key((*C.uchar)(unsafe.Pointer(&der[0])), C.long(len(der)))
	if p == nil {
		return nil, errors.New("libcrypto cannot read the key")
	}
	s := &opensslRSA{pub: &k.PublicKey, pkey: p}
	runtime.AddCleanup(s, func(p *C.EVP_PKEY) { C.EVP_PKEY_free(p) }, p)
	return s, nil
}

// Public is the key's public half.
func (s *opensslRSA) Public() crypto.PublicKey { return s.pub }

// Sign signs a SHA-256 digest (the only hash DKIM signs RSA with here).
func (s *opensslRSA) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if _, pss := opts.(*rsa.PSSOptions); pss || opts.HashFunc() != crypto.SHA256 || len(digest) != 32 {
		return nil, fmt.Errorf("dkimsign: libcrypto signs SHA-256 digests with PKCS #1 v1.5 only, not %v %T", opts.HashFunc(), opts)
	}
	sig := make([]byte, s.pub.Size())
	n := C.size_t(len(sig))
	ok := C.mh_sign_sha256(s.pkey, (*C.uchar)(unsafe.Pointer(&digest[0])), C.size_t(len(digest)),
		(*C.uchar)(unsafe.Pointer(&sig[0])), &n)
	runtime.KeepAlive(s)
	if ok != 1 {
		return nil, errors.New("dkimsign: libcrypto could not sign")
	}
	return sig[:n], nil
}

// libcrypto says that this build signs RSA with OpenSSL.
const libcrypto = true
