package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"mailhost/admin"
	"mailhost/api"
	"mailhost/auth"
	"mailhost/maildir"
	"mailhost/store"
	"mailhost/testdb"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// env is an API server on loopback over a fresh database and Maildir root.
type env struct {
	t         *testing.T
	st        *store.Store
	svc       *admin.Service
	api       *api.API
	srv       *httptest.Server
	root      string // Maildir root
	retention string
	owner     maildir.Owner
}

// testHasher is ARGON2ID with tiny parameters: real hashes, fast tests.
var testHasher = auth.Hasher{Scheme: auth.SchemeArgon2ID, Argon2Time: 1, Argon2MemoryKiB: 64, Argon2Threads: 1}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := testdb.Open(t)
	dir := t.TempDir()
	e := &env{t: t, st: st, root: filepath.Join(dir, "vmail"), retention: filepath.Join(dir, "retention")}
	if os.Geteuid() == 0 {
		e.owner = maildir.Owner{UID: 5000, GID: 5000}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.svc = admin.New(st, admin.Options{Hasher: testHasher, MaildirRoot: e.root, RetentionRoot: e.retention,
		RetentionDays: 30, Owner: e.owner, Log: log})
	e.api = api.New(e.svc, log)
	e.srv = httptest.NewServer(e.api)
	t.Cleanup(e.srv.Close)
	return e
}

// admin creates an admin with a token and returns the token.
func (e *env) admin(username string, super bool, domains ...string) string {
	e.t.Helper()
	ctx := context.Background()
	pw := "password-" + username
	if _, err := e.svc.CreateAdmin(ctx, admin.CLI(), admin.AdminInput{Username: &username, Password: &pw, Superadmin: &super, Domains: &domains}); err != nil {
		e.t.Fatalf("create admin %s: %v", username, err)
	}
	name := "test"
	tok, err := e.svc.CreateToken(ctx, admin.CLI(), admin.TokenInput{Name: &name, Admin: &username})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok.Token
}

type resp struct {
	code int
	hdr  http.Header
	body map[string]any
	raw  string
}

// do sends a request; body is a string (sent as is) or a value (JSON).
func (e *env) do(token, method, path string, body any) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{code: res.StatusCode, hdr: res.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// must asserts the status code.
func (e *env) must(code int, r resp) resp {
	e.t.Helper()
	if r.code != code {
		e.t.Fatalf("status %d, want %d: %s", r.code, code, r.raw)
	}
	return r
}

// problem asserts a problem document of that status and type.
func (e *env) problem(code int, typ string, r resp) {
	e.t.Helper()
	e.must(code, r)
	if ct := r.hdr.Get("Content-Type"); ct != "application/problem+json" {
		e.t.Errorf("content type %q, want application/problem+json", ct)
	}
	if got := r.body["type"]; got != api.ProblemBase+typ {
		e.t.Errorf("problem type %v, want %s: %s", got, api.ProblemBase+typ, r.raw)
	}
}

// fieldErrors returns the fields named by a validation problem.
func fieldErrors(r resp) []string {
	var out []string
	errs, _ := r.body["errors"].([]any)
	for _, x := range errs {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m["field"].(string))
		}
	}
	sort.Strings(out)
	return out
}

// counts returns the row counts of the provisioning tables.
func (e *env) counts() map[string]int {
	e.t.Helper()
	out := map[string]int{}
	for _, tbl := range []string{"domains", "alias_domains", "mailboxes", "aliases", "forwardings", "vacations",
		"folders", "admins", "domain_admins", "api_tokens", "audit_log", "retained_maildirs"} {
		var n int
		if err := e.st.Pool().QueryRow(context.Background(), "SELECT count(*) FROM "+tbl).Scan(&n); err != nil {
			e.t.Fatal(err)
		}
		out[tbl] = n
	}
	return out
}

// tree lists every path under dir (relative), for before/after checks.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalMap(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
