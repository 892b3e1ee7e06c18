package mta_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"

	"mailhost/dnsres"
	"mailhost/dnstest"
	"mailhost/mta"
	"mailhost/senderauth"
	"mailhost/testsupport"
)

// inboundEnv is an MX with the sender checks on, asking a loopback DNS
// server that holds the senders' records. Clients connect from
// 127.0.0.2 (client.example, forward-confirmed), 127.0.0.3 (no PTR) or
// 127.0.0.5 (allowed by example.test's SPF); 127.0.0.1 is mynetworks.
// example.test is hosted here, alice@ has her standard folders.
type inboundEnv struct {
	*env
	dns    *dnstest.Server
	signer ed25519.PrivateKey // signs for signed.example, selector "s1"
}

func newInboundEnv(t *testing.T, tune ...func(*mta.Inbound)) *inboundEnv {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := dnstest.Start(t,
		`2.0.0.127.in-addr.arpa. PTR client.example.`,
		`client.example. A 127.0.0.2`,
		`remote.example. TXT "v=spf1 ip4:127.0.0.2 -all"`,
		`_dmarc.remote.example. TXT "v=DMARC1; p=none"`,
		`signed.example. TXT "v=spf1 -all"`,
		`s1._domainkey.signed.example. TXT "v=DKIM1; k=ed25519; p=`+base64.StdEncoding.EncodeToString(pub)+`"`,
		`_dmarc.signed.example. TXT "v=DMARC1; p=reject"`,
		`_dmarc.rejecting.example. TXT "v=DMARC1; p=reject"`,
		`_dmarc.quarantining.example. TXT "v=DMARC1; p=quarantine"`,
		`example.test. TXT "v=spf1 ip4:127.0.0.5 -all"`,
	)
	res, err := dnsres.New(dnsres.Config{Servers: []string{srv.Addr}, Timeout: 2 * time.Second, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	in := &mta.Inbound{Checker: &senderauth.Checker{DNS: res}, AuthServID: "mx.test"}
	for _, f := range tune {
		f(in)
	}
	e := newEnv(t, func(c *mta.Config) { c.DNS, c.Inbound = res, in })
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	for _, f := range []string{"INBOX", "Junk"} {
		e.folder("alice@example.test", f)
	}
	e.exec(`UPDATE folders SET special_use = '\Junk' WHERE name = 'Junk'`)
	return &inboundEnv{env: e, dns: srv, signer: priv}
}

// sign signs msg for signed.example as its outbound MTA would.
func (e *inboundEnv) sign(msg string) string {
	e.t.Helper()
	var b bytes.Buffer
	if err := dkim.Sign(&b, strings.NewReader(msg), &dkim.SignOptions{
		Domain: "signed.example", Selector: "s1", Signer: e.signer,
	}); err != nil {
		e.t.Fatal(err)
	}
	return b.String()
}

func message(from string) string {
	return "From: " + from + "\r\nTo: alice@example.test\r\nSubject: hello\r\n" +
		"Message-ID: <m1@remote.example>\r\nDate: Thu, 03 Dec 2026 07:00:00 +0000\r\n\r\nHi Alice.\r\n"
}

// TestInboundAuthenticationResults: the delivered message carries one
// Authentication-Results field, prepended, with exactly these results;
// a field claiming our authserv-id that came with the message is gone,
// another server's stays; Received names the forward-confirmed client.
func TestInboundAuthenticationResults(t *testing.T) {
	e := newInboundEnv(t)
	msg := "Authentication-Results: MX.TEST; dkim=pass header.d=example.test\r\n" +
		"Authentication-Results: other.example; spf=pass\r\n" +
		e.sign(message("Carol <carol@signed.example>"))
	b := regexp.MustCompile(`b=([A-Za-z0-9+/]{8})`).FindStringSubmatch(msg[strings.Index(msg, "DKIM-Signature"):])[1]
	if strings.Contains(b, "/") { // a tspecial: quoted (RFC 8601 2.2, RFC 2045 5.1)
		b = `"` + b + `"`
	}
	c := e.dialHelo("127.0.0.2", "client.example")
	if err := send(c, "bob@remote.example", []string{"alice@example.test"}, msg); err != nil {
		t.Fatal(err)
	}
	files := e.files("alice@example.test", "INBOX")
	if len(files) != 1 {
		t.Fatalf("INBOX has %d files", len(files))
	}
	got := e.read(files[0])
	want := "Return-Path: <bob@remote.example>\r\n" +
		"Delivered-To: alice@example.test\r\n" +
		"Authentication-Results: mx.test;\r\n" +
		"\tiprev=pass policy.iprev=127.0.0.2 (client.example);\r\n" +
		"\tspf=pass smtp.mailfrom=bob@remote.example;\r\n" +
		"\tdkim=pass header.d=signed.example header.s=s1 header.a=ed25519-sha256 header.b=" + b + ";\r\n" +
		"\tdmarc=pass (p=reject) header.from=signed.example\r\n" +
		"Received: from client.example (client.example [127.0.0.2])\r\n"
	if !strings.HasPrefix(got, want) {
		t.Fatalf("delivered message starts\n%s\nwant\n%s", got[:min(len(got), len(want)+80)], want)
	}
	if strings.Contains(got, "MX.TEST") || strings.Count(got, "Authentication-Results: mx.test") != 1 {
		t.Errorf("the forged field is still there:\n%s", got)
	}
	if !strings.Contains(got, "\r\nAuthentication-Results: other.example; spf=pass\r\n") {
		t.Errorf("another server's field was removed:\n%s", got)
	}
	if len(e.logs.lines("removed forged Authentication-Results")) != 1 {
		t.Error("no log line for the removed field")
	}
}

// TestInboundDMARCReject: an author domain publishing p=reject, a message
// with neither an aligned signature nor aligned SPF: 550 5.7.1 at the end
// of DATA, nothing stored; a recipient domain set to "mark" gets it.
func TestInboundDMARCReject(t *testing.T) {
	e := newInboundEnv(t)
	c := e.dialHelo("127.0.0.2", "client.example")
	err := send(c, "bob@remote.example", []string{"alice@example.test"}, message("ceo@rejecting.example"))
	wantCode(t, err, 550, smtp.EnhancedCode{5, 7, 1})
	if _, _, m := code(err); !strings.Contains(m, "DMARC policy of rejecting.example") {
		t.Errorf("reply %q", m)
	}
	// A signature of another domain is not aligned either.
	c.Reset()
	err = send(c, "bob@remote.example", []string{"alice@example.test"}, e.sign(message("ceo@rejecting.example")))
	wantCode(t, err, 550, smtp.EnhancedCode{5, 7, 1})
	if n := len(e.files("alice@example.test", "INBOX")) + len(e.files("alice@example.test", "Junk")); n != 0 {
		t.Fatalf("%d files stored for refused messages", n)
	}
	e.exec(`INSERT INTO inbound_policies (domain_id, dmarc) SELECT id, 'mark' FROM domains WHERE name = 'example.test'`)
	c.Reset()
	if err := send(c, "bob@remote.example", []string{"alice@example.test"}, message("ceo@rejecting.example")); err != nil {
		t.Fatalf("dmarc=mark: %v", err)
	}
	files := e.files("alice@example.test", "INBOX")
	if len(files) != 1 || !strings.Contains(e.read(files[0]), "\tdmarc=fail (p=reject) header.from=rejecting.example\r\n") {
		t.Fatalf("dmarc=mark: INBOX %v", files)
	}
}

// TestInboundDMARCQuarantine: p=quarantine files the message into the
// recipient's \Junk folder: the file on disk and its index row.
func TestInboundDMARCQuarantine(t *testing.T) {
	e := newInboundEnv(t)
	e.exec(`UPDATE folders SET name = 'Spam' WHERE name = 'Junk'`) // found by special use, not name
	e.folder("alice@example.test", "Spam")
	c := e.dialHelo("127.0.0.2", "client.example")
	if err := send(c, "bob@remote.example", []string{"alice@example.test"}, message("news@quarantining.example")); err != nil {
		t.Fatal(err)
	}
	junk := e.files("alice@example.test", "Spam")
	if len(junk) != 1 || len(e.files("alice@example.test", "INBOX")) != 0 {
		t.Fatalf("Spam %v, INBOX %v", junk, e.files("alice@example.test", "INBOX"))
	}
	if !strings.Contains(e.read(junk[0]), "\tdmarc=fail (p=quarantine) header.from=quarantining.example\r\n") {
		t.Errorf("stored:\n%s", e.read(junk[0]))
	}
	if e.indexed("alice@example.test", "Spam") != 1 || e.indexed("alice@example.test", "INBOX") != 0 {
		t.Fatal("index rows not in the \\Junk folder")
	}
	if l := e.logs.lines("filed into Junk"); len(l) != 1 || l[0]["reason"] != "dmarc quarantine quarantining.example" {
		t.Errorf("log %v", l)
	}
}

// TestInboundSpoofedOwnDomain: mail claiming to be from a domain hosted
// here, sent from outside without authentication, is refused; SPF pass
// for it, or the domain's reject_spoofed off, lets it in; mynetworks is
// not checked at all.
func TestInboundSpoofedOwnDomain(t *testing.T) {
	e := newInboundEnv(t)
	// Before the first MAIL: the server caches which kinds of rules exist.
	e.exec(`INSERT INTO access_rules (kind, pattern, action) VALUES ('client', '127.0.0.6', 'OK')`)
	for _, tc := range []struct{ from, envFrom string }{
		{"ceo@example.test", "ceo@example.test"},   // SPF fail
		{"ceo@example.test", "bob@remote.example"}, // SPF pass, not aligned
		{"Bob <bob@remote.example>", "ceo@example.test"},
	} {
		c := e.dialHelo("127.0.0.2", "client.example")
		err := send(c, tc.envFrom, []string{"alice@example.test"}, message(tc.from))
		wantCode(t, err, 550, smtp.EnhancedCode{5, 7, 1})
		if _, _, m := code(err); !strings.Contains(m, "example.test is a domain of this server") {
			t.Errorf("reply %q", m)
		}
	}
	// From the address the domain's SPF allows.
	c := e.dialHelo("127.0.0.5", "out.example.test")
	if err := send(c, "ceo@example.test", []string{"alice@example.test"}, message("ceo@example.test")); err != nil {
		t.Fatalf("SPF pass: %v", err)
	}
	// mynetworks.
	c = e.dialHelo("127.0.0.1", "client.example")
	if err := send(c, "ceo@example.test", []string{"alice@example.test"}, message("ceo@example.test")); err != nil {
		t.Fatalf("mynetworks: %v", err)
	}
	// An access rule's OK: the results are recorded, no policy applies.
	c = e.dialHelo("127.0.0.6", "client.example")
	if err := send(c, "ceo@example.test", []string{"alice@example.test"}, message("ceo@example.test")); err != nil {
		t.Fatalf("access rule OK: %v", err)
	}
	e.exec(`INSERT INTO inbound_policies (domain_id, reject_spoofed) SELECT id, false FROM domains WHERE name = 'example.test'`)
	c = e.dialHelo("127.0.0.2", "client.example")
	if err := send(c, "ceo@example.test", []string{"alice@example.test"}, message("ceo@example.test")); err != nil {
		t.Fatalf("reject_spoofed off: %v", err)
	}
	files := e.files("alice@example.test", "INBOX")
	if len(files) != 4 {
		t.Fatalf("INBOX has %d files, want 4", len(files))
	}
	for _, f := range files {
		body := e.read(f)
		if strings.Contains(body, "[127.0.0.1]") == strings.Contains(body, "Authentication-Results") {
			t.Errorf("mynetworks gets no Authentication-Results, others do:\n%s", body)
		}
	}
	// A forged field from mynetworks is removed all the same.
	c = e.dialHelo("127.0.0.1", "client.example")
	if err := send(c, "ceo@example.test", []string{"alice@example.test"},
		"Authentication-Results: mx.test; dmarc=pass\r\n"+message("ceo@example.test")); err != nil {
		t.Fatal(err)
	}
	for _, f := range e.files("alice@example.test", "INBOX") {
		if body := e.read(f); strings.Contains(body, "[127.0.0.1]") && strings.Contains(body, "Authentication-Results") {
			t.Errorf("forged field kept from mynetworks:\n%s", body)
		}
	}
}

// TestInboundSPFPolicy: a domain that rejects SPF fail refuses at RCPT
// with 550 5.7.23; the default only marks (and then DMARC decides).
func TestInboundSPFPolicy(t *testing.T) {
	e := newInboundEnv(t)
	c := e.dialHelo("127.0.0.3", "unknown.example")
	if err := send(c, "bob@remote.example", []string{"alice@example.test"}, message("bob@remote.example")); err != nil {
		t.Fatalf("spf_fail=mark: %v", err)
	}
	files := e.files("alice@example.test", "INBOX")
	if len(files) != 1 || !strings.Contains(e.read(files[0]), "\tspf=fail smtp.mailfrom=bob@remote.example;\r\n") ||
		!strings.Contains(e.read(files[0]), "\tiprev=fail policy.iprev=127.0.0.3;\r\n") ||
		!strings.Contains(e.read(files[0]), "Received: from unknown.example (unknown [127.0.0.3])\r\n") {
		t.Fatalf("INBOX %v", files)
	}
	e.exec(`INSERT INTO inbound_policies (domain_id, spf_fail) SELECT id, 'reject' FROM domains WHERE name = 'example.test'`)
	c.Reset()
	if err := c.Mail("bob@remote.example", nil); err != nil {
		t.Fatal(err)
	}
	err := c.Rcpt("alice@example.test", nil)
	wantCode(t, err, 550, smtp.EnhancedCode{5, 7, 23})
	if _, _, m := code(err); !strings.Contains(m, "127.0.0.3 is not allowed to send mail for remote.example") {
		t.Errorf("reply %q", m)
	}
}

// TestInboundPolicyCached: with a PolicyTTL a domain's inbound policy is
// read once and trusted for that long; a change applies after it.
func TestInboundPolicyCached(t *testing.T) {
	e := newInboundEnv(t, func(in *mta.Inbound) { in.PolicyTTL = time.Hour })
	c := e.dialHelo("127.0.0.3", "unknown.example")
	for i := range 2 {
		if i == 1 {
			e.exec(`INSERT INTO inbound_policies (domain_id, spf_fail) SELECT id, 'reject' FROM domains WHERE name = 'example.test'`)
		}
		c.Reset()
		if err := send(c, "bob@remote.example", []string{"alice@example.test"}, message("bob@remote.example")); err != nil {
			t.Fatalf("message %d: the policy read first (spf_fail=mark) applies for PolicyTTL: %v", i+1, err)
		}
	}
	if n := len(e.files("alice@example.test", "INBOX")); n != 2 {
		t.Fatalf("INBOX has %d files, want 2", n)
	}
}

// TestInboundRequirePTR: with RejectNoPTR a client without
// forward-confirmed reverse DNS is refused at MAIL (550 5.7.25), and 450
// 4.7.25 while its PTR lookup fails.
func TestInboundRequirePTR(t *testing.T) {
	e := newInboundEnv(t, func(in *mta.Inbound) { in.RejectNoPTR = true })
	c := e.dialHelo("127.0.0.3", "unknown.example")
	wantCode(t, c.Mail("bob@remote.example", nil), 550, smtp.EnhancedCode{5, 7, 25})
	e.dns.FailName("4.0.0.127.in-addr.arpa")
	c = e.dialHelo("127.0.0.4", "unknown.example")
	wantCode(t, c.Mail("bob@remote.example", nil), 450, smtp.EnhancedCode{4, 7, 25})
	c = e.dialHelo("127.0.0.2", "client.example")
	if err := send(c, "bob@remote.example", []string{"alice@example.test"}, message("bob@remote.example")); err != nil {
		t.Fatalf("forward-confirmed client: %v", err)
	}
}

// TestInboundTempError: a DMARC lookup that fails for now marks the
// message temperror and delivers it; with DeferTempError it is 451 4.4.3.
func TestInboundTempError(t *testing.T) {
	for _, deferIt := range []bool{false, true} {
		e := newInboundEnv(t, func(in *mta.Inbound) { in.DeferTempError = deferIt })
		e.dns.FailName("_dmarc.rejecting.example")
		c := e.dialHelo("127.0.0.2", "client.example")
		err := send(c, "bob@remote.example", []string{"alice@example.test"}, message("ceo@rejecting.example"))
		if deferIt {
			wantCode(t, err, 451, smtp.EnhancedCode{4, 4, 3})
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		files := e.files("alice@example.test", "INBOX")
		if len(files) != 1 || !strings.Contains(e.read(files[0]), "\tdmarc=temperror header.from=rejecting.example\r\n") {
			t.Fatalf("INBOX %v", files)
		}
	}
}

// TestInboundSwaks: the same refusal and delivery seen by swaks.
func TestInboundSwaks(t *testing.T) {
	swaks := testsupport.RequireTool(t, "swaks", "swaks")
	e := newInboundEnv(t)
	host, port, _ := net.SplitHostPort(e.addr)
	run := func(from string) string {
		out, _ := exec.Command(swaks, "--server", host, "--port", port, "--helo", "client.example",
			"--local-interface", "127.0.0.2", "--from", "bob@remote.example", "--to", "alice@example.test",
			"--header", "From: "+from, "--timeout", "20").CombinedOutput()
		return string(out)
	}
	if out := run("ceo@rejecting.example"); !strings.Contains(out, "<** 550 5.7.1 Message rejected: the DMARC policy of rejecting.example says reject") {
		t.Errorf("p=reject:\n%s", out)
	}
	if out := run("ceo@example.test"); !strings.Contains(out, "<** 550 5.7.1") {
		t.Errorf("spoofed:\n%s", out)
	}
	if out := run("news@quarantining.example"); !strings.Contains(out, "<~  250 2.0.0 Ok: queued as ") && !strings.Contains(out, "<-  250 2.0.0 Ok: queued as ") {
		t.Errorf("p=quarantine:\n%s", out)
	}
	if n := len(e.files("alice@example.test", "Junk")); n != 1 {
		t.Errorf("Junk has %d files, want 1", n)
	}
}
