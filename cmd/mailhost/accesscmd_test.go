package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailhost/testsupport"
)

// TestAccessAndRelocatedCommands: the CLI writes, lists and deletes rules
// and relocated entries through the admin service (audited as cli).
func TestAccessAndRelocatedCommands(t *testing.T) {
	env, _ := provEnv(t)
	run1(t, env, "", "domain", "add", "example.test")
	out := run1(t, env, "", "access", "add", "sender", "Spammer.Example", "REJECT", "go", "away", "--comment", "seen 2026-01")
	if !strings.Contains(out, "pattern: spammer.example") || !strings.Contains(out, "action:  REJECT go away") {
		t.Fatalf("access add: %s", out)
	}
	run1(t, env, "", "access", "add", "client", "192.0.2.0/24", "450", "4.7.1", "greylisted")
	run1(t, env, "", "access", "add", "recipient", "@example.test", "OK")
	out = run1(t, env, "", "access", "list")
	if !strings.Contains(out, "ACTION") || strings.Index(out, "192.0.2.0/24") > strings.Index(out, "spammer.example") ||
		!strings.Contains(out, "DEFER 4.7.1 greylisted") || !strings.Contains(out, "seen 2026-01") {
		t.Fatalf("access list: %s", out)
	}
	out = run1(t, env, "", "access", "list", "--kind", "recipient", "--json")
	var l struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l.Items) != 1 || l.Items[0]["domain"] != "example.test" {
		t.Fatalf("access list --json: %v %s", err, out)
	}
	code, _, errOut := mailhost(t, env, "", "access", "add", "client", "192.0.2.1/24", "OK")
	if code != 1 || !strings.Contains(errOut, "pattern: has host bits set; the network is 192.0.2.0/24") {
		t.Fatalf("bad network: %d %s", code, errOut)
	}
	code, _, errOut = mailhost(t, env, "", "access", "add", "helo", "x.example")
	if code != 2 || !strings.Contains(errOut, "usage: mailhost access") {
		t.Fatalf("missing action: %d %s", code, errOut)
	}
	run1(t, env, "", "access", "delete", "sender", "SPAMMER.example")
	run1(t, env, "", "access", "del", fmt.Sprint(l.Items[0]["id"]))
	code, _, errOut = mailhost(t, env, "", "access", "delete", "sender", "spammer.example")
	if code != 1 || !strings.Contains(errOut, "no sender rule for spammer.example") {
		t.Fatalf("delete twice: %d %s", code, errOut)
	}

	out = run1(t, env, "", "relocated", "add", "Old@example.test", "new@elsewhere.example")
	if !strings.Contains(out, "address:      old@example.test") {
		t.Fatalf("relocated add: %s", out)
	}
	run1(t, env, "", "relocated", "add", "@example.test", "call", "+1", "555", "0100")
	out = run1(t, env, "", "relocated", "list", "--q", "555")
	if !strings.Contains(out, "NEW LOCATION") || !strings.Contains(out, "call +1 555 0100") || strings.Contains(out, "old@") {
		t.Fatalf("relocated list: %s", out)
	}
	code, _, errOut = mailhost(t, env, "", "relocated", "add", "x@nowhere.example", "y@x.example")
	if code != 1 || !strings.Contains(errOut, "address: nowhere.example is not a domain of this server") {
		t.Fatalf("relocated in a foreign domain: %d %s", code, errOut)
	}
	run1(t, env, "", "relocated", "delete", "old@example.test")
	out = run1(t, env, "", "relocated", "list")
	if strings.Contains(out, "old@") {
		t.Fatalf("after delete: %s", out)
	}
}

// apiClient calls a running serve's API with a token.
type apiClient struct {
	t     *testing.T
	base  string
	token string
}

func (c apiClient) call(method, path string, body any, want int) map[string]any {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		c.t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, raw)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

// smtpFrom runs a transaction from client address ip (a 127.0.0.0/8
// address) up to DATA and returns the reply of the first refused step,
// or nil when the message was accepted.
func smtpFrom(t *testing.T, addr, ip, from string, to ...string) error {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClient(conn)
	defer c.Close()
	if err := c.Hello("client.example"); err != nil {
		return err
	}
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "From: <%s>\r\nSubject: access test\r\n\r\nhello\r\n", from)
	return w.Close()
}

// reply is the code, enhanced code and text of an SMTP error, "250" for nil.
func reply(err error) string {
	var se *smtp.SMTPError
	switch {
	case err == nil:
		return "250"
	case errors.As(err, &se):
		return fmt.Sprintf("%d %d.%d.%d %s", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2], se.Message)
	}
	return err.Error()
}

// TestAccessRulesFromAPIToSMTP: rules and relocated entries made through
// the API of a running serve give the replies they say, at the SMTP
// session of the same serve; a held message is delivered when released.
func TestAccessRulesFromAPIToSMTP(t *testing.T) {
	env, data := provEnv(t)
	smtpAddr := freePort(t)
	env = append(env, "MAILHOST_LISTEN_SMTP="+smtpAddr, "MAILHOST_HOSTNAME=mx.test")
	run1(t, env, "", "domain", "add", "example.test")
	for _, box := range []string{"alice@example.test", "bob@example.test"} {
		run1(t, env, "a mailbox password\n", "mailbox", "add", box, "--password-stdin")
	}
	run1(t, env, "an admin password\n", "admin", "add", "root", "--super", "--password-stdin")
	token := strings.TrimSpace(run1(t, env, "", "token", "create", "root", "--name", "e2e"))
	r := startServe(t, env)
	api := apiClient{t: t, base: "http://" + r.http + "/api/v1", token: token}
	inbox := filepath.Join(data, "vmail", "example.test", "alice", "new")

	// A new kind of rule takes effect within the server's two-second
	// cache of which kinds exist: poll until the reply is the rule's.
	want := func(what string, send func() error, prefix string) {
		t.Helper()
		var last string
		if !testsupport.Poll(20*time.Second, func() bool {
			last = reply(send())
			return strings.HasPrefix(last, prefix)
		}) {
			t.Fatalf("%s: reply %q, want %q...\n%s", what, last, prefix, r.log)
		}
	}
	send := func(ip, from string, to ...string) func() error {
		return func() error { return smtpFrom(t, smtpAddr, ip, from, to...) }
	}

	// Sender REJECT with a text: 554 5.7.1 at MAIL.
	api.call("POST", "/access-rules", map[string]any{"kind": "sender", "pattern": "spammer.example", "action": "REJECT", "text": "go away"}, 201)
	want("sender REJECT", send("127.0.0.2", "x@mail.spammer.example", "alice@example.test"),
		"554 5.7.1 <x@mail.spammer.example>: Sender address rejected: go away")

	// Client DEFER: 450 4.7.1 at MAIL, for that client only.
	api.call("POST", "/access-rules", map[string]any{"kind": "client", "pattern": "127.0.0.9", "action": "DEFER", "text": "greylisted"}, 201)
	want("client DEFER", send("127.0.0.9", "a@remote.example", "alice@example.test"),
		"450 4.7.1 <127.0.0.9>: Client host rejected: greylisted")
	want("other client", send("127.0.0.2", "a@remote.example", "alice@example.test"), "250")

	// Recipient REJECT with a code of the admin's choice, at RCPT.
	rule := api.call("POST", "/access-rules", map[string]any{"kind": "recipient", "pattern": "bob@example.test", "code": 550, "text": "5.7.1 bob takes no mail"}, 201)
	want("recipient 550", send("127.0.0.2", "a@remote.example", "bob@example.test"),
		"550 5.7.1 <bob@example.test>: Recipient address rejected: bob takes no mail")

	// Relocated: 551 5.1.6 at RCPT, at once (no cache).
	api.call("POST", "/relocated", map[string]any{"address": "carol@example.test", "new_location": "carol@elsewhere.example"}, 201)
	if got := reply(smtpFrom(t, smtpAddr, "127.0.0.2", "a@remote.example", "carol@example.test")); got !=
		"551 5.1.6 <carol@example.test>: Recipient address rejected: User has moved to carol@elsewhere.example" {
		t.Fatalf("relocated: %q", got)
	}

	// Deleting the rule lets bob's mail in again.
	api.call("DELETE", fmt.Sprintf("/access-rules/%v", rule["id"]), nil, 204)
	want("recipient rule deleted", send("127.0.0.2", "a@remote.example", "bob@example.test"), "250")

	// HOLD: accepted, not delivered, on hold in the queue until released.
	files := func() int {
		ents, _ := os.ReadDir(inbox)
		return len(ents)
	}
	before := files()
	api.call("POST", "/access-rules", map[string]any{"kind": "sender", "pattern": "held@remote.example", "action": "HOLD", "text": "review"}, 201)
	if got := reply(smtpFrom(t, smtpAddr, "127.0.0.2", "held@remote.example", "alice@example.test")); got != "250" {
		t.Fatalf("HOLD: %q", got)
	}
	q := api.call("GET", "/queue?state=hold", nil, 200)
	items, _ := q["items"].([]any)
	if len(items) != 1 || files() != before {
		t.Fatalf("held: queue %v, %d files (had %d)", q, files(), before)
	}
	api.call("POST", fmt.Sprintf("/queue/%v/release", items[0].(map[string]any)["id"]), nil, 204)
	testsupport.Eventually(t, 30*time.Second, "the released message in alice's INBOX", func() bool { return files() == before+1 })

	// Every change is in the audit log.
	audit := api.call("GET", "/audit-log?object_type=access_rule", nil, 200)
	if n := len(audit["items"].([]any)); n != 5 { // four creates, one delete
		t.Errorf("audit rows of access rules: %d", n)
	}
	if code := r.stop(t); code != 0 {
		t.Errorf("serve exit %d", code)
	}
}
