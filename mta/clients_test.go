package mta_test

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"mailhost/dnstest"
	"mailhost/mta"
	"mailhost/testsupport"
	"mailhost/tlscert"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func tlsConfig(t *testing.T) *tls.Config {
	t.Helper()
	dir := t.TempDir()
	cert, err := tlscert.Load(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), "mx.test", true, tlscert.Owner{})
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
}

var (
	maskQID  = regexp.MustCompile(`id [0-9A-F]{20}`)
	maskDate = regexp.MustCompile(`[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}`)
	maskMID  = regexp.MustCompile(`<\d{14}\.[0-9A-F]{20}@`)
	maskPort = regexp.MustCompile(`\[127\.0\.0\.1\]:\d+`)
)

// TestGoldenDeliveryHeaders checks the header lines added at delivery,
// plain and over STARTTLS, against testdata/*.golden (go test -update
// rewrites them).
func TestGoldenDeliveryHeaders(t *testing.T) {
	e := newEnv(t, func(c *mta.Config) { c.TLS = tlsConfig(t) })
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"plain", false}, {"starttls", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var c *smtp.Client
			if tc.tls {
				conn, err := net.Dial("tcp", e.addr)
				if err != nil {
					t.Fatal(err)
				}
				c, err = smtp.NewClientStartTLS(conn, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if err := c.Hello("client.example"); err != nil {
					t.Fatal(err)
				}
			} else {
				c = e.dial("")
			}
			before := len(e.files("alice@example.test", "INBOX"))
			if err := send(c, "bob@remote.example", []string{"alice@example.test"}, "Subject: golden\r\n\r\nbody\r\n"); err != nil {
				t.Fatal(err)
			}
			files := e.files("alice@example.test", "INBOX")
			if len(files) != before+1 {
				t.Fatalf("files %v", files)
			}
			var got string
			for _, f := range files {
				if s := e.read(f); !strings.Contains(s, "ESMTPS") == !tc.tls {
					got = s
				}
			}
			got = got[:strings.Index(got, "Subject: golden")]
			got = maskQID.ReplaceAllString(got, "id QUEUEID")
			got = maskDate.ReplaceAllString(got, "DATE")
			got = maskMID.ReplaceAllString(got, "<MSGID@")
			golden := filepath.Join("testdata", "headers-"+tc.name+".golden")
			if *update {
				os.MkdirAll("testdata", 0o755)
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("headers differ from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

func TestSwaks(t *testing.T) {
	swaks := testsupport.RequireTool(t, "swaks", "swaks")
	e := newEnv(t, func(c *mta.Config) { c.TLS = tlsConfig(t) })
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	host, port, _ := net.SplitHostPort(e.addr)
	run := func(args ...string) (string, error) {
		cmd := exec.Command(swaks, append([]string{"--server", host, "--port", port, "--helo", "swaks.example",
			"--from", "bob@remote.example", "--timeout", "20"}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("--to", "alice@example.test", "--tls", "--pipeline", "--body", "swaks body line")
	if err != nil || !strings.Contains(out, "<~  250 2.0.0 Ok: queued as ") {
		t.Fatalf("swaks STARTTLS+PIPELINING: %v\n%s", err, out)
	}
	files := e.files("alice@example.test", "INBOX")
	if len(files) != 1 {
		t.Fatalf("files %v", files)
	}
	got := e.read(files[0])
	if !strings.Contains(got, "swaks body line") || !strings.Contains(got, "with ESMTPS id") ||
		!strings.Contains(got, "(using TLSv1.") {
		t.Errorf("delivered:\n%s", got)
	}
	// Unknown user: refused at RCPT, swaks exits 24 ("RCPT failed").
	out, _ = run("--to", "nobody@example.test")
	if !strings.Contains(out, "<** 550 5.1.1") {
		t.Errorf("unknown user:\n%s", out)
	}
	// Relay from outside mynetworks.
	out, _ = run("--to", "victim@remote.example", "--local-interface", "127.0.0.2")
	if !strings.Contains(out, "<** 554 5.7.1") || !strings.Contains(out, "Relay access denied") {
		t.Errorf("relay:\n%s", out)
	}
}

func TestPythonSmtplib(t *testing.T) {
	py := testsupport.RequireTool(t, "python3", "python3")
	e := newEnv(t)
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	e.mailbox("bob@example.test", 50)
	e.exec(`UPDATE mailboxes SET used_bytes = 50 WHERE address = 'bob@example.test'`)
	host, port, _ := net.SplitHostPort(e.addr)
	script := fmt.Sprintf(`
import smtplib, sys
s = smtplib.SMTP(%q, %s, local_hostname="py.example", timeout=20)
code, caps = s.ehlo()
caps = caps.decode()
for cap in ["PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING", "SIZE 10240000"]:
    assert cap in caps, (cap, caps)
refused = s.sendmail("carol@remote.example", ["alice@example.test", "nobody@example.test", "bob@example.test"],
    b"Subject: py\r\n\r\nfrom python\r\n")
print(sorted((k, v[0]) for k, v in refused.items()))
try:
    s.sendmail("carol@remote.example", ["nobody@example.test"], b"x\r\n")
except smtplib.SMTPRecipientsRefused as e:
    print("refused", e.recipients["nobody@example.test"][0])
# SMTPUTF8 address and 8-bit body
s.sendmail("josé@remote.example", ["alice@example.test"], "Subject: ü\r\n\r\nnaïve\r\n".encode(), mail_options=["SMTPUTF8", "BODY=8BITMIME"])
s.quit()
`, host, port)
	out, err := exec.Command(py, "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	if want := "[('bob@example.test', 452), ('nobody@example.test', 550)]\nrefused 550\n"; string(out) != want {
		t.Errorf("python said %q, want %q", out, want)
	}
	files := e.files("alice@example.test", "INBOX")
	if len(files) != 2 {
		t.Fatalf("alice files %v", files)
	}
	all := e.read(files[0]) + e.read(files[1])
	if !strings.Contains(all, "from python") || !strings.Contains(all, "naïve") || !strings.Contains(all, "Return-Path: <josé@remote.example>") ||
		!strings.Contains(all, "with UTF8SMTP id") {
		t.Errorf("delivered:\n%s", all)
	}
}

// TestChunking sends with BDAT (RFC 3030), which the go-smtp client does
// not speak, on a raw connection.
func TestChunking(t *testing.T) {
	e := newEnv(t)
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	conn, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	chunk1 := "Subject: bdat\r\n\r\nfirst "
	chunk2 := "second\r\n"
	fmt.Fprintf(conn, "EHLO c\r\nMAIL FROM:<b@r.example>\r\nRCPT TO:<alice@example.test>\r\nBDAT %d\r\n%sBDAT %d LAST\r\n%sQUIT\r\n",
		len(chunk1), chunk1, len(chunk2), chunk2)
	buf := make([]byte, 4096)
	var out string
	for !strings.Contains(out, "221 ") {
		n, err := conn.Read(buf)
		out += string(buf[:n])
		if err != nil {
			break
		}
	}
	if !strings.Contains(out, "250 2.0.0 Ok: "+fmt.Sprint(len(chunk1))+" bytes\r\n") || !strings.Contains(out, "250 2.0.0 Ok: queued as ") {
		t.Errorf("replies:\n%s", out)
	}
	files := e.files("alice@example.test", "INBOX")
	if len(files) != 1 || !strings.Contains(e.read(files[0]), "first second\r\n") {
		t.Errorf("files %v", files)
	}
}

// TestOpenRelay tries every relay trick from outside mynetworks: all are
// refused and nothing is queued.
func TestOpenRelay(t *testing.T) {
	e := newEnv(t)
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	for _, to := range []string{
		"victim@remote.example",
		"victim@remote.example@example.test",
		"victim%remote.example@example.test",
		`"victim@remote.example"@example.test`,
		`"victim%remote.example"@example.test`,
		"@example.test:victim@remote.example",
		"@example.test,@other.example:victim@remote.example",
		"victim@[192.0.2.1]",
		"victim@[127.0.0.1]",
		"victim@[IPv6:::1]",
		"remote.example!victim@example.test",
		"victim@remote.example.",
		"victim@example.test.remote.example",
		"VICTIM@REMOTE.EXAMPLE",
	} {
		t.Run(to, func(t *testing.T) {
			c := e.dial("127.0.0.2")
			if err := c.Mail("spammer@remote.example", nil); err != nil {
				t.Fatal(err)
			}
			err := c.Rcpt(to, nil)
			if err == nil {
				t.Fatalf("RCPT %s accepted", to)
			}
			var se *smtp.SMTPError
			if c, _, _ := code(err); c/100 != 5 && !strings.Contains(fmt.Sprint(err), "501") {
				t.Errorf("RCPT %s: %v (%v), want a permanent refusal", to, err, se)
			}
		})
	}
	if q := e.queue(); len(q) != 0 {
		t.Errorf("queued: %+v", q)
	}
}

// TestDNSBLOncePerConnection: the block list is asked once per connection,
// whatever the transactions and the sessions (STARTTLS starts a new one).
func TestDNSBLOncePerConnection(t *testing.T) {
	bl := dnstest.Start(t) // lists nobody
	e := newEnv(t, func(c *mta.Config) {
		c.TLS = tlsConfig(t)
		c.DNSBL = []string{"bl.test"}
		c.DNS = resolverOf(t, bl)
	})
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	for conn := 1; conn <= 2; conn++ {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
		nc, err := d.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		c, err := smtp.NewClientStartTLS(nc, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Hello("client.example"); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			if err := send(c, "bob@remote.example", []string{"alice@example.test"}, testMsg); err != nil {
				t.Fatal(err)
			}
		}
		c.Close()
		if n := bl.Queries(); n != conn {
			t.Errorf("after %d connections: %d DNSBL lookups", conn, n)
		}
	}
}
