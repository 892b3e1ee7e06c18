package mta_test

import (
	"archive/zip"
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailhost/contentfilter"
	"mailhost/testsupport"
)

// The content filter against the real scanners: rspamd's proxy worker in
// milter mode and clamav-milter over clamd, each started by the test on
// loopback with a private configuration, no network lookups and no
// downloads.

// freePort returns a loopback port nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// daemon runs a foreground daemon until the test ends (SIGTERM, then its
// exit is awaited).
func daemon(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	out, err := os.Create(filepath.Join(dir, filepath.Base(name)+".out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		out.Close()
	})
}

// waitListening waits for a daemon's socket, showing its output on failure.
func waitListening(t *testing.T, network, addr string, within time.Duration, logs ...string) {
	t.Helper()
	if testsupport.Poll(within, func() bool {
		c, err := net.DialTimeout(network, addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		return
	}
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		t.Logf("%s:\n%s", l, b)
	}
	t.Fatalf("%s %s not listening after %v", network, addr, within)
}

// rspamdSpamTest is a phrase the test's rspamd scores 20 (a rule of its
// private configuration), so that the domains' thresholds decide.
const rspamdSpamTest = "MAILHOST-TEST-SPAM-SCORE-TWENTY"

// startRspamd runs rspamd with its proxy worker in milter mode and
// returns the milter. Its own reject action is off except for GTUBE:
// mailhost's domain policies decide on the score. The compiled
// expressions are cached between runs (the first start takes a minute).
func startRspamd(t *testing.T) *contentfilter.Milter {
	t.Helper()
	bin := testsupport.RequireTool(t, "rspamd", "rspamd")
	dir := t.TempDir()
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	db := filepath.Join(cache, "mailhost-test", "rspamd")
	if err := os.MkdirAll(db, 0o700); err != nil {
		t.Fatal(err)
	}
	normal, proxy := freePort(t), freePort(t)
	conf := fmt.Sprintf(`.include "$CONFDIR/common.conf"
options {
    pidfile = "$RUNDIR/rspamd.pid";
    .include "$CONFDIR/options.inc"
    dns { nameserver = ["127.0.0.1:1"]; timeout = 1s; retransmits = 1; }
    enable_test_patterns = true;
}
logging { type = "file"; filename = "$LOGDIR/rspamd.log"; level = "notice"; }
worker "normal" { bind_socket = "127.0.0.1:%d"; .include "$CONFDIR/worker-normal.inc" }
worker "rspamd_proxy" {
    bind_socket = "127.0.0.1:%d";
    milter = yes;
    timeout = 60s;
    upstream "local" { default = yes; self_scan = yes; }
    count = 1;
    spam_header = "X-Spam";
}
`, normal, proxy)
	files := map[string]string{
		"rspamd.conf":                 conf,
		"local.d/actions.conf":        "reject = null;\nadd_header = 6;\ngreylist = null;\nrewrite_subject = null;\n",
		"local.d/milter_headers.conf": "use = [\"x-spamd-result\", \"x-spam-status\"];\nskip_local = false;\nskip_authenticated = false;\n",
		"rspamd.local.lua": `rspamd_config.MAILHOST_TEST_SPAM = {
  callback = function(task)
    return task:get_content():find("` + rspamdSpamTest + `", 1, true) ~= nil
  end,
  score = 20.0,
  description = 'the test phrase of mailhost',
}
`,
	}
	// Modules that would ask the network (DNS lists, fuzzy hashes, maps)
	// or a Redis server.
	for _, m := range []string{"fuzzy_check", "rbl", "asn", "phishing", "url_reputation", "neural", "replies", "ratelimit",
		"greylist", "history_redis", "dkim", "dmarc", "spf", "arc", "mx_check", "emails", "multimap", "reputation",
		"maillist", "hfilter"} {
		files["local.d/"+m+".conf"] = "enabled = false;\n"
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(dir, "run"), 0o755)
	daemon(t, dir, bin, "-f", "-i", "-c", filepath.Join(dir, "rspamd.conf"), "--var", "CONFDIR=/etc/rspamd",
		"--var", "LOCAL_CONFDIR="+dir, "--var", "RUNDIR="+filepath.Join(dir, "run"), "--var", "DBDIR="+db,
		"--var", "LOGDIR="+dir)
	addr := fmt.Sprintf("127.0.0.1:%d", proxy)
	waitListening(t, "tcp", addr, 5*time.Minute, filepath.Join(dir, "rspamd.out"), filepath.Join(dir, "rspamd.log"))
	return &contentfilter.Milter{Name: "rspamd", Network: "tcp", Address: addr, Timeout: 60 * time.Second}
}

// eicar is the EICAR anti-virus test file.
const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// startClamav runs clamd with a signature database holding only the
// EICAR test file's hash, and clamav-milter over it, refusing infected
// mail; it returns the milter.
func startClamav(t *testing.T) *contentfilter.Milter {
	t.Helper()
	clamd := testsupport.RequireTool(t, "/usr/sbin/clamd", "clamav-daemon")
	milterBin := testsupport.RequireTool(t, "/usr/sbin/clamav-milter", "clamav-milter")
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "db"), 0o755)
	sum := fmt.Sprintf("%x", md5sum(eicar))
	if err := os.WriteFile(filepath.Join(dir, "db", "eicar.hdb"), []byte(fmt.Sprintf("%s:%d:Eicar-Test-Signature\n", sum, len(eicar))), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "clamd.sock")
	runAs := ""
	if u, err := user.Current(); err == nil && os.Getuid() == 0 {
		runAs = "User " + u.Username + "\n"
	}
	port := freePort(t)
	files := map[string]string{
		"clamd.conf": "Foreground yes\nLocalSocket " + sock + "\nDatabaseDirectory " + filepath.Join(dir, "db") + "\nLogFile " +
			filepath.Join(dir, "clamd.log") + "\n" + runAs,
		"milter.conf": fmt.Sprintf("Foreground yes\nMilterSocket inet:%d@127.0.0.1\nClamdSocket unix:%s\nOnInfected Reject\nOnFail Defer\nAddHeader Replace\nLogFile %s\n%s",
			port, sock, filepath.Join(dir, "milter.log"), runAs),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	daemon(t, dir, clamd, "-c", filepath.Join(dir, "clamd.conf"))
	waitListening(t, "unix", sock, 2*time.Minute, filepath.Join(dir, "clamd.out"), filepath.Join(dir, "clamd.log"))
	daemon(t, dir, milterBin, "-c", filepath.Join(dir, "milter.conf"))
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	waitListening(t, "tcp", addr, time.Minute, filepath.Join(dir, "clamav-milter.out"), filepath.Join(dir, "milter.log"))
	return &contentfilter.Milter{Name: "clamav", Network: "tcp", Address: addr, Timeout: 60 * time.Second}
}

func plainMessage(subject, body string) string {
	return "From: Bob <bob@remote.example>\r\nTo: alice@example.test\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") + "@remote.example>\r\nDate: Thu, 03 Dec 2026 10:00:00 +0000\r\n\r\n" + body + "\r\n"
}

// TestRspamdPolicies: GTUBE is refused by rspamd; its add-header variant
// is filed to Junk; a message rspamd scores 20 goes to Junk in a domain
// that junks spam and is refused by one that refuses from 15; a clean
// message reaches INBOX with rspamd's headers.
func TestRspamdPolicies(t *testing.T) {
	rspamd := startRspamd(t)
	e := newFilterEnv(t, contentfilter.Config{Milters: []*contentfilter.Milter{rspamd}})
	e.domain("strict.test")
	e.mailbox("carol@strict.test", 0)
	e.exec(`INSERT INTO domain_filters (domain_id, spam_policy, junk_score, reject_score) SELECT id, 'reject', 6, 15 FROM domains WHERE name = 'strict.test'`)
	c := e.dial("")

	wantCode(t, send(c, "bob@remote.example", []string{"alice@example.test"},
		plainMessage("gtube", "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X")), 554, smtp.EnhancedCode{5, 7, 1})
	c.Reset()
	if err := send(c, "bob@remote.example", []string{"alice@example.test"},
		plainMessage("gtube add header", "YJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X")); err != nil {
		t.Fatal(err)
	}
	if junk := e.files("alice@example.test", "Junk"); len(junk) != 1 || !strings.Contains(e.read(junk[0]), "X-Spam: Yes") {
		t.Fatalf("GTUBE add-header variant: junk %v", junk)
	}
	if err := send(c, "bob@remote.example", []string{"alice@example.test"}, plainMessage("scored", rspamdSpamTest)); err != nil {
		t.Fatal(err)
	}
	if junk := e.files("alice@example.test", "Junk"); len(junk) != 2 {
		t.Fatalf("scored 20, junk policy: %d in Junk", len(junk))
	}
	wantCode(t, send(c, "bob@remote.example", []string{"carol@strict.test"}, plainMessage("scored", rspamdSpamTest)), 554, smtp.EnhancedCode{5, 7, 1})
	c.Reset()
	if err := send(c, "bob@remote.example", []string{"alice@example.test"}, plainMessage("lunch", "Lunch at noon tomorrow?")); err != nil {
		t.Fatal(err)
	}
	inbox := e.files("alice@example.test", "INBOX")
	if len(inbox) != 1 {
		t.Fatalf("clean message: inbox %v", inbox)
	}
	if got := e.read(inbox[0]); !strings.Contains(got, "X-Spamd-Result: default: False") || !strings.Contains(got, "X-Mailhost-Filter: mx.test; spam=no score=") {
		t.Fatalf("clean message lacks rspamd's headers:\n%s", got)
	}
}

// withAttachment is a message with one base64 attachment.
func withAttachment(name, ctype string, data []byte) string {
	return "From: Bob <bob@remote.example>\r\nTo: alice@example.test\r\nSubject: file\r\nMessage-ID: <" + name + "@remote.example>\r\n" +
		"Date: Thu, 03 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\nContent-Type: " + ctype + "; name=\"" + name + "\"\r\n" +
		"Content-Disposition: attachment; filename=\"" + name + "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(data) + "\r\n--b--\r\n"
}

func zipOf(name string, data []byte) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, _ := zw.Create(name)
	w.Write(data)
	zw.Close()
	return b.Bytes()
}

// TestClamavEicar: an EICAR attachment is refused at the MX, inside a
// ZIP archive too; on submission the refusal names the virus; a clean
// attachment passes.
func TestClamavEicar(t *testing.T) {
	clam := startClamav(t)
	e := newFilterEnv(t, contentfilter.Config{Milters: []*contentfilter.Milter{clam}})
	c := e.dial("")
	for _, msg := range []string{
		withAttachment("eicar.com.txt", "text/plain", []byte(eicar)),
		withAttachment("eicar.zip", "application/zip", zipOf("eicar.com", []byte(eicar))),
	} {
		err := send(c, "bob@remote.example", []string{"alice@example.test"}, msg)
		wantCode(t, err, 550, smtp.EnhancedCode{5, 7, 1})
		c.Reset()
	}
	if err := send(c, "bob@remote.example", []string{"alice@example.test"}, withAttachment("notes.txt", "text/plain", []byte("just notes"))); err != nil {
		t.Fatal(err)
	}
	if n := len(e.files("alice@example.test", "INBOX")); n != 1 {
		t.Fatalf("inbox has %d messages, want the clean one", n)
	}
}

func md5sum(s string) [16]byte { return md5.Sum([]byte(s)) }
