package mta_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailhost/mta"
	"mailhost/testsupport"
)

// smtpSink runs Postfix's smtp-sink on loopback, dumping each message
// into a file of dir.
func smtpSink(t *testing.T) (port int, dir string) {
	t.Helper()
	path := testsupport.RequireTool(t, "/usr/sbin/smtp-sink", "postfix")
	// Not under t.TempDir(), whose parent is private: smtp-sink drops to
	// nobody when run as root.
	dir, err := os.MkdirTemp("", "smtp-sink")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	args := []string{"-d", filepath.Join(dir, "%Y%m%d%H%M%S."), "127.0.0.1:" + strconv.Itoa(port), "64"}
	if os.Geteuid() == 0 {
		args = append([]string{"-u", "nobody"}, args...)
	}
	cmd := exec.Command(path, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	testsupport.Eventually(t, 30*time.Second, "smtp-sink to accept connections", func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return port, dir
}

// Through a relayhost: Postfix's smtp-sink takes the message; the MX of
// the recipient domain is never asked. Without AUTH: a relay host password
// goes out only over verified TLS, which smtp-sink does not offer
// (TestOutboundRelayAuthOnlyOverVerifiedTLS has a relay host with AUTH).
func TestOutboundRelayhostSmtpSink(t *testing.T) {
	e, z, _ := outEnv(t)
	port, dir := smtpSink(t)
	id := e.enqueue("alice@example.test", "x@nowhere.example", "y@elsewhere.example")
	e.startOutbound(z, 1, "node-a", func(c *mta.OutboundConfig) {
		c.Relayhost = "[127.0.0.1]:" + strconv.Itoa(port)
	})
	waitFor(t, "the queue to drain", func() bool { return e.queueLen() == 0 })
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 1 {
		t.Fatalf("smtp-sink got %d transactions, want 1 for both recipients", len(files))
	}
	b, _ := os.ReadFile(files[0])
	for _, want := range []string{"x@nowhere.example", "y@elsewhere.example", "Subject: out"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("smtp-sink dump lacks %q:\n%s", want, b)
		}
	}
	_ = id
}

// The first MX host refuses connections; the second, Postfix's smtp-sink,
// takes the message.
func TestOutboundNextMXSmtpSink(t *testing.T) {
	e, z, _ := outEnv(t)
	port, dir := smtpSink(t)
	z.Add(t, "multi.example. 60 IN MX 10 down.multi.example.")
	z.Add(t, "multi.example. 60 IN MX 20 up.multi.example.")
	z.Add(t, "down.multi.example. 60 IN A 127.0.0.2") // nothing listens there
	z.Add(t, "up.multi.example. 60 IN A 127.0.0.1")
	e.enqueue("alice@example.test", "u@multi.example")
	e.startOutbound(z, port, "node-a")
	waitFor(t, "the queue to drain", func() bool { return e.queueLen() == 0 })
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 1 {
		t.Fatalf("smtp-sink got %d transactions", len(files))
	}
	if l := e.logs.lines("delivered"); len(l) != 1 || l[0]["relay"] != "up.multi.example" {
		t.Fatalf("delivered log lines: %v", l)
	}
}
