package tlscert

import (
	"crypto/tls"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// servedName is the DNS name of the certificate a TLS server using r
// presents to a real handshake.
func servedName(t *testing.T, r *Reloader) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: r.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].DNSNames[0]
}

// A renewed pair written over the files is served at the next check,
// without a restart; a broken pair keeps the old one in use.
func TestReloaderFollowsTheFiles(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := Generate(cert, key, "old.example", Owner{}); err != nil {
		t.Fatal(err)
	}
	r, err := NewReloader(cert, key, "old.example", false, Owner{})
	if err != nil {
		t.Fatal(err)
	}
	if got := servedName(t, r); got != "old.example" {
		t.Fatalf("served %q", got)
	}
	if changed, err := r.Reload(false); changed || err != nil {
		t.Errorf("unchanged files: changed %v, err %v", changed, err)
	}
	// certbot writes new files; the modification time moves on.
	if err := Generate(cert, key, "new.example", Owner{}); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	os.Chtimes(cert, later, later)
	if changed, err := r.Reload(false); !changed || err != nil {
		t.Fatalf("renewed files: changed %v, err %v", changed, err)
	}
	if got := servedName(t, r); got != "new.example" {
		t.Errorf("after the renewal served %q", got)
	}
	// A half-written renewal: the key does not match; the old pair stays.
	if err := os.WriteFile(key, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.ReloadNow(slog.New(slog.NewTextHandler(io.Discard, nil)))
	if got := servedName(t, r); got != "new.example" {
		t.Errorf("after a broken renewal served %q", got)
	}
}
