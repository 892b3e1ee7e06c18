package maillog_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"mailhost/maillog"
	"mailhost/store"
	"mailhost/testdb"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// The servers' log lines, as they write them, become mail log rows and
// counts; the next handler still gets only what its level lets through.
func TestRecordsTheServersLogLines(t *testing.T) {
	st := testdb.Open(t)
	ctx, cancel := context.WithCancel(context.Background())
	rec := maillog.New(st, maillog.Retention{Minutes: time.Hour, Hours: time.Hour, Log: time.Hour},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	done := make(chan struct{})
	go func() { rec.Serve(ctx); close(done) }()
	var shown strings.Builder
	log := slog.New(maillog.NewHandler(slog.NewTextHandler(&shown, &slog.HandlerOptions{Level: slog.LevelWarn}), rec))
	conn := log.With("conn", 7, "client", "192.0.2.7")
	conn.Info("accepted", "queue_id", "0662A9B1C4D2E1A3F07C", "from", "bob@example.org",
		"rcpts", []string{"ann@example.com", "cy@example.net"}, "message_id", "<m1@example.org>", "size", 120)
	conn.Info("delivered", "queue_id", "0662A9B1C4D2E1A3F07C", "to", "ann@example.com", "folder", "INBOX", "uid", 1)
	conn.Info("queued", "queue_id", "0662A9B1C4D2E1A3F07C", "queue_row", int64(42), "origin", "smtp", "to", "cy@example.net")
	log.Info("delivered", "queue_id", "0662A9B1C4D2E1A3F07C", "queue_row", int64(42), "from", "bob@example.org", "to", "cy@example.net", "relay", "mx.example.net[192.0.2.9]:25", "status", "2.0.0")
	log.Info("sender notified", "queue_id", "0662A9B1C4D2E1A3F07C", "queue_row", int64(42), "notice_id", "0662A9B1C4E00000B0B0",
		"to", "bob@example.org", "kind", "success")
	log.Info("sender notified", "queue_id", "0662A9B1C4D2E1A3F0AA", "notice_id", "0662A9B1C4E00000B0BB",
		"mailbox", "ann@example.com", "to", "x@far.example", "kind", "vacation")
	conn.Info("reject", "stage", "RCPT", "reason", "unknown_recipient", "code", 550, "from", "x@spam.test")
	log.Info("login failed", "user", "ann@example.com", "why", "password")
	log.Warn("something else")
	cancel()
	<-done
	if got := shown.String(); !strings.Contains(got, "something else") || strings.Contains(got, "accepted") {
		t.Errorf("the next handler got:\n%s", got)
	}
	rows, err := st.SearchMailLog(context.Background(), store.MailLogFilter{Q: "0662A9B1C4D2E1A3F07C", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, r := range rows {
		events = append(events, strings.TrimSpace(r.Event+" "+r.Recipient+" "+r.QueueRow+" "+r.Client+" "+r.Detail))
	}
	// The message's every line carries its queue id, the queue's delivery
	// and the notice's link as well as the session's.
	want := []string{"notified bob@example.org 42  success notice 0662A9B1C4E00000B0B0",
		"sent cy@example.net 42  relay mx.example.net[192.0.2.9]:25 2.0.0", "queued cy@example.net 42 192.0.2.7",
		"delivered ann@example.com  192.0.2.7 folder INBOX", "accepted ann@example.com,cy@example.net  192.0.2.7"}
	if strings.Join(events, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows by queue id:\n%s\nwant:\n%s", strings.Join(events, "\n"), strings.Join(want, "\n"))
	}
	// In lower case too; by the queue row; by message id the accepted line.
	if rows, _ := st.SearchMailLog(context.Background(), store.MailLogFilter{Q: "0662a9b1c4d2e1a3f07c", Limit: 10}); len(rows) != 5 {
		t.Errorf("by queue id in lower case: %d rows, want 5", len(rows))
	}
	if rows, _ := st.SearchMailLog(context.Background(), store.MailLogFilter{Q: "42", Limit: 10}); len(rows) != 3 || rows[1].Event != "sent" {
		t.Errorf("by queue row: %+v", rows)
	}
	if rows, _ := st.SearchMailLog(context.Background(), store.MailLogFilter{Q: "m1@example.org", Limit: 10}); len(rows) != 1 || rows[0].Event != "accepted" {
		t.Errorf("by message id: %+v", rows)
	}
	if rows, _ := st.SearchMailLog(context.Background(), store.MailLogFilter{Domains: []string{"example.net"}, Limit: 10}); len(rows) != 3 {
		t.Errorf("a domain admin of example.net sees %d rows, want 3 (accepted, queued, sent)", len(rows))
	}
	// A vacation reply's link is the mailbox's: its domain admin sees it.
	if rows, _ := st.SearchMailLog(context.Background(), store.MailLogFilter{Q: "0662A9B1C4D2E1A3F0AA", Domains: []string{"example.com"}, Limit: 10}); len(rows) != 1 ||
		rows[0].Sender != "ann@example.com" || rows[0].Recipient != "x@far.example" {
		t.Errorf("the vacation notice's row as example.com's admin sees it: %+v", rows)
	}
	for metric, want := range map[string]int64{"received": 1, "delivered": 1, "sent": 1, "rejected:unknown_recipient": 1, "logins_failed": 1} {
		pts, err := st.StatSeries(context.Background(), metric, "", time.Now().Add(-time.Hour), false)
		if err != nil || len(pts) != 1 || pts[0].Value != want {
			t.Errorf("%s: %+v %v", metric, pts, err)
		}
	}
	if pts, _ := st.StatSeries(context.Background(), "delivered", "example.com", time.Now().Add(-2*time.Hour), true); len(pts) != 1 || pts[0].Value != 1 {
		t.Errorf("example.com's deliveries per hour: %+v", pts)
	}
}
