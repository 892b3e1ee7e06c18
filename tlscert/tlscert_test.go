package tlscert

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
)

func TestGenerateOnceThenReuse(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls", "cert.pem"), filepath.Join(dir, "tls", "key.pem")
	c1, err := Load(certFile, keyFile, "mx.example.test", true, Owner{UID: os.Getuid(), GID: os.Getgid()})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(c1.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.VerifyHostname("mx.example.test"); err != nil {
		t.Error(err)
	}
	if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Error(err)
	}
	fi, err := os.Stat(keyFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	c2, err := Load(certFile, keyFile, "other.example.test", true, Owner{})
	if err != nil {
		t.Fatal(err)
	}
	if string(c2.Certificate[0]) != string(c1.Certificate[0]) {
		t.Error("second load generated a new certificate instead of reusing the first")
	}
}

func TestMissingConfiguredFilesFail(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem"), "x", false, Owner{})
	if err == nil {
		t.Fatal("loading missing files succeeded")
	}
}
