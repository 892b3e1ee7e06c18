package mta_test

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

// TestQueueIDFromReplyToQueue: the id of the 250 reply is the id of the
// Received field, of the message's queue row and of the queue's log lines
// about it; the bounce the queue writes has an id of its own, linked by a
// "sender notified" line and carried by its own delivery's log line.
func TestQueueIDFromReplyToQueue(t *testing.T) {
	e, z, s := outEnv(t)
	s.rcptReply = func(to string) error {
		if strings.HasPrefix(to, "gone@") {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	}
	c := e.dial("127.0.0.1") // mynetworks: may relay
	if err := c.Mail("alice@example.test", nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"ok@remote.example", "gone@remote.example"} {
		if err := c.Rcpt(r, nil); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, outMsg)
	resp, err := w.CloseWithResponse()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^2\.0\.0 Ok: queued as ([0-9A-F]{20})$`).FindStringSubmatch(resp.StatusText)
	if m == nil {
		t.Fatalf("DATA reply %q", resp.StatusText)
	}
	qid := m[1]

	var row int64
	var stored, body string
	e.scalar(&row, `SELECT id FROM queue`)
	e.scalar(&stored, `SELECT queue_id FROM queue`)
	e.scalar(&body, `SELECT convert_from(body, 'UTF8') FROM queue`)
	if stored != qid || !strings.Contains(body, " id "+qid+"\r\n") && !strings.Contains(body, " id "+qid+";") {
		t.Fatalf("queue row's id %q (reply %q); body:\n%s", stored, qid, body)
	}
	if q := e.logs.lines("queued"); len(q) != 1 || q[0]["queue_id"] != qid || q[0]["queue_row"] != float64(row) {
		t.Errorf("queued lines %v", q)
	}

	e.startOutbound(z, s.port, "node-a")
	waitFor(t, "the bounce delivered to alice", func() bool {
		return e.queueLen() == 0 && len(e.files("alice@example.test", "INBOX")) == 1
	})
	dsn := e.read(e.files("alice@example.test", "INBOX")[0])
	if !strings.Contains(dsn, "X-Mailhost-Queue-ID: "+qid+"\r\n") {
		t.Errorf("the bounce does not name the message's id %s:\n%s", qid, dsn)
	}
	sent, bounced := e.logs.lines("delivered"), e.logs.lines("bounced")
	if len(bounced) != 1 || bounced[0]["queue_id"] != qid || bounced[0]["queue_row"] != float64(row) {
		t.Errorf("bounced lines %v, want one with queue_id %s", bounced, qid)
	}
	notified := e.logs.lines("sender notified")
	if len(notified) != 1 || notified[0]["queue_id"] != qid || notified[0]["kind"] != "failure" {
		t.Fatalf("sender notified lines %v", notified)
	}
	notice, _ := notified[0]["notice_id"].(string)
	if notice == qid || !regexp.MustCompile(`^[0-9A-F]{20}$`).MatchString(notice) {
		t.Fatalf("the bounce's id %q, want an id of its own", notice)
	}
	byID := map[string][]string{}
	for _, l := range sent {
		byID[fmt.Sprint(l["queue_id"])] = append(byID[fmt.Sprint(l["queue_id"])], fmt.Sprint(l["to"]))
	}
	if strings.Join(byID[qid], ",") != "ok@remote.example" || strings.Join(byID[notice], ",") != "alice@example.test" {
		t.Errorf("delivered lines by queue id: %v (message %s, bounce %s)", byID, qid, notice)
	}
}
