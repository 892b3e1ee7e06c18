package main

import (
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailhost/testsupport"
)

// greylistSink is a relay host that defers every recipient until open,
// then takes the messages and counts them.
type greylistSink struct {
	open atomic.Bool
	got  atomic.Int32
}

func (g *greylistSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &greylistSession{g}, nil }

type greylistSession struct{ g *greylistSink }

func (s *greylistSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *greylistSession) Rcpt(string, *smtp.RcptOptions) error {
	if !s.g.open.Load() {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "greylisted"}
	}
	return nil
}
func (s *greylistSession) Data(r io.Reader) error {
	io.Copy(io.Discard, r)
	s.g.got.Add(1)
	return nil
}
func (s *greylistSession) Reset()        {}
func (s *greylistSession) Logout() error { return nil }

// TestQueueIDEndToEnd: the id of the 250 reply names the message
// everywhere. A message to an alias with a local and a remote
// destination is sent over SMTP (Python's smtplib); the id its 250 gives
// is what `queue show`, the API and the panel's queue page find the
// forwarded copy by while the relay host defers it, and what the mail log
// page finds the message's lines by: the session's, the queue's deferral
// and, after a flush by that id, the queue's delivery.
func TestQueueIDEndToEnd(t *testing.T) {
	python := testsupport.RequireTool(t, "python3", "python3")
	sink := &greylistSink{}
	env, _ := provEnv(t)
	smtpAddr := freePort(t)
	env = append(env, "MAILHOST_LISTEN_SMTP="+smtpAddr, "MAILHOST_HOSTNAME=mx.test", "MAILHOST_SMTP_RELAYHOST="+startRelay(t, sink))
	run1(t, env, "", "domain", "add", "example.test")
	run1(t, env, "a mailbox password\n", "mailbox", "add", "alice@example.test", "--password-stdin")
	run1(t, env, "", "alias", "add", "team@example.test", "alice@example.test", "far@remote.example")
	run1(t, env, "an admin password\n", "admin", "add", "root", "--super", "--password-stdin")
	token := strings.TrimSpace(run1(t, env, "", "token", "create", "root", "--name", "e2e"))
	r := startServe(t, env)

	host, port, _ := net.SplitHostPort(smtpAddr)
	out, err := exec.Command(python, "-c", `import smtplib, sys
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=10)
s.ehlo("client.example")
s.mail("bob@example.org")
s.rcpt("team@example.test")
code, text = s.data(b"From: <bob@example.org>\r\nSubject: one id\r\n\r\nhello\r\n")
print(code, text.decode())
s.quit()`, host, port).CombinedOutput()
	if err != nil {
		t.Fatalf("smtplib: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`^250 2\.0\.0 Ok: queued as ([0-9A-F]{20})\n$`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("the DATA reply %q carries no queue id", out)
	}
	qid := m[1]

	// The queue tool shows the forwarded copy by that id.
	if got := run1(t, env, "", "queue", "show", qid); !strings.Contains(got, "id: "+qid+"\n") ||
		!strings.Contains(got, "far@remote.example") || !strings.Contains(got, "origin: forward") {
		t.Fatalf("queue show %s:\n%s", qid, got)
	}
	if got := run1(t, env, "", "queue", "list"); !strings.Contains(got, qid) {
		t.Fatalf("queue list lacks %s:\n%s", qid, got)
	}
	// So does the API.
	api := apiClient{t: t, base: "http://" + r.http + "/api/v1", token: token}
	if got := api.call("GET", "/queue/"+qid, nil, 200); got["id"] != qid || got["origin"] != "forward" {
		t.Fatalf("GET /queue/%s: %v", qid, got)
	}
	// And the panel.
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	base := "http://" + r.http
	if res, err := hc.PostForm(base+"/login", url.Values{"username": {"root"}, "password": {"an admin password"}}); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
	}
	page := func(path string) string {
		t.Helper()
		res, err := hc.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %d\n%s", path, res.StatusCode, b)
		}
		return string(b)
	}
	if got := page("/queue/" + qid); !strings.Contains(got, "<h1>Queued message "+qid+"</h1>") || !strings.Contains(got, "far@remote.example") {
		t.Fatalf("the panel's page of %s:\n%s", qid, got)
	}
	if got := page("/queue"); !strings.Contains(got, `<a href="/queue/`+qid+`">`+qid+`</a>`) {
		t.Fatalf("the panel's queue list lacks %s:\n%s", qid, got)
	}

	// The mail log page finds the session's lines and the queue's
	// deferral by the id; after a flush by the id, its delivery too.
	event := func(e string) string { return `<td data-label="Event">` + e + `</td>` }
	logHas := func(what string, events ...string) {
		t.Helper()
		var got string
		if !testsupport.Poll(30*time.Second, func() bool {
			got = page("/maillog?q=" + qid)
			for _, e := range events {
				if !strings.Contains(got, event(e)) {
					return false
				}
			}
			return true
		}) {
			t.Fatalf("the mail log by %s lacks %s (want %v):\n%s\nserve log:\n%s", qid, what, events, got, r.log)
		}
	}
	logHas("the session's lines and the deferral", "accepted", "delivered", "queued", "deferred")
	sink.open.Store(true)
	run1(t, env, "", "queue", "flush", qid)
	logHas("the delivery", "sent")
	if n := sink.got.Load(); n != 1 {
		t.Errorf("the relay host got %d messages, want 1", n)
	}
	if code := r.stop(t); code != 0 {
		t.Errorf("serve exit %d", code)
	}
}
