package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailhost/testdb"
	"mailhost/testsupport"
)

// TestServeSieveEndToEnd: a script uploaded over ManageSieve (sieve-connect)
// files mail delivered over SMTP into a folder it creates, flags it,
// answers the sender once with a vacation reply and redirects a copy
// through the queue; IMAP (Python's imaplib) sees the folder and flags.
func TestServeSieveEndToEnd(t *testing.T) {
	python := testsupport.RequireTool(t, "python3", "python3")
	sieveConnect := testsupport.RequireTool(t, "sieve-connect", "sieve-connect")
	sink, relay := startRelaySink(t)
	data := dataDir(t)
	mx, imapAddr, ms := freePort(t), freePort(t), freePort(t)
	env := baseEnv("DATABASE_URL="+testdb.New(t), "MAILHOST_DATA_DIR="+data, "MAILHOST_HOSTNAME=mail.test",
		"MAILHOST_LISTEN_SMTP="+mx, "MAILHOST_LISTEN_IMAP="+imapAddr, "MAILHOST_LISTEN_MANAGESIEVE="+ms,
		"MAILHOST_PASSWORD_ARGON2_TIME=1", "MAILHOST_PASSWORD_ARGON2_MEMORY_KIB=64",
		"MAILHOST_SMTP_RELAYHOST="+relay)
	run1(t, env, "", "domain", "add", "example.test")
	run1(t, env, "alice-pw\n", "mailbox", "add", "--password-stdin", "alice@example.test")
	r := startServe(t, env)

	script := `require ["fileinto", "imap4flags", "vacation", "copy", "mailbox"];
if header :contains "subject" "report" {
    redirect :copy "archive@far.example";
    vacation :days 1 :subject "Away" "I am away until Monday.";
    fileinto :create :flags "\\Flagged" "Reports";
}
`
	local := filepath.Join(t.TempDir(), "rules.sieve")
	if err := os.WriteFile(local, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(ms)
	for _, args := range [][]string{{"--upload", "--localsieve", local, "--remotesieve", "rules"}, {"--activate", "--remotesieve", "rules"}} {
		cmd := exec.Command(sieveConnect, append([]string{"--server", host, "--port", port, "--user", "alice@example.test",
			"--passwordfd", "0", "--notlsverify", "--authmech", "PLAIN"}, args...)...)
		cmd.Stdin = strings.NewReader("alice-pw\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sieve-connect %v: %v\n%s", args, err, out)
		}
	}
	mxHost, mxPort, _ := net.SplitHostPort(mx)
	imapHost, imapPort, _ := net.SplitHostPort(imapAddr)
	py := `
import imaplib, smtplib, sys
mx_host, mx_port, imap_host, imap_port = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
for i in range(2):
    s = smtplib.SMTP(mx_host, mx_port, timeout=10)
    s.sendmail("bob@far.example", ["alice@example.test"],
        "From: bob@far.example\r\nTo: alice@example.test\r\nSubject: weekly report %d\r\nMessage-ID: <r%d@far.example>\r\n\r\nnumbers\r\n" % (i, i))
    s.quit()
m = imaplib.IMAP4(imap_host, imap_port)
m.login("alice@example.test", "alice-pw")
typ, data = m.select("Reports")
assert typ == "OK", (typ, data)
print("reports", data[0].decode())
typ, data = m.fetch("1:*", "(FLAGS)")
print("flags", [d.decode() for d in data])
typ, data = m.select("INBOX")
print("inbox", data[0].decode())
m.logout()
`
	out, err := exec.Command(python, "-c", py, mxHost, mxPort, imapHost, imapPort).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s\n%s", err, out, r.log)
	}
	if s := string(out); !strings.Contains(s, "reports 2") || strings.Count(s, `\\Flagged`) != 2 || !strings.Contains(s, "inbox 0") {
		t.Fatalf("IMAP saw:\n%s", s)
	}
	// The redirected copies and one vacation reply reach the relay host.
	if !testsupport.Poll(30*time.Second, func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return sink.seen["archive@far.example"] == 2 && sink.seen["bob@far.example"] == 1
	}) {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		t.Fatalf("relay host got %v\n%s", sink.seen, r.log)
	}
	if code := r.stop(t); code != 0 {
		t.Errorf("serve exit %d", code)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.seen["bob@far.example"] != 1 {
		t.Errorf("vacation replies: %d, want 1", sink.seen["bob@far.example"])
	}
}
