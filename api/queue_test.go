package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"mailhost/store"
)

// enqueue queues a message from sender to rcpt and returns its row and
// queue id.
func (e *env) enqueue(sender, rcpt string) (int64, string) {
	e.t.Helper()
	_, d, _ := strings.Cut(rcpt, "@")
	qid := store.NewQueueID()
	ids, err := e.st.Enqueue(context.Background(), store.QueuedMessage{QueueID: qid, Sender: sender, Origin: "submission",
		Body:       []byte("Subject: queued\r\nFrom: " + sender + "\r\n\r\nbody text\r\n"),
		Recipients: []store.QueuedRecipient{{Address: rcpt, Domain: d}}})
	if err != nil {
		e.t.Fatal(err)
	}
	return ids[0], qid
}

func TestQueueAPI(t *testing.T) {
	e := newEnv(t)
	super := e.admin("root", true)
	e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": "a.example"}))
	domAdmin := e.admin("da", false, "a.example")
	row1, id1 := e.enqueue("user@a.example", "x@remote.example")
	_, id2 := e.enqueue("user@a.example", "y@other.example")
	q := "/api/v1/queue/" + id1

	// Domain admins may not see or touch the queue: 403 everywhere.
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/v1/queue"}, {"GET", q}, {"POST", q + "/hold"}, {"POST", q + "/release"}, {"DELETE", q},
	} {
		e.problem(403, "forbidden", e.do(domAdmin, c.method, c.path, nil))
	}
	e.problem(403, "forbidden", e.do(domAdmin, "POST", "/api/v1/queue/flush", map[string]any{}))

	r := e.must(200, e.do(super, "GET", "/api/v1/queue", nil))
	items := r.body["items"].([]any)
	if len(items) != 2 || items[0].(map[string]any)["id"] != id1 || items[0].(map[string]any)["row"] != float64(row1) {
		t.Fatalf("queue list: %s", r.raw)
	}
	r = e.must(200, e.do(super, "GET", "/api/v1/queue?domain=other.example", nil))
	if n := len(r.body["items"].([]any)); n != 1 {
		t.Fatalf("domain filter: %s", r.raw)
	}
	r = e.must(200, e.do(super, "GET", q, nil))
	if !strings.Contains(r.raw, "Subject: queued") || strings.Contains(r.raw, "body text") || !strings.Contains(r.raw, `"state":"queued"`) {
		t.Fatalf("show: %s", r.raw)
	}
	// The row number of before migration 0019 names the message too.
	r = e.must(200, e.do(super, "GET", fmt.Sprintf("/api/v1/queue/%d", row1), nil))
	if r.body["id"] != id1 {
		t.Fatalf("show by row: %s", r.raw)
	}
	r = e.must(200, e.do(super, "POST", "/api/v1/queue/flush", map[string]any{"id": id2}))
	if r.body["count"].(float64) != 1 {
		t.Fatalf("flush of one message: %s", r.raw)
	}
	r = e.must(200, e.do(super, "GET", q+"?body=true", nil))
	if !strings.Contains(r.raw, "body text") {
		t.Fatalf("show body: %s", r.raw)
	}
	e.must(204, e.do(super, "POST", q+"/hold", nil))
	r = e.must(200, e.do(super, "GET", "/api/v1/queue?state=hold", nil))
	if n := len(r.body["items"].([]any)); n != 1 {
		t.Fatalf("hold: %s", r.raw)
	}
	e.must(204, e.do(super, "POST", q+"/release", nil))
	r = e.must(200, e.do(super, "POST", "/api/v1/queue/flush", map[string]any{"domain": "other.example"}))
	if r.body["count"].(float64) != 1 {
		t.Fatalf("flush: %s", r.raw)
	}
	e.must(204, e.do(super, "DELETE", q, nil))
	r = e.must(200, e.do(super, "GET", "/api/v1/audit-log?object_type=queue", nil))
	if n := len(r.body["items"].([]any)); n != 5 || !strings.Contains(r.raw, `"action":"delete"`) || !strings.Contains(r.raw, "x@remote.example") {
		t.Fatalf("audit log of the queue: %s", r.raw)
	}
	e.problem(404, "not-found", e.do(super, "GET", q, nil))
	e.problem(404, "not-found", e.do(super, "DELETE", "/api/v1/queue/nonsense", nil))
}
