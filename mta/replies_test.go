package mta_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"mailhost/mta"
)

// rawSession sends script at once from 127.0.0.2 (outside mynetworks),
// half-closes and returns every reply line the server sent.
func rawSession(t *testing.T, addr string, script ...string) []string {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c, strings.Join(script, "\r\n")+"\r\n")
	c.(*net.TCPConn).CloseWrite()
	b, _ := io.ReadAll(c)
	return strings.Split(strings.TrimSuffix(string(b), "\r\n"), "\r\n")
}

// withoutEHLO drops the greeting and the EHLO reply's lines.
func withoutEHLO(t *testing.T, lines []string) []string {
	t.Helper()
	if len(lines) < 2 || lines[0] != "220 mx.test ESMTP mailhost" || lines[1] != "250-mx.test" {
		t.Fatalf("greeting and EHLO: %q", lines)
	}
	for i, l := range lines[1:] {
		if strings.HasPrefix(l, "250 ") {
			return lines[i+2:]
		}
	}
	t.Fatalf("no end of the EHLO reply: %q", lines)
	return nil
}

func checkReplies(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("replies\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		return
	}
	for i := range want {
		if got[i] != want[i] && !(strings.HasSuffix(want[i], "*") && strings.HasPrefix(got[i], strings.TrimSuffix(want[i], "*"))) {
			t.Errorf("reply %d: %q, want %q", i, got[i], want[i])
		}
	}
}

// TestPostfixReplies: the MX server's replies are worded as Postfix's
// (issue 17), the greeting and EHLO name the host, and the protocol's own
// refusals are logged with the client, the reason and, at MAIL, the
// sender.
func TestPostfixReplies(t *testing.T) {
	e := newEnv(t, func(c *mta.Config) { c.MaxRecipients = 2; c.MaxMessageBytes = 1000 })
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	e.mailbox("bob@example.test", 0)
	e.mailbox("carol@example.test", 0)
	got := rawSession(t, e.addr,
		"EHLO client.example",
		"RCPT TO:<alice@example.test>",
		"DATA",
		"MAIL FROM:<sender@remote.example>",
		"MAIL FROM:<sender@remote.example>",
		"RCPT TO:<alice@example.test>",
		"RCPT TO:<bob@example.test>",
		"RCPT TO:<carol@example.test>",
		"DATA",
		"Subject: hi", "", ".dot-stuffed", ".",
		"RSET",
		"NOOP",
		"HELP",
		"VRFY alice",
		"MAIL sender@remote.example",
		"MAIL FROM:<big@remote.example> SIZE=1001",
		"MAIL FROM:<sender@remote.example>",
		"RCPT TO:alice@example.test",
		"DATA",
		strings.Repeat("x", 600), strings.Repeat("y", 600), ".",
		"HELO client.example",
		"QUIT")
	checkReplies(t, withoutEHLO(t, got), []string{
		"503 5.5.1 Error: need MAIL command",
		"503 5.5.1 Error: need RCPT command",
		"250 2.1.0 Ok",
		"503 5.5.1 Error: nested MAIL command",
		"250 2.1.5 Ok",
		"250 2.1.5 Ok",
		"452 4.5.3 Error: too many recipients",
		"354 End data with <CR><LF>.<CR><LF>",
		"250 2.0.0 Ok: queued as *",
		"250 2.0.0 Ok",
		"250 2.0.0 Ok",
		"500 5.5.2 Error: command not recognized",
		"252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery",
		"501 5.5.4 Syntax: MAIL FROM:<address>",
		"552 5.3.4 Message size exceeds fixed limit",
		"250 2.1.0 Ok",
		"250 2.1.5 Ok",
		"354 End data with <CR><LF>.<CR><LF>",
		"552 5.3.4 Message size exceeds fixed limit",
		"250 mx.test",
		"221 2.0.0 Bye",
	})
	if f := e.files("alice@example.test", "INBOX"); len(f) != 1 || !strings.Contains(e.read(f[0]), "\r\n\r\ndot-stuffed\r\n") {
		t.Errorf("delivered %v", f)
	}

	// Every refusal is logged with the client and the reason; the size
	// refusals with the sender too.
	type key struct{ stage, reason string }
	logged := map[key]map[string]any{}
	for _, l := range e.logs.lines("reject") {
		if l["client"] != "127.0.0.2" || l["code"] == nil {
			t.Errorf("reject line without client or code: %v", l)
		}
		logged[key{fmt.Sprint(l["stage"]), fmt.Sprint(l["reason"])}] = l
	}
	for _, k := range []key{{"RCPT", "bad_sequence"}, {"DATA", "bad_sequence"}, {"MAIL", "nested_mail"},
		{"RCPT", "too_many_recipients"}, {"HELP", "unknown_command"}, {"MAIL", "bad_syntax"}, {"MAIL", "size"}, {"DATA", "size"}} {
		if logged[k] == nil {
			t.Errorf("no reject line for %v in %v", k, logged)
		}
	}
	if l := logged[key{"MAIL", "size"}]; l != nil && (l["from"] != "big@remote.example" || l["code"] != float64(552)) {
		t.Errorf("SIZE refusal logged as %v", l)
	}
	if l := logged[key{"DATA", "size"}]; l != nil && (l["from"] != "sender@remote.example" || l["code"] != float64(552)) {
		t.Errorf("DATA size refusal logged as %v", l)
	}
	checkNoRepeatedKeys(t, e)
}

// TestBDATSizeLogged: a BDAT chunk over the size limit is refused and
// logged, and the client may start again.
func TestBDATSizeLogged(t *testing.T) {
	e := newEnv(t, func(c *mta.Config) { c.MaxMessageBytes = 100 })
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	got := rawSession(t, e.addr, "EHLO client.example", "MAIL FROM:<s@remote.example>", "RCPT TO:<alice@example.test>",
		"BDAT 101 LAST", strings.Repeat("z", 99), "RCPT TO:<alice@example.test>", "QUIT")
	checkReplies(t, withoutEHLO(t, got), []string{"250 2.1.0 Ok", "250 2.1.5 Ok",
		"552 5.3.4 Message size exceeds fixed limit", "503 5.5.1 Error: need MAIL command", "221 2.0.0 Bye"})
	rej := e.logs.lines("reject")
	if len(rej) != 2 || rej[0]["stage"] != "BDAT" || rej[0]["reason"] != "size" || rej[0]["client"] != "127.0.0.2" {
		t.Errorf("reject lines %v", rej)
	}
}

// TestSequenceOnSubmission: AUTH's replies as Postfix's, and no log line
// names a key twice once the session knows its user.
func TestSequenceOnSubmission(t *testing.T) {
	e := newSubEnv(t)
	got := rawSession(t, e.addr, "EHLO laptop", "MAIL FROM:<alice@example.test>", "AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=",
		"AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=", "MAIL FROM:<alice@example.test>", "AUTH PLAIN", "RCPT TO:<bob@example.test>",
		"DATA", "From: alice@example.test", "", "hi", ".", "QUIT")
	checkReplies(t, withoutEHLO(t, got), []string{
		"530 5.7.0 Authentication required",
		"235 2.7.0 Authentication successful",
		"503 5.5.1 Error: already authenticated",
		"250 2.1.0 Ok",
		"503 5.5.1 Error: already authenticated",
		"250 2.1.5 Ok",
		"354 End data with <CR><LF>.<CR><LF>",
		"250 2.0.0 Ok: queued as *",
		"221 2.0.0 Bye",
	})
	checkNoRepeatedKeys(t, e)
}

// checkNoRepeatedKeys fails for a log line that names a key twice (a
// With attribute given again, say): readers keep one of them at random.
func checkNoRepeatedKeys(t *testing.T, e *env) {
	t.Helper()
	for _, line := range strings.Split(e.logs.all(), "\n") {
		if line == "" {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(line))
		dec.Token() // {
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			k := tok.(string)
			if seen[k] {
				t.Errorf("key %q twice in %s", k, line)
			}
			seen[k] = true
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
		}
	}
}
