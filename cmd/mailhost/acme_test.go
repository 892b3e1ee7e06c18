package main

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mailhost/dnstest"
	"mailhost/testdb"
	"mailhost/testsupport"
	"mailhost/tlscert"
)

// startPebble runs Pebble, the ACME test authority, on loopback; it
// validates HTTP-01 challenges on httpPort of the names, which the DNS
// server dns answers. It returns the directory URL and the PEM file of
// the certificate its own HTTPS uses (the roots of the ACME client).
func startPebble(t *testing.T, dns, httpPort string) (directory, caFile string) {
	t.Helper()
	bin := testsupport.RequireTool(t, "pebble", "pebble")
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := tlscert.Generate(cert, key, "localhost", tlscert.Owner{}); err != nil {
		t.Fatal(err)
	}
	listen, mgmt := freePort(t), freePort(t)
	hp, err := strconv.Atoi(portOf(httpPort))
	if err != nil {
		t.Fatal(err)
	}
	conf, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress": listen, "managementListenAddress": mgmt, "certificate": cert, "privateKey": key,
		"httpPort": hp, "tlsPort": 1, "ocspResponderURL": "", "externalAccountBindingRequired": false,
	}})
	cf := filepath.Join(dir, "pebble.json")
	os.WriteFile(cf, conf, 0o644)
	cmd := exec.Command(bin, "-config", cf, "-dnsserver", dns)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	testsupport.Eventually(t, 20*time.Second, "pebble listening", func() bool {
		c, err := net.Dial("tcp", listen)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return "https://" + listen + "/dir", cert
}

// issuerAndSerial asks openssl s_client which certificate a listener
// presents for name (SMTP STARTTLS with starttls "smtp").
func issuerAndSerial(t *testing.T, addr, name, starttls string) (string, string) {
	t.Helper()
	openssl := testsupport.RequireTool(t, "openssl", "openssl")
	args := []string{"s_client", "-connect", addr, "-servername", name, "-showcerts"}
	if starttls != "" {
		args = append(args, "-starttls", starttls)
	}
	sc := exec.Command(openssl, args...)
	sc.Stdin = strings.NewReader("")
	out, _ := sc.CombinedOutput()
	x := exec.Command(openssl, "x509", "-noout", "-issuer", "-serial", "-ext", "subjectAltName")
	x.Stdin = strings.NewReader(string(out))
	info, err := x.CombinedOutput()
	if err != nil {
		t.Fatalf("openssl x509: %v\n%s\n%s", err, info, out)
	}
	serial := regexp.MustCompile(`serial=(\w+)`).FindStringSubmatch(string(info))
	if serial == nil || !strings.Contains(string(info), "DNS:"+name) {
		t.Fatalf("%s for %s presents:\n%s", addr, name, info)
	}
	return string(info), serial[1]
}

// Pebble issues certificates for the host name and an opted-in domain's
// mail. name; SMTP STARTTLS, IMAPS and HTTPS present the one of the SNI
// name; HTTP redirects to HTTPS once the name has one; a renewal (a
// certificate near its end, SIGHUP) replaces it without a restart.
func TestACMEWithPebble(t *testing.T) {
	ns := dnstest.Start(t, "mail.test. 60 IN A 127.0.0.1", "mail.example.com. 60 IN A 127.0.0.1",
		"autoconfig.example.com. 60 IN A 127.0.0.1", "mta-sts.example.com. 60 IN A 127.0.0.1")
	httpAddr, httpsAddr, imaps, sub := freePort(t), freePort(t), freePort(t), freePort(t)
	directory, ca := startPebble(t, ns.Addr, httpAddr)
	url := testdb.NewEmpty(t)
	data := dataDir(t)
	env := baseEnv("DATABASE_URL="+url, "MAILHOST_DATA_DIR="+data, "MAILHOST_HOSTNAME=mail.test",
		"MAILHOST_LISTEN_HTTP="+httpAddr, "MAILHOST_LISTEN_HTTPS="+httpsAddr, "MAILHOST_LISTEN_IMAPS="+imaps,
		"MAILHOST_LISTEN_SUBMISSION="+sub, "MAILHOST_ACME_ENABLED=true", "MAILHOST_ACME_DIRECTORY_URL="+directory,
		"MAILHOST_ACME_CA_FILE="+ca, "MAILHOST_ACME_EMAIL=postmaster@mail.test")
	run1(t, env, "", "migrate")
	run1(t, env, "", "domain", "add", "example.com")
	run1(t, env, "", "domain", "update", "example.com", "--acme=true")
	r := startServe(t, env)
	testsupport.Eventually(t, 90*time.Second, "certificates issued", func() bool {
		l := r.log.String()
		return strings.Contains(l, "name=mail.test") && strings.Contains(l, "name=mail.example.com") &&
			strings.Contains(l, "name=mta-sts.example.com") && strings.Contains(l, "name=autoconfig.example.com")
	})
	// The other nodes (and this one) load the stored certificates.
	var serial string
	testsupport.Eventually(t, 90*time.Second, "IMAPS presenting Pebble's certificate", func() bool {
		info, _ := issuerAndSerial(t, imaps, "mail.test", "")
		return strings.Contains(info, "Pebble")
	})
	for _, tc := range []struct{ addr, name, starttls string }{
		{imaps, "mail.test", ""}, {imaps, "mail.example.com", ""},
		{sub, "mail.test", "smtp"}, {httpsAddr, "mail.test", ""}, {httpsAddr, "autoconfig.example.com", ""},
	} {
		info, s := issuerAndSerial(t, tc.addr, tc.name, tc.starttls)
		if !strings.Contains(info, "Pebble") {
			t.Errorf("%s (%s) for %s: not issued by Pebble:\n%s", tc.addr, tc.starttls, tc.name, info)
		}
		if tc.addr == imaps && tc.name == "mail.test" {
			serial = s
		}
	}
	// Plain HTTP for a certified name redirects to HTTPS; the challenges
	// and /healthz stay on HTTP.
	curl := testsupport.RequireTool(t, "curl", "curl")
	out, _ := exec.Command(curl, "-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
		"--resolve", "mail.test:"+portOf(httpAddr)+":127.0.0.1", "http://mail.test:"+portOf(httpAddr)+"/login").CombinedOutput()
	if want := "308 https://mail.test:" + portOf(httpsAddr) + "/login"; string(out) != want {
		t.Errorf("HTTP /login: %q, want %q", out, want)
	}
	// A renewal without a restart: the certificate of mail.test comes
	// within renew_before_days of its end (Pebble's last five years), SIGHUP
	// asks for a check now, and the new one is served.
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if _, err := conn.Exec(t.Context(), `UPDATE acme_certificates SET not_after = now() + interval '2 days' WHERE name = 'mail.test'`); err != nil {
		t.Fatal(err)
	}
	r.cmd.Process.Signal(syscall.SIGHUP)
	testsupport.Eventually(t, 90*time.Second, "a renewal", func() bool {
		_, s := issuerAndSerial(t, imaps, "mail.test", "")
		return s != serial && strings.Contains(r.log.String(), "renewal=true")
	})
	if code := r.stop(t); code != 0 {
		t.Errorf("exit %d:\n%s", code, r.log)
	}
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
