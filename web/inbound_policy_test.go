package web_test

import "testing"

// TestInboundPolicyPage: a domain admin sets the sender checks of its
// domain from the panel; a bad value is refused next to its field; the
// change is written and audited; another domain's admin gets 404.
func TestInboundPolicyPage(t *testing.T) {
	e := newEnv(t)
	e.domain("a.example")
	e.domain("b.example")
	e.admin("da", false, "a.example")
	e.admin("db", false, "b.example")
	c := e.client()
	c.login("da", pw, "/")

	c.get("/domains/a.example").must(t, 200).has(t, `href="/domains/a.example/inbound-policy"`)
	p := c.get("/domains/a.example/inbound-policy").must(t, 200)
	checkPage(t, "/domains/a.example/inbound-policy", p)
	p.has(t, "<h1>Sender checks for a.example</h1>", "The defaults are in force.",
		`id="f-dmarc-enforce" name="dmarc" value="enforce" checked`, `id="f-spf_fail-mark" name="spf_fail" value="mark" checked`,
		`name="reject_spoofed" value="on" checked`)

	res := c.post("/domains/a.example/inbound-policy", "dmarc", "sometimes", "spf_fail", "reject").must(t, 422)
	checkPage(t, "inbound policy errors", res)
	res.fieldError(t, "dmarc", "must be enforce or mark")
	if n := e.count(`SELECT count(*) FROM inbound_policies`); n != 0 {
		t.Fatalf("%d rows written by a bad form", n)
	}

	c.post("/domains/a.example/inbound-policy", "dmarc", "mark", "spf_fail", "reject").redirects(t, "/domains/a.example?done=saved")
	if n := e.count(`SELECT count(*) FROM inbound_policies p JOIN domains d ON d.id = p.domain_id
		WHERE d.name = 'a.example' AND dmarc = 'mark' AND spf_fail = 'reject' AND NOT reject_spoofed`); n != 1 {
		t.Fatal("policy not written (an unchecked box turns reject_spoofed off)")
	}
	c.get("/domains/a.example/inbound-policy").must(t, 200).lacks(t, "The defaults are in force.", `name="reject_spoofed" value="on" checked`).
		has(t, `id="f-dmarc-mark" name="dmarc" value="mark" checked`)
	if n := e.count(`SELECT count(*) FROM audit_log WHERE object_type = 'inbound_policy' AND actor = 'da'`); n != 1 {
		t.Fatalf("%d audit rows", n)
	}

	other := e.client()
	other.login("db", pw, "/")
	other.get("/domains/a.example/inbound-policy").must(t, 404)
	other.post("/domains/a.example/inbound-policy", "dmarc", "enforce").must(t, 404)
}
