package api_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// id returns the id of an access rule answer, as a path segment.
func id(r resp) string { return fmt.Sprint(r.body["id"]) }

// patterns lists the kind and pattern of each rule of a list answer.
func patterns(r resp) []string {
	var out []string
	for _, x := range r.body["items"].([]any) {
		m := x.(map[string]any)
		out = append(out, m["kind"].(string)+" "+m["pattern"].(string))
	}
	return out
}

func TestAccessRulesAPI(t *testing.T) {
	e := newEnv(t)
	super := e.admin("root", true)
	for _, d := range []string{"a.example", "b.example"} {
		e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": d}))
	}
	adminA := e.admin("da", false, "a.example")

	// Patterns are stored as the SMTP server looks them up.
	for _, c := range []struct{ kind, pattern, want string }{
		{"client", "192.0.2.0/24", "192.0.2.0/24"},
		{"client", "2001:DB8::/32", "2001:db8::/32"},
		{"client", "::ffff:198.51.100.7", "198.51.100.7"},
		{"client", "10.1", "10.1"},
		{"helo", "LocalHost", "localhost"},
		{"helo", "[192.0.2.9]", "[192.0.2.9]"},
		{"helo", ".Bad.Example", ".bad.example"},
		{"sender", "Spam.Example", "spam.example"},
		{"sender", "<>", "<>"},
		{"sender", "Postmaster@", "postmaster@"},
		{"sender", "@bücher.example", "@xn--bcher-kva.example"},
		{"recipient", "Info@A.Example", "info@a.example"},
	} {
		r := e.must(201, e.do(super, "POST", "/api/v1/access-rules", map[string]any{"kind": c.kind, "pattern": c.pattern, "action": "reject"}))
		if r.body["pattern"] != c.want || r.body["action"] != "REJECT" || r.body["code"] != float64(554) || r.body["rule"] != "REJECT" {
			t.Errorf("%s %s: %s", c.kind, c.pattern, r.raw)
		}
	}
	r := e.must(201, e.do(super, "POST", "/api/v1/access-rules", map[string]any{"kind": "recipient", "pattern": "@a.example",
		"action": "DEFER", "code": 451, "text": "4.7.1 come back later", "comment": "maintenance"}))
	if r.body["rule"] != "451 4.7.1 come back later" || r.body["domain"] != "a.example" || r.body["code"] != float64(451) {
		t.Fatalf("DEFER 451: %s", r.raw)
	}
	deferID := id(r)
	// A code alone says REJECT or DEFER.
	r = e.must(201, e.do(super, "POST", "/api/v1/access-rules", map[string]any{"kind": "sender", "pattern": "x@b.example", "code": 550}))
	if r.body["action"] != "REJECT" || r.body["rule"] != "550" {
		t.Fatalf("code alone: %s", r.raw)
	}

	// Invalid input: every problem, next to its field.
	for _, c := range []struct {
		body   map[string]any
		fields []string
	}{
		{map[string]any{}, []string{"action", "kind", "pattern"}},
		{map[string]any{"kind": "header", "pattern": "x", "action": "OK"}, []string{"kind"}},
		{map[string]any{"kind": "client", "pattern": "192.0.2.1/24", "action": "OK"}, []string{"pattern"}},
		{map[string]any{"kind": "client", "pattern": "mail.example", "action": "OK"}, []string{"pattern"}},
		{map[string]any{"kind": "client", "pattern": "10.300", "action": "OK"}, []string{"pattern"}},
		{map[string]any{"kind": "sender", "pattern": "a b", "action": "OK"}, []string{"pattern"}},
		{map[string]any{"kind": "recipient", "pattern": "<>", "action": "OK"}, []string{"pattern"}},
		{map[string]any{"kind": "sender", "pattern": "x.example", "action": "MAYBE"}, []string{"action"}},
		{map[string]any{"kind": "sender", "pattern": "x.example", "action": "OK", "text": "why"}, []string{"text"}},
		{map[string]any{"kind": "sender", "pattern": "x.example", "action": "OK", "code": 250}, []string{"code"}},
		{map[string]any{"kind": "sender", "pattern": "x.example", "action": "REJECT", "code": 450}, []string{"code"}},
		{map[string]any{"kind": "sender", "pattern": "x.example", "action": "DEFER", "code": 554}, []string{"code"}},
		{map[string]any{"kind": "sender", "pattern": "x.example", "action": "REJECT", "text": "4.7.1 wrong class"}, []string{"text"}},
		{map[string]any{"kind": "sender", "pattern": "x.example", "action": "REJECT", "text": "non-ASCII: é"}, []string{"text"}},
		{map[string]any{"kind": "sender", "pattern": "x.example", "action": "REJECT", "text": strings.Repeat("x", 201)}, []string{"text"}},
		{map[string]any{"kind": "sender", "pattern": "x.example", "action": "OK", "comment": "two\nlines"}, []string{"comment"}},
	} {
		r := e.do(super, "POST", "/api/v1/access-rules", c.body)
		e.problem(422, "validation", r)
		if got := fieldErrors(r); !equal(got, c.fields) {
			t.Errorf("%v: fields %v, want %v (%s)", c.body, got, c.fields, r.raw)
		}
	}
	e.problem(409, "conflict", e.do(super, "POST", "/api/v1/access-rules", map[string]any{"kind": "sender", "pattern": "SPAM.example", "action": "OK"}))

	// The list: in the order the server consults the kinds; filters.
	r = e.must(200, e.do(super, "GET", "/api/v1/access-rules?limit=3", nil))
	if got := patterns(r); !equal(got, []string{"client 10.1", "client 192.0.2.0/24", "client 198.51.100.7"}) || r.body["next_cursor"] == "" {
		t.Fatalf("first page: %s", r.raw)
	}
	r = e.must(200, e.do(super, "GET", "/api/v1/access-rules?limit=3&cursor="+url.QueryEscape(r.body["next_cursor"].(string)), nil))
	if got := patterns(r); !equal(got, []string{"client 2001:db8::/32", "helo .bad.example", "helo [192.0.2.9]"}) {
		t.Fatalf("second page: %s", r.raw)
	}
	r = e.must(200, e.do(super, "GET", "/api/v1/access-rules?kind=recipient", nil))
	if got := patterns(r); !equal(got, []string{"recipient @a.example", "recipient info@a.example"}) {
		t.Fatalf("kind filter: %s", r.raw)
	}
	r = e.must(200, e.do(super, "GET", "/api/v1/access-rules?domain=A.Example&q=info", nil))
	if got := patterns(r); !equal(got, []string{"recipient info@a.example"}) {
		t.Fatalf("domain and q filters: %s", r.raw)
	}
	e.problem(422, "validation", e.do(super, "GET", "/api/v1/access-rules?kind=nope", nil))

	// PATCH: a text alone keeps the action; a new action clears code and text.
	r = e.must(200, e.do(super, "PATCH", "/api/v1/access-rules/"+deferID, map[string]any{"text": "down for an hour"}))
	if r.body["rule"] != "451 down for an hour" || r.body["comment"] != "maintenance" {
		t.Fatalf("PATCH text: %s", r.raw)
	}
	r = e.must(200, e.do(super, "PATCH", "/api/v1/access-rules/"+deferID, map[string]any{"action": "ok", "comment": ""}))
	if r.body["rule"] != "OK" || r.body["text"] != "" || r.body["code"] != float64(0) {
		t.Fatalf("PATCH action: %s", r.raw)
	}
	e.problem(422, "validation", e.do(super, "PATCH", "/api/v1/access-rules/"+deferID, map[string]any{"pattern": "@b.example"}))
	e.problem(404, "not-found", e.do(super, "GET", "/api/v1/access-rules/999999", nil))
	e.problem(404, "not-found", e.do(super, "GET", "/api/v1/access-rules/nonsense", nil))

	// A domain admin: its domains' recipient rules only, never the
	// actions that act on other domains' recipients of the same message.
	r = e.must(201, e.do(adminA, "POST", "/api/v1/access-rules", map[string]any{"kind": "recipient", "pattern": "sales@a.example", "action": "REJECT", "text": "gone"}))
	mine := id(r)
	e.problem(403, "forbidden", e.do(adminA, "POST", "/api/v1/access-rules", map[string]any{"kind": "sender", "pattern": "x@a.example", "action": "REJECT"}))
	e.problem(403, "forbidden", e.do(adminA, "POST", "/api/v1/access-rules", map[string]any{"kind": "client", "pattern": "192.0.2.1", "action": "OK"}))
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"kind": "recipient", "pattern": "x@b.example", "action": "REJECT"}, "pattern"},
		{map[string]any{"kind": "recipient", "pattern": "x@nowhere.example", "action": "REJECT"}, "pattern"},
		{map[string]any{"kind": "recipient", "pattern": "a.example", "action": "REJECT"}, "pattern"}, // would match subdomains too
		{map[string]any{"kind": "recipient", "pattern": "x@a.example", "action": "DISCARD"}, "action"},
		{map[string]any{"kind": "recipient", "pattern": "x@a.example", "action": "HOLD"}, "action"},
	} {
		r := e.do(adminA, "POST", "/api/v1/access-rules", c.body)
		e.problem(422, "validation", r)
		if got := fieldErrors(r); !equal(got, []string{c.field}) {
			t.Errorf("domain admin %v: fields %v (%s)", c.body, got, r.raw)
		}
	}
	r = e.must(200, e.do(adminA, "GET", "/api/v1/access-rules", nil))
	if got := patterns(r); !equal(got, []string{"recipient @a.example", "recipient info@a.example", "recipient sales@a.example"}) {
		t.Fatalf("domain admin's list: %s", r.raw)
	}
	var spamID string
	for _, x := range e.must(200, e.do(super, "GET", "/api/v1/access-rules?kind=sender&q=spam", nil)).body["items"].([]any) {
		spamID = fmt.Sprint(x.(map[string]any)["id"])
	}
	e.problem(404, "not-found", e.do(adminA, "GET", "/api/v1/access-rules/"+spamID, nil))
	e.problem(404, "not-found", e.do(adminA, "DELETE", "/api/v1/access-rules/"+spamID, nil))
	e.problem(422, "validation", e.do(adminA, "PATCH", "/api/v1/access-rules/"+mine, map[string]any{"action": "HOLD"}))
	e.must(200, e.do(adminA, "PATCH", "/api/v1/access-rules/"+mine, map[string]any{"action": "DEFER"}))
	e.must(204, e.do(adminA, "DELETE", "/api/v1/access-rules/"+mine, nil))

	// One audit row per change, with before and after; the domain admin
	// sees those of its domain.
	r = e.must(200, e.do(super, "GET", "/api/v1/audit-log?object_type=access_rule&object="+url.QueryEscape("recipient sales@a.example"), nil))
	var actions []string
	for _, x := range r.body["items"].([]any) {
		m := x.(map[string]any)
		actions = append(actions, m["action"].(string)+" by "+m["actor"].(string))
	}
	if !equal(actions, []string{"delete by token:2 (da)", "update by token:2 (da)", "create by token:2 (da)"}) ||
		!strings.Contains(r.raw, `"before":{"id":`) || !strings.Contains(r.raw, `"rule":"DEFER"`) {
		t.Fatalf("audit of the domain admin's rule: %v\n%s", actions, r.raw)
	}
	r = e.must(200, e.do(adminA, "GET", "/api/v1/audit-log?object_type=access_rule", nil))
	if strings.Contains(r.raw, "spam.example") || !strings.Contains(r.raw, "recipient @a.example") {
		t.Fatalf("domain admin's audit log: %s", r.raw)
	}

	// Deleting a domain deletes its recipient rules, audited.
	e.must(204, e.do(super, "DELETE", "/api/v1/domains/a.example", nil))
	r = e.must(200, e.do(super, "GET", "/api/v1/access-rules?kind=recipient", nil))
	if got := patterns(r); len(got) != 0 {
		t.Fatalf("rules of a deleted domain: %v", got)
	}
	r = e.must(200, e.do(super, "GET", "/api/v1/audit-log?object_type=access_rule&action=delete&domain=a.example", nil))
	if n := len(r.body["items"].([]any)); n != 3 { // sales (by the domain admin), @a.example, info@
		t.Fatalf("audit of the domain's rules: %s", r.raw)
	}
}

func TestRelocatedAPI(t *testing.T) {
	e := newEnv(t)
	super := e.admin("root", true)
	for _, d := range []string{"a.example", "b.example"} {
		e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": d}))
	}
	adminA := e.admin("da", false, "a.example")

	r := e.must(201, e.do(super, "POST", "/api/v1/relocated", map[string]any{"address": "Old@A.example", "new_location": "New@Elsewhere.Example"}))
	if r.body["address"] != "old@a.example" || r.body["new_location"] != "new@elsewhere.example" || r.body["domain"] != "a.example" {
		t.Fatalf("create: %s", r.raw)
	}
	r = e.must(201, e.do(adminA, "POST", "/api/v1/relocated", map[string]any{"address": "@a.example", "new_location": "call +1 555 0100"}))
	if r.body["whole_domain"] != true || r.body["new_location"] != "call +1 555 0100" {
		t.Fatalf("create @domain: %s", r.raw)
	}
	e.must(201, e.do(super, "POST", "/api/v1/relocated", map[string]any{"address": "x@b.example", "new_location": "x@c.example"}))
	e.problem(409, "conflict", e.do(super, "POST", "/api/v1/relocated", map[string]any{"address": "old@a.example", "new_location": "y@c.example"}))
	for _, c := range []struct {
		token  string
		body   map[string]any
		fields []string
	}{
		{super, map[string]any{}, []string{"address", "new_location"}},
		{super, map[string]any{"address": "a@nowhere.example", "new_location": "b@c.example"}, []string{"address"}},
		{super, map[string]any{"address": "a@a.example", "new_location": "a@A.example"}, []string{"new_location"}},
		{super, map[string]any{"address": "a@a.example", "new_location": "bad@@x"}, []string{"new_location"}},
		{super, map[string]any{"address": "a@a.example", "new_location": "téléphone"}, []string{"new_location"}},
		{adminA, map[string]any{"address": "a@b.example", "new_location": "b@c.example"}, []string{"address"}},
	} {
		r := e.do(c.token, "POST", "/api/v1/relocated", c.body)
		e.problem(422, "validation", r)
		if got := fieldErrors(r); !equal(got, c.fields) {
			t.Errorf("%v: fields %v, want %v (%s)", c.body, got, c.fields, r.raw)
		}
	}

	r = e.must(200, e.do(super, "GET", "/api/v1/relocated", nil))
	if n := len(r.body["items"].([]any)); n != 3 {
		t.Fatalf("list: %s", r.raw)
	}
	r = e.must(200, e.do(adminA, "GET", "/api/v1/relocated", nil))
	if n := len(r.body["items"].([]any)); n != 2 || strings.Contains(r.raw, "b.example") {
		t.Fatalf("domain admin's list: %s", r.raw)
	}
	r = e.must(200, e.do(super, "GET", "/api/v1/relocated?q=555", nil))
	if n := len(r.body["items"].([]any)); n != 1 {
		t.Fatalf("q on the new location: %s", r.raw)
	}
	e.problem(404, "not-found", e.do(adminA, "GET", "/api/v1/relocated/x@b.example", nil))
	e.problem(404, "not-found", e.do(adminA, "PATCH", "/api/v1/relocated/x@b.example", map[string]any{"new_location": "z@c.example"}))
	r = e.must(200, e.do(adminA, "PATCH", "/api/v1/relocated/OLD@a.example", map[string]any{"new_location": "newer@elsewhere.example"}))
	if r.body["new_location"] != "newer@elsewhere.example" {
		t.Fatalf("patch: %s", r.raw)
	}
	e.problem(422, "validation", e.do(adminA, "PATCH", "/api/v1/relocated/old@a.example", map[string]any{"address": "other@a.example"}))
	e.must(204, e.do(adminA, "DELETE", "/api/v1/relocated/old@a.example", nil))
	e.problem(404, "not-found", e.do(super, "GET", "/api/v1/relocated/old@a.example", nil))

	r = e.must(200, e.do(adminA, "GET", "/api/v1/audit-log?object_type=relocated", nil))
	var got []string
	for _, x := range r.body["items"].([]any) {
		m := x.(map[string]any)
		got = append(got, m["action"].(string)+" "+m["object"].(string))
	}
	if !equal(got, []string{"delete old@a.example", "update old@a.example", "create @a.example", "create old@a.example"}) {
		t.Fatalf("audit: %v", got)
	}

	// Deleting a domain deletes its entries.
	e.must(204, e.do(super, "DELETE", "/api/v1/domains/a.example", nil))
	r = e.must(200, e.do(super, "GET", "/api/v1/relocated", nil))
	if n := len(r.body["items"].([]any)); n != 1 {
		t.Fatalf("after the domain's deletion: %s", r.raw)
	}
}
