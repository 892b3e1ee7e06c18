package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailhost/testdb"
	"mailhost/testsupport"
)

// TestServeSubmissionSendsOut: a real serve takes mail from swaks
// (STARTTLS, AUTH LOGIN on the submission port) and from Python's smtplib
// (implicit TLS, AUTH PLAIN), delivers the local copy at once and the
// remote one through the relay host; /metrics counts the delivery.
func TestServeSubmissionSendsOut(t *testing.T) {
	swaks := testsupport.RequireTool(t, "swaks", "swaks")
	python := testsupport.RequireTool(t, "python3", "python3")
	sink, relay := startRelaySink(t)
	data := dataDir(t)
	sub, subs := freePort(t), freePort(t)
	env := baseEnv("DATABASE_URL="+testdb.New(t), "MAILHOST_DATA_DIR="+data, "MAILHOST_HOSTNAME=mail.test",
		"MAILHOST_LISTEN_SUBMISSION="+sub, "MAILHOST_LISTEN_SUBMISSIONS="+subs,
		"MAILHOST_AUTH_ALLOW_PLAINTEXT_LOOPBACK=false",
		"MAILHOST_SMTP_RELAYHOST="+relay)
	for _, args := range [][]string{{"domain", "add", "example.test"}, {"mailbox", "add", "alice@example.test", "--password-stdin"},
		{"mailbox", "add", "bob@example.test", "--password-stdin"}} {
		if code, out, errOut := mailhost(t, env, "alice-pw-1\n", args...); code != 0 {
			t.Fatalf("%v: %s%s", args, out, errOut)
		}
	}
	r := startServe(t, env)
	host, port, _ := net.SplitHostPort(sub)
	out, err := exec.Command(swaks, "--server", host, "--port", port, "--tls", "--auth", "LOGIN",
		"--auth-user", "alice@example.test", "--auth-password", "alice-pw-1", "--from", "alice@example.test",
		"--header", "From: alice@example.test", "--to", "far@remote.example,bob@example.test").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	// Before STARTTLS no AUTH is offered and MAIL is refused.
	out, _ = exec.Command(swaks, "--server", host, "--port", port, "--from", "alice@example.test",
		"--to", "far@remote.example", "--quit-after", "MAIL").CombinedOutput()
	if strings.Contains(string(out), "250-AUTH") || !strings.Contains(string(out), "530 5.7.0") {
		t.Fatalf("plain-text submission:\n%s", out)
	}
	host, port, _ = net.SplitHostPort(subs)
	py := `
import smtplib, ssl, sys
s = smtplib.SMTP_SSL(sys.argv[1], int(sys.argv[2]), context=ssl._create_unverified_context(), timeout=10)
s.login("alice@example.test", "alice-pw-1")
s.sendmail("alice@example.test", ["far2@remote.example"], "From: alice@example.test\r\nSubject: py\r\n\r\nhi\r\n")
try:
    s.sendmail("bob@example.test", ["far3@remote.example"], "From: bob@example.test\r\n\r\nforged\r\n")
    sys.exit("forged sender accepted")
except smtplib.SMTPSenderRefused as e:
    assert e.smtp_code == 553, e
s.quit()
`
	if out, err := exec.Command(python, "-c", py, host, port).CombinedOutput(); err != nil {
		t.Fatalf("smtplib: %v\n%s", err, out)
	}
	if !testsupport.Poll(30*time.Second, func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return len(sink.seen) == 2
	}) {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		t.Fatalf("sink has %v\n%s", sink.seen, r.log)
	}
	// The sink has the message before the worker records the delivery
	// (and counts it): wait for the count too.
	var metrics string
	if !testsupport.Poll(30*time.Second, func() bool {
		resp, err := http.Get("http://" + r.http + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		metrics = string(b)
		return strings.Contains(metrics, "mailhost_queue_deliveries_total 2")
	}) {
		t.Fatalf("metrics lack the deliveries:\n%s", grepLines(metrics, "mailhost_queue"))
	}
	if code := r.stop(t); code != 0 {
		t.Errorf("serve exit %d", code)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// startRelaySink starts a go-smtp server on loopback that counts what it
// gets, the relay host of a serve under test ("[127.0.0.1]:port").
func startRelaySink(t *testing.T) (*countingSink, string) {
	t.Helper()
	sink := &countingSink{seen: map[string]int{}}
	return sink, startRelay(t, sink)
}

// startRelay serves b over SMTP on loopback, the relay host of a serve
// under test ("[127.0.0.1]:port").
func startRelay(t *testing.T, b smtp.Backend) string {
	t.Helper()
	srv := smtp.NewServer(b)
	srv.Domain = "sink.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "[127.0.0.1]:" + fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}
