package api_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/go-chi/chi/v5"

	"mailhost/api"
	"mailhost/auth"
)

// Every registered route is documented in openapi.json, and every
// documented route is registered.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	e := newEnv(t)
	doc := e.must(200, e.do("", "GET", "/api/v1/openapi.json", nil)).body
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi = %v", doc["openapi"])
	}
	documented := map[string]bool{}
	for path, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			documented[strings.ToUpper(method)+" "+path] = true
			resps := op.(map[string]any)["responses"].(map[string]any)
			if len(resps) < 2 {
				t.Errorf("%s %s documents %d responses", method, path, len(resps))
			}
		}
	}
	registered := map[string]bool{}
	err := chi.Walk(e.api.Router(), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		registered[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for r := range registered {
		if !documented[r] {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for r := range documented {
		if !registered[r] {
			t.Errorf("openapi.json documents %s, which is not registered", r)
		}
	}
	// The routes of the issue, to the letter.
	for _, r := range []string{
		"GET /api/v1/domains", "POST /api/v1/domains", "GET /api/v1/domains/{domain}", "PATCH /api/v1/domains/{domain}", "DELETE /api/v1/domains/{domain}",
		"GET /api/v1/domains/{domain}/mailboxes", "POST /api/v1/domains/{domain}/mailboxes",
		"GET /api/v1/mailboxes/{address}", "PATCH /api/v1/mailboxes/{address}", "DELETE /api/v1/mailboxes/{address}",
		"GET /api/v1/mailboxes/{address}/forwarding", "PUT /api/v1/mailboxes/{address}/forwarding", "DELETE /api/v1/mailboxes/{address}/forwarding",
		"GET /api/v1/mailboxes/{address}/vacation", "PUT /api/v1/mailboxes/{address}/vacation", "DELETE /api/v1/mailboxes/{address}/vacation",
		"GET /api/v1/domains/{domain}/aliases", "POST /api/v1/domains/{domain}/aliases",
		"GET /api/v1/aliases/{address}", "PATCH /api/v1/aliases/{address}", "DELETE /api/v1/aliases/{address}",
		"GET /api/v1/alias-domains", "POST /api/v1/alias-domains", "GET /api/v1/alias-domains/{domain}", "DELETE /api/v1/alias-domains/{domain}",
		"GET /api/v1/admins", "POST /api/v1/admins", "GET /api/v1/admins/{username}", "PATCH /api/v1/admins/{username}", "DELETE /api/v1/admins/{username}",
		"GET /api/v1/tokens", "POST /api/v1/tokens", "DELETE /api/v1/tokens/{id}",
		"GET /api/v1/audit-log", "GET /api/v1/openapi.json",
	} {
		if !registered[r] {
			t.Errorf("missing route %s", r)
		}
	}
}

func TestDomainsAndMailboxes(t *testing.T) {
	e := newEnv(t)
	super := e.admin("root", true)

	d := e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{
		"name": "Bücher.Example", "description": "books", "max_mailboxes": 10, "max_quota_bytes": 1 << 30, "quota_bytes": 5 << 30,
	})).body
	if d["name"] != "xn--bcher-kva.example" || d["unicode_name"] != "bücher.example" || d["kind"] != "local" || d["active"] != true {
		t.Fatalf("created domain: %v", d)
	}
	e.problem(409, "conflict", e.do(super, "POST", "/api/v1/domains", map[string]any{"name": "xn--bcher-kva.example"}))
	e.must(200, e.do(super, "GET", "/api/v1/domains/b%C3%BCcher.example", nil))

	// A mailbox without a password gets a generated one, once; its default
	// quota is the domain's per-mailbox maximum.
	m := e.must(201, e.do(super, "POST", "/api/v1/domains/xn--bcher-kva.example/mailboxes", map[string]any{
		"local_part": "Alice", "name": "Alice Liddell",
	})).body
	pw, _ := m["password"].(string)
	if m["address"] != "alice@xn--bcher-kva.example" || len(pw) < 16 || m["quota_bytes"] != float64(1<<30) {
		t.Fatalf("created mailbox: %v", m)
	}
	var hash string
	if err := e.st.Pool().QueryRow(context.Background(), `SELECT password FROM mailboxes WHERE address = 'alice@xn--bcher-kva.example'`).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if ok, err := auth.Verify(hash, pw); !ok || err != nil || !strings.HasPrefix(hash, "{ARGON2ID}") {
		t.Fatalf("stored hash %q does not verify the generated password: %v", hash, err)
	}
	shown := e.must(200, e.do(super, "GET", "/api/v1/mailboxes/alice@b%C3%BCcher.example", nil)).body
	if _, leaked := shown["password"]; leaked {
		t.Fatal("GET shows a password")
	}
	for _, k := range []string{"used_bytes", "used_messages", "created_at", "updated_at", "address", "local_part", "name", "quota_bytes", "active"} {
		if _, ok := shown[k]; !ok {
			t.Errorf("mailbox has no %s: %v", k, shown)
		}
	}
	// The Maildir and its folder rows.
	checkMaildir(t, e, filepath.Join(e.root, "xn--bcher-kva.example", "alice"))
	rows, _ := e.st.Pool().Query(context.Background(), `SELECT f.name, coalesce(f.special_use, '') FROM folders f
		JOIN mailboxes m ON m.id = f.mailbox_id ORDER BY f.name`)
	var folders []string
	for rows.Next() {
		var n, su string
		if err := rows.Scan(&n, &su); err != nil {
			t.Fatal(err)
		}
		folders = append(folders, n+su)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{`Archive\Archive`, `Drafts\Drafts`, "INBOX", `Junk\Junk`, `Sent\Sent`, `Trash\Trash`}
	if !equal(folders, want) {
		t.Errorf("folders %v, want %v", folders, want)
	}

	// Update: name, quota, password, active.
	up := e.must(200, e.do(super, "PATCH", "/api/v1/mailboxes/alice@xn--bcher-kva.example", map[string]any{
		"name": "Alice", "quota_bytes": 1 << 20, "password": "new password 1", "active": false,
	})).body
	if up["name"] != "Alice" || up["quota_bytes"] != float64(1<<20) || up["active"] != false {
		t.Fatalf("updated: %v", up)
	}
	if err := e.st.Pool().QueryRow(context.Background(), `SELECT password FROM mailboxes WHERE address = 'alice@xn--bcher-kva.example'`).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if ok, _ := auth.Verify(hash, "new password 1"); !ok {
		t.Fatal("new password does not verify")
	}

	// Usage in the list and in show.
	for _, lp := range []string{"bob", "carol", "dave"} {
		e.must(201, e.do(super, "POST", "/api/v1/domains/xn--bcher-kva.example/mailboxes", map[string]any{"local_part": lp, "password": "secret-" + lp, "quota_bytes": 1000}))
	}
	e.st.Pool().Exec(context.Background(), `UPDATE mailboxes SET used_bytes = 100`)
	l := e.must(200, e.do(super, "GET", "/api/v1/domains", nil)).body
	items := l["items"].([]any)
	usage := items[0].(map[string]any)["usage"].(map[string]any)
	if len(items) != 1 || usage["mailboxes"] != float64(4) || usage["aliases"] != float64(0) ||
		usage["quota_allocated_bytes"] != float64(1<<20+3000) || usage["quota_used_bytes"] != float64(400) {
		t.Fatalf("domain list: %v", l)
	}

	// Pagination and search.
	page := e.must(200, e.do(super, "GET", "/api/v1/domains/xn--bcher-kva.example/mailboxes?limit=3", nil)).body
	if n := len(page["items"].([]any)); n != 3 || page["next_cursor"] == "" {
		t.Fatalf("page 1: %v", page)
	}
	page2 := e.must(200, e.do(super, "GET", "/api/v1/domains/xn--bcher-kva.example/mailboxes?limit=3&cursor="+page["next_cursor"].(string), nil)).body
	if items := page2["items"].([]any); len(items) != 1 || items[0].(map[string]any)["local_part"] != "dave" || page2["next_cursor"] != "" {
		t.Fatalf("page 2: %v", page2)
	}
	found := e.must(200, e.do(super, "GET", "/api/v1/domains/xn--bcher-kva.example/mailboxes?q=ARO", nil)).body
	if items := found["items"].([]any); len(items) != 1 || items[0].(map[string]any)["local_part"] != "carol" {
		t.Fatalf("search: %v", found)
	}
	byName := e.must(200, e.do(super, "GET", "/api/v1/domains/xn--bcher-kva.example/mailboxes?q=alice", nil)).body
	if items := byName["items"].([]any); len(items) != 1 {
		t.Fatalf("search by name: %v", byName)
	}
	e.problem(422, "validation", e.do(super, "GET", "/api/v1/domains/xn--bcher-kva.example/mailboxes?cursor=garbage", nil))
	e.problem(422, "validation", e.do(super, "GET", "/api/v1/domains/xn--bcher-kva.example/mailboxes?limit=501", nil))

	// Domain update and delete.
	e.must(200, e.do(super, "PATCH", "/api/v1/domains/xn--bcher-kva.example", map[string]any{"description": "more books", "max_aliases": 5}))
	e.problem(409, "conflict", e.do(super, "DELETE", "/api/v1/domains/xn--bcher-kva.example", nil))
	e.problem(409, "conflict", e.do(super, "PATCH", "/api/v1/domains/xn--bcher-kva.example", map[string]any{"kind": "relay"}))
	e.must(204, e.do(super, "DELETE", "/api/v1/domains/xn--bcher-kva.example?force=true", nil))
	e.problem(404, "not-found", e.do(super, "GET", "/api/v1/domains/xn--bcher-kva.example", nil))
	c := e.counts()
	if c["mailboxes"] != 0 || c["domains"] != 0 || c["retained_maildirs"] != 4 || c["folders"] != 0 {
		t.Fatalf("after forced delete: %v", c)
	}
	if _, err := os.Stat(filepath.Join(e.root, "xn--bcher-kva.example", "alice")); !os.IsNotExist(err) {
		t.Fatalf("Maildir still in the root: %v", err)
	}
	ents, _ := os.ReadDir(filepath.Join(e.retention, "xn--bcher-kva.example"))
	if len(ents) != 4 {
		t.Fatalf("%d retained Maildirs, want 4", len(ents))
	}
}

// checkMaildir asserts the Maildir tree of a new mailbox: cur/new/tmp and
// the standard folders, directories 0700 and files 0600, owned by vmail
// (5000:5000) when the test runs as root.
func checkMaildir(t *testing.T, e *env, dir string) {
	t.Helper()
	var paths []string
	for _, sub := range []string{"", ".Sent", ".Drafts", ".Trash", ".Junk", ".Archive"} {
		for _, c := range []string{"cur", "new", "tmp"} {
			paths = append(paths, filepath.Join(dir, sub, c))
		}
		if sub != "" {
			paths = append(paths, filepath.Join(dir, sub), filepath.Join(dir, sub, "maildirfolder"))
		}
	}
	paths = append(paths, dir)
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		want := os.FileMode(0o700)
		if !fi.IsDir() {
			want = 0o600
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
		if os.Geteuid() == 0 {
			st := fi.Sys().(*syscall.Stat_t)
			if st.Uid != 5000 || st.Gid != 5000 {
				t.Errorf("%s: owner %d:%d, want 5000:5000", p, st.Uid, st.Gid)
			}
		}
	}
}

// Two concurrent creates racing for the last mailbox slot: exactly one wins.
func TestLimitRaceForLastMailbox(t *testing.T) {
	e := newEnv(t)
	super := e.admin("root", true)
	e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": "race.example", "max_mailboxes": 2, "max_aliases": 1}))
	e.must(201, e.do(super, "POST", "/api/v1/domains/race.example/mailboxes", map[string]any{"local_part": "first", "password": "password1"}))
	for round := range 5 {
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i] = e.do(super, "POST", "/api/v1/domains/race.example/mailboxes",
					map[string]any{"local_part": fmt.Sprintf("r%d-%d", round, i), "password": "password1"}).code
			}()
		}
		wg.Wait()
		slices.Sort(codes)
		if codes[0] != 201 || codes[1] != 409 {
			t.Fatalf("round %d: codes %v, want one 201 and one 409", round, codes)
		}
		var n int
		if err := e.st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM mailboxes`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Fatalf("round %d: %d mailboxes, limit 2", round, n)
		}
		ents, _ := os.ReadDir(filepath.Join(e.root, "race.example"))
		if len(ents) != 2 {
			t.Fatalf("round %d: %d Maildirs, want 2", round, len(ents))
		}
		// Free the slot again for the next round.
		var loser string
		if err := e.st.Pool().QueryRow(context.Background(), `SELECT address FROM mailboxes WHERE local_part <> 'first'`).Scan(&loser); err != nil {
			t.Fatal(err)
		}
		e.must(204, e.do(super, "DELETE", "/api/v1/mailboxes/"+loser+"?purge=true", nil))
	}
	r := e.do(super, "POST", "/api/v1/domains/race.example/mailboxes", map[string]any{"local_part": "second", "password": "password1"})
	e.must(201, r)
	e.problem(409, "limit-reached", e.do(super, "POST", "/api/v1/domains/race.example/mailboxes", map[string]any{"local_part": "third", "password": "password1"}))

	// Aliases.
	e.must(201, e.do(super, "POST", "/api/v1/domains/race.example/aliases", map[string]any{"address": "a1@race.example", "destinations": []string{"first@race.example"}}))
	e.problem(409, "limit-reached", e.do(super, "POST", "/api/v1/domains/race.example/aliases", map[string]any{"address": "a2@race.example", "destinations": []string{"first@race.example"}}))
}

func TestQuotaLimits(t *testing.T) {
	e := newEnv(t)
	super := e.admin("root", true)
	e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": "q.example", "max_quota_bytes": 1000, "quota_bytes": 1500}))
	mk := func(lp string, q any) resp {
		return e.do(super, "POST", "/api/v1/domains/q.example/mailboxes", map[string]any{"local_part": lp, "password": "password1", "quota_bytes": q})
	}
	r := mk("big", 1001)
	e.problem(422, "validation", r)
	if f := fieldErrors(r); !equal(f, []string{"quota_bytes"}) {
		t.Errorf("fields %v", f)
	}
	e.problem(422, "validation", mk("unlimited", 0))
	e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": "total.example", "quota_bytes": 1500}))
	r = e.do(super, "POST", "/api/v1/domains/total.example/mailboxes", map[string]any{"local_part": "x", "password": "password1"})
	e.problem(422, "validation", r)
	if f := fieldErrors(r); !equal(f, []string{"quota_bytes"}) {
		t.Errorf("fields %v", f)
	}
	e.must(201, mk("a", 1000))
	e.problem(409, "limit-reached", mk("b", 600))
	e.must(201, mk("b", 500))
	// Raising a's quota past the domain total is refused; lowering is fine.
	e.problem(409, "limit-reached", e.do(super, "PATCH", "/api/v1/mailboxes/b@q.example", map[string]any{"quota_bytes": 501}))
	e.must(200, e.do(super, "PATCH", "/api/v1/mailboxes/a@q.example", map[string]any{"quota_bytes": 400}))
	e.must(200, e.do(super, "PATCH", "/api/v1/mailboxes/b@q.example", map[string]any{"quota_bytes": 1000}))
}

var _ = api.Prefix
