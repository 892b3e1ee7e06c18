// Package tlscert loads the certificate every TLS listener and STARTTLS
// uses, generating a self-signed one when the operator configured none.
package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Owner receives generated files when the process runs as root, so the
// server can still read them after it drops privileges.
type Owner struct{ UID, GID int }

// Load reads the key pair. When generate is true and neither file exists,
// it first writes a self-signed certificate for hostname (and localhost)
// there.
func Load(certFile, keyFile, hostname string, generate bool, owner Owner) (tls.Certificate, error) {
	if generate && !exists(certFile) && !exists(keyFile) {
		if err := Generate(certFile, keyFile, hostname, owner); err != nil {
			return tls.Certificate{}, err
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tlscert: load %s and %s: %w", certFile, keyFile, err)
	}
	return cert, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return !errors.Is(err, os.ErrNotExist)
}

// Generate writes a self-signed ECDSA P-256 certificate valid for hostname,
// localhost and the loopback addresses, with its key (mode 0600).
func Generate(certFile, keyFile, hostname string, owner Owner) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("tlscert: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return fmt.Errorf("tlscert: serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hostname, Organization: []string{"mailhost self-signed"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(0, 0, 825),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{hostname, "localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("tlscert: create certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("tlscert: marshal key: %w", err)
	}
	if err := writePEM(keyFile, "PRIVATE KEY", keyDER, owner); err != nil {
		return err
	}
	return writePEM(certFile, "CERTIFICATE", der, owner)
}

func writePEM(path, typ string, der []byte, owner Owner) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("tlscert: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("tlscert: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := pem.Encode(tmp, &pem.Block{Type: typ, Bytes: der}); err != nil {
		tmp.Close()
		return fmt.Errorf("tlscert: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("tlscert: write %s: %w", path, err)
	}
	if os.Geteuid() == 0 {
		for _, p := range []string{dir, tmp.Name()} {
			if err := os.Chown(p, owner.UID, owner.GID); err != nil {
				return fmt.Errorf("tlscert: %w", err)
			}
		}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("tlscert: %w", err)
	}
	return nil
}
