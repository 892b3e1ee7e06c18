package web_test

import (
	"context"
	"testing"
	"time"

	"mailhost/store"
)

// The dashboard draws the recorded traffic: each chart's caption and
// data-total say its count; the mail log finds a message by queue id, and
// a domain admin sees only the mail of their domains.
func TestDashboardChartsAndMailLog(t *testing.T) {
	e := newEnv(t)
	e.admin("root", true)
	e.domain("example.com")
	e.domain("other.test")
	e.admin("dora", false, "other.test")
	now := time.Now()
	err := e.st.RecordActivity(context.Background(), []store.MailEvent{
		{At: now, Event: "accepted", QueueID: "1B5D81FF03200001", Sender: "bob@example.org", Recipient: "ann@example.com", Domains: []string{"example.org", "example.com"}},
		{At: now, Event: "delivered", QueueID: "1B5D81FF03200001", Recipient: "ann@example.com", Detail: "folder INBOX", Domains: []string{"example.com"}},
	}, []store.StatDelta{
		{At: now, Metric: "received", Value: 3}, {At: now.Add(-3 * time.Hour), Metric: "received", Value: 2},
		{At: now, Metric: "delivered", Value: 4}, {At: now, Metric: "rejected:unknown_recipient", Value: 5},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := e.client()
	c.login("root", pw, "/")
	p := c.get("/").must(t, 200)
	p.has(t, `data-metric="received" data-total="5"`, "Messages received: <strong>5</strong> in all",
		`data-metric="delivered" data-total="4"`, `data-metric="rejected:unknown_recipient" data-total="5"`,
		"Rejected: unknown recipient", `<svg viewBox="0 0 720 120" role="img"`)
	c.get("/maillog?q=1B5D81FF03200001").must(t, 200).has(t, "<td data-label=\"Event\">accepted</td>", "<td data-label=\"Event\">delivered</td>", "folder INBOX")
	c.get("/maillog?q=ann%40example.com&event=delivered").must(t, 200).has(t, "delivered").lacks(t, "<td data-label=\"Event\">accepted</td>")

	d := e.client()
	d.login("dora", pw, "/")
	d.get("/").must(t, 200).lacks(t, `class="chart"`)
	d.get("/maillog?q=1B5D81FF03200001").must(t, 200).has(t, "Nothing found").lacks(t, "ann@example.com")
}
