package web_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"mailhost/admin"
	"mailhost/auth"
)

func TestDomainForms(t *testing.T) {
	e := newEnv(t)
	e.admin("root", true)
	c := e.client()
	c.login("root", pw, "/")

	c.get("/domains/new").must(t, 200).has(t, `<label for="f-name">`, `<label for="f-max_mailboxes">`)
	// Bad input: every error next to its field, the input kept, nothing written.
	c.post("/domains/new", "name", "not a domain", "description", "Kept <b>text</b>", "max_mailboxes", "ten",
		"max_quota_bytes", "2X", "quota_bytes", "1G").must(t, 422).
		fieldError(t, "max_mailboxes", "whole number").fieldError(t, "max_quota_bytes", "500M").
		has(t, `value="Kept &lt;b&gt;text&lt;/b&gt;"`, `value="ten"`, `value="1G"`)
	c.post("/domains/new", "name", "not a domain", "max_quota_bytes", "2G", "quota_bytes", "1G").must(t, 422).
		fieldError(t, "name", "").fieldError(t, "max_quota_bytes", "larger than")
	c.post("/domains/new", "name", "example.com", "kind", "relay", "relay_to", "[bad").must(t, 422).fieldError(t, "relay_to", "closing ]")
	if n := e.count(`SELECT count(*) FROM domains`); n != 0 {
		t.Fatalf("%d domains written by bad forms", n)
	}

	c.post("/domains/new", "name", "Example.COM", "description", "Main", "kind", "local", "max_mailboxes", "10",
		"max_aliases", "0", "max_quota_bytes", "1G", "quota_bytes", "5G", "active", "on").redirects(t, "/domains/example.com?done=created")
	c.post("/domains/new", "name", "example.com", "active", "on").must(t, 409).has(t, "already exists")
	c.post("/domains/new", "name", "Bücher.example", "active", "on").redirects(t, "/domains/xn--bcher-kva.example?done=created")
	c.get("/domains/xn--bcher-kva.example").must(t, 200).has(t, "<h1>Domain bücher.example</h1>", "xn--bcher-kva.example")
	c.post("/domains/new", "name", "backup.example", "kind", "relay", "relay_to", "[192.0.2.1]:25", "active", "on").
		redirects(t, "/domains/backup.example?done=created")
	e.mailbox("alice@example.com")

	c.get("/domains").must(t, 200).has(t, "example.com", "backup.example", "to [192.0.2.1]:25",
		`<meter min="0" max="10" value="1"`, "1 of 10 (10%)", "0 (no limit)", "1 GiB of 5 GiB (20%)")
	c.get("/domains?q=back").must(t, 200).has(t, "backup.example").lacks(t, ">example.com<")

	c.get("/domains/example.com?done=created").must(t, 200).has(t, "<h1>Domain example.com</h1>", "Created.")
	c.get("/domains/example.com").must(t, 200).has(t,
		"<code>example.com.</code></td><td>MX</td><td><code>10 mail.example.net.</code>",
		`<code>"v=spf1 mx -all"</code>`, "<td>mail.example.net</td><td>993</td><td>SSL/TLS</td>",
		"<td>143</td><td>STARTTLS</td>", "<td>587</td><td>STARTTLS</td>", "<td>465</td><td>SSL/TLS</td>", "<td>995</td>")

	// Edit: limits and description; errors keep the input.
	c.get("/domains/example.com/edit").must(t, 200).has(t, `value="Main"`, `value="1G"`, `value="5G"`, `value="10"`)
	c.post("/domains/example.com/edit", "description", "Changed", "kind", "local", "max_mailboxes", "-1").must(t, 422).
		fieldError(t, "max_mailboxes", "from 0").has(t, `value="Changed"`)
	c.post("/domains/example.com/edit", "description", "Changed", "kind", "local", "max_mailboxes", "20", "max_aliases", "5",
		"max_quota_bytes", "1G", "quota_bytes", "5G").redirects(t, "/domains/example.com?done=saved")
	if n := e.count(`SELECT count(*) FROM domains WHERE name = 'example.com' AND description = 'Changed' AND max_mailboxes = 20 AND max_aliases = 5`); n != 1 {
		t.Fatal("domain edit not written")
	}

	// One-click deactivate and activate.
	c.post("/domains/example.com/active", "active", "false", "back", "/domains").redirects(t, "/domains?done=off")
	c.get("/domains?done=off").has(t, "inactive", "Deactivated.")
	c.post("/domains/example.com/active", "active", "true").redirects(t, "/domains/example.com?done=on")

	// Delete: a confirmation that says what happens; without force refused.
	c.get("/domains/example.com/delete").must(t, 200).has(t, "1 mailboxes", "retention area for 30 days", `name="force"`)
	c.post("/domains/example.com/delete").must(t, 409).has(t, "still has 1 mailboxes")
	c.post("/domains/example.com/delete", "force", "on").redirects(t, "/domains?done=deleted")
	if n := e.count(`SELECT count(*) FROM domains WHERE name = 'example.com'`); n != 0 {
		t.Fatal("domain not deleted")
	}
	c.get("/domains/example.com").must(t, 404)
}

func TestMailboxForms(t *testing.T) {
	e := newEnv(t)
	e.admin("root", true)
	e.domain("example.com")
	c := e.client()
	c.login("root", pw, "/")

	c.get("/domains/example.com/mailboxes/new").must(t, 200).has(t, `<label for="f-local_part">`, `<label for="f-password">`)
	c.post("/domains/example.com/mailboxes/new", "local_part", "bad/name", "name", "Kept", "password", "short", "quota_bytes", "lots").
		must(t, 422).fieldError(t, "quota_bytes", "size").has(t, `value="Kept"`)
	c.post("/domains/example.com/mailboxes/new", "local_part", "bad/name", "name", "Kept", "password", "short").
		must(t, 422).fieldError(t, "local_part", "").fieldError(t, "password", "at least 8").
		lacks(t, `value="short"`) // a password is never sent back
	if n := e.count(`SELECT count(*) FROM mailboxes`); n != 0 {
		t.Fatalf("%d mailboxes written by bad forms", n)
	}

	// A generated password is shown once.
	res := c.post("/domains/example.com/mailboxes/new", "local_part", "alice", "name", "Alice", "quota_bytes", "100M", "active", "on").
		must(t, 201).has(t, "shown only this once")
	gen := regexp.MustCompile(`<code id="secret">([^<]+)</code>`).FindStringSubmatch(res.body)
	if gen == nil {
		t.Fatal("no generated password on the page")
	}
	var hash string
	if err := e.st.Pool().QueryRow(context.Background(), `SELECT password FROM mailboxes WHERE address = 'alice@example.com'`).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if ok, _ := auth.Verify(hash, gen[1]); !ok {
		t.Fatal("the shown password is not the mailbox's")
	}
	if _, err := os.Stat(filepath.Join(e.root, "example.com", "alice", "cur")); err != nil {
		t.Fatalf("no Maildir: %v", err)
	}
	c.get("/mailboxes/alice@example.com").must(t, 200).lacks(t, gen[1])
	c.post("/domains/example.com/mailboxes/new", "local_part", "bob", "password", pw, "active", "on").redirects(t, "/mailboxes/bob@example.com?done=created")
	c.post("/domains/example.com/mailboxes/new", "local_part", "bob", "password", pw).must(t, 409).has(t, "already taken")

	// The list: quota bars, search, keyset pages.
	for i := range 52 {
		e.mailbox(fmt.Sprintf("user%02d@example.com", i))
	}
	l := c.get("/domains/example.com/mailboxes").must(t, 200).has(t, "alice@example.com", "0 B of 100 MiB (0%)", `rel="next"`)
	next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(l.body)[1]
	p2 := c.get(strings.ReplaceAll(next, "&amp;", "&")).must(t, 200).has(t, "user51@example.com").lacks(t, "alice@example.com", `rel="next"`)
	_ = p2
	c.get("/domains/example.com/mailboxes?q=alic").must(t, 200).has(t, "alice@example.com").lacks(t, "bob@example.com")
	c.get("/domains/example.com/mailboxes?cursor=garbage").must(t, 400)

	// Edit: quota, name, password; errors keep the input.
	c.get("/mailboxes/alice@example.com").must(t, 200).has(t, `value="Alice"`, `value="100M"`)
	c.post("/mailboxes/alice@example.com", "name", "Alice A.", "quota_bytes", "1X").must(t, 422).fieldError(t, "quota_bytes", "size").has(t, `value="Alice A."`)
	c.post("/mailboxes/alice@example.com", "name", "Alice A.", "quota_bytes", "200M", "password", "new password 1", "active", "on").
		redirects(t, "/mailboxes/alice@example.com?done=saved")
	if err := e.st.Pool().QueryRow(context.Background(), `SELECT password FROM mailboxes WHERE address = 'alice@example.com' AND quota_bytes = 200*1024*1024 AND name = 'Alice A.'`).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if ok, _ := auth.Verify(hash, "new password 1"); !ok {
		t.Fatal("password not changed")
	}

	// One click off and on.
	c.post("/mailboxes/bob@example.com/active", "active", "false", "back", "/domains/example.com/mailboxes").
		redirects(t, "/domains/example.com/mailboxes?done=off")
	if n := e.count(`SELECT count(*) FROM mailboxes WHERE address = 'bob@example.com' AND NOT active`); n != 1 {
		t.Fatal("bob still active")
	}
	// back must be local.
	c.post("/mailboxes/bob@example.com/active", "active", "true", "back", "//evil.example").redirects(t, "/mailboxes/bob@example.com?done=on")

	// Delete: the confirmation says where the mail goes.
	c.get("/mailboxes/bob@example.com/delete").must(t, 200).has(t, "moves to the retention area for 30 days")
	if n := e.count(`SELECT count(*) FROM mailboxes WHERE address = 'bob@example.com'`); n != 1 {
		t.Fatal("the confirmation page deleted")
	}
	c.post("/mailboxes/bob@example.com/delete").redirects(t, "/domains/example.com/mailboxes?done=deleted")
	if n := e.count(`SELECT count(*) FROM retained_maildirs WHERE address = 'bob@example.com'`); n != 1 {
		t.Fatal("bob's Maildir not retained")
	}
	c.get("/mailboxes/bob@example.com").must(t, 404)
}

func TestAliasForms(t *testing.T) {
	e := newEnv(t)
	e.admin("root", true)
	e.domain("example.com")
	e.mailbox("alice@example.com")
	c := e.client()
	c.login("root", pw, "/")

	c.post("/domains/example.com/aliases/new", "address", "info", "destinations", "alice@example.com\nnot an address\n").
		must(t, 422).fieldError(t, "destinations", "line 2").has(t, "not an address", `value="info"`)
	c.post("/domains/example.com/aliases/new", "address", "info", "destinations", "").must(t, 422).fieldError(t, "destinations", "at least one")
	c.post("/domains/example.com/aliases/new", "address", "info@other.example", "destinations", "alice@example.com").
		must(t, 422).fieldError(t, "address", "must be an address of example.com")
	if n := e.count(`SELECT count(*) FROM aliases`); n != 0 {
		t.Fatal("alias written by a bad form")
	}
	c.post("/domains/example.com/aliases/new", "address", "info", "destinations", "alice@example.com\r\n bob@elsewhere.example \n", "active", "on").
		redirects(t, "/domains/example.com/aliases?done=created#info%40example.com")
	c.post("/domains/example.com/aliases/new", "address", "@", "destinations", "alice@example.com", "active", "on").
		redirects(t, "/domains/example.com/aliases?done=created#%40example.com")
	c.get("/domains/example.com/aliases").must(t, 200).has(t, "info@example.com", "alice@example.com, bob@elsewhere.example",
		"any other address @example.com", "2 (no limit)")

	c.get("/aliases/info@example.com").must(t, 200).has(t, "alice@example.com\nbob@elsewhere.example</textarea>")
	c.post("/aliases/info@example.com", "destinations", "info@example.com").must(t, 422).fieldError(t, "destinations", "itself")
	c.post("/aliases/info@example.com", "destinations", "carol@elsewhere.example", "active", "on").redirects(t, "/aliases/info@example.com?done=saved")
	c.post("/aliases/info@example.com/active", "active", "false").redirects(t, "/aliases/info@example.com?done=off")
	c.get("/aliases/info@example.com/delete").must(t, 200).has(t, "carol@elsewhere.example")
	c.post("/aliases/info@example.com/delete").redirects(t, "/domains/example.com/aliases?done=deleted")
	if n := e.count(`SELECT count(*) FROM aliases`); n != 1 {
		t.Fatalf("%d aliases left, want the catch-all", n)
	}

	// Alias domains.
	c.post("/alias-domains/new", "alias_domain", "example.net", "target_domain", "nowhere.example", "active", "on").
		must(t, 422).fieldError(t, "target_domain", "not a domain")
	c.post("/alias-domains/new", "alias_domain", "example.net", "target_domain", "example.com", "active", "on").redirects(t, "/alias-domains?done=created")
	c.get("/alias-domains").must(t, 200).has(t, "example.net")
	c.get("/domains/example.com").has(t, "example.net → example.com")
	c.get("/alias-domains/example.net/delete").must(t, 200).has(t, "will no longer reach example.com")
	c.post("/alias-domains/example.net/delete").redirects(t, "/alias-domains?done=deleted")
}

func TestForwardingAndVacationByAdmin(t *testing.T) {
	e := newEnv(t)
	e.admin("root", true)
	e.domain("example.com")
	e.mailbox("alice@example.com")
	c := e.client()
	c.login("root", pw, "/")

	c.get("/mailboxes/alice@example.com/forwarding").must(t, 200).has(t, "not forwarded")
	c.post("/mailboxes/alice@example.com/forwarding", "destinations", "x@", "keep_copy", "on", "active", "on").
		must(t, 422).fieldError(t, "destinations", "line 1")
	c.post("/mailboxes/alice@example.com/forwarding", "destinations", "alice@elsewhere.example", "active", "on").
		redirects(t, "/mailboxes/alice@example.com/forwarding?done=saved")
	if n := e.count(`SELECT count(*) FROM forwardings WHERE NOT keep_copy AND destinations = '{alice@elsewhere.example}'`); n != 1 {
		t.Fatal("forwarding not written")
	}
	c.get("/mailboxes/alice@example.com/forwarding/delete").must(t, 200).has(t, "no longer be forwarded to alice@elsewhere.example")
	if n := e.count(`SELECT count(*) FROM forwardings`); n != 1 {
		t.Fatal("the confirmation page deleted the forwarding")
	}
	c.post("/mailboxes/alice@example.com/forwarding/delete").redirects(t, "/mailboxes/alice@example.com/forwarding?done=deleted")

	c.post("/mailboxes/alice@example.com/vacation", "subject", "", "body", "Kept body").must(t, 422).
		fieldError(t, "subject", "required").has(t, "Kept body</textarea>")
	c.post("/mailboxes/alice@example.com/vacation", "subject", "Away", "active_from", "2026-08-10", "active_until", "2026-08-01").
		must(t, 422).fieldError(t, "active_until", "after")
	c.post("/mailboxes/alice@example.com/vacation", "subject", "Away", "body", "Back soon", "active_from", "2026-08-01",
		"active_until", "2026-08-20", "interval_days", "3", "active", "on").redirects(t, "/mailboxes/alice@example.com/vacation?done=saved")
	if n := e.count(`SELECT count(*) FROM vacations WHERE subject = 'Away' AND interval_seconds = 3*86400 AND active_until = '2026-08-21T00:00:00Z'`); n != 1 {
		t.Fatal("vacation not written")
	}
	c.get("/mailboxes/alice@example.com/vacation").must(t, 200).has(t, `value="2026-08-20"`, `value="3"`, "One is set.")
}

// Who may reach what: a domain admin of A gets 404 for everything of B,
// by URL or by form field; a mailbox owner gets 404 for admin pages; an
// anonymous visitor goes to the login page.
func TestPermissionMatrix(t *testing.T) {
	e := newEnv(t)
	e.admin("root", true)
	e.domain("a.example")
	e.domain("b.example")
	e.admin("adm-a", false, "a.example")
	e.mailbox("alice@a.example")
	e.mailbox("bob@b.example")
	ctx := context.Background()
	for _, d := range []string{"a.example", "b.example"} {
		addr, dests := "info@"+d, []string{"alice@a.example"}
		if _, err := e.svc.CreateAlias(ctx, admin.CLI(), d, admin.AliasInput{Address: &addr, Destinations: &dests}); err != nil {
			t.Fatal(err)
		}
	}

	super, domA, owner, anon := e.client(), e.client(), e.client(), e.client()
	super.login("root", pw, "/")
	domA.login("adm-a", pw, "/")
	owner.login("alice@a.example", pw, "/me")

	pages := func(d string) []string {
		m, al := "/mailboxes/"+map[string]string{"a.example": "alice@a.example", "b.example": "bob@b.example"}[d], "/aliases/info@"+d
		return []string{"/domains/" + d, "/domains/" + d + "/edit", "/domains/" + d + "/mailboxes", "/domains/" + d + "/mailboxes/new",
			"/domains/" + d + "/aliases", "/domains/" + d + "/aliases/new", m, m + "/delete", m + "/forwarding", m + "/vacation",
			al, al + "/delete"}
	}
	for _, p := range pages("a.example") {
		super.get(p).must(t, 200)
		domA.get(p).must(t, 200)
		owner.get(p).must(t, 404)
		anon.get(p).redirects(t, "/login?next="+strings.NewReplacer("/", "%2F", "@", "%40").Replace(p))
	}
	for _, p := range pages("b.example") {
		super.get(p).must(t, 200)
		domA.get(p).must(t, 404).lacks(t, "bob@b.example")
	}
	// Writes to B by URL: 404, nothing changes.
	domA.post("/domains/b.example/mailboxes/new", "local_part", "evil", "password", pw).must(t, 404)
	domA.post("/domains/b.example/aliases/new", "address", "evil", "destinations", "alice@a.example").must(t, 404)
	domA.post("/mailboxes/bob@b.example", "name", "pwned", "password", "pwned pwned").must(t, 404)
	domA.post("/mailboxes/bob@b.example/active", "active", "false").must(t, 404)
	domA.post("/mailboxes/bob@b.example/delete").must(t, 404)
	domA.post("/mailboxes/bob@b.example/forwarding", "destinations", "evil@evil.example").must(t, 404)
	domA.post("/aliases/info@b.example", "destinations", "evil@evil.example").must(t, 404)
	domA.post("/aliases/info@b.example/delete").must(t, 404)
	domA.post("/domains/b.example/edit", "description", "pwned").must(t, 404)
	// ... or by a form field: an alias of A named in B.
	domA.post("/domains/a.example/aliases/new", "address", "evil@b.example", "destinations", "alice@a.example").must(t, 422).
		fieldError(t, "address", "must be an address of a.example")
	if n := e.count(`SELECT count(*) FROM mailboxes WHERE address = 'bob@b.example' AND active AND name = ''`); n != 1 {
		t.Fatal("bob changed by A's admin")
	}
	if n := e.count(`SELECT count(*) FROM aliases WHERE address LIKE 'evil@%' OR destinations = '{evil@evil.example}'`); n != 0 {
		t.Fatal("alias written across domains")
	}
	if n := e.count(`SELECT count(*) FROM forwardings`); n != 0 {
		t.Fatal("forwarding written across domains")
	}

	// The domain list and the dashboard show only A.
	domA.get("/domains").must(t, 200).has(t, "a.example").lacks(t, "b.example")
	domA.get("/").must(t, 200).lacks(t, "b.example")
	domA.get("/audit").must(t, 200).lacks(t, "b.example")
	super.get("/audit?domain=b.example").must(t, 200).has(t, "bob@b.example")
	// Super-admin-only things.
	domA.get("/domains/new").must(t, 200)
	domA.post("/domains/new", "name", "c.example", "active", "on").must(t, 403).has(t, "only a super-admin")
	domA.get("/admins").must(t, 403)
	domA.get("/admins/root").must(t, 404)
	domA.post("/admins/new", "username", "evil", "password", pw, "superadmin", "on").must(t, 403).has(t, "only a super-admin")
	domA.get("/admins/new").must(t, 403).has(t, "only a super-admin")
	domA.get("/admins/adm-a").must(t, 200).has(t, "a.example", `href="/account/password"`).lacks(t, `name="superadmin"`)
	domA.post("/tokens/new", "name", "x", "admin", "root").must(t, 403)
	// A domain admin manages its own API tokens, as the API lets it.
	domA.get("/tokens/new").must(t, 200).lacks(t, `name="admin"`)
	domA.post("/tokens/new", "name", "mine").must(t, 201).has(t, "shown only this once", "for adm-a")
	l := domA.get("/tokens").must(t, 200).has(t, "mine")
	id := regexp.MustCompile(`href="/tokens/(\d+)/revoke"`).FindStringSubmatch(l.body)[1]
	domA.post("/tokens/"+id+"/revoke").redirects(t, "/tokens?done=revoked")
	super.post("/tokens/new", "name", "root's", "admin", "root").must(t, 201)
	domA.get("/tokens").must(t, 200).lacks(t, "root&#39;s")
	domA.post("/domains/a.example/active", "active", "false").must(t, 403)
	domA.get("/domains/a.example/delete").must(t, 200)
	domA.post("/domains/a.example/delete", "force", "on").must(t, 403).has(t, "only a super-admin")
	if n := e.count(`SELECT count(*) FROM admins`); n != 2 {
		t.Fatal("admin created by a domain admin")
	}
	// The owner reaches only /me.
	for _, p := range []string{"/", "/domains", "/audit", "/admins", "/tokens", "/alias-domains"} {
		if p == "/" {
			owner.get(p).redirects(t, "/me")
			continue
		}
		owner.get(p).must(t, 404)
	}
	owner.post("/domains/a.example/mailboxes/new", "local_part", "evil", "password", pw).must(t, 404)
	super.get("/me").must(t, 404)
	anon.get("/me").redirects(t, "/login?next=%2Fme")
	anon.post("/domains/new", "name", "x.example").redirects(t, "/login")
}

func TestOwnerPages(t *testing.T) {
	e := newEnv(t)
	e.domain("example.com")
	e.mailbox("alice@example.com")
	e.mailbox("bob@example.com")
	c := e.client()
	c.post("/login", "username", "alice@example.com", "password", "wrong").must(t, 401)
	c.login("Alice@Example.com", pw, "/me")
	c.get("/me").must(t, 200).has(t, "Your mailbox alice@example.com", "0 B (no limit)", "<td>mail.example.net</td><td>993</td><td>SSL/TLS</td>")

	c.post("/me/password", "current_password", "wrong", "password", "new password 2").must(t, 422).fieldError(t, "current_password", "not your current password")
	c.post("/me/password", "current_password", pw, "password", "short").must(t, 422).fieldError(t, "password", "at least 8")
	c.post("/me/password", "current_password", pw, "password", "new password 2").redirects(t, "/me?done=passwd")
	var hash string
	if err := e.st.Pool().QueryRow(context.Background(), `SELECT password FROM mailboxes WHERE address = 'alice@example.com'`).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if ok, _ := auth.Verify(hash, "new password 2"); !ok {
		t.Fatal("password not changed")
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE actor = 'alice@example.com' AND actor_kind = 'user' AND action = 'passwd'`); n != 1 {
		t.Fatal("no audit row naming alice")
	}

	c.post("/me/forwarding", "destinations", "alice@elsewhere.example", "keep_copy", "on", "active", "on").redirects(t, "/me/forwarding?done=saved")
	c.get("/me/forwarding").must(t, 200).has(t, "alice@elsewhere.example</textarea>")
	c.post("/me/vacation", "subject", "Away", "body", "Back on Monday", "active", "on").redirects(t, "/me/vacation?done=saved")
	c.get("/me/vacation/delete").must(t, 200).has(t, "The vacation reply “Away” and its text will be deleted")
	c.post("/me/vacation/delete").redirects(t, "/me/vacation?done=deleted")
	if n := e.count(`SELECT count(*) FROM forwardings f JOIN mailboxes m ON m.id = f.mailbox_id WHERE m.address = 'alice@example.com'`); n != 1 {
		t.Fatal("forwarding not set")
	}
	// There is no URL naming another mailbox for an owner.
	c.get("/mailboxes/bob@example.com/forwarding").must(t, 404)
	c.post("/mailboxes/bob@example.com/forwarding", "destinations", "evil@evil.example").must(t, 404)

	// A deactivated mailbox's session ends.
	off := false
	if _, err := e.svc.UpdateMailbox(context.Background(), admin.CLI(), "alice@example.com", admin.MailboxInput{Active: &off}); err != nil {
		t.Fatal(err)
	}
	c.get("/me").redirects(t, "/login?next=%2Fme")
}

func TestAdminsTokensAudit(t *testing.T) {
	e := newEnv(t)
	e.admin("root", true)
	e.domain("a.example")
	c := e.client()
	c.login("root", pw, "/")

	c.post("/admins/new", "username", "Bad Name!", "password", "short", "domains", "a.example\nnowhere.example").must(t, 422).
		fieldError(t, "username", "").fieldError(t, "password", "at least 8").has(t, "a.example\nnowhere.example</textarea>")
	c.post("/admins/new", "username", "ann", "password", pw, "domains", "nowhere.example", "active", "on").must(t, 422).
		fieldError(t, "domains", "nowhere.example is not a domain")
	c.post("/admins/new", "username", "ann", "password", pw, "domains", "a.example", "active", "on").redirects(t, "/admins?done=created")
	c.get("/admins").must(t, 200).has(t, "ann", "domains: a.example", "super-admin")
	c.get("/admins/ann").must(t, 200).has(t, "a.example</textarea>")
	c.get("/admins/root/delete").must(t, 200)
	c.post("/admins/root/delete").must(t, 409).has(t, "last active super-admin")
	c.post("/admins/ann/delete").redirects(t, "/admins?done=deleted")

	// A token is shown once, stored hashed, revoked after a confirmation.
	c.post("/tokens/new", "name", "", "admin", "root").must(t, 422).fieldError(t, "name", "required")
	res := c.post("/tokens/new", "name", "billing", "admin", "root").must(t, 201).has(t, "shown only this once")
	tok := regexp.MustCompile(`<code id="secret">(mh_[^<]+)</code>`).FindStringSubmatch(res.body)
	if tok == nil {
		t.Fatal("no token on the page")
	}
	if _, err := e.svc.Authenticate(context.Background(), tok[1], "127.0.0.1"); err != nil {
		t.Fatalf("the shown token does not work: %v", err)
	}
	l := c.get("/tokens").must(t, 200).has(t, "billing").lacks(t, tok[1])
	id := regexp.MustCompile(`href="/tokens/(\d+)/revoke"`).FindStringSubmatch(l.body)[1]
	c.get("/tokens/"+id+"/revoke").must(t, 200).has(t, "401 Unauthorized")
	c.post("/tokens/"+id+"/revoke").redirects(t, "/tokens?done=revoked")
	if _, err := e.svc.Authenticate(context.Background(), tok[1], "127.0.0.1"); err == nil {
		t.Fatal("revoked token still works")
	}
	c.get("/tokens/999/revoke").must(t, 404)

	// The audit log with filters; the dashboard's recent events.
	a := c.get("/audit?object_type=admin").must(t, 200).has(t, "create admin", "delete admin").lacks(t, "create domain")
	_ = a
	c.get("/audit?since=yesterday").must(t, 422).fieldError(t, "since", "date")
	c.get("/").must(t, 200).has(t, "Recent changes", "revoke token", "<dt>Domains</dt><dd><a href=\"/domains\">1</a>")

	// An admin changes its own password, giving the current one.
	c.post("/account/password", "current_password", "wrong", "password", "new password 3").must(t, 422).fieldError(t, "current_password", "not your current")
	c.post("/account/password", "current_password", pw, "password", "new password 3").redirects(t, "/?done=passwd")
	e.client().login("root", "new password 3", "/")
}
