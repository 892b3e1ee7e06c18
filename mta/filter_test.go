package mta_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/d--j/go-milter"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"mailhost/contentfilter"
	"mailhost/mta"
	"mailhost/store"
	"mailhost/testsupport"
)

// lateStore lets a stage be made before the test's database exists.
type lateStore struct{ st *store.Store }

func (l *lateStore) ContentPolicies(ctx context.Context, domains []string) (map[string]store.ContentPolicy, error) {
	return l.st.ContentPolicies(ctx, domains)
}

// newFilterEnv is newEnv with a content filter stage of cfg on the MX,
// and the domain example.test with alice's mailbox and its Junk folder.
func newFilterEnv(t *testing.T, cfg contentfilter.Config, tune ...func(*mta.Config)) *env {
	t.Helper()
	ls := &lateStore{}
	cfg.Hostname = "mx.test"
	stage := contentfilter.New(cfg, ls, slog.New(slog.NewTextHandler(io.Discard, nil)))
	e := newEnv(t, append([]func(*mta.Config){func(c *mta.Config) { c.Filter = stage }}, tune...)...)
	ls.st = e.st
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	e.folder("alice@example.test", "Junk")
	return e
}

func mustRule(t *testing.T, kind contentfilter.Kind, line string) *contentfilter.Rule {
	t.Helper()
	r, err := contentfilter.ParseRule(kind, line)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fixture reads one of contentfilter's MIME fixtures.
func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../contentfilter/testdata/mime/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "bob@example.test", "alice@example.test")
}

// TestFilterBannedAttachmentRefused: an executable attachment, nested in
// an attached message, is refused at the end of DATA with the reason;
// nothing is delivered; the mail log has the filter line.
func TestFilterBannedAttachmentRefused(t *testing.T) {
	e := newFilterEnv(t, contentfilter.Config{Checks: true, Attachments: true})
	c := e.dial("")
	err := send(c, "mallory@example.org", []string{"alice@example.test"}, fixture(t, "nested.eml"))
	wantCode(t, err, 554, smtp.EnhancedCode{5, 7, 1})
	if _, _, msg := code(err); !strings.Contains(msg, `attachment "invoice.pdf.exe": file type .exe not allowed`) {
		t.Fatalf("reply %q does not name the attachment", msg)
	}
	if n := len(e.files("alice@example.test", "INBOX")); n != 0 {
		t.Fatalf("%d messages delivered", n)
	}
	if l := e.logs.lines("filter"); len(l) != 1 || l[0]["verdict"] != "reject" {
		t.Fatalf("filter log lines %v", l)
	}
	// The session goes on: a clean message is delivered, with the verdict field.
	if err := send(c, "carol@example.org", []string{"alice@example.test"}, fixture(t, "clean.eml")); err != nil {
		t.Fatal(err)
	}
	files := e.files("alice@example.test", "INBOX")
	if len(files) != 1 || !strings.HasPrefix(e.read(files[0]), "Return-Path: <carol@example.org>\r\nDelivered-To: alice@example.test\r\nX-Mailhost-Filter: mx.test\r\nReceived:") {
		t.Fatalf("delivered %v", files)
	}
}

// TestFilterRulesHoldAndEdit: a HOLD rule puts the message on hold in the
// queue (released by the queue tools), with the header rules' edits made.
func TestFilterRulesHoldAndEdit(t *testing.T) {
	e := newFilterEnv(t, contentfilter.Config{Checks: true, Rules: []*contentfilter.Rule{
		mustRule(t, contentfilter.KindHeader, "/^Subject: hello/ PREPEND X-Seen: yes"),
		mustRule(t, contentfilter.KindBody, "/hi alice/ HOLD greeting"),
	}})
	if err := send(e.dial(""), "bob@remote.example", []string{"alice@example.test"}, testMsg); err != nil {
		t.Fatal(err)
	}
	if n := len(e.files("alice@example.test", "INBOX")); n != 0 {
		t.Fatalf("%d messages delivered, want none: held", n)
	}
	var hold bool
	var body string
	e.scalar(&hold, `SELECT hold FROM queue`)
	e.scalar(&body, `SELECT convert_from(body, 'UTF8') FROM queue`)
	if !hold || !strings.Contains(body, "X-Seen: yes\r\nSubject: hello\r\n") {
		t.Fatalf("hold %v body %q", hold, body)
	}
	if l := e.logs.lines("hold"); len(l) != 1 || !strings.Contains(l[0]["rule"].(string), "greeting") {
		t.Fatalf("hold log %v", l)
	}
}

// goMilter serves a milter whose end of message is eom.
func goMilter(t *testing.T, eom func(m milter.Modifier) (*milter.Response, error)) *contentfilter.Milter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := milter.NewServer(milter.WithMilter(func() milter.Milter { return &eomMilter{eom: eom} }),
		milter.WithActions(milter.OptAddHeader|milter.OptChangeHeader|milter.OptAddRcpt|milter.OptRemoveRcpt|milter.OptQuarantine))
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &contentfilter.Milter{Name: "go", Network: "tcp", Address: ln.Addr().String(), Timeout: 5 * time.Second}
}

type eomMilter struct {
	milter.NoOpMilter
	eom func(m milter.Modifier) (*milter.Response, error)
}

func (m *eomMilter) EndOfMessage(mod milter.Modifier) (*milter.Response, error) { return m.eom(mod) }

func addHeader(name, value string) func(m milter.Modifier) (*milter.Response, error) {
	return func(m milter.Modifier) (*milter.Response, error) {
		m.AddHeader(name, value)
		return milter.RespAccept, nil
	}
}

// TestFilterSpamToJunk: a scanner's X-Spam: yes files the copy in the
// recipient's Junk folder (indexed there), with the verdict field.
func TestFilterSpamToJunk(t *testing.T) {
	e := newFilterEnv(t, contentfilter.Config{Milters: []*contentfilter.Milter{goMilter(t, addHeader("X-Spam", "Yes"))}})
	if err := send(e.dial(""), "bob@remote.example", []string{"alice@example.test"}, testMsg); err != nil {
		t.Fatal(err)
	}
	junk := e.files("alice@example.test", "Junk")
	if len(junk) != 1 || len(e.files("alice@example.test", "INBOX")) != 0 || e.indexed("alice@example.test", "Junk") != 1 {
		t.Fatalf("junk %v, inbox %v", junk, e.files("alice@example.test", "INBOX"))
	}
	got := e.read(junk[0])
	if !strings.Contains(got, "X-Mailhost-Filter: mx.test; spam=yes; junk\r\n") || !strings.Contains(got, "\r\nX-Spam: Yes\r\n\r\nHi Alice.") {
		t.Fatalf("message:\n%s", got)
	}
}

// TestFilterDomainPolicies: a domain that rejects above a score refuses
// the message; a mailbox of a domain with spam off gets it in INBOX.
func TestFilterDomainPolicies(t *testing.T) {
	e := newFilterEnv(t, contentfilter.Config{Milters: []*contentfilter.Milter{goMilter(t, addHeader("X-Spam-Score", "20.5"))}})
	e.exec(`INSERT INTO domain_filters (domain_id, spam_policy, reject_score) SELECT id, 'reject', 15 FROM domains WHERE name = 'example.test'`)
	e.domain("lenient.test")
	e.mailbox("bob@lenient.test", 0)
	e.exec(`INSERT INTO domain_filters (domain_id, spam_policy) SELECT id, 'off' FROM domains WHERE name = 'lenient.test'`)
	c := e.dial("")
	wantCode(t, send(c, "x@remote.example", []string{"alice@example.test"}, testMsg), 554, smtp.EnhancedCode{5, 7, 1})
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	// Both: bob gets it, alice does not (her domain refuses).
	if err := send(c, "x@remote.example", []string{"alice@example.test", "bob@lenient.test"}, testMsg); err != nil {
		t.Fatal(err)
	}
	if len(e.files("alice@example.test", "INBOX"))+len(e.files("alice@example.test", "Junk")) != 0 ||
		len(e.files("bob@lenient.test", "INBOX")) != 1 {
		t.Fatal("want bob's copy in INBOX and none for alice")
	}
	if l := e.logs.lines("filter refused recipient"); len(l) != 1 || l[0]["to"] != "alice@example.test" {
		t.Fatalf("log %v", l)
	}
}

// TestFilterMilterFaultsAndRecipients: a milter that is down refuses the
// message for now; a milter's recipient changes are followed.
func TestFilterMilterFaultsAndRecipients(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	down := &contentfilter.Milter{Name: "down", Network: "tcp", Address: ln.Addr().String(), Timeout: time.Second}
	ln.Close()
	e := newFilterEnv(t, contentfilter.Config{Milters: []*contentfilter.Milter{down}})
	wantCode(t, send(e.dial(""), "x@remote.example", []string{"alice@example.test"}, testMsg), 451, smtp.EnhancedCode{4, 7, 1})

	swap := goMilter(t, func(m milter.Modifier) (*milter.Response, error) {
		m.DeleteRecipient("<alice@example.test>")
		m.AddRecipient("<carol@example.test>", "")
		return milter.RespAccept, nil
	})
	e = newFilterEnv(t, contentfilter.Config{Milters: []*contentfilter.Milter{swap}})
	e.mailbox("carol@example.test", 0)
	if err := send(e.dial(""), "x@remote.example", []string{"alice@example.test"}, testMsg); err != nil {
		t.Fatal(err)
	}
	if len(e.files("alice@example.test", "INBOX")) != 0 || len(e.files("carol@example.test", "INBOX")) != 1 {
		t.Fatal("want the copy moved from alice to carol")
	}
}

// TestFilterSubmissionVirusRefused: on submission a virus is refused
// with a reply naming it, even to a domain whose policy delivers them.
func TestFilterSubmissionVirusRefused(t *testing.T) {
	ls := &lateStore{}
	stage := contentfilter.New(contentfilter.Config{Hostname: "mx.test", Submission: true,
		Milters: []*contentfilter.Milter{goMilter(t, addHeader("X-Virus-Status", "Infected (Eicar-Test-Signature)"))}},
		ls, slog.New(slog.NewTextHandler(io.Discard, nil)))
	e := newSubEnv(t, func(c *mta.Config) { c.Filter = stage })
	ls.st = e.st
	e.exec(`INSERT INTO domain_filters (domain_id, virus_policy) SELECT id, 'off' FROM domains WHERE name = 'example.test'`)
	c := e.dialSub(t)
	if err := c.Auth(sasl.NewPlainClient("", "alice@example.test", "secret")); err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"bob@example.test", "someone@remote.example"} {
		err := send(c, "alice@example.test", []string{to}, subMsg)
		wantCode(t, err, 554, smtp.EnhancedCode{5, 7, 1})
		if _, _, msg := code(err); msg != "Message rejected: virus found (Eicar-Test-Signature)" {
			t.Fatalf("reply %q", msg)
		}
		c.Reset()
	}
	if len(e.files("bob@example.test", "INBOX")) != 0 || len(e.queue()) != 0 {
		t.Fatal("a copy went through")
	}
}

// TestFilterSwaksAttachment: swaks attaches a file named like a PDF but
// ending in .exe; the MX refuses it at the end of DATA and swaks shows
// the reply; the same file named .pdf is delivered.
func TestFilterSwaksAttachment(t *testing.T) {
	swaks := testsupport.RequireTool(t, "swaks", "swaks")
	e := newFilterEnv(t, contentfilter.Config{Checks: true, Attachments: true})
	host, port, _ := net.SplitHostPort(e.addr)
	file := filepath.Join(t.TempDir(), "invoice")
	if err := os.WriteFile(file, []byte("MZ not really a program"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(name string) (string, error) {
		out, err := exec.Command(swaks, "--server", host, "--port", port, "--helo", "swaks.example", "--from", "bob@remote.example",
			"--to", "alice@example.test", "--attach-type", "application/octet-stream", "--attach-name", name,
			"--attach", "@"+file).CombinedOutput()
		return string(out), err
	}
	out, err := run("Invoice.PDF.exe")
	if err == nil || !strings.Contains(out, `<** 554 5.7.1 Message content rejected: attachment "Invoice.PDF.exe": file type .exe not allowed`) {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	if out, err := run("invoice.pdf"); err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	if n := len(e.files("alice@example.test", "INBOX")); n != 1 {
		t.Fatalf("%d messages delivered, want the .pdf one", n)
	}
}
