package web_test

import "testing"

// TestOwnerFilters: rules from the form become the active Sieve script, a
// script typed as text is checked (its error next to the field, with the
// line), and "test this message" lists the actions.
func TestOwnerFilters(t *testing.T) {
	e := newEnv(t)
	e.domain("example.com")
	e.mailbox("alice@example.com")
	c := e.client()
	c.login("alice@example.com", pw, "/me")
	c.get("/me/filters").must(t, 200).has(t, "No filter is active", "Save rules", "Test this message")

	c.post("/me/filters/rules",
		"rules[0].field", "subject", "rules[0].header", "", "rules[0].match", "contains", "rules[0].value", "invoice",
		"rules[0].action", "move", "rules[0].target", "Bills",
		"rules[1].field", "from", "rules[1].header", "", "rules[1].match", "is", "rules[1].value", "",
		"rules[1].action", "flag", "rules[1].target", "").redirects(t, "/me/filters?done=saved")
	c.get("/me/filters").must(t, 200).has(t, "The active filter is <strong>panel-rules</strong>", `value="invoice"`, `value="Bills"`,
		"fileinto :create &#34;Bills&#34;")
	c.post("/me/filters/rules",
		"rules[0].field", "size", "rules[0].header", "", "rules[0].match", "contains", "rules[0].value", "big",
		"rules[0].action", "forward", "rules[0].target", "not an address").must(t, 422).
		has(t, "rule 1, match: must be over or under", "rule 1, target: must be an email address")

	c.post("/me/filters/script", "name", "main", "content", "require \"fileinto\";\nkeep;\nfileinto;\n").must(t, 422).
		fieldError(t, "content", "line 3: fileinto takes 1 positional argument")
	c.post("/me/filters/script", "name", "main", "content", "if header :contains \"subject\" \"spam\" { discard; }\n").
		redirects(t, "/me/filters?done=saved")
	c.post("/me/filters/test", "name", "main", "content", "if header :contains \"subject\" \"spam\" { discard; }\n",
		"from", "x@far.example", "message", "Subject: buy spam now\n\nhi\n").must(t, 200).has(t, "<li>discard</li>")
	c.post("/me/filters/test", "name", "main", "content", "keep;", "message", "").must(t, 422).fieldError(t, "message", "paste a whole message")
	if n := e.count(`SELECT count(*) FROM sieve_scripts WHERE active AND name = 'main'`); n != 1 {
		t.Fatalf("active main scripts: %d", n)
	}
}
