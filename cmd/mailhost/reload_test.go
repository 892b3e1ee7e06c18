package main

import (
	"bufio"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailhost/testdb"
	"mailhost/testsupport"
	"mailhost/tlscert"
)

// imapsName is the DNS name of the certificate the IMAPS listener at
// addr presents.
func imapsName(t *testing.T, addr string) string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].DNSNames[0]
}

// A certificate renewed in place (as certbot does) is served after
// SIGHUP without a restart, and SIGHUP names the changed configuration
// keys that wait for a restart; a configuration that does not validate
// changes nothing and stops nothing.
func TestSIGHUPReloadsCertificate(t *testing.T) {
	data := dataDir(t)
	dir := filepath.Dir(data)
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := tlscert.Generate(cert, key, "old.example", tlscert.Owner{UID: 5000, GID: 5000}); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "mailhost.toml")
	if err := os.WriteFile(conf, []byte("hostname = \"mail.example\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	imaps, pop3Addr := freePort(t), freePort(t)
	env := baseEnv("DATABASE_URL="+testdb.NewEmpty(t), "MAILHOST_DATA_DIR="+data, "MAILHOST_LISTEN_IMAPS="+imaps, "MAILHOST_LISTEN_POP3="+pop3Addr,
		"MAILHOST_TLS_CERT_FILE="+cert, "MAILHOST_TLS_KEY_FILE="+key)
	r := startServe(t, env, "--config", conf)
	if got := imapsName(t, imaps); got != "old.example" {
		t.Fatalf("IMAPS presents %q", got)
	}
	if err := tlscert.Generate(cert, key, "new.example", tlscert.Owner{UID: 5000, GID: 5000}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(conf, []byte("hostname = \"mx.example\"\n[log]\nlevel = \"debug\"\n"), 0o644)
	r.cmd.Process.Signal(syscall.SIGHUP)
	testsupport.Eventually(t, 10*time.Second, "the renewed certificate", func() bool {
		return imapsName(t, imaps) == "new.example"
	})
	testsupport.Eventually(t, 10*time.Second, "the changed keys logged", func() bool {
		return strings.Contains(r.log.String(), "changed keys take effect at the next restart") &&
			strings.Contains(r.log.String(), "keys=hostname\n")
	})
	// log.level applies at once: a POP3 session that ends without a login
	// logs at debug level.
	if !strings.Contains(r.log.String(), `msg="SIGHUP: log level changed" level=DEBUG`) {
		t.Errorf("log.level not applied at SIGHUP:\n%s", r.log)
	}
	pop3, err := net.Dial("tcp", pop3Addr)
	if err != nil {
		t.Fatal(err)
	}
	bufio.NewReader(pop3).ReadString('\n') // the greeting
	pop3.Close()
	testsupport.Eventually(t, 10*time.Second, "a debug line", func() bool {
		return strings.Contains(r.log.String(), "level=DEBUG msg=\"pop3 session ended without login\"")
	})
	os.WriteFile(conf, []byte("hostname = 42\n"), 0o644)
	r.cmd.Process.Signal(syscall.SIGHUP)
	testsupport.Eventually(t, 10*time.Second, "the bad configuration reported", func() bool {
		return strings.Contains(r.log.String(), "the configuration does not validate; nothing changed")
	})
	if code, _ := r.health(); code != 200 {
		t.Errorf("after SIGHUPs /healthz answers %d", code)
	}
	if code := r.stop(t); code != 0 {
		t.Errorf("exit %d:\n%s", code, r.log)
	}
}
