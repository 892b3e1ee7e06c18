package api_test

import (
	"fmt"
	"strings"
	"testing"
)

// TestInboundPolicyAPI: a domain's admins read and change its inbound
// policy, field by field; bad values are refused naming the field; other
// domains' admins do not see it; every change has its audit row.
func TestInboundPolicyAPI(t *testing.T) {
	e := newEnv(t)
	super := e.admin("root", true)
	for _, d := range []string{"a.example", "b.example"} {
		e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": d}))
	}
	adminA := e.admin("da", false, "a.example")
	adminB := e.admin("db", false, "b.example")

	r := e.must(200, e.do(adminA, "GET", "/api/v1/domains/a.example/inbound-policy", nil))
	if r.body["dmarc"] != "enforce" || r.body["spf_fail"] != "mark" || r.body["reject_spoofed"] != true || r.body["default"] != true {
		t.Fatalf("defaults: %s", r.raw)
	}
	r = e.must(200, e.do(adminA, "PATCH", "/api/v1/domains/A.Example/inbound-policy", map[string]any{"spf_fail": "reject"}))
	if r.body["dmarc"] != "enforce" || r.body["spf_fail"] != "reject" || r.body["reject_spoofed"] != true || r.body["default"] != false {
		t.Fatalf("after PATCH spf_fail: %s", r.raw)
	}
	r = e.must(200, e.do(adminA, "PATCH", "/api/v1/domains/a.example/inbound-policy", map[string]any{"dmarc": "mark", "reject_spoofed": false}))
	if r.body["dmarc"] != "mark" || r.body["spf_fail"] != "reject" || r.body["reject_spoofed"] != false {
		t.Fatalf("after PATCH dmarc: %s", r.raw)
	}
	bad := e.do(adminA, "PATCH", "/api/v1/domains/a.example/inbound-policy", map[string]any{"dmarc": "maybe", "spf_fail": "drop"})
	e.problem(422, "validation", bad)
	if got := fmt.Sprint(fieldErrors(bad)); got != "[dmarc spf_fail]" {
		t.Errorf("fields %s", got)
	}
	e.problem(404, "not-found", e.do(adminB, "GET", "/api/v1/domains/a.example/inbound-policy", nil))
	e.problem(404, "not-found", e.do(adminB, "PATCH", "/api/v1/domains/a.example/inbound-policy", map[string]any{"dmarc": "mark"}))

	r = e.must(200, e.do(super, "GET", "/api/v1/audit-log?object_type=inbound_policy", nil))
	items := r.body["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("audit rows: %s", r.raw)
	}
	first := items[len(items)-1].(map[string]any)
	if !strings.HasSuffix(fmt.Sprint(first["actor"]), "(da)") || first["domain"] != "a.example" || first["action"] != "update" {
		t.Errorf("audit row %v", first)
	}
}
