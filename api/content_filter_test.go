package api_test

import (
	"testing"
)

// TestContentFilterAPI: a domain's spam and virus policy, banned lists
// and rules through the API; a domain admin manages its own domains'
// only; bad input names the field.
func TestContentFilterAPI(t *testing.T) {
	e := newEnv(t)
	super := e.admin("root", true)
	for _, d := range []string{"a.example", "b.example"} {
		e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": d}))
	}
	adminA := e.admin("da", false, "a.example")

	r := e.must(200, e.do(adminA, "GET", "/api/v1/domains/a.example/content-filter", nil))
	if r.body["spam_policy"] != "junk" || r.body["junk_score"] != float64(6) || r.body["virus_policy"] != "reject" ||
		r.body["default_banned"] != true || r.body["updated_at"] != nil || r.body["scan_zip"] != true {
		t.Fatalf("defaults: %s", r.raw)
	}
	r = e.must(200, e.do(adminA, "PATCH", "/api/v1/domains/A.Example/content-filter", map[string]any{
		"spam_policy": "reject", "reject_score": 12.5, "banned_extensions": []string{".EXE", "bat", "exe"},
		"rules": []map[string]any{{"kind": "header", "rule": "/^Subject: lottery/ REJECT 5.7.1 no lotteries"}},
	}))
	if r.body["spam_policy"] != "reject" || r.body["reject_score"] != 12.5 || r.body["default_banned"] != false ||
		len(r.body["banned_extensions"].([]any)) != 2 || len(r.body["rules"].([]any)) != 1 || r.body["updated_at"] == nil {
		t.Fatalf("after update: %s", r.raw)
	}
	// Kept as stored: read back.
	r = e.must(200, e.do(super, "GET", "/api/v1/domains/a.example/content-filter", nil))
	if ext := r.body["banned_extensions"].([]any); ext[0] != "exe" || ext[1] != "bat" {
		t.Fatalf("read back: %s", r.raw)
	}
	for _, c := range []struct {
		body   map[string]any
		fields []string
	}{
		{map[string]any{"spam_policy": "maybe", "virus_policy": "quarantine"}, []string{"spam_policy", "virus_policy"}},
		{map[string]any{"junk_score": 2000}, []string{"junk_score"}},
		{map[string]any{"junk_score": 20}, []string{"reject_score"}}, // reject below junk
		{map[string]any{"banned_extensions": []string{"ok", "no way"}}, []string{"banned_extensions[1]"}},
		{map[string]any{"banned_types": []string{"exe"}}, []string{"banned_types[0]"}},
		{map[string]any{"default_banned": true, "banned_types": []string{"a/b"}}, []string{"default_banned"}},
		{map[string]any{"rules": []map[string]any{{"kind": "subject", "rule": "/x/ REJECT"}}}, []string{"rules[0].kind"}},
		{map[string]any{"rules": []map[string]any{{"kind": "body", "rule": "/(/ REJECT"}}}, []string{"rules[0].rule"}},
		{map[string]any{"rules": []map[string]any{{"kind": "header", "rule": "/x/ REDIRECT a@b.example"}}}, []string{"rules[0].rule"}},
	} {
		r := e.do(adminA, "PATCH", "/api/v1/domains/a.example/content-filter", c.body)
		e.problem(422, "validation", r)
		if got := fieldErrors(r); !equal(got, c.fields) {
			t.Errorf("%v: fields %v, want %v (%s)", c.body, got, c.fields, r.raw)
		}
	}
	e.problem(404, "not-found", e.do(adminA, "GET", "/api/v1/domains/b.example/content-filter", nil))
	e.problem(404, "not-found", e.do(adminA, "PATCH", "/api/v1/domains/b.example/content-filter", map[string]any{"spam_policy": "off"}))
	r = e.must(200, e.do(adminA, "PATCH", "/api/v1/domains/a.example/content-filter", map[string]any{"default_banned": true, "rules": []any{}}))
	if r.body["default_banned"] != true || len(r.body["rules"].([]any)) != 0 {
		t.Fatalf("back to defaults: %s", r.raw)
	}
}
