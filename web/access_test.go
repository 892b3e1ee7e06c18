package web_test

import (
	"strconv"
	"testing"
)

func TestAccessRulePages(t *testing.T) {
	e := newEnv(t)
	e.admin("root", true)
	e.domain("a.example")
	e.domain("b.example")
	e.admin("da", false, "a.example")
	c := e.client()
	c.login("root", pw, "/")

	c.get("/access").must(t, 200).has(t, "<h1>Access rules</h1>", `href="/access" aria-current="page">Access rules</a>`, "No access rules.")
	checkPage(t, "/access/new", c.get("/access/new").must(t, 200).has(t, `<label for="f-pattern">`, `id="f-kind-helo"`, `id="f-action-HOLD"`))

	// Bad input: every error next to its field, the input kept, nothing written.
	res := c.post("/access/new", "kind", "client", "pattern", "192.0.2.1/24", "action", "OK", "text", "why", "comment", "Kept <b>note</b>").must(t, 422)
	checkPage(t, "access form errors", res)
	res.fieldError(t, "pattern", "the network is 192.0.2.0/24").fieldError(t, "text", "OK takes no text").
		has(t, `value="Kept &lt;b&gt;note&lt;/b&gt;"`, `value="192.0.2.1/24"`)
	c.post("/access/new", "kind", "sender", "pattern", "x.example", "action", "REJECT", "code", "five").must(t, 422).fieldError(t, "code", "three-digit")
	c.post("/access/new", "kind", "sender", "pattern", "x.example").must(t, 422).fieldError(t, "action", "required")
	if n := e.count(`SELECT count(*) FROM access_rules`); n != 0 {
		t.Fatalf("%d rules written by bad forms", n)
	}

	c.post("/access/new", "kind", "sender", "pattern", "Spammer.Example", "action", "REJECT", "text", "go away", "comment", "seen in May").
		redirects(t, "/access?done=created")
	c.post("/access/new", "kind", "client", "pattern", "192.0.2.0/24", "action", "DEFER", "code", "451").redirects(t, "/access?done=created")
	c.post("/access/new", "kind", "recipient", "pattern", "info@b.example", "action", "HOLD").redirects(t, "/access?done=created")
	c.post("/access/new", "kind", "sender", "pattern", "spammer.example", "action", "OK").must(t, 409).has(t, "already a sender rule")
	id := strconv.Itoa(e.count(`SELECT id FROM access_rules WHERE pattern = 'spammer.example'`))

	c.get("/access?done=created").must(t, 200).has(t, "Created.", "spammer.example", "<code>REJECT go away</code>", "seen in May",
		"<code>451</code> (DEFER)", "192.0.2.0/24", "info@b.example")
	c.get("/access?kind=sender").must(t, 200).has(t, "spammer.example").lacks(t, "192.0.2.0/24")
	c.get("/access?domain=b.example").must(t, 200).has(t, "<h1>Access rules of b.example</h1>", "info@b.example").lacks(t, "spammer.example")
	checkPage(t, "access filter errors", c.get("/access?kind=bogus").must(t, 422).fieldError(t, "kind", "client, helo, sender or recipient"))

	// Edit: the form holds the rule; errors keep the input.
	checkPage(t, "/access/"+id, c.get("/access/"+id).must(t, 200).has(t, `value="go away"`, `value="seen in May"`,
		`id="f-action-REJECT" name="action" value="REJECT" checked`))
	c.post("/access/"+id, "action", "DEFER", "code", "550", "text", "kept").must(t, 422).fieldError(t, "code", "400 to 499").has(t, `value="kept"`)
	c.post("/access/"+id, "action", "DEFER", "text", "try later", "comment", "").redirects(t, "/access?done=saved")
	if n := e.count(`SELECT count(*) FROM access_rules WHERE pattern = 'spammer.example' AND action = 'DEFER try later' AND comment = ''`); n != 1 {
		t.Fatal("edit not written")
	}

	// Delete: a confirmation that says what happens.
	checkPage(t, "/access/"+id+"/delete", c.get("/access/"+id+"/delete").must(t, 200).has(t, "stops answering DEFER try later for Sender spammer.example"))
	c.post("/access/"+id+"/delete").redirects(t, "/access?done=deleted")
	c.get("/access/"+id).must(t, 404)
	if n := e.count(`SELECT count(*) FROM audit_log WHERE object_type = 'access_rule' AND actor = 'root'`); n != 5 {
		t.Fatalf("%d audit rows", n)
	}

	// A domain admin: from its domain's page to its recipient rules; only
	// recipient rules and the actions for one recipient are offered.
	d := e.client()
	d.login("da", pw, "/")
	d.get("/domains/a.example").must(t, 200).has(t, `href="/access?domain=a.example"`, `href="/relocated?domain=a.example"`)
	d.get("/").must(t, 200).lacks(t, `href="/access"`)
	d.get("/access?domain=a.example").must(t, 200).has(t, "No access rules").lacks(t, "info@b.example", "192.0.2.0/24")
	d.get("/access/new?domain=a.example").must(t, 200).has(t, `value="@a.example"`, `id="f-kind-recipient"`).
		lacks(t, `id="f-kind-client"`, `id="f-action-HOLD"`)
	d.post("/access/new", "kind", "recipient", "pattern", "x@b.example", "action", "REJECT").must(t, 422).fieldError(t, "pattern", "a domain you manage")
	d.post("/access/new", "kind", "sender", "pattern", "x@a.example", "action", "REJECT").must(t, 403).has(t, "only a super-admin")
	d.post("/access/new", "kind", "recipient", "pattern", "sales@a.example", "action", "REJECT").redirects(t, "/access?domain=a.example&done=created")
	other := strconv.Itoa(e.count(`SELECT id FROM access_rules WHERE pattern = 'info@b.example'`))
	d.get("/access/"+other).must(t, 404)
	d.post("/access/"+other+"/delete").must(t, 404)
}

func TestRelocatedPages(t *testing.T) {
	e := newEnv(t)
	e.admin("root", true)
	e.domain("a.example")
	e.domain("b.example")
	e.admin("da", false, "a.example")
	c := e.client()
	c.login("root", pw, "/")

	checkPage(t, "/relocated", c.get("/relocated").must(t, 200).has(t, `href="/relocated" aria-current="page">Relocated</a>`, "No relocated addresses."))
	checkPage(t, "/relocated/new", c.get("/relocated/new").must(t, 200))
	c.post("/relocated/new", "address", "x@nowhere.example", "new_location", "Kept").must(t, 422).
		fieldError(t, "address", "not a domain of this server").has(t, `value="Kept"`)
	c.post("/relocated/new", "address", "old@a.example").must(t, 422).fieldError(t, "new_location", "required")
	c.post("/relocated/new", "address", "Old@A.example", "new_location", "new@elsewhere.example").redirects(t, "/relocated?done=created")
	c.post("/relocated/new", "address", "@b.example", "new_location", "call +1 555 0100").redirects(t, "/relocated?done=created")
	c.get("/relocated").must(t, 200).has(t, "old@a.example", "new@elsewhere.example", "every address @b.example", "555 0100")
	c.get("/relocated?q=555").must(t, 200).has(t, "@b.example").lacks(t, "old@a.example")

	checkPage(t, "/relocated/old@a.example", c.get("/relocated/old@a.example").must(t, 200).has(t, `value="new@elsewhere.example"`))
	c.post("/relocated/old@a.example", "new_location", "old@a.example").must(t, 422).fieldError(t, "new_location", "the address itself")
	c.post("/relocated/old@a.example", "new_location", "newer@elsewhere.example").redirects(t, "/relocated?done=saved")
	checkPage(t, "relocated delete", c.get("/relocated/@b.example/delete").must(t, 200).has(t, "addresses of b.example is accepted again"))
	c.post("/relocated/@b.example/delete").redirects(t, "/relocated?done=deleted")

	d := e.client()
	d.login("da", pw, "/")
	d.get("/relocated?domain=a.example").must(t, 200).has(t, "old@a.example", "newer@elsewhere.example")
	d.post("/relocated/new", "address", "x@b.example", "new_location", "y@c.example").must(t, 422).fieldError(t, "address", "not a domain you manage")
	d.post("/relocated/new", "address", "bob@a.example", "new_location", "bob@c.example").redirects(t, "/relocated?domain=a.example&done=created")
	d.post("/relocated/old@a.example/delete").redirects(t, "/relocated?domain=a.example&done=deleted")
	if n := e.count(`SELECT count(*) FROM audit_log WHERE object_type = 'relocated'`); n != 6 {
		t.Fatalf("%d audit rows", n)
	}
}
