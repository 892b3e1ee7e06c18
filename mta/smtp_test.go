package mta_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"mailhost/dnstest"
	"mailhost/mta"
)

func TestDeliverToMailbox(t *testing.T) {
	e := newEnv(t)
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)

	c := e.dial("")
	if err := send(c, "bob@remote.example", []string{"Alice@Example.TEST"}, testMsg); err != nil {
		t.Fatal(err)
	}
	files := e.files("alice@example.test", "INBOX")
	if len(files) != 1 {
		t.Fatalf("files %v, want 1", files)
	}
	got := e.read(files[0])
	for _, want := range []string{"Return-Path: <bob@remote.example>\r\nDelivered-To: alice@example.test\r\nReceived: from client.example ([127.0.0.1])\r\n",
		"\tby mx.test (mailhost) with ESMTP id ", "\tfor <Alice@Example.TEST>; ", testMsg} {
		if !strings.Contains(got, want) {
			t.Errorf("message lacks %q:\n%s", want, got)
		}
	}
	fi, _ := os.Stat(files[0])
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if n := e.indexed("alice@example.test", "INBOX"); n != 1 {
		t.Errorf("index rows %d, want 1", n)
	}
	b, m := e.usage("alice@example.test")
	if b != fi.Size() || m != 1 {
		t.Errorf("usage %d bytes %d msgs, want %d, 1", b, m, fi.Size())
	}
	var uid, size int64
	var key, name string
	e.scalar(&uid, `SELECT uid FROM messages`)
	e.scalar(&size, `SELECT size FROM messages`)
	e.scalar(&key, `SELECT key FROM messages`)
	e.scalar(&name, `SELECT filename FROM messages`)
	if uid != 1 || size != fi.Size() || key != name || !strings.HasSuffix(files[0], "/"+key) ||
		!strings.Contains(key, fmt.Sprintf(",S=%d", fi.Size())) {
		t.Errorf("index row uid %d size %d key %q, file %s", uid, size, key, files[0])
	}
	// A second message takes the next UID.
	if err := send(c, "bob@remote.example", []string{"alice@example.test"}, testMsg); err != nil {
		t.Fatal(err)
	}
	var maxUID, uidnext int64
	e.scalar(&maxUID, `SELECT max(uid) FROM messages`)
	e.scalar(&uidnext, `SELECT uidnext FROM folders WHERE name = 'INBOX'`)
	if maxUID != 2 || uidnext != 3 {
		t.Errorf("max uid %d uidnext %d, want 2, 3", maxUID, uidnext)
	}
}

func TestRecipientRules(t *testing.T) {
	e := newEnv(t)
	e.domain("example.test")
	e.domain("off.test")
	e.exec(`UPDATE domains SET active = false WHERE name = 'off.test'`)
	e.mailbox("alice@example.test", 0)
	e.mailbox("gone@example.test", 0)
	e.exec(`UPDATE mailboxes SET active = false WHERE address = 'gone@example.test'`)
	e.mailbox("x@off.test", 0)
	e.mailbox("full@example.test", 100)
	e.exec(`UPDATE mailboxes SET used_bytes = 100 WHERE address = 'full@example.test'`)
	e.mailbox("small@example.test", 1000)
	e.exec(`INSERT INTO relocated (address, new_address) VALUES ('old@example.test', 'new@elsewhere.example')`)
	e.relayDomain("backup.test", "[10.0.0.1]:25")

	for _, tc := range []struct {
		from, to string
		code     int
		ec       smtp.EnhancedCode
	}{
		{"", "alice@example.test", 250, smtp.EnhancedCode{2, 0, 0}},
		{"", "nobody@example.test", 550, smtp.EnhancedCode{5, 1, 1}},
		{"", "gone@example.test", 550, smtp.EnhancedCode{5, 2, 1}},
		{"", "x@off.test", 550, smtp.EnhancedCode{5, 2, 1}},
		{"", "old@example.test", 551, smtp.EnhancedCode{5, 1, 6}},
		{"", "full@example.test", 452, smtp.EnhancedCode{4, 2, 2}},
		{"", "anyone@backup.test", 250, smtp.EnhancedCode{2, 0, 0}},
		{"127.0.0.2", "someone@remote.example", 554, smtp.EnhancedCode{5, 7, 1}},
		{"127.0.0.2", "alice@example.test", 250, smtp.EnhancedCode{2, 0, 0}},
		{"", "someone@remote.example", 250, smtp.EnhancedCode{2, 0, 0}}, // mynetworks may relay
		{"", "a..b@example.test", 501, smtp.EnhancedCode{5, 1, 3}},
	} {
		t.Run(tc.from+"->"+tc.to, func(t *testing.T) {
			c := e.dial(tc.from)
			if err := c.Mail("bob@remote.example", nil); err != nil {
				t.Fatal(err)
			}
			err := c.Rcpt(tc.to, nil)
			wantCode(t, err, tc.code, tc.ec)
			if tc.code == 551 && !strings.Contains(err.Error(), "new@elsewhere.example") {
				t.Errorf("551 without the new address: %v", err)
			}
			if tc.code == 554 && !strings.Contains(err.Error(), "Relay access denied") {
				t.Errorf("554 text: %v", err)
			}
		})
	}
	t.Run("SIZE larger than the quota", func(t *testing.T) {
		c := e.dial("")
		if err := c.Mail("bob@remote.example", &smtp.MailOptions{Size: 5000}); err != nil {
			t.Fatal(err)
		}
		wantCode(t, c.Rcpt("small@example.test", nil), 552, smtp.EnhancedCode{5, 2, 2})
	})
}

func TestAliasesAndDelimiter(t *testing.T) {
	e := newEnv(t)
	e.domain("example.test")
	e.exec(`INSERT INTO alias_domains (alias_domain, target_domain_id) SELECT 'example.net', id FROM domains WHERE name = 'example.test'`)
	e.mailbox("alice@example.test", 0)
	e.mailbox("bob@example.test", 0)
	e.mailbox("carol@example.test", 0)
	e.mailbox("postmaster@example.test", 0)
	e.alias("team@example.test", "alice@example.test", "bob@example.test", "friend@remote.example")
	e.alias("all@example.test", "team@example.test", "alice@example.test", "loop@example.test")
	e.alias("loop@example.test", "all@example.test")
	e.alias("@example.test", "postmaster@example.test")
	e.exec(`INSERT INTO forwardings (mailbox_id, destinations, keep_copy) SELECT id, '{carol@far.example}', true FROM mailboxes WHERE address = 'carol@example.test'`)
	e.folder("alice@example.test", "news")

	c := e.dial("127.0.0.2")
	// all -> team -> alice, bob, friend@remote; all -> alice (again); loop -> all (loop).
	// Also alice directly: still one copy each.
	if err := send(c, "sender@remote.example", []string{"all@example.test", "alice@example.net"}, testMsg); err != nil {
		t.Fatal(err)
	}
	if n := len(e.files("alice@example.test", "INBOX")); n != 1 {
		t.Errorf("alice has %d, want 1", n)
	}
	if n := len(e.files("bob@example.test", "INBOX")); n != 1 {
		t.Errorf("bob has %d, want 1", n)
	}
	q := e.queue()
	if len(q) != 1 || q[0].recipient != "friend@remote.example" || q[0].origin != "forward" || q[0].sender != "sender@remote.example" {
		t.Errorf("queue %+v, want friend@remote.example (forward)", q)
	}
	if !strings.Contains(q[0].body, "Received: from client.example ([127.0.0.2])") || strings.Contains(q[0].body, "Delivered-To:") {
		t.Errorf("queued body:\n%s", q[0].body)
	}

	// Delimiter: alice+news -> folder news; alice+other -> INBOX.
	if err := send(c, "sender@remote.example", []string{"alice+news@example.test"}, testMsg); err != nil {
		t.Fatal(err)
	}
	if err := send(c, "sender@remote.example", []string{"alice+NEWS@example.test"}, testMsg); err != nil {
		t.Fatal(err)
	}
	if err := send(c, "sender@remote.example", []string{"alice+other@example.test"}, testMsg); err != nil {
		t.Fatal(err)
	}
	if n := len(e.files("alice@example.test", "news")); n != 2 || e.indexed("alice@example.test", "news") != 2 {
		t.Errorf("news has %d files, %d rows, want 2", n, e.indexed("alice@example.test", "news"))
	}
	if n := len(e.files("alice@example.test", "INBOX")); n != 2 {
		t.Errorf("INBOX has %d, want 2", n)
	}
	// Catch-all, lowest precedence.
	if err := send(c, "sender@remote.example", []string{"whoever@example.test"}, testMsg); err != nil {
		t.Fatal(err)
	}
	if n := len(e.files("postmaster@example.test", "INBOX")); n != 1 {
		t.Errorf("postmaster (catch-all) has %d, want 1", n)
	}
	// Forwarding with keep-copy.
	if err := send(c, "sender@remote.example", []string{"carol@example.test"}, testMsg); err != nil {
		t.Fatal(err)
	}
	if n := len(e.files("carol@example.test", "INBOX")); n != 1 {
		t.Errorf("carol has %d, want 1", n)
	}
	q = e.queue()
	if len(q) != 2 || q[1].recipient != "carol@far.example" {
		t.Errorf("queue %+v, want carol@far.example forwarded", q)
	}
}

func TestRelayQueued(t *testing.T) {
	e := newEnv(t)
	e.relayDomain("backup.test", "[10.0.0.1]:25")
	c := e.dial("")
	if err := send(c, "me@example.test", []string{"x@backup.test", "y@remote.example"}, testMsg); err != nil {
		t.Fatal(err)
	}
	q := e.queue()
	if len(q) != 2 {
		t.Fatalf("queue %+v", q)
	}
	if q[0].recipient != "x@backup.test" || q[0].nextHop != "[10.0.0.1]:25" || q[0].origin != "smtp" {
		t.Errorf("relay domain row %+v", q[0])
	}
	if q[1].recipient != "y@remote.example" || q[1].origin != "relay" {
		t.Errorf("relayed row %+v", q[1])
	}
}

func TestQuotaAtData(t *testing.T) {
	e := newEnv(t)
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	e.mailbox("small@example.test", 300)
	big := testMsg + strings.Repeat("x", 400) + "\r\n"

	c := e.dial("")
	// Single recipient: 552 5.2.2, nothing stored.
	wantCode(t, send(c, "bob@remote.example", []string{"small@example.test"}, big), 552, smtp.EnhancedCode{5, 2, 2})
	if n := len(e.files("small@example.test", "INBOX")); n != 0 {
		t.Errorf("small has %d files", n)
	}
	// Several recipients: alice gets it, the sender gets a DSN for small.
	if err := send(c, "bob@remote.example", []string{"small@example.test", "alice@example.test"}, big); err != nil {
		t.Fatal(err)
	}
	if n := len(e.files("alice@example.test", "INBOX")); n != 1 {
		t.Errorf("alice has %d files", n)
	}
	if n := len(e.files("small@example.test", "INBOX")); n != 0 {
		t.Errorf("small has %d files", n)
	}
	if b, m := e.usage("small@example.test"); b != 0 || m != 0 {
		t.Errorf("small charged %d %d", b, m)
	}
	q := e.queue()
	if len(q) != 1 || q[0].origin != "bounce" || q[0].sender != "" || q[0].recipient != "bob@remote.example" ||
		!strings.Contains(q[0].body, "Final-Recipient: rfc822; small@example.test") ||
		!strings.Contains(q[0].body, "Status: 5.2.2") {
		t.Errorf("bounce %+v", q)
	}
}

func TestDataChecks(t *testing.T) {
	e := newEnv(t, func(c *mta.Config) { c.MaxMessageBytes = 2000; c.MaxReceived = 3 })
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	c := e.dial("")
	to := []string{"alice@example.test"}
	wantCode(t, send(c, "bob@remote.example", to, testMsg+strings.Repeat("y", 3000)+"\r\n"), 552, smtp.EnhancedCode{5, 3, 4})
	hops := strings.Repeat("Received: from a by b; Sat, 21 Nov 2026 10:00:00 +0000\r\n", 4)
	wantCode(t, send(c, "bob@remote.example", to, hops+testMsg), 554, smtp.EnhancedCode{5, 4, 6})
	wantCode(t, send(c, "bob@remote.example", to, "Delivered-To: alice@example.test\r\n"+testMsg), 554, smtp.EnhancedCode{5, 4, 6})
	wantCode(t, send(c, "bob@remote.example", to, "Subject: x\r\n\r\nnul\x00here\r\n"), 554, smtp.EnhancedCode{5, 6, 0})
	if err := c.Noop(); err != nil {
		t.Fatalf("session did not survive: %v", err)
	}
	// Missing Message-ID and Date are added.
	if err := send(c, "bob@remote.example", to, "Subject: bare\r\n\r\nbody\r\n"); err != nil {
		t.Fatal(err)
	}
	files := e.files("alice@example.test", "INBOX")
	if len(files) != 1 {
		t.Fatalf("files %v", files)
	}
	got := e.read(files[0])
	if !strings.Contains(got, "\r\nMessage-ID: <") || !strings.Contains(got, "@mx.test>\r\n") || !strings.Contains(got, "\r\nDate: ") {
		t.Errorf("no Message-ID/Date added:\n%s", got)
	}
}

// TestBareLF sends raw bytes: the go-smtp client would not send a bare LF.
func TestBareLFAndCutOff(t *testing.T) {
	e := newEnv(t)
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	raw := func(script string) string {
		conn, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, script)
		if tc, ok := conn.(*net.TCPConn); ok && !strings.HasSuffix(script, "QUIT\r\n") {
			tc.CloseWrite()
		}
		b, _ := io.ReadAll(conn)
		return string(b)
	}
	out := raw("EHLO c\r\nMAIL FROM:<b@r.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nSubject: x\r\n\r\nbare\nlf\r\n.\r\nQUIT\r\n")
	if !strings.Contains(out, "554 5.6.0") {
		t.Errorf("bare LF: %s", out)
	}
	// Cut off in the middle of DATA: nothing delivered.
	raw("EHLO c\r\nMAIL FROM:<b@r.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nSubject: x\r\n\r\nhalf a mess")
	// A line longer than the limit ends the session.
	out = raw("EHLO c\r\nMAIL FROM:<" + strings.Repeat("a", 20000) + "@r.example>\r\n")
	if !strings.Contains(out, "500 5.5.0 Error: line too long\r\n") {
		t.Errorf("long line: %s", out)
	}
	if n := len(e.files("alice@example.test", "INBOX")); n != 0 {
		t.Errorf("%d files delivered", n)
	}
	var rows int
	e.scalar(&rows, `SELECT count(*) FROM messages`)
	if rows != 0 {
		t.Errorf("%d index rows", rows)
	}
}

func TestAccessRulesAndDNSBL(t *testing.T) {
	bl := dnstest.Start(t)
	bl.Add(t, "3.0.0.127.bl.test. 60 IN A 127.0.0.2")
	e := newEnv(t, func(c *mta.Config) {
		c.DNSBL = []string{"bl.test"}
		c.DNS = resolverOf(t, bl)
	})
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	e.exec(`INSERT INTO access_rules (kind, pattern, action) VALUES
		('sender', 'spammer.example', 'REJECT'),
		('sender', 'quiet@remote.example', 'DISCARD'),
		('helo', 'bad.helo', '550 5.7.1 go away'),
		('client', '127.0.0.4', 'OK'),
		('client', '127.0.0.5/32', '421 4.7.0 not now'),
		('recipient', 'alice@example.test', 'OK'),
		('recipient', '@example.test', 'REJECT')`)

	c := e.dial("127.0.0.2")
	wantCode(t, c.Mail("x@sub.spammer.example", nil), 554, smtp.EnhancedCode{5, 7, 1})
	if err := c.Mail("bob@remote.example", nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Rcpt("other@example.test", nil), 554, smtp.EnhancedCode{5, 7, 1})
	if err := c.Rcpt("alice@example.test", nil); err != nil {
		t.Fatal(err)
	}
	c.Reset()
	if err := send(c, "quiet@remote.example", []string{"alice@example.test"}, testMsg); err != nil {
		t.Fatal(err)
	}
	if n := len(e.files("alice@example.test", "INBOX")); n != 0 {
		t.Errorf("DISCARD delivered %d", n)
	}

	c2 := e.dial("127.0.0.3") // listed in bl.test
	wantCode(t, c2.Mail("bob@remote.example", nil), 554, smtp.EnhancedCode{5, 7, 1})
	c3 := e.dial("127.0.0.5")
	wantCode(t, c3.Mail("bob@remote.example", nil), 421, smtp.EnhancedCode{4, 7, 0})
	c4 := e.dialHelo("127.0.0.2", "bad.helo")
	wantCode(t, c4.Mail("bob@remote.example", nil), 550, smtp.EnhancedCode{5, 7, 1})
}

func TestErrorAndConnectionLimits(t *testing.T) {
	e := newEnv(t, func(c *mta.Config) { c.MaxErrors = 3; c.MaxConnsPerClient = 2; c.MaxRecipients = 2 })
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	e.mailbox("bob@example.test", 0)
	e.mailbox("carol@example.test", 0)

	c := e.dial("127.0.0.2")
	c.Mail("x@remote.example", nil)
	if err := c.Rcpt("alice@example.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("bob@example.test", nil); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Rcpt("carol@example.test", nil), 452, smtp.EnhancedCode{4, 5, 3})
	c.Reset()
	c.Mail("x@remote.example", nil)
	wantCode(t, c.Rcpt("n1@example.test", nil), 550, smtp.EnhancedCode{5, 1, 1})
	wantCode(t, c.Rcpt("n2@example.test", nil), 550, smtp.EnhancedCode{5, 1, 1})
	wantCode(t, c.Rcpt("n3@example.test", nil), 421, smtp.EnhancedCode{4, 7, 0})
	if err := c.Noop(); err == nil {
		t.Error("session still open after the error limit")
	}

	// Two connections from 127.0.0.3 are fine, the third is refused.
	var conns []net.Conn
	for i := 0; i < 3; i++ {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}}
		conn, err := d.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conns = append(conns, conn)
		buf := make([]byte, 200)
		n, _ := conn.Read(buf)
		greet := string(buf[:n])
		if i < 2 && !strings.HasPrefix(greet, "220 mx.test ESMTP") {
			t.Errorf("connection %d: %q", i, greet)
		}
		if i == 2 && !strings.HasPrefix(greet, "421 4.7.0") {
			t.Errorf("third connection: %q", greet)
		}
	}
}
