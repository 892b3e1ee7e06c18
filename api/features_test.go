package api_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailhost/admin"
)

func TestForwardingVacationAliasesAndAliasDomains(t *testing.T) {
	e := newEnv(t)
	super := e.admin("root", true)
	e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": "example.com"}))
	e.must(201, e.do(super, "POST", "/api/v1/domains/example.com/mailboxes", map[string]any{"local_part": "alice", "password": "password1"}))

	e.problem(404, "not-found", e.do(super, "GET", "/api/v1/mailboxes/alice@example.com/forwarding", nil))
	fw := e.must(200, e.do(super, "PUT", "/api/v1/mailboxes/alice@example.com/forwarding",
		map[string]any{"destinations": []string{"Alice@Elsewhere.example", "alice@elsewhere.example", "bob@bücher.example"}, "keep_copy": false})).body
	if d := fw["destinations"].([]any); len(d) != 2 || d[0] != "alice@elsewhere.example" || d[1] != "bob@xn--bcher-kva.example" || fw["keep_copy"] != false {
		t.Fatalf("forwarding: %v", fw)
	}
	got := e.must(200, e.do(super, "GET", "/api/v1/mailboxes/alice@example.com/forwarding", nil)).body
	if got["keep_copy"] != false || got["active"] != true {
		t.Fatalf("forwarding GET: %v", got)
	}
	e.must(204, e.do(super, "DELETE", "/api/v1/mailboxes/alice@example.com/forwarding", nil))
	e.problem(404, "not-found", e.do(super, "DELETE", "/api/v1/mailboxes/alice@example.com/forwarding", nil))

	vac := e.must(200, e.do(super, "PUT", "/api/v1/mailboxes/alice@example.com/vacation", map[string]any{
		"subject": "Away", "body": "Back on Monday.", "active_from": "2030-01-01T00:00:00Z", "active_until": "2030-01-08T00:00:00Z",
	})).body
	if vac["interval_seconds"] != float64(admin.DefaultVacationWait) || vac["active_from"] != "2030-01-01T00:00:00Z" {
		t.Fatalf("vacation: %v", vac)
	}
	vac = e.must(200, e.do(super, "PUT", "/api/v1/mailboxes/alice@example.com/vacation", map[string]any{
		"subject": "Away", "body": "x", "interval_seconds": 3600, "active": false})).body
	if vac["interval_seconds"] != float64(3600) || vac["active"] != false || vac["active_from"] != nil {
		t.Fatalf("vacation replaced: %v", vac)
	}
	e.must(200, e.do(super, "GET", "/api/v1/mailboxes/alice@example.com/vacation", nil))
	e.must(204, e.do(super, "DELETE", "/api/v1/mailboxes/alice@example.com/vacation", nil))

	// Aliases: a catch-all, update, list with search.
	al := e.must(201, e.do(super, "POST", "/api/v1/domains/example.com/aliases", map[string]any{"address": "@Example.com", "destinations": []string{"alice@example.com"}})).body
	if al["catch_all"] != true || al["address"] != "@example.com" {
		t.Fatalf("catch-all: %v", al)
	}
	e.must(201, e.do(super, "POST", "/api/v1/domains/example.com/aliases", map[string]any{"address": "sales@example.com", "destinations": []string{"alice@example.com", "x@remote.example"}, "active": false}))
	up := e.must(200, e.do(super, "PATCH", "/api/v1/aliases/sales@example.com", map[string]any{"destinations": []string{"x@remote.example"}, "active": true})).body
	if len(up["destinations"].([]any)) != 1 || up["active"] != true {
		t.Fatalf("alias update: %v", up)
	}
	l := e.must(200, e.do(super, "GET", "/api/v1/domains/example.com/aliases?q=sal", nil)).body["items"].([]any)
	if len(l) != 1 {
		t.Fatalf("alias search: %v", l)
	}
	e.problem(409, "conflict", e.do(super, "POST", "/api/v1/domains/example.com/aliases", map[string]any{"address": "sales@example.com", "destinations": []string{"a@remote.example"}}))

	// Alias domains.
	ad := e.must(201, e.do(super, "POST", "/api/v1/alias-domains", map[string]any{"alias_domain": "bücher.example", "target_domain": "example.com"})).body
	if ad["alias_domain"] != "xn--bcher-kva.example" || ad["unicode_alias_domain"] != "bücher.example" || ad["target_domain"] != "example.com" {
		t.Fatalf("alias domain: %v", ad)
	}
	e.problem(409, "conflict", e.do(super, "POST", "/api/v1/domains", map[string]any{"name": "bücher.example"}))
	e.must(200, e.do(super, "GET", "/api/v1/alias-domains/b%C3%BCcher.example", nil))
	if n := len(e.must(200, e.do(super, "GET", "/api/v1/alias-domains", nil)).body["items"].([]any)); n != 1 {
		t.Fatalf("%d alias domains", n)
	}
	// A forwarding through the alias domain back to the mailbox is a loop.
	e.problem(422, "validation", e.do(super, "PUT", "/api/v1/mailboxes/alice@example.com/forwarding", map[string]any{"destinations": []string{"alice@bücher.example"}}))
	e.must(204, e.do(super, "DELETE", "/api/v1/alias-domains/xn--bcher-kva.example", nil))
	e.must(204, e.do(super, "DELETE", "/api/v1/aliases/sales@example.com", nil))
	e.problem(404, "not-found", e.do(super, "GET", "/api/v1/aliases/sales@example.com", nil))
}

// Every change is audited, in its transaction, with who, from where and
// before/after; never a password hash or a token.
func TestAuditLog(t *testing.T) {
	e := newEnv(t)
	super := e.admin("root", true)
	e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": "example.com"}))
	e.must(201, e.do(super, "POST", "/api/v1/domains/example.com/mailboxes", map[string]any{"local_part": "alice", "password": "password1"}))
	e.must(200, e.do(super, "PATCH", "/api/v1/mailboxes/alice@example.com", map[string]any{"password": "password2", "quota_bytes": 5}))
	tok := e.must(201, e.do(super, "POST", "/api/v1/tokens", map[string]any{"name": "second"})).body
	e.must(204, e.do(super, "DELETE", "/api/v1/mailboxes/alice@example.com", nil))

	r := e.must(200, e.do(super, "GET", "/api/v1/audit-log?limit=500", nil))
	for _, secret := range []string{"{ARGON2ID}", "password1", "password2", tok["token"].(string)} {
		if strings.Contains(r.raw, secret) {
			t.Errorf("audit log holds %q", secret)
		}
	}
	var rows []string
	for _, x := range r.body["items"].([]any) {
		m := x.(map[string]any)
		rows = append(rows, m["action"].(string)+" "+m["object_type"].(string)+" "+m["object"].(string)+" by "+m["actor_kind"].(string))
		if m["actor_kind"] == "token" && (m["remote_addr"] != "127.0.0.1" || !strings.Contains(m["actor"].(string), "(root)")) {
			t.Errorf("token entry without its origin: %v", m)
		}
	}
	want := []string{
		"delete mailbox alice@example.com by token", "create token 2 by token", "update mailbox alice@example.com by token",
		"create mailbox alice@example.com by token", "create domain example.com by token", "create token 1 by cli", "create admin root by cli",
	}
	if !equal(rows, want) {
		t.Fatalf("audit rows:\n%s\nwant\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	// Filters and paging.
	f := e.must(200, e.do(super, "GET", "/api/v1/audit-log?object_type=mailbox&action=update", nil)).body["items"].([]any)
	if len(f) != 1 {
		t.Fatalf("filtered: %v", f)
	}
	upd := f[0].(map[string]any)
	if upd["before"].(map[string]any)["quota_bytes"] != float64(0) || upd["after"].(map[string]any)["quota_bytes"] != float64(5) {
		t.Errorf("before/after: %v", upd)
	}
	p1 := e.must(200, e.do(super, "GET", "/api/v1/audit-log?limit=4", nil)).body
	p2 := e.must(200, e.do(super, "GET", "/api/v1/audit-log?limit=4&cursor="+p1["next_cursor"].(string), nil)).body
	if len(p1["items"].([]any)) != 4 || len(p2["items"].([]any)) != 3 || p2["next_cursor"] != "" {
		t.Fatalf("audit pages: %v / %v", p1, p2)
	}
	since := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if n := len(e.must(200, e.do(super, "GET", "/api/v1/audit-log?since="+since, nil)).body["items"].([]any)); n != 0 {
		t.Errorf("%d entries in the future", n)
	}
}

// Deleted mailboxes' Maildirs wait in the retention area until their purge
// time; PurgeRetained removes them then, and only then.
func TestRetentionAndPurge(t *testing.T) {
	e := newEnv(t)
	super := e.admin("root", true)
	e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": "example.com"}))
	e.must(201, e.do(super, "POST", "/api/v1/domains/example.com/mailboxes", map[string]any{"local_part": "alice", "password": "password1"}))
	msg := filepath.Join(e.root, "example.com", "alice", "cur", "1700000000.M1P1Q1.host,S=5:2,S")
	if err := os.WriteFile(msg, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.must(204, e.do(super, "DELETE", "/api/v1/mailboxes/alice@example.com", nil))
	kept, _ := filepath.Glob(filepath.Join(e.retention, "example.com", "alice-*", "cur", "*"))
	if len(kept) != 1 {
		t.Fatalf("retained message files: %v", kept)
	}
	var purgeAfter time.Time
	var path string
	if err := e.st.Pool().QueryRow(context.Background(), `SELECT path, purge_after FROM retained_maildirs`).Scan(&path, &purgeAfter); err != nil {
		t.Fatal(err)
	}
	if d := time.Until(purgeAfter); d < 29*24*time.Hour || d > 31*24*time.Hour || !strings.HasPrefix(path, "example.com/alice-") {
		t.Fatalf("retained %q until %v", path, purgeAfter)
	}
	// The address is free again at once.
	e.must(201, e.do(super, "POST", "/api/v1/domains/example.com/mailboxes", map[string]any{"local_part": "alice", "password": "password1"}))
	if n, err := e.svc.PurgeRetained(context.Background()); n != 0 || err != nil {
		t.Fatalf("purge before time: %d %v", n, err)
	}
	e.st.Pool().Exec(context.Background(), `UPDATE retained_maildirs SET purge_after = deleted_at`)
	if n, err := e.svc.PurgeRetained(context.Background()); n != 1 || err != nil {
		t.Fatalf("purge: %d %v", n, err)
	}
	if left, _ := filepath.Glob(filepath.Join(e.retention, "example.com", "alice-*")); len(left) != 0 {
		t.Fatalf("purged Maildir still there: %v", left)
	}
	if c := e.counts(); c["retained_maildirs"] != 0 {
		t.Fatalf("retained rows: %v", c)
	}
	// purge=true removes at once and keeps no row.
	e.must(204, e.do(super, "DELETE", "/api/v1/mailboxes/alice@example.com?purge=true", nil))
	if left, _ := filepath.Glob(filepath.Join(e.retention, "example.com", "alice-*")); len(left) != 0 || e.counts()["retained_maildirs"] != 0 {
		t.Fatalf("purge=true left %v", left)
	}
}

// The web panel's login goes through the service too.
func TestAuthenticateAdmin(t *testing.T) {
	e := newEnv(t)
	e.admin("root", true)
	ctx := context.Background()
	a, err := e.svc.AuthenticateAdmin(ctx, "ROOT", "password-root", "192.0.2.1")
	if err != nil || !a.Superadmin || a.Kind != "admin" || a.Username != "root" {
		t.Fatalf("login: %+v %v", a, err)
	}
	for _, c := range [][2]string{{"root", "wrong"}, {"nobody", "password-root"}, {"bad user", "x"}} {
		if _, err := e.svc.AuthenticateAdmin(ctx, c[0], c[1], ""); admin.KindOf(err) != admin.Unauthorized {
			t.Errorf("login %q/%q: %v", c[0], c[1], err)
		}
	}
}

func TestAdminsThroughTheAPI(t *testing.T) {
	e := newEnv(t)
	super := e.admin("root", true)
	e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": "a.example"}))
	e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": "b.example"}))
	ad := e.must(201, e.do(super, "POST", "/api/v1/admins", map[string]any{
		"username": "Carol@A.example", "password": "carol password", "domains": []string{"a.example"}})).body
	if ad["username"] != "carol@a.example" || ad["superadmin"] != false || len(ad["domains"].([]any)) != 1 || ad["password"] != nil {
		t.Fatalf("created admin: %v", ad)
	}
	up := e.must(200, e.do(super, "PATCH", "/api/v1/admins/carol@a.example", map[string]any{"domains": []string{"a.example", "b.example"}})).body
	if len(up["domains"].([]any)) != 2 {
		t.Fatalf("updated admin: %v", up)
	}
	// A token for carol, made by the super-admin, acts with carol's rights.
	tok := e.must(201, e.do(super, "POST", "/api/v1/tokens", map[string]any{"name": "for carol", "admin": "carol@a.example"})).body
	carol := tok["token"].(string)
	if n := len(e.must(200, e.do(carol, "GET", "/api/v1/domains", nil)).body["items"].([]any)); n != 2 {
		t.Fatalf("carol sees %d domains", n)
	}
	l := e.must(200, e.do(super, "GET", "/api/v1/admins?q=car", nil)).body["items"].([]any)
	if len(l) != 1 {
		t.Fatalf("admin search: %v", l)
	}
	e.must(204, e.do(super, "DELETE", "/api/v1/admins/carol@a.example", nil))
	e.problem(401, "unauthorized", e.do(carol, "GET", "/api/v1/domains", nil)) // its tokens went with it
	e.problem(404, "not-found", e.do(super, "GET", "/api/v1/admins/carol@a.example", nil))
}
