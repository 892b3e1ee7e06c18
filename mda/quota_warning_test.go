package mda_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mailhost/mda"
	"mailhost/testsupport"
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

// quotaEnv is alice with a 100000-byte quota filled to used bytes, and the
// count of warnings queued.
func quotaEnv(t *testing.T, used int64) (*sieveEnv, func() int) {
	t.Helper()
	e := newSieveEnv(t)
	ctx := context.Background()
	e.agent.Filter = nil
	if _, err := e.st.Pool().Exec(ctx, `UPDATE mailboxes SET quota_bytes = 100000, used_bytes = $1`, used); err != nil {
		t.Fatal(err)
	}
	e.alice.QuotaBytes, e.alice.UsedBytes = 100000, used
	return e, func() int {
		t.Helper()
		var n int
		if err := e.st.Pool().QueryRow(ctx, `SELECT count(*) FROM queue WHERE origin = 'notice'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
}

// Deliveries that cross a threshold together, each from a resolution that
// saw the mailbox under it, warn once: on their own transactions and
// committed as one group.
func TestQuotaWarningParallelDeliveries(t *testing.T) {
	for _, group := range []bool{false, true} {
		t.Run(map[bool]string{false: "one transaction each", true: "group commit"}[group], func(t *testing.T) {
			e, notices := quotaEnv(t, 79000)
			if group {
				e.agent.Index = &mda.GroupIndex{Store: e.st}
			}
			e.agent.QuotaWarnings = &mda.QuotaWarnings{Store: e.st, Thresholds: []int{80, 95}, Hostname: "mx.test"}
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := mda.Recipient{Target: e.alice, From: "x@far.example"} // each saw 79%
					body := "Subject: " + strconv.Itoa(i) + "\r\n\r\n" + strings.Repeat("x", 500)
					if _, err := e.agent.Deliver(context.Background(), mda.Message{Body: []byte(body)}, []mda.Recipient{r}, nil, nil); err != nil {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			if n := notices(); n != 1 {
				t.Fatalf("%d warnings after 8 parallel deliveries crossed 80%%, want 1", n)
			}
		})
	}
}

// Usage that grows without a delivery warns too, once: an IMAP APPEND or
// COPY through UsageGrew at once, anything else (an import, adopted
// files) at Serve's look at every mailbox.
func TestQuotaWarningServe(t *testing.T) {
	e, notices := quotaEnv(t, 0)
	q := &mda.QuotaWarnings{Store: e.st, Thresholds: []int{80, 95}, Hostname: "mx.test", Interval: time.Hour}
	stop := serveQuota(t, q)
	grow := func(used int64) {
		t.Helper()
		if _, err := e.st.Pool().Exec(context.Background(), `UPDATE mailboxes SET used_bytes = $1`, used); err != nil {
			t.Fatal(err)
		}
	}
	grow(85000)
	for range 5 { // APPENDs from several sessions at once
		go q.UsageGrew(e.alice.MailboxID)
	}
	testsupport.Eventually(t, 10*time.Second, "the warning at 80%", func() bool { return notices() == 1 })
	q.UsageGrew(e.alice.MailboxID)
	grow(96000)
	q.UsageGrew(e.alice.MailboxID)
	testsupport.Eventually(t, 10*time.Second, "the warning at 95%", func() bool { return notices() == 2 })

	// Grown by an import: the look at every mailbox when Serve starts (and
	// each Interval) finds it.
	stop()
	grow(10000) // fell: the level is lowered
	grow(90000)
	serveQuota(t, q)
	testsupport.Eventually(t, 10*time.Second, "the warning of the look at every mailbox", func() bool { return notices() == 3 })
	// Another node looks too: nothing new to say.
	other := &mda.QuotaWarnings{Store: e.st, Thresholds: []int{80, 95}, Hostname: "mx.test"}
	stopOther := serveQuota(t, other)
	other.UsageGrew(e.alice.MailboxID)
	time.Sleep(100 * time.Millisecond)
	stopOther()
	if n := notices(); n != 3 {
		t.Fatalf("%d warnings, want 3", n)
	}
}

// serveQuota runs q.Serve until the returned stop is called (at the
// latest when the test ends).
func serveQuota(t *testing.T, q *mda.QuotaWarnings) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- q.Serve(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
