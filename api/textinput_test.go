package api_test

import (
	"testing"

	"mailhost/api"
)

// TestNULAndInvalidUTF8: a NUL byte or invalid UTF-8 in any input (a JSON
// member, a query parameter such as a search or an audit filter, a path
// segment) is a 422 problem naming the input, never a 500 from the
// database, and nothing is written.
func TestNULAndInvalidUTF8(t *testing.T) {
	e := newEnv(t)
	super := e.admin("root", true)
	e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": "example.com"}))
	e.must(201, e.do(super, "POST", "/api/v1/domains/example.com/mailboxes", map[string]any{"local_part": "alice", "password": "password1"}))
	before := e.counts()
	for _, tc := range []struct {
		name, method, path string
		body               any
		field              string
	}{
		{"search q", "GET", "/api/v1/domains?q=%00", nil, "q"},
		{"search q, invalid UTF-8", "GET", "/api/v1/domains/example.com/mailboxes?q=%C3%28", nil, "q"},
		{"audit filter", "GET", "/api/v1/audit-log?actor=a%00b", nil, "actor"},
		{"audit filter, object", "GET", "/api/v1/audit-log?object=%FF", nil, "object"},
		{"cursor", "GET", "/api/v1/admins?cursor=%00", nil, "cursor"},
		{"path segment", "GET", "/api/v1/mailboxes/al%00ice@example.com", nil, "address"},
		{"domain description", "POST", "/api/v1/domains", `{"name":"new.example","description":"a\u0000b"}`, "description"},
		{"mailbox name", "PATCH", "/api/v1/mailboxes/alice@example.com", `{"name":"Al\u0000ice"}`, "name"},
		{"mailbox name, invalid UTF-8", "PATCH", "/api/v1/mailboxes/alice@example.com", []byte("{\"name\":\"Al\xffice\"}"), "name"},
		{"alias destination", "POST", "/api/v1/domains/example.com/aliases", `{"address":"x@example.com","destinations":["a\u0000@example.org"]}`, "destinations[0]"},
		{"vacation body", "PUT", "/api/v1/mailboxes/alice@example.com/vacation", `{"subject":"away","body":"back\u0000soon"}`, "body"},
	} {
		r := e.do(super, tc.method, tc.path, tc.body)
		if r.code != 422 || r.hdr.Get("Content-Type") != "application/problem+json" || r.body["type"] != api.ProblemBase+"validation" {
			t.Errorf("%s: %d %s, want a 422 validation problem", tc.name, r.code, r.raw)
			continue
		}
		if got := fieldErrors(r); len(got) != 1 || got[0] != tc.field {
			t.Errorf("%s: fields %v, want [%s]: %s", tc.name, got, tc.field, r.raw)
		}
	}
	if after := e.counts(); !equalMap(after, before) {
		t.Errorf("rows changed: %v, before %v", after, before)
	}
}
