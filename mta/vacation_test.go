package mta_test

import (
	"strings"
	"testing"
)

func TestVacation(t *testing.T) {
	e := newEnv(t)
	e.domain("example.test")
	e.mailbox("alice@example.test", 0)
	e.alias("info@example.test", "alice@example.test")
	e.exec(`INSERT INTO vacations (mailbox_id, subject, body, interval_seconds)
		SELECT id, 'Out of office', 'Back on Monday.', 3600 FROM mailboxes WHERE address = 'alice@example.test'`)
	c := e.dial("127.0.0.2")
	msg := func(extra string) string {
		return "From: bob@remote.example\r\nTo: Alice <alice@example.test>\r\nSubject: hi\r\nMessage-ID: <q1@remote.example>\r\n" +
			extra + "\r\nHello\r\n"
	}
	for _, tc := range []struct {
		name, from, to, msg string
		reply               bool
	}{
		{"first message", "bob@remote.example", "alice@example.test", msg(""), true},
		{"same sender within the interval", "bob@remote.example", "alice@example.test", msg(""), false},
		{"mailing list", "carol@remote.example", "alice@example.test", msg("List-Id: <l.remote.example>\r\n"), false},
		{"bulk", "carol@remote.example", "alice@example.test", msg("Precedence: bulk\r\n"), false},
		{"auto-submitted", "carol@remote.example", "alice@example.test", msg("Auto-Submitted: auto-generated\r\n"), false},
		{"null sender", "", "alice@example.test", msg(""), false},
		{"mailer-daemon", "MAILER-DAEMON@remote.example", "alice@example.test", msg(""), false},
		{"not in To/Cc (Bcc)", "dave@remote.example", "alice@example.test",
			"From: dave@remote.example\r\nTo: someone@else.example\r\nSubject: x\r\n\r\nbody\r\n", false},
		{"addressed through an alias", "erin@remote.example", "info@example.test",
			"From: erin@remote.example\r\nTo: info@example.test\r\nSubject: x\r\n\r\nbody\r\n", true},
		{"another sender", "carol@remote.example", "alice@example.test", msg("Auto-Submitted: no\r\n"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.queue())
			if err := send(c, tc.from, []string{tc.to}, tc.msg); err != nil {
				t.Fatal(err)
			}
			q := e.queue()
			got := len(q) > before
			if got != tc.reply {
				t.Fatalf("reply queued: %v, want %v (%+v)", got, tc.reply, q)
			}
			if got {
				r := q[len(q)-1]
				if r.origin != "vacation" || r.sender != "" || r.recipient != tc.from ||
					!strings.Contains(r.body, "Subject: Out of office\r\n") ||
					!strings.Contains(r.body, "Auto-Submitted: auto-replied") ||
					!strings.Contains(r.body, "From: <alice@example.test>") ||
					!strings.Contains(r.body, "Back on Monday.") {
					t.Errorf("reply %+v", r)
				}
			}
		})
	}
}
