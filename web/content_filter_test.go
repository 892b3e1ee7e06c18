package web_test

import "testing"

// TestContentFilterPage: a domain admin sets its domain's spam policy,
// banned extensions and rules on the panel; errors show next to their
// fields (a rule's by its line); another domain's page is not found.
func TestContentFilterPage(t *testing.T) {
	e := newEnv(t)
	e.admin("root", true)
	e.domain("a.example")
	e.domain("b.example")
	e.admin("da", false, "a.example")
	c := e.client()
	c.login("da", pw, "/")

	c.get("/domains/a.example").must(t, 200).has(t, `href="/domains/a.example/content-filter"`)
	checkPage(t, "content filter", c.get("/domains/a.example/content-filter").must(t, 200).
		has(t, `value="junk" checked`, `name="default_banned" value="on" checked`, "exe"))
	c.post("/domains/a.example/content-filter", "spam_policy", "reject", "junk_score", "lots", "reject_score", "10",
		"virus_policy", "reject").must(t, 422).fieldError(t, "junk_score", "must be a number")
	c.post("/domains/a.example/content-filter", "spam_policy", "reject", "junk_score", "5", "reject_score", "10",
		"virus_policy", "hold", "banned_extensions", "exe bat", "banned_types", "application/x-msdownload",
		"rules", "header /^Subject: ok/ WARN\nbody /(/ REJECT").must(t, 422).fieldError(t, "rules", "line 2: pattern")
	c.post("/domains/a.example/content-filter", "spam_policy", "reject", "junk_score", "5", "reject_score", "10",
		"virus_policy", "hold", "banned_extensions", "exe, bat", "banned_types", "application/x-msdownload",
		"rules", "header /^Subject: lottery/ REJECT no").redirects(t, "/domains/a.example/content-filter?done=saved")
	c.get("/domains/a.example/content-filter").must(t, 200).
		has(t, `value="reject" checked`, `value="hold" checked`, "exe bat", "header /^Subject: lottery/ REJECT no").
		lacks(t, `name="default_banned" value="on" checked`)
	c.get("/domains/b.example/content-filter").must(t, 404)
	if n := e.count(`SELECT count(*) FROM audit_log WHERE object_type = 'content_filter'`); n != 1 {
		t.Fatalf("%d audit rows", n)
	}
}
