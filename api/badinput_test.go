package api_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Each bad input gets a 422 naming the field (or 400/413 for bodies that
// are not JSON objects or too large), and nothing is written: the row
// counts and the Maildir root are exactly as before.
func TestBadInputWritesNothing(t *testing.T) {
	e := newEnv(t)
	super := e.admin("root", true)
	e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": "example.com", "max_quota_bytes": 1000}))
	e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": "relay.example", "kind": "relay", "relay_to": "[mx.example.net]:25"}))
	e.must(201, e.do(super, "POST", "/api/v1/domains/example.com/mailboxes", map[string]any{"local_part": "alice", "password": "password1", "quota_bytes": 10}))
	e.must(201, e.do(super, "POST", "/api/v1/domains/example.com/aliases", map[string]any{"address": "a@example.com", "destinations": []string{"b@example.com"}}))
	e.must(201, e.do(super, "POST", "/api/v1/domains/example.com/aliases", map[string]any{"address": "b@example.com", "destinations": []string{"c@example.com"}}))

	e.must(201, e.do(super, "POST", "/api/v1/domains/example.com/aliases", map[string]any{"address": "back@example.com", "destinations": []string{"alice@example.com"}}))
	before := e.counts()
	beforeTree := tree(t, e.root)
	mb := "/api/v1/domains/example.com/mailboxes"
	for _, tc := range []struct {
		name, method, path string
		body               any
		code               int
		fields             []string
	}{
		{"domain: malformed", "POST", "/api/v1/domains", map[string]any{"name": "exa mple.com"}, 422, []string{"name"}},
		{"domain: bad IDNA punycode", "POST", "/api/v1/domains", map[string]any{"name": "xn--zz.example"}, 422, []string{"name"}},
		{"domain: label too long", "POST", "/api/v1/domains", map[string]any{"name": strings.Repeat("a", 64) + ".example"}, 422, []string{"name"}},
		{"domain: single label", "POST", "/api/v1/domains", map[string]any{"name": "localhost"}, 422, []string{"name"}},
		{"domain: leading hyphen", "POST", "/api/v1/domains", map[string]any{"name": "-bad.example"}, 422, []string{"name"}},
		{"domain: missing name", "POST", "/api/v1/domains", map[string]any{"description": "x"}, 422, []string{"name"}},
		{"domain: unknown field", "POST", "/api/v1/domains", map[string]any{"name": "new.example", "colour": "red"}, 422, []string{"colour"}},
		{"domain: wrong type", "POST", "/api/v1/domains", map[string]any{"name": "new.example", "max_mailboxes": "ten"}, 422, []string{"max_mailboxes"}},
		{"domain: wrong types, all named", "POST", "/api/v1/domains", map[string]any{"name": 5, "active": "yes"}, 422, []string{"active", "name"}},
		{"domain: negative limit", "POST", "/api/v1/domains", map[string]any{"name": "new.example", "max_aliases": -1}, 422, []string{"max_aliases"}},
		{"domain: limit out of range", "POST", "/api/v1/domains", map[string]any{"name": "new.example", "max_mailboxes": 1 << 40}, 422, []string{"max_mailboxes"}},
		{"domain: quota out of range", "POST", "/api/v1/domains", map[string]any{"name": "new.example", "quota_bytes": int64(1) << 60}, 422, []string{"quota_bytes"}},
		{"domain: fractional quota", "POST", "/api/v1/domains", map[string]any{"name": "new.example", "quota_bytes": 1.5}, 422, []string{"quota_bytes"}},
		{"domain: unknown kind", "POST", "/api/v1/domains", map[string]any{"name": "new.example", "kind": "virtual"}, 422, []string{"kind"}},
		{"domain: bad relay next hop", "POST", "/api/v1/domains", map[string]any{"name": "new.example", "kind": "relay", "relay_to": "mx example"}, 422, []string{"relay_to"}},
		{"domain: relay port out of range", "POST", "/api/v1/domains", map[string]any{"name": "new.example", "kind": "relay", "relay_to": "[mx.example.net]:99999"}, 422, []string{"relay_to"}},
		{"domain: relay unclosed bracket", "POST", "/api/v1/domains", map[string]any{"name": "new.example", "kind": "relay", "relay_to": "[mx.example.net:25"}, 422, []string{"relay_to"}},
		{"domain: next hop on a local domain", "POST", "/api/v1/domains", map[string]any{"name": "new.example", "relay_to": "mx.example.net"}, 422, []string{"relay_to"}},
		{"domain: rename", "PATCH", "/api/v1/domains/example.com", map[string]any{"name": "other.example"}, 422, []string{"name"}},
		{"domain: bad relay on update", "PATCH", "/api/v1/domains/relay.example", map[string]any{"relay_to": "[mx]:x"}, 422, []string{"relay_to"}},
		{"body: not JSON", "POST", "/api/v1/domains", "{not json", 400, nil},
		{"body: array", "POST", "/api/v1/domains", `[{"name":"x.example"}]`, 400, nil},
		{"body: empty", "POST", "/api/v1/domains", "", 400, nil},
		{"body: too large", "POST", "/api/v1/domains", `{"name":"big.example","description":"` + strings.Repeat("x", 1<<20) + `"}`, 413, nil},

		{"mailbox: bad local part", "POST", mb, map[string]any{"local_part": "al ice", "password": "password1"}, 422, []string{"local_part"}},
		{"mailbox: leading dot", "POST", mb, map[string]any{"local_part": ".alice", "password": "password1"}, 422, []string{"local_part"}},
		{"mailbox: double dot", "POST", mb, map[string]any{"local_part": "a..b", "password": "password1"}, 422, []string{"local_part"}},
		{"mailbox: slash", "POST", mb, map[string]any{"local_part": "a/b", "password": "password1"}, 422, []string{"local_part"}},
		{"mailbox: quoted", "POST", mb, map[string]any{"local_part": `"a b"`, "password": "password1"}, 422, []string{"local_part"}},
		{"mailbox: local part too long", "POST", mb, map[string]any{"local_part": strings.Repeat("a", 65), "password": "password1"}, 422, []string{"local_part"}},
		{"mailbox: missing local part", "POST", mb, map[string]any{"password": "password1"}, 422, []string{"local_part"}},
		{"mailbox: short password", "POST", mb, map[string]any{"local_part": "bob", "password": "short"}, 422, []string{"password"}},
		{"mailbox: negative quota", "POST", mb, map[string]any{"local_part": "bob", "quota_bytes": -1}, 422, []string{"quota_bytes"}},
		{"mailbox: quota over the domain maximum", "POST", mb, map[string]any{"local_part": "bob", "quota_bytes": 1001}, 422, []string{"quota_bytes"}},
		{"mailbox: unknown field", "POST", mb, map[string]any{"local_part": "bob", "quota": 5}, 422, []string{"quota"}},
		{"mailbox: wrong type", "POST", mb, map[string]any{"local_part": "bob", "active": 1}, 422, []string{"active"}},
		{"mailbox: duplicate", "POST", mb, map[string]any{"local_part": "ALICE", "password": "password1"}, 409, nil},
		{"mailbox: taken by an alias", "POST", mb, map[string]any{"local_part": "a", "password": "password1"}, 409, nil},
		{"mailbox: in a relay domain", "POST", "/api/v1/domains/relay.example/mailboxes", map[string]any{"local_part": "x", "password": "password1"}, 409, nil},
		{"mailbox: update quota out of range", "PATCH", "/api/v1/mailboxes/alice@example.com", map[string]any{"quota_bytes": 5000}, 422, []string{"quota_bytes"}},
		{"mailbox: rename", "PATCH", "/api/v1/mailboxes/alice@example.com", map[string]any{"local_part": "eve"}, 422, []string{"local_part"}},

		{"alias: to itself", "POST", "/api/v1/domains/example.com/aliases", map[string]any{"address": "self@example.com", "destinations": []string{"Self@Example.com"}}, 422, []string{"destinations[0]"}},
		{"alias: loop", "POST", "/api/v1/domains/example.com/aliases", map[string]any{"address": "c@example.com", "destinations": []string{"a@example.com"}}, 422, []string{"destinations"}},
		{"alias: loop on update", "PATCH", "/api/v1/aliases/b@example.com", map[string]any{"destinations": []string{"a@example.com"}}, 422, []string{"destinations"}},
		{"alias: malformed destination", "POST", "/api/v1/domains/example.com/aliases", map[string]any{"address": "x@example.com", "destinations": []string{"ok@example.net", "not an address"}}, 422, []string{"destinations[1]"}},
		{"alias: no destinations", "POST", "/api/v1/domains/example.com/aliases", map[string]any{"address": "x@example.com", "destinations": []string{}}, 422, []string{"destinations"}},
		{"alias: malformed address", "POST", "/api/v1/domains/example.com/aliases", map[string]any{"address": "x@@example.com", "destinations": []string{"a@example.net"}}, 422, []string{"address"}},
		{"alias: other domain", "POST", "/api/v1/domains/example.com/aliases", map[string]any{"address": "x@example.org", "destinations": []string{"a@example.net"}}, 422, []string{"address"}},
		{"alias: destinations wrong type", "POST", "/api/v1/domains/example.com/aliases", map[string]any{"address": "x@example.com", "destinations": "a@example.net"}, 422, []string{"destinations"}},
		{"alias: duplicate of a mailbox", "POST", "/api/v1/domains/example.com/aliases", map[string]any{"address": "alice@example.com", "destinations": []string{"a@example.net"}}, 409, nil},
		{"alias: catch-all looping to nothing", "POST", "/api/v1/domains/example.com/aliases", map[string]any{"address": "@example.com", "destinations": []string{"nobody@example.com"}}, 422, []string{"destinations"}},

		{"forwarding: to itself", "PUT", "/api/v1/mailboxes/alice@example.com/forwarding", map[string]any{"destinations": []string{"alice@example.com"}}, 422, []string{"destinations[0]"}},
		{"forwarding: loop via an alias", "PUT", "/api/v1/mailboxes/alice@example.com/forwarding", map[string]any{"destinations": []string{"back@example.com"}}, 422, []string{"destinations"}},
		{"forwarding: missing destinations", "PUT", "/api/v1/mailboxes/alice@example.com/forwarding", map[string]any{"keep_copy": true}, 422, []string{"destinations"}},
		{"vacation: missing subject", "PUT", "/api/v1/mailboxes/alice@example.com/vacation", map[string]any{"body": "x"}, 422, []string{"subject"}},
		{"vacation: bad date", "PUT", "/api/v1/mailboxes/alice@example.com/vacation", map[string]any{"subject": "x", "active_from": "tomorrow"}, 422, []string{"active_from"}},
		{"vacation: ends before it starts", "PUT", "/api/v1/mailboxes/alice@example.com/vacation", map[string]any{"subject": "x", "active_from": "2030-01-02T00:00:00Z", "active_until": "2030-01-01T00:00:00Z"}, 422, []string{"active_until"}},
		{"vacation: interval out of range", "PUT", "/api/v1/mailboxes/alice@example.com/vacation", map[string]any{"subject": "x", "interval_seconds": -5}, 422, []string{"interval_seconds"}},

		{"alias domain: same as target", "POST", "/api/v1/alias-domains", map[string]any{"alias_domain": "example.com", "target_domain": "example.com"}, 422, []string{"alias_domain"}},
		{"alias domain: unknown target", "POST", "/api/v1/alias-domains", map[string]any{"alias_domain": "example.net", "target_domain": "nowhere.example"}, 422, []string{"target_domain"}},
		{"alias domain: malformed", "POST", "/api/v1/alias-domains", map[string]any{"alias_domain": "exa_mple.net", "target_domain": "example.com"}, 422, []string{"alias_domain"}},
		{"alias domain: taken by a domain", "POST", "/api/v1/alias-domains", map[string]any{"alias_domain": "relay.example", "target_domain": "example.com"}, 409, nil},
		{"alias domain: relay target", "POST", "/api/v1/alias-domains", map[string]any{"alias_domain": "example.net", "target_domain": "relay.example"}, 422, []string{"target_domain"}},

		{"admin: bad username", "POST", "/api/v1/admins", map[string]any{"username": "has space", "password": "password1"}, 422, []string{"username"}},
		{"admin: unknown domain", "POST", "/api/v1/admins", map[string]any{"username": "bob", "password": "password1", "domains": []string{"example.com", "nowhere.example"}}, 422, []string{"domains[1]"}},
		{"admin: no password", "POST", "/api/v1/admins", map[string]any{"username": "bob"}, 422, []string{"password"}},
		{"admin: duplicate", "POST", "/api/v1/admins", map[string]any{"username": "ROOT", "password": "password1"}, 409, nil},
		{"token: no name", "POST", "/api/v1/tokens", map[string]any{"admin": "root"}, 422, []string{"name"}},
		{"token: unknown admin", "POST", "/api/v1/tokens", map[string]any{"name": "x", "admin": "nobody"}, 422, []string{"admin"}},
		{"audit: bad since", "GET", "/api/v1/audit-log?since=yesterday", nil, 422, []string{"since"}},
		{"delete: bad force", "DELETE", "/api/v1/domains/example.com?force=maybe", nil, 422, []string{"force"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(super, tc.method, tc.path, tc.body)
			if r.code != tc.code {
				t.Fatalf("status %d, want %d: %s", r.code, tc.code, r.raw)
			}
			if ct := r.hdr.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("content type %q", ct)
			}
			if tc.fields != nil {
				if got := fieldErrors(r); !equal(got, tc.fields) {
					t.Errorf("fields %v, want %v: %s", got, tc.fields, r.raw)
				}
			}
			if after := e.counts(); !equalMap(after, before) {
				t.Errorf("rows changed: %v, before %v", after, before)
			}
			if after := tree(t, e.root); !equal(after, beforeTree) {
				t.Errorf("Maildir root changed: %v", after)
			}
		})
	}
}

// A mailbox whose Maildir cannot be made is not created: the transaction
// rolls back and the answer is a generic 500.
func TestMailboxCreateRollsBackWhenMaildirFails(t *testing.T) {
	e := newEnv(t)
	super := e.admin("root", true)
	e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": "example.com"}))
	if err := os.MkdirAll(filepath.Join(e.root, "example.com"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.root, "example.com", "bob"), []byte("in the way"), 0o600); err != nil {
		t.Fatal(err)
	}
	before, beforeTree := e.counts(), tree(t, e.root)
	r := e.do(super, "POST", "/api/v1/domains/example.com/mailboxes", map[string]any{"local_part": "bob", "password": "password1"})
	e.problem(500, "internal", r)
	if strings.Contains(r.raw, "in the way") || strings.Contains(r.raw, e.root) {
		t.Errorf("500 leaks internals: %s", r.raw)
	}
	if after := e.counts(); !equalMap(after, before) {
		t.Errorf("rows changed: %v, before %v", after, before)
	}
	if after := tree(t, e.root); !equal(after, beforeTree) {
		t.Errorf("Maildir root changed: %v", after)
	}
	// A fresh domain directory made for the failed mailbox goes away too.
	e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": "fresh.example"}))
	e.st.Pool().Exec(context.Background(), `CREATE FUNCTION fail() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'injected'; END $$;
		CREATE CONSTRAINT TRIGGER fail_on_commit AFTER INSERT ON folders DEFERRABLE INITIALLY DEFERRED
		FOR EACH ROW EXECUTE FUNCTION fail()`)
	before, beforeTree = e.counts(), tree(t, e.root)
	e.problem(500, "internal", e.do(super, "POST", "/api/v1/domains/fresh.example/mailboxes", map[string]any{"local_part": "carol", "password": "password1"}))
	if after := e.counts(); !equalMap(after, before) {
		t.Errorf("rows changed: %v, before %v", after, before)
	}
	if after := tree(t, e.root); !equal(after, beforeTree) {
		t.Errorf("Maildir root changed by a failed commit: %v, before %v", after, beforeTree)
	}
}

// A mailbox delete whose Maildir cannot be retained changes nothing.
func TestMailboxDeleteRollsBackWhenRetentionFails(t *testing.T) {
	e := newEnv(t)
	super := e.admin("root", true)
	e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": "example.com"}))
	e.must(201, e.do(super, "POST", "/api/v1/domains/example.com/mailboxes", map[string]any{"local_part": "alice", "password": "password1"}))
	e.must(201, e.do(super, "POST", "/api/v1/domains/example.com/mailboxes", map[string]any{"local_part": "bob", "password": "password1"}))
	if err := os.WriteFile(e.retention, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	before, beforeTree := e.counts(), tree(t, e.root)
	e.problem(500, "internal", e.do(super, "DELETE", "/api/v1/mailboxes/alice@example.com", nil))
	e.problem(500, "internal", e.do(super, "DELETE", "/api/v1/domains/example.com?force=true", nil))
	if after := e.counts(); !equalMap(after, before) {
		t.Errorf("rows changed: %v, before %v", after, before)
	}
	if after := tree(t, e.root); !equal(after, beforeTree) {
		t.Errorf("Maildir root changed: %v", after)
	}
}
