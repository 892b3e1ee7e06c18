package mta_test

import (
	"strings"
	"testing"

	"github.com/emersion/go-smtp"
)

// TestVanishedFolderStillAcknowledged: a folder named by a recipient's
// extension is deleted (its row gone, as by IMAP DELETE) between RCPT and
// the commit of the delivery. The other copies and the queued one are
// committed by then, so the message must get 250 (a 451 would make the
// client send it again, duplicating every other copy); the copy meant for
// the folder lands in INBOX, indexed.
func TestVanishedFolderStillAcknowledged(t *testing.T) {
	e := newEnv(t)
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	e.mailbox("bob@example.test", 0)
	e.folder("alice@example.test", "news")

	c := e.dial("")
	if err := c.Mail("sender@remote.example", nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"alice+news@example.test", "bob@example.test", "carol@remote.example"} {
		if err := c.Rcpt(r, nil); err != nil {
			t.Fatalf("RCPT %s: %v", r, err)
		}
	}
	// The folder row goes; its directory stays (a crash between the
	// two steps of a folder delete leaves exactly that).
	e.exec(`DELETE FROM folders WHERE name = 'news'
		AND mailbox_id = (SELECT id FROM mailboxes WHERE address = 'alice@example.test')`)
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(testMsg))
	wantCode(t, w.Close(), 250, smtp.EnhancedCode{2, 0, 0})

	if n := e.indexed("bob@example.test", "INBOX"); n != 1 {
		t.Errorf("bob has %d messages, want 1", n)
	}
	if n, f := e.indexed("alice@example.test", "INBOX"), e.files("alice@example.test", "INBOX"); n != 1 || len(f) != 1 {
		t.Errorf("alice's INBOX: %d rows, files %v; want the copy for the vanished folder there", n, f)
	}
	if f := e.files("alice@example.test", "news"); len(f) != 0 {
		t.Errorf("files left in the vanished folder: %v", f)
	}
	if _, msgs := e.usage("alice@example.test"); msgs != 1 {
		t.Errorf("alice is charged %d messages, want 1", msgs)
	}
	if q := e.queue(); len(q) != 1 || q[0].recipient != "carol@remote.example" {
		t.Errorf("queue %+v", q)
	}
	d := e.logs.lines("delivered")
	if len(d) != 2 {
		t.Fatalf("delivered lines %v", d)
	}
	for _, l := range d {
		if l["to"] == "alice@example.test" && (l["folder"] != "INBOX" || l["wanted_folder"] != "news") {
			t.Errorf("alice's delivery logged as %v, want folder INBOX and wanted_folder news", l)
		}
	}
}

// TestLocalQueueDeliveryActsOnOutcomes: a queued message for an alias of
// two local mailboxes, one of them full. The queue worker's local
// delivery commits the other copy, so the recipient is done (a retry would
// deliver that copy again) and the full mailbox's copy goes back to the
// sender in a bounce, as the SMTP server does for the same case.
func TestLocalQueueDeliveryActsOnOutcomes(t *testing.T) {
	e, z, s := outEnv(t)
	e.mailbox("bob@example.test", 10) // full for any message
	e.alias("team@example.test", "alice@example.test", "bob@example.test")
	e.enqueue("x@remote.example", "team@example.test")
	e.startOutbound(z, s.port, "node-a")
	waitFor(t, "the bounce to reach the sender", func() bool { return e.queueLen() == 0 && len(s.messages()) > 0 })
	msgs := s.messages()
	if len(msgs) != 1 || msgs[0].from != "" || len(msgs[0].to) != 1 || msgs[0].to[0] != "x@remote.example" ||
		!strings.Contains(msgs[0].data, "bob@example.test") || !strings.Contains(msgs[0].data, "5.2.2") {
		t.Fatalf("sender got %+v, want one bounce for bob", msgs)
	}
	if n := e.indexed("alice@example.test", "INBOX"); n != 1 {
		t.Errorf("alice has %d messages, want 1", n)
	}
	if f := e.files("bob@example.test", "INBOX"); len(f) != 0 {
		t.Errorf("bob's files %v", f)
	}
}
