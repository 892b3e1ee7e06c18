package web_test

import "testing"

// TestDomainSievePage: a domain admin writes a filter that runs before
// every owner's script from the panel; a script that does not compile is
// refused with its line next to the text and nothing is stored; the
// script is listed, edited, deleted after a confirmation, audited; another
// domain's admin gets 404 and an owner of the domain gets no admin page.
func TestDomainSievePage(t *testing.T) {
	e := newEnv(t)
	e.domain("a.example")
	e.domain("b.example")
	e.admin("da", false, "a.example")
	e.admin("db", false, "b.example")
	c := e.client()
	c.login("da", pw, "/")

	c.get("/domains/a.example").must(t, 200).has(t, `href="/domains/a.example/sieve"`)
	list := c.get("/domains/a.example/sieve").must(t, 200)
	checkPage(t, "/domains/a.example/sieve", list)
	list.has(t, "<h1>Filters of a.example</h1>", "No filters: every mailbox runs only its owner's.")

	form := c.get("/domains/a.example/sieve/new").must(t, 200)
	checkPage(t, "/domains/a.example/sieve/new", form)
	form.has(t, `id="f-position-before" name="position" value="before" checked`, `name="active" value="on" checked`)

	bad := c.post("/domains/a.example/sieve/new", "name", "spam", "position", "before", "active", "on",
		"content", "require \"fileinto\";\nif header :contains \"X-Spam\" \"yes\" {\n  fileinto \"Junk\"\n}\n").must(t, 422)
	checkPage(t, "domain sieve errors", bad)
	bad.fieldError(t, "content", "line 4")
	c.post("/domains/a.example/sieve/new", "name", "a/b", "position", "sometimes", "content", "keep;").must(t, 422).
		fieldError(t, "name", "must be 1 to 128 bytes").fieldError(t, "position", "must be before, after or global")
	if n := e.count(`SELECT count(*) FROM sieve_scripts`); n != 0 {
		t.Fatalf("%d scripts stored by bad forms", n)
	}

	spam := "require \"fileinto\";\nif header :contains \"X-Spam\" \"yes\" {\n  fileinto \"Junk\";\n}\n"
	c.post("/domains/a.example/sieve/new", "name", "spam", "position", "before", "active", "on", "content", spam).
		redirects(t, "/domains/a.example/sieve?done=saved")
	if n := e.count(`SELECT count(*) FROM sieve_scripts s JOIN domains d ON d.id = s.domain_id
		WHERE d.name = 'a.example' AND s.name = 'spam' AND position = 'before' AND s.active AND content LIKE '%fileinto "Junk"%'`); n != 1 {
		t.Fatal("script not stored as written")
	}
	c.get("/domains/a.example/sieve").must(t, 200).has(t, `href="/domains/a.example/sieve/spam">spam</a>`, "before the owner's script")
	// "New filter" with a name taken: refused next to the name, the stored script unchanged.
	c.post("/domains/a.example/sieve/new", "name", "spam", "position", "after", "content", "keep;").must(t, 422).
		fieldError(t, "name", `already has a filter named &#34;spam&#34;`)
	if n := e.count(`SELECT count(*) FROM sieve_scripts WHERE name = 'spam' AND position = 'before' AND content LIKE '%Junk%' AND version = 1`); n != 1 {
		t.Fatal("a new filter with a taken name changed the stored one")
	}

	// Edit: the stored text comes back; moved after the owner's and off.
	c.get("/domains/a.example/sieve/spam").must(t, 200).has(t, "fileinto &#34;Junk&#34;", `value="before" checked`)
	c.post("/domains/a.example/sieve/spam", "position", "after", "content", spam).redirects(t, "/domains/a.example/sieve?done=saved")
	if n := e.count(`SELECT count(*) FROM sieve_scripts WHERE name = 'spam' AND position = 'after' AND NOT active AND version = 2`); n != 1 {
		t.Fatal("edit not stored (an unchecked box turns the script off)")
	}

	other := e.client()
	other.login("db", pw, "/")
	other.get("/domains/a.example/sieve").must(t, 404)
	other.get("/domains/a.example/sieve/spam").must(t, 404)
	other.post("/domains/a.example/sieve/spam/delete").must(t, 404)

	c.get("/domains/a.example/sieve/spam/delete").must(t, 200).has(t, "Mail for a.example will no longer pass through this script.")
	c.post("/domains/a.example/sieve/spam/delete").redirects(t, "/domains/a.example/sieve?done=deleted")
	if n := e.count(`SELECT count(*) FROM sieve_scripts`); n != 0 {
		t.Fatal("script not deleted")
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE object_type = 'domain_sieve_script' AND actor = 'da'`); n != 3 {
		t.Fatalf("%d audit rows, want 3 (create, edit, delete)", n)
	}
}
