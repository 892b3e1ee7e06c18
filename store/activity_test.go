package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"mailhost/store"
	"mailhost/testdb"
)

// TestRecordActivityBatch: one call's rows keep their order, their
// domain lists (none, one, several) and their fields; counts of the same
// metric, domain and minute in one call add up, as do calls after it.
func TestRecordActivityBatch(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	at := time.Now().Add(-time.Minute).Truncate(time.Minute).Add(10 * time.Second)
	events := []store.MailEvent{
		{At: at, Event: "accepted", QueueID: "Q1", Sender: "a@x.example", Recipient: "b@y.example,c@z.example",
			Domains: []string{"x.example", "y.example", "z.example"}, MessageID: "<m1@x>", Client: "192.0.2.1"},
		{At: at, Event: "queued", QueueID: "Q1", QueueRow: "7", Domains: []string{"x.example"}},
		{At: at, Event: "rejected", Detail: "RCPT unknown_user 550"},
	}
	counts := []store.StatDelta{
		{At: at, Metric: "sent", Value: 1},
		{At: at.Add(time.Second), Metric: "sent", Value: 1},
		{At: at, Metric: "sent", Domain: "x.example", Value: 1},
	}
	if err := s.RecordActivity(ctx, events, counts); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordActivity(ctx, nil, counts[:1]); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordActivity(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.SearchMailLog(ctx, store.MailLogFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d rows, want 3", len(got))
	}
	slices.Reverse(got) // newest (highest id) first
	for i, want := range events {
		g := got[i]
		if g.Event != want.Event || g.QueueID != want.QueueID || g.QueueRow != want.QueueRow || g.Sender != want.Sender ||
			g.Recipient != want.Recipient || g.MessageID != want.MessageID || g.Client != want.Client ||
			g.Detail != want.Detail || !slices.Equal(g.Domains, want.Domains) || !g.At.Equal(want.At) {
			t.Errorf("row %d: %+v, want %+v", i, g, want)
		}
	}
	for _, hourly := range []bool{false, true} {
		pts, err := s.StatSeries(ctx, "sent", "", at.Add(-2*time.Hour), hourly)
		if err != nil {
			t.Fatal(err)
		}
		if len(pts) != 1 || pts[0].Value != 3 {
			t.Errorf("hourly %v: sent %+v, want one point of 3", hourly, pts)
		}
		if pts, _ := s.StatSeries(ctx, "sent", "x.example", at.Add(-2*time.Hour), hourly); len(pts) != 1 || pts[0].Value != 1 {
			t.Errorf("hourly %v: sent for x.example %+v, want one point of 1", hourly, pts)
		}
	}
}
