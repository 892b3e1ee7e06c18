package api_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The permission matrix: super-admin, domain admin of A acting on A and on
// B (404, never telling B exists; 403 only where existence is known), no
// token, a revoked token, a token of an inactive admin.
func TestPermissionMatrix(t *testing.T) {
	e := newEnv(t)
	super := e.admin("root", true)
	for _, d := range []string{"a.example", "b.example"} {
		e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": d}))
		e.must(201, e.do(super, "POST", "/api/v1/domains/"+d+"/mailboxes", map[string]any{"local_part": "user", "password": "password1"}))
		e.must(201, e.do(super, "POST", "/api/v1/domains/"+d+"/aliases", map[string]any{"address": "info@" + d, "destinations": []string{"user@" + d}}))
		e.must(200, e.do(super, "PUT", "/api/v1/mailboxes/user@"+d+"/forwarding", map[string]any{"destinations": []string{"x@remote.example"}}))
		e.must(200, e.do(super, "PUT", "/api/v1/mailboxes/user@"+d+"/vacation", map[string]any{"subject": "away", "body": "back soon"}))
	}
	e.must(201, e.do(super, "POST", "/api/v1/alias-domains", map[string]any{"alias_domain": "a.example.net", "target_domain": "a.example"}))
	e.must(201, e.do(super, "POST", "/api/v1/alias-domains", map[string]any{"alias_domain": "b.example.net", "target_domain": "b.example"}))
	e.must(200, e.do(super, "PATCH", "/api/v1/domains/a.example", map[string]any{"max_mailboxes": 10}))
	adminA := e.admin("alice@a.example", false, "a.example")

	// Domain admin of A on A: allowed.
	for _, c := range []struct {
		method, path string
		body         any
		code         int
	}{
		{"GET", "/api/v1/domains/a.example", nil, 200},
		{"PATCH", "/api/v1/domains/a.example", map[string]any{"description": "mine"}, 200},
		{"PATCH", "/api/v1/domains/a.example", map[string]any{"max_mailboxes": 9}, 200}, // lowering is fine
		{"GET", "/api/v1/domains/a.example/mailboxes", nil, 200},
		{"POST", "/api/v1/domains/a.example/mailboxes", map[string]any{"local_part": "new", "password": "password1"}, 201},
		{"GET", "/api/v1/mailboxes/user@a.example", nil, 200},
		{"PATCH", "/api/v1/mailboxes/user@a.example", map[string]any{"name": "User"}, 200},
		{"GET", "/api/v1/mailboxes/user@a.example/forwarding", nil, 200},
		{"PUT", "/api/v1/mailboxes/new@a.example/forwarding", map[string]any{"destinations": []string{"user@a.example"}, "keep_copy": false}, 200},
		{"DELETE", "/api/v1/mailboxes/new@a.example/forwarding", nil, 204},
		{"GET", "/api/v1/mailboxes/user@a.example/vacation", nil, 200},
		{"PUT", "/api/v1/mailboxes/new@a.example/vacation", map[string]any{"subject": "off"}, 200},
		{"DELETE", "/api/v1/mailboxes/new@a.example/vacation", nil, 204},
		{"DELETE", "/api/v1/mailboxes/new@a.example", nil, 204},
		{"GET", "/api/v1/domains/a.example/aliases", nil, 200},
		{"POST", "/api/v1/domains/a.example/aliases", map[string]any{"address": "@a.example", "destinations": []string{"user@a.example"}}, 201},
		{"GET", "/api/v1/aliases/info@a.example", nil, 200},
		{"PATCH", "/api/v1/aliases/info@a.example", map[string]any{"active": false}, 200},
		{"DELETE", "/api/v1/aliases/@a.example", nil, 204},
		{"GET", "/api/v1/alias-domains/a.example.net", nil, 200},
		{"GET", "/api/v1/admins/alice@a.example", nil, 200},
		{"PATCH", "/api/v1/admins/alice@a.example", map[string]any{"password": "a new password"}, 200},
		{"GET", "/api/v1/tokens", nil, 200},
		{"GET", "/api/v1/audit-log", nil, 200},
	} {
		if r := e.do(adminA, c.method, c.path, c.body); r.code != c.code {
			t.Errorf("admin of A: %s %s = %d, want %d: %s", c.method, c.path, r.code, c.code, r.raw)
		}
	}
	// Domain admin of A on B: not found, exactly as for a domain that does not exist.
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/domains/b.example", nil},
		{"PATCH", "/api/v1/domains/b.example", map[string]any{"description": "theirs"}},
		{"DELETE", "/api/v1/domains/b.example", nil},
		{"GET", "/api/v1/domains/b.example/mailboxes", nil},
		{"POST", "/api/v1/domains/b.example/mailboxes", map[string]any{"local_part": "x", "password": "password1"}},
		{"GET", "/api/v1/mailboxes/user@b.example", nil},
		{"PATCH", "/api/v1/mailboxes/user@b.example", map[string]any{"name": "x"}},
		{"DELETE", "/api/v1/mailboxes/user@b.example", nil},
		{"GET", "/api/v1/mailboxes/user@b.example/forwarding", nil},
		{"PUT", "/api/v1/mailboxes/user@b.example/forwarding", map[string]any{"destinations": []string{"x@remote.example"}}},
		{"DELETE", "/api/v1/mailboxes/user@b.example/forwarding", nil},
		{"GET", "/api/v1/mailboxes/user@b.example/vacation", nil},
		{"PUT", "/api/v1/mailboxes/user@b.example/vacation", map[string]any{"subject": "x"}},
		{"DELETE", "/api/v1/mailboxes/user@b.example/vacation", nil},
		{"GET", "/api/v1/domains/b.example/aliases", nil},
		{"POST", "/api/v1/domains/b.example/aliases", map[string]any{"address": "x@b.example", "destinations": []string{"user@b.example"}}},
		{"GET", "/api/v1/aliases/info@b.example", nil},
		{"PATCH", "/api/v1/aliases/info@b.example", map[string]any{"active": false}},
		{"DELETE", "/api/v1/aliases/info@b.example", nil},
		{"GET", "/api/v1/alias-domains/b.example.net", nil},
		{"DELETE", "/api/v1/alias-domains/b.example.net", nil},
		{"GET", "/api/v1/admins/root", nil},
		{"PATCH", "/api/v1/admins/root", map[string]any{"password": "password2"}},
		{"DELETE", "/api/v1/admins/root", nil},
		{"GET", "/api/v1/domains/nonexistent.example", nil},
	} {
		r := e.do(adminA, c.method, c.path, c.body)
		e.problem(404, "not-found", r)
		if strings.Contains(r.raw, "b.example.net") && c.path != "/api/v1/alias-domains/b.example.net" {
			t.Errorf("%s %s leaks: %s", c.method, c.path, r.raw)
		}
	}
	// Forbidden where existence is known.
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/v1/domains", map[string]any{"name": "c.example"}},
		{"PATCH", "/api/v1/domains/a.example", map[string]any{"max_mailboxes": 100}},
		{"PATCH", "/api/v1/domains/a.example", map[string]any{"max_mailboxes": 0}}, // unlimited is a raise
		{"PATCH", "/api/v1/domains/a.example", map[string]any{"kind": "relay"}},
		{"DELETE", "/api/v1/domains/a.example", nil},
		{"POST", "/api/v1/alias-domains", map[string]any{"alias_domain": "a.example.org", "target_domain": "a.example"}},
		{"DELETE", "/api/v1/alias-domains/a.example.net", nil},
		{"GET", "/api/v1/admins", nil},
		{"POST", "/api/v1/admins", map[string]any{"username": "eve", "password": "password1"}},
		{"PATCH", "/api/v1/admins/alice@a.example", map[string]any{"superadmin": true}},
		{"POST", "/api/v1/tokens", map[string]any{"name": "x", "admin": "root"}},
	} {
		e.problem(403, "forbidden", e.do(adminA, c.method, c.path, c.body))
	}
	// Lists show only A.
	for path, want := range map[string]string{"/api/v1/domains": "a.example", "/api/v1/alias-domains": "a.example.net"} {
		l := e.must(200, e.do(adminA, "GET", path, nil)).body["items"].([]any)
		if len(l) != 1 || !strings.Contains(e.do(adminA, "GET", path, nil).raw, want) {
			t.Errorf("%s for admin of A: %v", path, l)
		}
	}
	audit := e.must(200, e.do(adminA, "GET", "/api/v1/audit-log?limit=500", nil)).body["items"].([]any)
	for _, x := range audit {
		if d := x.(map[string]any)["domain"]; d != "a.example" {
			t.Errorf("admin of A sees audit entry of %v", d)
		}
	}
	if len(audit) == 0 {
		t.Error("admin of A sees no audit entries")
	}
	// The super-admin may do the forbidden things.
	e.must(200, e.do(super, "PATCH", "/api/v1/domains/a.example", map[string]any{"max_mailboxes": 100}))
	e.must(200, e.do(super, "GET", "/api/v1/admins", nil))

	// Tokens: own token create (defaults to the caller), list only own.
	own := e.must(201, e.do(adminA, "POST", "/api/v1/tokens", map[string]any{"name": "script"})).body
	if own["admin"] != "alice@a.example" || !strings.HasPrefix(own["token"].(string), "mh_") {
		t.Fatalf("own token: %v", own)
	}
	toks := e.must(200, e.do(adminA, "GET", "/api/v1/tokens", nil)).body["items"].([]any)
	for _, x := range toks {
		if x.(map[string]any)["admin"] != "alice@a.example" {
			t.Errorf("admin of A sees token %v", x)
		}
		if _, ok := x.(map[string]any)["token"]; ok {
			t.Errorf("token list shows a secret")
		}
	}
	if len(toks) != 2 {
		t.Errorf("admin of A sees %d tokens, want 2", len(toks))
	}
	// last use is recorded.
	var used *time.Time
	var from *string
	lastUse := func() {
		t.Helper()
		if err := e.st.Pool().QueryRow(context.Background(), `SELECT last_used_at, last_used_from FROM api_tokens WHERE prefix = $1`,
			own["prefix"]).Scan(&used, &from); err != nil {
			t.Fatal(err)
		}
	}
	lastUse()
	e.must(200, e.do(own["token"].(string), "GET", "/api/v1/domains", nil))
	lastUse()
	if used == nil || from == nil || *from != "127.0.0.1" {
		t.Errorf("last use not recorded: %v %v", used, from)
	}
	// Revoke: the token then gets 401. Another admin's token is not found.
	superTokens := e.must(200, e.do(super, "GET", "/api/v1/tokens", nil)).body["items"].([]any)
	var rootID string
	for _, x := range superTokens {
		if x.(map[string]any)["admin"] == "root" {
			rootID = formatID(x.(map[string]any)["id"])
		}
	}
	e.problem(404, "not-found", e.do(adminA, "DELETE", "/api/v1/tokens/"+rootID, nil))
	ownID := formatID(own["id"])
	e.must(204, e.do(adminA, "DELETE", "/api/v1/tokens/"+ownID, nil))
	e.problem(401, "unauthorized", e.do(own["token"].(string), "GET", "/api/v1/domains", nil))
	revoked := e.must(200, e.do(super, "GET", "/api/v1/tokens", nil)).raw
	if !strings.Contains(revoked, `"revoked_at":"`) {
		t.Errorf("revoked token not shown as revoked: %s", revoked)
	}

	// No token, a garbage token, a bad scheme: 401 with WWW-Authenticate.
	r := e.do("", "GET", "/api/v1/domains", nil)
	e.problem(401, "unauthorized", r)
	if r.hdr.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	e.problem(401, "unauthorized", e.do("mh_bogus", "GET", "/api/v1/domains", nil))
	e.problem(401, "unauthorized", e.do("not-even-a-token", "GET", "/api/v1/domains/a.example", nil))
	// openapi.json needs no token.
	e.must(200, e.do("", "GET", "/api/v1/openapi.json", nil))

	// An inactive admin's tokens stop working.
	e.must(200, e.do(super, "PATCH", "/api/v1/admins/alice@a.example", map[string]any{"active": false}))
	e.problem(401, "unauthorized", e.do(adminA, "GET", "/api/v1/domains", nil))
	// The last super-admin cannot be removed.
	e.problem(409, "conflict", e.do(super, "DELETE", "/api/v1/admins/root", nil))
	e.problem(409, "conflict", e.do(super, "PATCH", "/api/v1/admins/root", map[string]any{"superadmin": false}))
	e.must(204, e.do(super, "DELETE", "/api/v1/admins/alice@a.example", nil))
}

func formatID(v any) string {
	f, _ := v.(float64)
	return strconv.FormatInt(int64(f), 10)
}
