package api_test

import (
	"strings"
	"testing"
)

func TestSieveScripts(t *testing.T) {
	e := newEnv(t)
	super := e.admin("root", true)
	e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": "example.com"}))
	e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": "other.example"}))
	e.must(201, e.do(super, "POST", "/api/v1/domains/example.com/mailboxes", map[string]any{"local_part": "alice", "password": "password1"}))
	dadmin := e.admin("dadmin", false, "other.example")
	base := "/api/v1/mailboxes/alice@example.com/sieve"

	list := e.must(200, e.do(super, "GET", base+"/scripts", nil)).body
	if s := list["scripts"].([]any); len(s) != 0 {
		t.Fatalf("empty list: %v", list)
	}
	// A script error is the content field's, with its line.
	r := e.do(super, "PUT", base+"/scripts/main", map[string]any{"content": "require \"fileinto\";\nkeep;\nfrob;\n"})
	e.problem(422, "validation", r)
	if !strings.Contains(string(r.raw), "line 3: unknown command") {
		t.Fatalf("error without its line: %s", r.raw)
	}
	script := "require \"fileinto\";\nif header :contains \"subject\" \"news\" { fileinto \"News\"; }\n"
	got := e.must(200, e.do(super, "PUT", base+"/scripts/main", map[string]any{"content": script})).body
	if got["content"] != script || got["active"] != false || got["version"] != float64(1) {
		t.Fatalf("put: %v", got)
	}
	e.must(204, e.do(super, "PUT", base+"/active", map[string]any{"name": "main"}))
	e.problem(422, "validation", e.do(super, "PUT", base+"/active", map[string]any{"name": "nope"}))
	got = e.must(200, e.do(super, "GET", base+"/scripts/main", nil)).body
	if got["active"] != true {
		t.Fatalf("get: %v", got)
	}
	e.problem(409, "conflict", e.do(super, "DELETE", base+"/scripts/main", nil))
	e.problem(404, "not-found", e.do(super, "GET", base+"/scripts/nope", nil))
	// Another domain's admin does not see it.
	e.problem(404, "not-found", e.do(dadmin, "GET", base+"/scripts/main", nil))

	res := e.must(200, e.do(super, "POST", base+"/test", map[string]any{"content": script,
		"message": "From: a@b.example\nSubject: weekly news\n\nhi\n"})).body
	if acts := res["actions"].([]any); len(acts) != 1 || acts[0] != `file into "News"` {
		t.Fatalf("test: %v", res)
	}
	e.must(204, e.do(super, "PUT", base+"/active", map[string]any{"name": ""}))
	e.must(204, e.do(super, "DELETE", base+"/scripts/main", nil))

	// Domain scripts: its admins only.
	dbase := "/api/v1/domains/example.com/sieve/scripts"
	e.problem(404, "not-found", e.do(dadmin, "PUT", dbase+"/spam", map[string]any{"content": "keep;"}))
	e.problem(422, "validation", e.do(super, "PUT", dbase+"/spam", map[string]any{"content": "keep;", "position": "middle"}))
	d := e.must(200, e.do(super, "PUT", dbase+"/spam", map[string]any{"content": "require \"fileinto\"; fileinto \"Junk\";", "position": "after"})).body
	if d["position"] != "after" || d["active"] != true || d["owner"] != "example.com" {
		t.Fatalf("domain script: %v", d)
	}
	if l := e.must(200, e.do(super, "GET", dbase, nil)).body["scripts"].([]any); len(l) != 1 {
		t.Fatalf("domain list: %v", l)
	}
	e.must(204, e.do(super, "DELETE", dbase+"/spam", nil))

	qw := e.must(200, e.do(super, "PUT", "/api/v1/domains/example.com/quota-warning", map[string]any{"text": "%PERCENT%% full"})).body
	if qw["text"] != "%PERCENT%% full" {
		t.Fatalf("quota warning text: %v", qw)
	}
	e.must(200, e.do(super, "GET", "/api/v1/domains/example.com/quota-warning", nil))

	audit := string(e.must(200, e.do(super, "GET", "/api/v1/audit-log?limit=500", nil)).raw)
	for _, want := range []string{`"sieve_script"`, `"domain_sieve_script"`, `"activate"`, `"quota_warning"`} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
}
