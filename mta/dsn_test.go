package mta_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"mailhost/dnstest"
	"mailhost/mta"
	"mailhost/store"
	"mailhost/testsupport"
)

// dsnSink is a next hop on loopback that records the DSN parameters it
// is given; with dsn false it does not offer DSN (and go-smtp's server
// then refuses the parameters, so a client must not send them).
type dsnSink struct {
	mu   sync.Mutex
	port int
	got  []dsnSinkMsg
}

type dsnSinkMsg struct {
	from string
	mail smtp.MailOptions
	rcpt map[string]smtp.RcptOptions
	data string
}

func newDSNSink(t *testing.T, dsn bool) *dsnSink {
	t.Helper()
	s := &dsnSink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &dsnSinkSession{s: s, msg: dsnSinkMsg{rcpt: map[string]smtp.RcptOptions{}}}, nil
	}))
	srv.Domain, srv.EnableDSN = "sink.test", dsn
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	s.port = ln.Addr().(*net.TCPAddr).Port
	return s
}

func (s *dsnSink) messages() []dsnSinkMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]dsnSinkMsg(nil), s.got...)
}

type dsnSinkSession struct {
	s   *dsnSink
	msg dsnSinkMsg
}

func (ss *dsnSinkSession) Mail(from string, o *smtp.MailOptions) error {
	ss.msg.from, ss.msg.mail = from, *o
	return nil
}
func (ss *dsnSinkSession) Rcpt(to string, o *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "gone@") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	ss.msg.rcpt[to] = *o
	return nil
}
func (ss *dsnSinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.msg.data = string(b)
	ss.s.mu.Lock()
	ss.s.got = append(ss.s.got, ss.msg)
	ss.s.mu.Unlock()
	return nil
}
func (ss *dsnSinkSession) Reset()        { ss.msg = dsnSinkMsg{rcpt: map[string]smtp.RcptOptions{}} }
func (ss *dsnSinkSession) Logout() error { return nil }

// dsnEnv: alice@example.test hosted, remote.example's MX on loopback.
func dsnEnv(t *testing.T, tune ...func(*mta.Config)) (*env, *dnstest.Server) {
	e := newEnv(t, tune...)
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	z := dnstest.Start(t)
	z.Add(t, "remote.example. 60 IN MX 10 mx.remote.example.")
	z.Add(t, "mx.remote.example. 60 IN A 127.0.0.1")
	return e, z
}

// sendDSN runs one transaction with DSN parameters through go-smtp's
// client (which sends them only to a server that advertises DSN).
func sendDSN(t *testing.T, c *smtp.Client, from string, mo *smtp.MailOptions, rcpts map[string]*smtp.RcptOptions, msg string) {
	t.Helper()
	if err := c.Mail(from, mo); err != nil {
		t.Fatalf("MAIL: %v", err)
	}
	for to, ro := range rcpts {
		if err := c.Rcpt(to, ro); err != nil {
			t.Fatalf("RCPT %s: %v", to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, msg)
	if err := w.Close(); err != nil {
		t.Fatalf("DATA: %v", err)
	}
}

func notify(n ...smtp.DSNNotify) *smtp.RcptOptions { return &smtp.RcptOptions{Notify: n} }

// EHLO advertises DSN and the parameters' syntax errors get 501 5.5.4
// naming the parameter, through Python's smtplib.
func TestDSNParameterSyntax(t *testing.T) {
	py := testsupport.RequireTool(t, "python3", "python3")
	e, _ := dsnEnv(t)
	host, port, _ := net.SplitHostPort(e.addr)
	long := strings.Repeat("x", 101)
	script := fmt.Sprintf(`
import smtplib
s = smtplib.SMTP(%q, %s, local_hostname="py.example", timeout=20)
s.ehlo()
assert s.has_extn("dsn"), s.esmtp_features
def try_(cmd):
    code, msg = s.docmd(cmd)
    print(code, msg.decode())
    if code == 250 and cmd.startswith("MAIL"):
        s.rset()
try_("MAIL FROM:<bob@remote.example> RET=BOGUS")
try_("MAIL FROM:<bob@remote.example> ENVID=%s")
try_("MAIL FROM:<bob@remote.example> ENVID=a+2")
code, msg = s.docmd("MAIL FROM:<bob@remote.example> RET=HDRS ENVID=py+2B1")
print(code)
try_("RCPT TO:<alice@example.test> NOTIFY=NEVER,SUCCESS")
try_("RCPT TO:<alice@example.test> NOTIFY=BOGUS")
try_("RCPT TO:<alice@example.test> ORCPT=bogus")
try_("RCPT TO:<alice@example.test> ORCPT=x400;foo")
try_("RCPT TO:<alice@example.test> ORCPT=rfc822;%s@example.test")
code, msg = s.docmd("RCPT TO:<alice@example.test> NOTIFY=SUCCESS,DELAY,FAILURE ORCPT=rfc822;alice+2Bx@example.test")
print(code)
s.quit()
`, host, port, long, strings.Repeat("a", 500))
	out, err := exec.Command(py, "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := []string{"501 5.5.4 Bad RET parameter syntax", "501 5.5.4 ENVID parameter value too long (101 characters, at most 100)",
		"501 5.5.4 Bad ENVID parameter syntax", "250",
		"501 5.5.4 Error: Bad NOTIFY parameter syntax", "501 5.5.4 Error: Bad NOTIFY parameter syntax",
		"501 5.5.4 Error: Bad ORCPT parameter syntax", "501 5.5.4 Error: Bad ORCPT parameter syntax",
		"501 5.5.4 ORCPT parameter value too long (520 characters, at most 500)", "250"}
	if len(lines) != len(want) {
		t.Fatalf("python said:\n%s", out)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("reply %d: %q, want %q", i, lines[i], want[i])
		}
	}
}

// NOTIFY=SUCCESS on a local delivery: a report of success (RFC 3464
// multipart/report, Action: delivered) with ENVID and ORCPT, the header
// only, queued to the sender in the session; NOTIFY absent: none.
func TestDSNSuccessLocalDelivery(t *testing.T) {
	e, _ := dsnEnv(t)
	e.mailbox("carol@example.test", 0)
	c := e.dial("")
	sendDSN(t, c, "bob@remote.example", &smtp.MailOptions{EnvelopeID: "ENV-42", Return: smtp.DSNReturnFull},
		map[string]*smtp.RcptOptions{
			"alice@example.test": {Notify: []smtp.DSNNotify{smtp.DSNNotifySuccess, smtp.DSNNotifyFailure},
				OriginalRecipientType: smtp.DSNAddressTypeRFC822, OriginalRecipient: "Alice@Example.test"},
			"carol@example.test": nil,
		}, testMsg)
	if n := len(e.files("alice@example.test", "INBOX")); n != 1 {
		t.Fatalf("alice has %d messages", n)
	}
	q := e.queue()
	if len(q) != 1 || q[0].origin != "bounce" || q[0].sender != "" || q[0].recipient != "bob@remote.example" {
		t.Fatalf("queue %+v, want one report of success to bob", q)
	}
	b := q[0].body
	for _, want := range []string{"Subject: Successful Mail Delivery Report",
		"Content-Type: multipart/report; report-type=delivery-status", "Original-Envelope-Id: ENV-42",
		"Original-Recipient: rfc822; Alice@Example.test\r\nFinal-Recipient: rfc822; alice@example.test\r\nAction: delivered\r\nStatus: 2.0.0",
		"Content-Type: text/rfc822-headers", "Subject: hello", "Auto-Submitted: auto-replied"} {
		if !strings.Contains(b, want) {
			t.Errorf("report lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(b, "carol@example.test") || strings.Contains(b, "Hi Alice.") {
		t.Errorf("report names carol (no NOTIFY) or carries the body:\n%s", b)
	}
}

// An alias expanded to a mailbox and an outside address: "expanded" now;
// the forwarded copy asks for failures only and carries ORCPT.
func TestDSNSuccessExpandedAlias(t *testing.T) {
	e, _ := dsnEnv(t)
	e.alias("team@example.test", "alice@example.test", "ext@remote.example")
	c := e.dial("")
	sendDSN(t, c, "bob@remote.example", nil,
		map[string]*smtp.RcptOptions{"team@example.test": notify(smtp.DSNNotifySuccess, smtp.DSNNotifyFailure)}, testMsg)
	var notify, orcpt string
	e.scalar(&notify, `SELECT dsn_notify FROM queue_recipients WHERE recipient = 'ext@remote.example'`)
	e.scalar(&orcpt, `SELECT orig_recipient FROM queue_recipients WHERE recipient = 'ext@remote.example'`)
	if notify != "FAILURE" || orcpt != "team@example.test" {
		t.Errorf("forwarded copy: NOTIFY %q ORCPT %q, want FAILURE and team@example.test", notify, orcpt)
	}
	var report string
	e.scalar(&report, `SELECT convert_from(q.body, 'UTF8') FROM queue q WHERE origin = 'bounce'`)
	if !strings.Contains(report, "Final-Recipient: rfc822; team@example.test\r\nAction: expanded") {
		t.Errorf("report:\n%s", report)
	}
}

// Relayed to a next hop that offers DSN: RET, ENVID, NOTIFY and ORCPT go
// on to it and no report comes from here; to one that does not: a
// "relayed" report.
func TestDSNPassedToNextHop(t *testing.T) {
	for _, offers := range []bool{true, false} {
		t.Run(fmt.Sprintf("offers DSN %v", offers), func(t *testing.T) {
			e, z := dsnEnv(t)
			sink := newDSNSink(t, offers)
			c := e.dial("") // 127.0.0.1: mynetworks, may relay
			sendDSN(t, c, "alice@example.test", &smtp.MailOptions{EnvelopeID: "relay-1", Return: smtp.DSNReturnHeaders},
				map[string]*smtp.RcptOptions{"x@remote.example": {Notify: []smtp.DSNNotify{smtp.DSNNotifySuccess, smtp.DSNNotifyDelayed},
					OriginalRecipientType: smtp.DSNAddressTypeRFC822, OriginalRecipient: "x+y@remote.example"}}, testMsg)
			e.startOutbound(z, sink.port, "node-a")
			waitFor(t, "the delivery", func() bool { return len(sink.messages()) == 1 })
			m := sink.messages()[0]
			if offers {
				ro := m.rcpt["x@remote.example"]
				if m.mail.EnvelopeID != "relay-1" || m.mail.Return != smtp.DSNReturnHeaders ||
					fmt.Sprint(ro.Notify) != "[SUCCESS DELAY]" || ro.OriginalRecipient != "x+y@remote.example" ||
					ro.OriginalRecipientType != smtp.DSNAddressTypeRFC822 {
					t.Fatalf("next hop got MAIL %+v RCPT %+v", m.mail, ro)
				}
				waitFor(t, "the queue to drain", func() bool { return e.queueLen() == 0 })
				if n := len(e.files("alice@example.test", "INBOX")); n != 0 {
					t.Fatalf("%d reports from here, want none (the next hop reports)", n)
				}
				return
			}
			waitFor(t, "the relayed report", func() bool { return len(e.files("alice@example.test", "INBOX")) == 1 })
			b := e.read(e.files("alice@example.test", "INBOX")[0])
			for _, want := range []string{"Action: relayed", "Remote-MTA: dns; mx.remote.example", "Original-Envelope-Id: relay-1",
				"Original-Recipient: rfc822; x+y@remote.example", "Final-Recipient: rfc822; x@remote.example"} {
				if !strings.Contains(b, want) {
					t.Errorf("report lacks %q:\n%s", want, b)
				}
			}
		})
	}
}

// A failure: NOTIFY=NEVER gets no bounce; NOTIFY=FAILURE with RET=HDRS
// gets one with the header only, ENVID and ORCPT.
func TestDSNFailureNotices(t *testing.T) {
	e, z := dsnEnv(t)
	sink := newDSNSink(t, true)
	c := e.dial("")
	sendDSN(t, c, "alice@example.test", &smtp.MailOptions{EnvelopeID: "fail-7", Return: smtp.DSNReturnHeaders},
		map[string]*smtp.RcptOptions{
			"gone@remote.example": {Notify: []smtp.DSNNotify{smtp.DSNNotifyFailure},
				OriginalRecipientType: smtp.DSNAddressTypeRFC822, OriginalRecipient: "orig@remote.example"},
		}, testMsg)
	sendDSN(t, c, "alice@example.test", nil,
		map[string]*smtp.RcptOptions{"gone@remote.example": notify(smtp.DSNNotifyNever)}, testMsg)
	e.startOutbound(z, sink.port, "node-a")
	waitFor(t, "the queue to drain", func() bool { return e.queueLen() == 0 })
	files := e.files("alice@example.test", "INBOX")
	if len(files) != 1 {
		t.Fatalf("alice got %d bounces, want 1 (none for NOTIFY=NEVER)", len(files))
	}
	b := e.read(files[0])
	for _, want := range []string{"Original-Envelope-Id: fail-7", "Original-Recipient: rfc822; orig@remote.example",
		"Action: failed", "Status: 5.1.1", "Content-Type: text/rfc822-headers", "Subject: hello"} {
		if !strings.Contains(b, want) {
			t.Errorf("bounce lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(b, "Hi Alice.") {
		t.Errorf("RET=HDRS bounce carries the body")
	}
}

// Delay warnings only for recipients whose NOTIFY is absent or names
// DELAY.
func TestDSNDelayOnlyWhenAsked(t *testing.T) {
	e, z := dsnEnv(t)
	p := newScripted(t, map[string]string{"RCPT": "450 4.7.1 try later"})
	port := 0
	fmt.Sscan(p.port, &port)
	for _, n := range []string{"FAILURE", "NEVER", "DELAY", ""} {
		m := store.QueuedMessage{Sender: "alice@example.test", Origin: "submission", EnvID: "n-" + n,
			Body:       []byte(strings.Replace(testMsg, "Subject: hello", "Subject: notify "+n, 1)),
			Recipients: []store.QueuedRecipient{{Address: "x@remote.example", Domain: "remote.example", Notify: n}}}
		if _, err := e.st.Enqueue(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	e.exec(`UPDATE queue SET arrival_at = now() - interval '5 hours'`)
	e.startOutbound(z, port, "node-a", func(c *mta.OutboundConfig) { c.DelayWarning = 4 * time.Hour })
	waitFor(t, "every first attempt", func() bool {
		var n int
		e.scalar(&n, `SELECT count(*) FROM queue_recipients WHERE attempts > 0 AND recipient = 'x@remote.example'`)
		return n == 4
	})
	waitFor(t, "two warnings", func() bool { return len(e.files("alice@example.test", "INBOX")) == 2 })
	all := ""
	for _, f := range e.files("alice@example.test", "INBOX") {
		all += e.read(f)
	}
	if !strings.Contains(all, "Original-Envelope-Id: n-DELAY") || !strings.Contains(all, "Original-Envelope-Id: n-\r\n") ||
		strings.Contains(all, "n-FAILURE") || strings.Contains(all, "n-NEVER") {
		t.Errorf("warnings:\n%s", all)
	}
}

// Submission takes the DSN parameters too: a user's NOTIFY=SUCCESS for a
// hosted recipient gets a report of success, delivered to the user.
func TestDSNOnSubmission(t *testing.T) {
	e := newSubEnv(t)
	c := e.dialSub(t)
	if ok, _ := c.Extension("DSN"); !ok {
		t.Fatal("submission does not offer DSN")
	}
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.test", "secret")); err != nil {
		t.Fatal(err)
	}
	sendDSN(t, c, "alice@example.test", &smtp.MailOptions{EnvelopeID: "sub-1", Return: smtp.DSNReturnHeaders},
		map[string]*smtp.RcptOptions{"bob@example.test": notify(smtp.DSNNotifySuccess)}, subMsg)
	q := e.queue()
	if len(q) != 1 || q[0].recipient != "alice@example.test" || !strings.Contains(q[0].body, "Action: delivered") ||
		!strings.Contains(q[0].body, "Original-Envelope-Id: sub-1") {
		t.Fatalf("queue %+v", q)
	}
}
