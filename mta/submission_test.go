package mta_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"mailhost/auth"
	"mailhost/mta"
	"mailhost/testsupport"
	"mailhost/tlscert"
)

// lazyAuth lets the test config name an Authenticator built after the
// environment's store exists.
type lazyAuth struct{ a *auth.Authenticator }

func (l *lazyAuth) Login(ctx context.Context, req auth.LoginRequest) (auth.Account, error) {
	return l.a.Login(ctx, req)
}

func testTLS(t *testing.T) *tls.Config {
	t.Helper()
	dir := t.TempDir()
	cert, err := tlscert.Load(dir+"/cert.pem", dir+"/key.pem", "mx.test", true, tlscert.Owner{})
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

// newSubEnv is a submission server (STARTTLS, or implicit TLS) with
// alice@example.test (password "secret"), her alias, and example.net an
// alias domain of example.test.
func newSubEnv(t *testing.T, tune ...func(*mta.Config)) *env {
	la := &lazyAuth{}
	tc := testTLS(t)
	e := newEnv(t, append([]func(*mta.Config){func(c *mta.Config) {
		c.TLS = tc
		c.Submission = mta.Submission{Enabled: true, Auth: la, AllowPlaintextLoopback: true}
	}}, tune...)...)
	a, err := auth.NewAuthenticator(e.st, auth.Options{
		Hasher:   auth.Hasher{Scheme: "SHA512-CRYPT", SHA512CryptRounds: 1000},
		Throttle: auth.ThrottleConfig{MaxFailures: 3, Block: time.Minute, Delay: time.Millisecond},
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	la.a = a
	e.domain("example.test")
	e.domain("other.test")
	e.mailbox("alice@example.test", 0)
	e.mailbox("bob@example.test", 0)
	e.mailbox("carol@other.test", 0)
	e.exec(`UPDATE mailboxes SET password = '{PLAIN}secret'`)
	e.alias("sales@example.test", "alice@example.test")
	e.exec(`INSERT INTO alias_domains (alias_domain, target_domain_id) SELECT 'example.net', id FROM domains WHERE name = 'example.test'`)
	return e
}

func (e *env) dialSub(t *testing.T) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(e.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Hello("laptop.home.lan"); err != nil {
		t.Fatal(err)
	}
	return c
}

const subMsg = "From: Alice <alice@example.test>\r\nTo: x\r\nSubject: hi\r\n\r\nHello.\r\n"

func TestSubmissionRequiresAuth(t *testing.T) {
	e := newSubEnv(t)
	c := e.dialSub(t)
	if ok, mechs := c.Extension("AUTH"); !ok || !strings.Contains(mechs, "PLAIN") || !strings.Contains(mechs, "LOGIN") {
		t.Fatalf("AUTH not offered to a loopback client: %v %q", ok, mechs)
	}
	wantCode(t, c.Mail("alice@example.test", nil), 530, smtp.EnhancedCode{5, 7, 0})
	wantCode(t, c.Auth(sasl.NewPlainClient("", "alice@example.test", "wrong")), 535, smtp.EnhancedCode{5, 7, 8})
	wantCode(t, c.Auth(sasl.NewPlainClient("", "nobody@example.test", "secret")), 535, smtp.EnhancedCode{5, 7, 8})
	wantCode(t, c.Auth(sasl.NewLoginClient("alice@example.test", "wrong")), 535, smtp.EnhancedCode{5, 7, 8})
	wantCode(t, c.Auth(sasl.NewPlainClient("", "alice@example.test", "secret")), 454, smtp.EnhancedCode{4, 7, 0}) // throttled after 3 failures
}

func TestSubmissionAuthNeedsTLSOffLoopback(t *testing.T) {
	e := newSubEnv(t, func(c *mta.Config) { c.Submission.AllowPlaintextLoopback = false })
	c := e.dialSub(t)
	if ok, _ := c.Extension("AUTH"); ok {
		t.Fatal("AUTH offered before TLS")
	}
	c.Close()
	c, err := smtp.DialStartTLS(e.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, _ := c.Extension("AUTH"); !ok {
		t.Fatal("AUTH not offered after STARTTLS")
	}
	if err := c.Auth(sasl.NewLoginClient("alice@example.test", "secret")); err != nil {
		t.Fatalf("AUTH LOGIN: %v", err)
	}
	if err := send(c, "alice@example.test", []string{"bob@example.test"}, subMsg); err != nil {
		t.Fatal(err)
	}
	if n := len(e.files("bob@example.test", "INBOX")); n != 1 {
		t.Fatalf("bob has %d messages", n)
	}
}

func TestSubmissionSenderOwnership(t *testing.T) {
	e := newSubEnv(t)
	c := e.dialSub(t)
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.net", "secret")); err != nil { // through the alias domain
		t.Fatalf("AUTH through alias domain: %v", err)
	}
	wantCode(t, c.Mail("carol@other.test", nil), 553, smtp.EnhancedCode{5, 7, 1})
	wantCode(t, c.Mail("bob@example.test", nil), 553, smtp.EnhancedCode{5, 7, 1})
	c.Reset()
	// Her alias, her alias-domain address and her extension are hers.
	for _, from := range []string{"sales@example.test", "alice@example.net", "alice+x@example.test"} {
		if err := c.Mail(from, nil); err != nil {
			t.Fatalf("MAIL FROM %s: %v", from, err)
		}
		c.Reset()
	}
	// A display name in any charset is fine; only the address counts.
	koi8 := strings.Replace(subMsg, "Alice <alice@example.test>", "=?koi8-r?B?4czJ08E=?= <alice@example.test>", 1)
	if err := send(c, "alice@example.test", []string{"bob@example.test"}, koi8); err != nil {
		t.Fatalf("From: with a koi8-r name: %v", err)
	}
	forged := strings.Replace(subMsg, "alice@example.test", "bob@example.test", 1)
	wantCode(t, send(c, "alice@example.test", []string{"bob@example.test"}, forged), 553, smtp.EnhancedCode{5, 7, 1})
	c.Reset()
	if n := len(e.files("bob@example.test", "INBOX")); n != 1 {
		t.Fatalf("bob has %d messages, want only the koi8-r one (the forged From: refused)", n)
	}
	// A remote recipient is queued as submission; the local one delivered;
	// a message without From:, Date, Message-ID gets them; the Received
	// header does not name the client.
	if err := send(c, "sales@example.test", []string{"bob@example.test", "dave@remote.example"}, "Subject: x\r\n\r\nbody\r\n"); err != nil {
		t.Fatal(err)
	}
	files := e.files("bob@example.test", "INBOX")
	if len(files) != 2 {
		t.Fatalf("bob has %d messages", len(files))
	}
	got := e.read(files[0]) + e.read(files[1])
	for _, want := range []string{"From: <sales@example.test>\r\n", "Message-ID: <", "Date: ", "with ESMTPA id"} {
		if !strings.Contains(got, want) {
			t.Errorf("delivered message lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "127.0.0.1") || strings.Contains(got, "laptop.home.lan") {
		t.Errorf("Received leaks the client:\n%s", got)
	}
	q := e.queue()
	if len(q) != 1 || q[0].origin != "submission" || q[0].recipient != "dave@remote.example" {
		t.Fatalf("queue = %+v", q)
	}
}

func TestSubmissionImplicitTLS(t *testing.T) {
	e := newSubEnv(t, func(c *mta.Config) {
		c.Submission.ImplicitTLS = true
		c.Submission.AllowPlaintextLoopback = false
	})
	c, err := smtp.DialTLS(e.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.test", "secret")); err != nil {
		t.Fatal(err)
	}
	if err := send(c, "alice@example.test", []string{"bob@example.test"}, subMsg); err != nil {
		t.Fatal(err)
	}
}

// Real clients: swaks with STARTTLS and AUTH LOGIN, Python's smtplib over
// implicit TLS with AUTH PLAIN.
func TestSubmissionRealClients(t *testing.T) {
	swaks := testsupport.RequireTool(t, "swaks", "swaks")
	python := testsupport.RequireTool(t, "python3", "python3")
	e := newSubEnv(t, func(c *mta.Config) { c.Submission.AllowPlaintextLoopback = false })
	host, port, _ := net.SplitHostPort(e.addr)
	out, err := exec.Command(swaks, "--server", host, "--port", port, "--tls", "--auth", "LOGIN",
		"--auth-user", "alice@example.test", "--auth-password", "secret",
		"--from", "alice@example.test", "--to", "bob@example.test",
		"--header", "From: alice@example.test").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	out, _ = exec.Command(swaks, "--server", host, "--port", port, "--tls", "--auth", "PLAIN",
		"--auth-user", "alice@example.test", "--auth-password", "wrong", "--to", "bob@example.test").CombinedOutput()
	if !strings.Contains(string(out), "535 5.7.8") {
		t.Fatalf("swaks with a wrong password:\n%s", out)
	}

	e2 := newSubEnv(t, func(c *mta.Config) { c.Submission.ImplicitTLS = true })
	host, port, _ = net.SplitHostPort(e2.addr)
	py := `
import smtplib, ssl, sys
ctx = ssl._create_unverified_context()
s = smtplib.SMTP_SSL(sys.argv[1], int(sys.argv[2]), context=ctx, timeout=10)
s.login("alice@example.test", "secret")
s.sendmail("alice@example.test", ["bob@example.test"], "From: alice@example.test\r\nSubject: py\r\n\r\nhi\r\n")
s.quit()
`
	if out, err := exec.Command(python, "-c", py, host, port).CombinedOutput(); err != nil {
		t.Fatalf("smtplib: %v\n%s", err, out)
	}
	if n := len(e.files("bob@example.test", "INBOX")) + len(e2.files("bob@example.test", "INBOX")); n != 2 {
		t.Fatalf("bob has %d messages, want 2", n)
	}
}
