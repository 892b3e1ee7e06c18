package mda_test

import (
	"context"
	"strings"
	"testing"

	"mailhost/mda"
)

// A delivery that takes a mailbox over a threshold warns its owner once;
// not again until the usage fell below and rose over it again.
func TestQuotaWarningOncePerCrossing(t *testing.T) {
	e := newSieveEnv(t)
	ctx := context.Background()
	e.agent.Filter = nil
	e.agent.QuotaWarnings = &mda.QuotaWarnings{Store: e.st, Thresholds: []int{80, 95}, Hostname: "mx.test"}
	if _, err := e.st.Pool().Exec(ctx, `UPDATE mailboxes SET quota_bytes = 10000`); err != nil {
		t.Fatal(err)
	}
	e.alice.QuotaBytes = 10000
	deliver := func(size int) {
		t.Helper()
		var used int64
		if err := e.st.Pool().QueryRow(ctx, `SELECT used_bytes FROM mailboxes`).Scan(&used); err != nil {
			t.Fatal(err)
		}
		e.alice.UsedBytes = used // as the resolver reads it
		e.deliver("x@far.example", "Subject: fill\r\n\r\n"+strings.Repeat("x", size))
	}
	notices := func() int {
		t.Helper()
		var n int
		if err := e.st.Pool().QueryRow(ctx, `SELECT count(*) FROM queue WHERE origin = 'notice'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	deliver(7000) // ~70%
	if n := notices(); n != 0 {
		t.Fatalf("notices at 70%%: %d", n)
	}
	deliver(1500) // ~85%: crosses 80
	deliver(100)  // still 80-95: nothing new
	if n := notices(); n != 1 {
		t.Fatalf("notices after crossing 80%%: %d", n)
	}
	deliver(1000) // ~96%: crosses 95
	if n := notices(); n != 2 {
		t.Fatalf("notices after crossing 95%%: %d", n)
	}
	// Messages removed: the usage falls to 20%, then rises over 80% again.
	if _, err := e.st.Pool().Exec(ctx, `UPDATE mailboxes SET used_bytes = 2000`); err != nil {
		t.Fatal(err)
	}
	deliver(6200)
	if n := notices(); n != 3 {
		t.Fatalf("notices after crossing 80%% again: %d", n)
	}
	var body, to string
	if err := e.st.Pool().QueryRow(ctx, `SELECT convert_from(q.body, 'UTF8'), r.recipient FROM queue q
		JOIN queue_recipients r ON r.queue_id = q.id WHERE q.origin = 'notice' ORDER BY q.id LIMIT 1`).Scan(&body, &to); err != nil {
		t.Fatal(err)
	}
	if to != "alice@example.test" || !strings.Contains(body, "is 80% full") || !strings.Contains(body, "empty the Trash") {
		t.Fatalf("warning to %s:\n%s", to, body)
	}
	// A domain's own text.
	if _, err := e.st.Pool().Exec(ctx, `UPDATE domains SET quota_warning_text = 'Dear %ADDRESS%, %PERCENT%% used.';
		UPDATE mailboxes SET used_bytes = 0`); err != nil {
		t.Fatal(err)
	}
	deliver(8500)
	if err := e.st.Pool().QueryRow(ctx, `SELECT convert_from(body, 'UTF8') FROM queue WHERE origin = 'notice' ORDER BY id DESC LIMIT 1`).Scan(&body); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, "Dear alice@example.test, 80% used.") {
		t.Fatalf("domain text:\n%s", body)
	}
}
