package mta_test

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"mailhost/mta"
)

// TestSubmissionSenderFields: Sender: and Resent-From: name who sent a
// message as much as From: does (RFC 5322 3.6.2, 3.6.6), so every address
// in them must be the user's too, also when written "Sender :".
func TestSubmissionSenderFields(t *testing.T) {
	e := newSubEnv(t)
	c := e.dialSub(t)
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.test", "secret")); err != nil {
		t.Fatal(err)
	}
	const from = "From: alice@example.test\r\n"
	const rest = "To: bob@example.test\r\nSubject: hi\r\n\r\nSender: a body line is not a field\r\n"
	for _, tc := range []struct {
		name, header string
		ok           bool
	}{
		{"Sender hers", "Sender: sales@example.test\r\n", true},
		{"Resent-From hers", "Resent-From: Alice <alice@example.test>\r\n", true},
		{"Sender not hers", "Sender: bob@example.test\r\n", false},
		{"Sender with a space, not hers", "Sender : bob@example.test\r\n", false},
		{"Resent-From not hers", "Resent-From: carol@other.test\r\n", false},
		{"Resent-From one of two not hers", "Resent-From: alice@example.test, carol@other.test\r\n", false},
		{"second Resent-From not hers", "Resent-From: alice@example.test\r\nResent-From: bob@example.test\r\n", false},
		{"Sender not an address", "Sender: bob\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.files("bob@example.test", "INBOX")
			err := send(c, "alice@example.test", []string{"bob@example.test"}, from+tc.header+rest)
			if !tc.ok {
				wantCode(t, err, 553, smtp.EnhancedCode{5, 7, 1})
				c.Reset()
				if n := len(e.files("bob@example.test", "INBOX")); n != len(before) {
					t.Fatalf("refused message delivered")
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			for _, f := range e.files("bob@example.test", "INBOX") {
				if !slices.Contains(before, f) && !strings.Contains(e.read(f), tc.header) {
					t.Fatalf("delivered message lacks %q", tc.header)
				}
			}
		})
	}
}

// TestRoutingInLocalPart: "%" and "!" in a local part ask the receiving
// host to relay on (RFC 1123 5.2.16, bang paths); from a client outside
// mynetworks they are refused for hosted and relay domains alike, as
// Postfix does with allow_untrusted_routing = no, also after AUTH.
func TestRoutingInLocalPart(t *testing.T) {
	routed := []string{
		"victim%external.example@relay.test",
		"external.example!victim@relay.test",
		`"victim%external.example"@relay.test`,
		"victim%external.example@example.test",
		"external.example!victim@example.test",
	}
	t.Run("MX", func(t *testing.T) {
		e := newEnv(t)
		e.domain("example.test")
		e.mailbox("alice@example.test", 0)
		e.alias("@example.test", "alice@example.test") // a catch-all would take anything
		e.relayDomain("relay.test", "[192.0.2.1]:25")
		for _, to := range routed {
			c := e.dial("127.0.0.2")
			if err := c.Mail("someone@remote.example", nil); err != nil {
				t.Fatal(err)
			}
			wantCode(t, c.Rcpt(to, nil), 550, smtp.EnhancedCode{5, 7, 1})
		}
		// mynetworks may route; a plain relay recipient still works.
		c := e.dial("127.0.0.1")
		if err := send(c, "me@example.test", []string{routed[0]}, testMsg); err != nil {
			t.Fatalf("mynetworks: %v", err)
		}
		c = e.dial("127.0.0.2")
		if err := send(c, "someone@remote.example", []string{"victim@relay.test"}, testMsg); err != nil {
			t.Fatalf("plain relay recipient: %v", err)
		}
		q := e.queue()
		if len(q) != 2 || q[0].recipient != routed[0] || q[1].recipient != "victim@relay.test" {
			t.Fatalf("queue = %+v", q)
		}
	})
	t.Run("submission", func(t *testing.T) {
		e := newSubEnv(t, func(c *mta.Config) { c.Mynetworks = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")} })
		e.relayDomain("relay.test", "[192.0.2.1]:25")
		c := e.dialSub(t)
		if err := c.Auth(sasl.NewPlainClient("", "alice@example.test", "secret")); err != nil {
			t.Fatal(err)
		}
		for _, to := range routed {
			if err := c.Mail("alice@example.test", nil); err != nil {
				t.Fatal(err)
			}
			wantCode(t, c.Rcpt(to, nil), 550, smtp.EnhancedCode{5, 7, 1})
			c.Reset()
		}
		if q := e.queue(); len(q) != 0 {
			t.Fatalf("queued: %+v", q)
		}
	})
}

// lineClient is a line-level client, for what go-smtp's client would not
// send or would hide.
type lineClient struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialLineClient(t *testing.T, addr string) *lineClient {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &lineClient{t: t, c: c, br: bufio.NewReader(c)}
	r.reply() // greeting
	return r
}

// cmd sends a line and returns the reply's lines; an error (the server
// closed the connection) ends the reply.
func (r *lineClient) cmd(line string) []string {
	r.t.Helper()
	r.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(r.c, "%s\r\n", line); err != nil {
		return nil
	}
	return r.reply()
}

func (r *lineClient) reply() []string {
	var out []string
	for {
		l, err := r.br.ReadString('\n')
		if err != nil {
			return out
		}
		out = append(out, l)
		if len(l) < 4 || l[3] != '-' {
			return out
		}
	}
}

func hasControl(lines []string) bool {
	for _, l := range lines {
		for _, b := range []byte(strings.TrimSuffix(l, "\r\n")) {
			if b < 0x20 || b == 0x7f {
				return true
			}
		}
	}
	return false
}

// TestHeloControlCharacters: a HELO/EHLO argument with control characters
// is refused (501), never echoed into the reply, whether first or
// repeated.
func TestHeloControlCharacters(t *testing.T) {
	e := newEnv(t)
	for _, bad := range []string{"evil\x1b[2Jhost", "a\x00b", "a\tb", "x\x7f"} {
		for _, verb := range []string{"EHLO", "HELO"} {
			r := dialLineClient(t, e.addr)
			got := r.cmd(verb + " " + bad)
			if hasControl(got) || len(got) == 0 || !strings.HasPrefix(got[0], "501 ") {
				t.Errorf("%s %q: %q, want 501 without the control characters", verb, bad, got)
			}
			// A good name afterwards still works.
			if got := r.cmd("EHLO client.example"); len(got) == 0 || !strings.HasPrefix(got[0], "250") {
				t.Errorf("EHLO after the refusal: %q", got)
			}
			// Repeated EHLO in the same session.
			got = r.cmd(verb + " " + bad)
			if hasControl(got) || (len(got) > 0 && !strings.HasPrefix(got[0], "501 ")) {
				t.Errorf("repeated %s %q: %q, want 501 (or the connection closed) without the control characters", verb, bad, got)
			}
		}
	}
}

// TestNestedMail: RFC 5321 4.1.4: MAIL inside a transaction is a bad
// sequence of commands (503 5.5.1); the transaction in progress stays.
func TestNestedMail(t *testing.T) {
	e := newEnv(t)
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	e.mailbox("bob@example.test", 0)
	c := e.dial("127.0.0.2")
	if err := c.Mail("first@remote.example", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("alice@example.test", nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Mail("second@remote.example", nil), 503, smtp.EnhancedCode{5, 5, 1})
	if err := c.Rcpt("bob@example.test", nil); err != nil {
		t.Fatalf("RCPT after the refused MAIL: %v", err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(w, testMsg)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"alice@example.test", "bob@example.test"} {
		f := e.files(who, "INBOX")
		if len(f) != 1 || !strings.Contains(e.read(f[0]), "Return-Path: <first@remote.example>") {
			t.Fatalf("%s: %d messages, want one from the first MAIL", who, len(f))
		}
	}
	// After the transaction (and after RSET) MAIL starts a new one.
	if err := c.Mail("third@remote.example", nil); err != nil {
		t.Fatalf("MAIL after DATA: %v", err)
	}
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("fourth@remote.example", nil); err != nil {
		t.Fatalf("MAIL after RSET: %v", err)
	}
}

// TestBarePostmaster: RFC 5321 4.1.1.3 and 4.5.1: "RCPT TO:<Postmaster>"
// without a domain must be accepted. It is postmaster@ the server's
// hostname, or of the domain above it (Postfix's mydomain), whichever is
// served here.
func TestBarePostmaster(t *testing.T) {
	e := newEnv(t, func(c *mta.Config) { c.Hostname = "mx.example.test" })
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	e.alias("postmaster@example.test", "alice@example.test")
	for _, to := range []string{"postmaster", "Postmaster", "POSTMASTER"} {
		c := e.dial("127.0.0.2")
		if err := send(c, "someone@remote.example", []string{to}, testMsg); err != nil {
			t.Fatalf("RCPT TO:<%s>: %v", to, err)
		}
	}
	if n := len(e.files("alice@example.test", "INBOX")); n != 3 {
		t.Fatalf("postmaster's mailbox has %d messages, want 3", n)
	}
	// Other local parts still need a domain.
	c := e.dial("127.0.0.2")
	if err := c.Mail("someone@remote.example", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("alice", nil); err == nil {
		t.Fatal("RCPT TO:<alice> accepted")
	}
}
