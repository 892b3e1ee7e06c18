package dkimsign

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"testing"
)

func rsaKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, der
}

// TestRSASigner: a cgo build signs with libcrypto, and its signatures are
// crypto/rsa's, byte for byte; a build without cgo signs with the key
// itself.
func TestRSASigner(t *testing.T) {
	k, der := rsaKey(t)
	sg, err := rsaSigner(der, k)
	if !libcrypto {
		if sg != crypto.Signer(k) || !errors.Is(err, errNoLibcrypto) {
			t.Fatalf("without cgo: signer %T, err %v; want the key itself and errNoLibcrypto", sg, err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, native := sg.(*rsa.PrivateKey); native {
		t.Fatal("a cgo build signs with crypto/rsa, want libcrypto")
	}
	for i := range 20 {
		d := sha256.Sum256(fmt.Appendf(nil, "message %d", i))
		got, err := sg.Sign(rand.Reader, d[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		want, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, d[:])
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("digest %d: libcrypto's signature differs from crypto/rsa's", i)
		}
		if err := rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, d[:], got); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sg.Sign(rand.Reader, make([]byte, 20), crypto.SHA1); err == nil {
		t.Error("a SHA-1 digest was signed")
	}
	d := sha256.Sum256([]byte("pss"))
	if _, err := sg.Sign(rand.Reader, d[:], &rsa.PSSOptions{Hash: crypto.SHA256}); err == nil {
		t.Error("a PSS signature was asked for and a PKCS #1 v1.5 one made")
	}
}

// TestRSASignerSelfCheck: a key libcrypto reads as another than the one
// parsed (here: another key's bytes) is not used; the parsed key signs.
func TestRSASignerSelfCheck(t *testing.T) {
	if !libcrypto {
		t.Skip("built without cgo: nothing to check")
	}
	k, _ := rsaKey(t)
	_, other := rsaKey(t)
	sg, err := rsaSigner(other, k)
	if err == nil || sg != crypto.Signer(k) {
		t.Fatalf("signer %T, err %v; want the parsed key and an error", sg, err)
	}
	if _, err := rsaSigner([]byte("not a key"), k); err == nil {
		t.Error("garbage was taken for a key")
	}
}
