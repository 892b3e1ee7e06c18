package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"

	"mailhost/admin"
	"mailhost/dnsres"
	"mailhost/dnstest"
	"mailhost/testdb"
	"mailhost/testsupport"
)

// keepingSink is a relay host that keeps what it receives and refuses
// the recipient refuse@remote.example.
type keepingSink struct {
	mu   sync.Mutex
	msgs map[string][]byte // recipient -> message
}

func (s *keepingSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &keepingSession{s: s}, nil }

func (s *keepingSink) get(rcpt string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.msgs[rcpt]
}

type keepingSession struct {
	s  *keepingSink
	to []string
}

func (c *keepingSession) Mail(string, *smtp.MailOptions) error { return nil }
func (c *keepingSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "refuse@") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	c.to = append(c.to, to)
	return nil
}
func (c *keepingSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	c.s.mu.Lock()
	for _, to := range c.to {
		c.s.msgs[to] = b
	}
	c.s.mu.Unlock()
	return err
}
func (c *keepingSession) Reset()        { c.to = nil }
func (c *keepingSession) Logout() error { return nil }

// dkimEnv is a mailhost whose resolver is a loopback DNS server that
// holds the DKIM records of example.test, with the domain, alice and a
// relay host that keeps what it gets.
func dkimEnv(t *testing.T) ([]string, *dnstest.Server, *keepingSink, string) {
	t.Helper()
	dns := dnstest.Start(t)
	sink := &keepingSink{msgs: map[string][]byte{}}
	srv := smtp.NewServer(sink)
	srv.Domain = "sink.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	data := dataDir(t)
	env := baseEnv("DATABASE_URL="+testdb.New(t), "MAILHOST_DATA_DIR="+data, "MAILHOST_HOSTNAME=mail.example.test",
		"MAILHOST_DNS_RESOLVER="+dns.Addr, "MAILHOST_PASSWORD_ARGON2_TIME=1", "MAILHOST_PASSWORD_ARGON2_MEMORY_KIB=64",
		"MAILHOST_SMTP_RELAYHOST=[127.0.0.1]:"+fmt.Sprint(ln.Addr().(*net.TCPAddr).Port))
	run1(t, env, "", "domain", "add", "example.test")
	run1(t, env, "alice-pw-1\n", "mailbox", "add", "alice@example.test", "--password-stdin")
	var keys []struct{ Name, Record string }
	if err := json.Unmarshal([]byte(run1(t, env, "", "dkim", "list", "example.test", "--json")), &keys); err != nil || len(keys) != 2 {
		t.Fatalf("dkim list: %v %v", keys, err)
	}
	for _, k := range keys {
		dns.Add(t, admin.ZoneLine(k.Name, "TXT", k.Record))
	}
	return env, dns, sink, data
}

// verifyDKIM checks that msg carries two valid signatures of example.test,
// looking the keys up in dns.
func verifyDKIM(t *testing.T, dns *dnstest.Server, what string, msg []byte) {
	t.Helper()
	r, err := dnsres.New(dnsres.Config{Servers: []string{dns.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) { return r.TXT(context.Background(), name) }})
	if err != nil || len(vs) != 2 {
		t.Fatalf("%s: %d signatures, %v:\n%s", what, len(vs), err, msg)
	}
	for _, v := range vs {
		if v.Err != nil || v.Domain != "example.test" {
			t.Errorf("%s: signature of %s: %v", what, v.Domain, v.Err)
		}
	}
}

// Mail leaving from a hosted domain is signed with both keys, whatever
// its way out: submission (swaks), sendmail, and the server's own bounce
// (MAILER-DAEMON@mail.example.test is signed for example.test); the
// signatures verify with the records the DNS page shows. The HTTP
// listener serves the MTA-STS policy to mta-sts.example.test.
func TestServeSignsOutgoingMail(t *testing.T) {
	swaks := testsupport.RequireTool(t, "swaks", "swaks")
	env, dns, sink, data := dkimEnv(t)
	sub := freePort(t)
	env = append(env, "MAILHOST_LISTEN_SUBMISSION="+sub)
	r := startServe(t, env)

	host, port, _ := net.SplitHostPort(sub)
	out, err := exec.Command(swaks, "--server", host, "--port", port, "--tls", "--auth", "PLAIN",
		"--auth-user", "alice@example.test", "--auth-password", "alice-pw-1", "--from", "alice@example.test",
		"--header", "From: Alice <alice@example.test>", "--header", "Subject: signed",
		"--to", "far@remote.example,refuse@remote.example").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	run1(t, env, "From: alice@example.test\nTo: far2@remote.example\nSubject: by sendmail\n\nhello\n",
		"sendmail", "-f", "alice@example.test", "far2@remote.example")
	testsupport.Eventually(t, 30*time.Second, "the relay host gets both messages", func() bool {
		return sink.get("far@remote.example") != nil && sink.get("far2@remote.example") != nil
	})
	verifyDKIM(t, dns, "submission", sink.get("far@remote.example"))
	verifyDKIM(t, dns, "sendmail", sink.get("far2@remote.example"))

	// The bounce for refuse@ comes back to alice's INBOX, signed.
	newDir := filepath.Join(data, "vmail", "example.test", "alice", "new")
	var bounce []byte
	testsupport.Eventually(t, 30*time.Second, "the bounce in alice's INBOX", func() bool {
		files, _ := os.ReadDir(newDir)
		for _, f := range files {
			if b, err := os.ReadFile(filepath.Join(newDir, f.Name())); err == nil && bytes.Contains(b, []byte("MAILER-DAEMON@")) {
				bounce = b
				return true
			}
		}
		return false
	})
	verifyDKIM(t, dns, "bounce", bounce)

	req, _ := http.NewRequest("GET", "http://"+r.http+"/.well-known/mta-sts.txt", nil)
	req.Host = "mta-sts.example.test"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "version: STSv1\r\nmode: testing\r\nmx: mail.example.test\r\nmax_age: 604800\r\n" {
		t.Errorf("mta-sts.txt: %d %q", resp.StatusCode, body)
	}
	if code := r.stop(t); code != 0 {
		t.Errorf("serve exit %d", code)
	}
}

// mailhost dns prints the zone lines and, with --check, the verdicts
// (exit 1 while a record is not as expected); mailhost dkim rotate, list
// and check: the new keys sign once their records are seen.
func TestDNSAndDKIMCommands(t *testing.T) {
	env, dns, _, _ := dkimEnv(t)
	out := run1(t, env, "", "dns", "example.test")
	for _, want := range []string{"; MX\nexample.test. 3600 IN MX 10 mail.example.test.\n",
		"; SPF\nexample.test. 3600 IN TXT \"v=spf1 mx -all\"\n", "; DKIM rsa (active)\nr", "; DKIM ed25519 (active)\ne",
		"_imaps._tcp.example.test. 3600 IN SRV 0 0 0 .\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("dns lacks %q:\n%s", want, out)
		}
	}
	dns.Add(t, "example.test. 60 IN MX 10 mail.example.test.")
	code, out, errOut := mailhost(t, env, "", "dns", "example.test", "--check")
	if code != 1 || !strings.Contains(out, "; MX: ok\n") || !strings.Contains(out, "; DKIM rsa (active): ok\n") ||
		!strings.Contains(out, "; SPF: missing\n") || !strings.Contains(errOut, "12 of 15 records are not as expected") {
		t.Errorf("dns --check: exit %d\n%s%s", code, out, errOut)
	}

	out = run1(t, env, "", "dkim", "rotate", "example.test")
	if strings.Count(out, "pending: signs once this record is in DNS") != 2 {
		t.Fatalf("rotate:\n%s", out)
	}
	if out := run1(t, env, "", "dkim", "check"); out != "" {
		t.Fatalf("check before the records are published: %s", out)
	}
	var keys []struct{ Name, Record, State string }
	if err := json.Unmarshal([]byte(run1(t, env, "", "dkim", "list", "example.test", "--json")), &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.State == "pending" {
			dns.Add(t, admin.ZoneLine(k.Name, "TXT", k.Record))
		}
	}
	if out := run1(t, env, "", "dkim", "check"); strings.Count(out, "signing with ") != 2 {
		t.Fatalf("check after the records are published: %s", out)
	}
	out = run1(t, env, "", "dkim", "list", "example.test")
	if strings.Count(out, "retiring until") != 2 || strings.Count(out, ", active\n") != 2 || strings.Contains(out, "PRIVATE") {
		t.Fatalf("list after the rotation:\n%s", out)
	}
}
