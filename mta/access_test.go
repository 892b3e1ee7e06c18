package mta_test

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"mailhost/dnstest"
	"mailhost/mta"
)

// TestAccessActions: every access(5) action the admin service writes has
// the reply or the effect a Postfix admin expects.
func TestAccessActions(t *testing.T) {
	bl := dnstest.Start(t)
	for i := range 16 { // every 127.0.1.x the test uses is listed
		bl.Add(t, fmt.Sprintf("%d.1.0.127.bl.test. 60 IN A 127.0.0.2", i))
	}
	e := newEnv(t, func(c *mta.Config) {
		c.DNSBL = []string{"bl.test"}
		c.DNS = resolverOf(t, bl)
	})
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	e.mailbox("bob@example.test", 0)
	e.mailbox("carol@example.test", 0)
	e.exec(`INSERT INTO access_rules (kind, pattern, action) VALUES
		('client', '127.0.1.0/24', 'REJECT go away'),
		('client', '127.0.1.2', 'OK'),
		('client', '127.0.1.3', 'DUNNO'),
		('client', '127.0.1.4', 'DEFER'),
		('client', '127.0.1.5', 'DEFER 4.7.2 greylisted, try later'),
		('client', '127.0.1.6', '550 5.7.28 listed'),
		('helo', 'localhost', 'REJECT'),
		('sender', 'spam.example', 'REJECT 5.7.0 no spam please'),
		('sender', 'held@remote.example', 'HOLD check this sender'),
		('recipient', 'bob@example.test', 'DEFER mailbox moving'),
		('recipient', 'alice@example.test', 'HOLD review'),
		('recipient', 'ghost@example.test', 'HOLD no such user')`)

	for _, tc := range []struct {
		client string
		code   int
		ec     smtp.EnhancedCode
		text   string
	}{
		{"127.0.1.9", 554, smtp.EnhancedCode{5, 7, 1}, "<127.0.1.9>: Client host rejected: go away"}, // the network's rule
		// DUNNO: as if no rule matched, not even the network's (unlike OK,
		// the DNS block list still applies).
		{"127.0.1.3", 554, smtp.EnhancedCode{5, 7, 1}, "Client host [127.0.1.3] blocked using bl.test"},
		{"127.0.1.4", 450, smtp.EnhancedCode{4, 7, 1}, "<127.0.1.4>: Client host rejected: Access denied"},
		{"127.0.1.5", 450, smtp.EnhancedCode{4, 7, 2}, "Client host rejected: greylisted, try later"},
		{"127.0.1.6", 550, smtp.EnhancedCode{5, 7, 28}, "Client host rejected: listed"},
	} {
		t.Run(tc.client, func(t *testing.T) {
			err := e.dial(tc.client).Mail("x@remote.example", nil)
			wantCode(t, err, tc.code, tc.ec)
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("reply %q lacks %q", err, tc.text)
			}
		})
	}

	// The client's OK skips the later rules (HELO, sender, recipient) and
	// the DNS block list, which lists every 127.0.1.x.
	c := e.dialHelo("127.0.1.2", "localhost")
	if err := c.Mail("a@spam.example", nil); err != nil {
		t.Fatalf("client OK, yet MAIL: %v", err)
	}
	if err := c.Rcpt("bob@example.test", nil); err != nil {
		t.Fatalf("client OK, yet RCPT: %v", err)
	}
	wantCode(t, c.Rcpt("nobody@example.test", nil), 550, smtp.EnhancedCode{5, 1, 1}) // never past the server's own checks

	// From mynetworks (no client rule, no block list): the HELO and
	// sender rules apply, then the recipient rules.
	c = e.dialHelo("", "localhost")
	wantCode(t, c.Mail("x@remote.example", nil), 554, smtp.EnhancedCode{5, 7, 1})
	c = e.dial("")
	err := c.Mail("x@mx.spam.example", nil)
	wantCode(t, err, 554, smtp.EnhancedCode{5, 7, 0})
	if !strings.Contains(err.Error(), "<x@mx.spam.example>: Sender address rejected: no spam please") {
		t.Errorf("sender reply: %v", err)
	}
	if err := c.Mail("x@remote.example", nil); err != nil {
		t.Fatal(err)
	}
	err = c.Rcpt("bob@example.test", nil)
	wantCode(t, err, 450, smtp.EnhancedCode{4, 7, 1})
	if !strings.Contains(err.Error(), "<bob@example.test>: Recipient address rejected: mailbox moving") {
		t.Errorf("recipient reply: %v", err)
	}
	c.Reset()

	// HOLD, of the sender or of a recipient: accepted with 250, nothing
	// delivered, the message waits in the queue on hold for every
	// recipient.
	e.alias("team@example.test", "alice@example.test", "far@remote.example")
	for _, m := range []struct{ from, to string }{
		{"held@remote.example", "team@example.test"},
		{"x@remote.example", "alice@example.test"},
	} {
		if err := send(c, m.from, []string{m.to}, testMsg); err != nil {
			t.Fatalf("HOLD %s -> %s: %v", m.from, m.to, err)
		}
	}
	if n := len(e.files("alice@example.test", "INBOX")); n != 0 {
		t.Errorf("a held message was delivered: %d files", n)
	}
	var held, rcpts int
	e.scalar(&held, `SELECT count(*) FROM queue WHERE hold`)
	e.scalar(&rcpts, `SELECT count(*) FROM queue_recipients r JOIN queue q ON q.id = r.queue_id
		WHERE q.hold AND r.recipient IN ('team@example.test', 'alice@example.test')`)
	if held != 2 || rcpts != 2 {
		t.Errorf("%d messages on hold with %d recipients, want 2 and 2", held, rcpts)
	}
	// The HOLD of a recipient refused later (no such user) holds nothing.
	if err := c.Mail("x@remote.example", nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Rcpt("ghost@example.test", nil), 550, smtp.EnhancedCode{5, 1, 1})
	if err := c.Rcpt("carol@example.test", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, testMsg); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(e.files("carol@example.test", "INBOX")); n != 1 {
		t.Errorf("carol has %d messages, want 1: a refused recipient's HOLD held the message", n)
	}
	if l := e.logs.lines("hold"); len(l) != 2 || l[0]["rule"] != "sender held@remote.example" || l[1]["rule"] != "recipient alice@example.test" {
		t.Errorf("hold log lines: %v", l)
	}
}
