package web_test

import (
	"testing"
)

// TestNULAndInvalidUTF8: a NUL byte or invalid UTF-8 in a form field, a
// search or an audit filter is shown as an error next to that field (422),
// never a 500, and nothing is written.
func TestNULAndInvalidUTF8(t *testing.T) {
	e := newEnv(t)
	e.admin("root", true)
	e.domain("example.com")
	e.mailbox("alice@example.com")
	c := e.client()
	c.login("root", pw, "/")
	audit := e.count(`SELECT count(*) FROM audit_log`)

	c.get("/domains?q=%00").must(t, 422).fieldError(t, "q", "NUL")
	c.get("/domains/example.com/mailboxes?q=%C3%28").must(t, 422).fieldError(t, "q", "UTF-8")
	c.get("/audit?actor=ro%00ot").must(t, 422).fieldError(t, "actor", "NUL")
	c.get("/audit?object=%FF").must(t, 422).fieldError(t, "object", "UTF-8")

	c.post("/domains/new", "name", "new.example", "description", "a\x00b", "active", "on").must(t, 422).
		fieldError(t, "description", "NUL").has(t, `value="new.example"`)
	c.post("/domains/example.com/edit", "description", "bad \xff byte", "kind", "local").must(t, 422).
		fieldError(t, "description", "UTF-8")
	c.post("/mailboxes/alice@example.com", "name", "Al\x00ice").must(t, 422).fieldError(t, "name", "NUL")
	c.post("/mailboxes/alice@example.com/vacation", "subject", "away", "body", "back\x00soon").must(t, 422).
		fieldError(t, "body", "NUL")

	if n := e.count(`SELECT count(*) FROM domains`); n != 1 {
		t.Errorf("%d domains, want the one made by the test", n)
	}
	if n := e.count(`SELECT count(*) FROM audit_log`); n != audit {
		t.Errorf("audit log has %d entries, had %d: something was written", n, audit)
	}
}
