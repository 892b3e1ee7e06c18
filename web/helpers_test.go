package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mailhost/admin"
	"mailhost/auth"
	"mailhost/maildir"
	"mailhost/store"
	"mailhost/testdb"
	"mailhost/web"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// testHasher is ARGON2ID with tiny parameters: real hashes, fast tests.
var testHasher = auth.Hasher{Scheme: auth.SchemeArgon2ID, Argon2Time: 1, Argon2MemoryKiB: 64, Argon2Threads: 1}

// env is the panel on loopback over a fresh database and Maildir root.
type env struct {
	t     *testing.T
	st    *store.Store
	svc   *admin.Service
	web   *web.Handler
	srv   *httptest.Server
	root  string
	clock *clock
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type envOpt func(*web.Options)

func withSetup(token string) envOpt { return func(o *web.Options) { o.SetupToken = token } }

func newEnv(t *testing.T, opts ...envOpt) *env {
	t.Helper()
	return newEnvWith(t, nil, opts...)
}

// newEnvWith is newEnv with the admin service's options changed by adm.
func newEnvWith(t *testing.T, adm func(*admin.Options), opts ...envOpt) *env {
	t.Helper()
	st := testdb.Open(t)
	dir := t.TempDir()
	e := &env{t: t, st: st, root: filepath.Join(dir, "vmail"), clock: &clock{now: time.Now()}}
	var owner maildir.Owner
	if os.Geteuid() == 0 {
		owner = maildir.Owner{UID: 5000, GID: 5000}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	throttle := auth.ThrottleConfig{MaxFailures: 5, Block: time.Minute, Delay: time.Millisecond}
	authn, err := auth.NewAuthenticator(st, auth.Options{Hasher: testHasher, Throttle: throttle, ThrottleStore: st, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ao := admin.Options{Hasher: testHasher, MaildirRoot: e.root, RetentionRoot: filepath.Join(dir, "retention"),
		RetentionDays: 30, Owner: owner, Log: log, Logins: authn}
	if adm != nil {
		adm(&ao)
	}
	e.svc = admin.New(st, ao)
	o := web.Options{Admin: e.svc, Logins: authn,
		SessionIdle: 30 * time.Minute, SessionMax: 12 * time.Hour, RetentionDays: 30, Log: log, Now: e.clock.Now,
		Client: web.Client{Host: "mail.example.net", IMAP: 143, IMAPS: 993, POP3: 110, POP3S: 995, Submission: 587, Submissions: 465}}
	for _, f := range opts {
		f(&o)
	}
	e.web, err = web.New(o)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(e.web)
	t.Cleanup(e.srv.Close)
	return e
}

// client is a browser: a cookie jar, redirects not followed.
type client struct {
	e   *env
	jar http.CookieJar
	hdr http.Header // sent with every request
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, jar: jar, hdr: http.Header{}}
}

type page struct {
	code int
	hdr  http.Header
	body string
}

func (c *client) do(method, path string, form url.Values) page {
	c.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.e.srv.URL+path, body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	for k, v := range c.hdr {
		req.Header[k] = v
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	hc := &http.Client{Jar: c.jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return page{code: res.StatusCode, hdr: res.Header, body: string(b)}
}

func (c *client) get(path string) page { return c.do("GET", path, nil) }

func (c *client) post(path string, kv ...string) page {
	f := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	return c.do("POST", path, f)
}

// must asserts the status and returns the page.
func (p page) must(t *testing.T, code int) page {
	t.Helper()
	if p.code != code {
		t.Fatalf("status %d, want %d; body:\n%s", p.code, code, trim(p.body))
	}
	return p
}

// redirects asserts a 303 to loc.
func (p page) redirects(t *testing.T, loc string) {
	t.Helper()
	if p.code != http.StatusSeeOther || p.hdr.Get("Location") != loc {
		t.Fatalf("got %d to %q, want 303 to %q; body:\n%s", p.code, p.hdr.Get("Location"), loc, trim(p.body))
	}
}

func (p page) has(t *testing.T, parts ...string) page {
	t.Helper()
	for _, s := range parts {
		if !strings.Contains(p.body, s) {
			t.Fatalf("page lacks %q:\n%s", s, trim(p.body))
		}
	}
	return p
}

func (p page) lacks(t *testing.T, parts ...string) page {
	t.Helper()
	for _, s := range parts {
		if strings.Contains(p.body, s) {
			t.Fatalf("page has %q:\n%s", s, trim(p.body))
		}
	}
	return p
}

// fieldError asserts that the form shows msg as the error of field name,
// linked to its input by aria-describedby.
func (p page) fieldError(t *testing.T, name, msg string) page {
	t.Helper()
	id := "f-" + name + "-err"
	i := strings.Index(p.body, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no error for field %s:\n%s", name, trim(p.body))
	}
	end := strings.Index(p.body[i:], "</p>")
	if got := p.body[i : i+end]; !strings.Contains(got, msg) {
		t.Fatalf("error of %s is %q, want it to say %q", name, got, msg)
	}
	if !strings.Contains(p.body, `aria-describedby="`+id) {
		t.Fatalf("the input of %s does not point at its error %s", name, id)
	}
	if !strings.Contains(p.body, `aria-invalid="true"`) {
		t.Fatalf("no input is marked aria-invalid")
	}
	return p
}

func trim(s string) string {
	if i := strings.Index(s, "<main"); i >= 0 {
		s = s[i:]
	}
	if len(s) > 4000 {
		s = s[:4000] + "..."
	}
	return s
}

const pw = "correct horse battery"

// admin creates an admin (super, or of domains).
func (e *env) admin(username string, super bool, domains ...string) {
	e.t.Helper()
	p := pw
	if _, err := e.svc.CreateAdmin(context.Background(), admin.CLI(), admin.AdminInput{Username: &username, Password: &p,
		Superadmin: &super, Domains: &domains}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) domain(name string) {
	e.t.Helper()
	if _, err := e.svc.CreateDomain(context.Background(), admin.CLI(), admin.DomainInput{Name: &name}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) mailbox(addr string) {
	e.t.Helper()
	local, dom, _ := strings.Cut(addr, "@")
	p := pw
	if _, err := e.svc.CreateMailbox(context.Background(), admin.CLI(), dom, admin.MailboxInput{LocalPart: &local, Password: &p}); err != nil {
		e.t.Fatal(err)
	}
}

// login logs c in and asserts where it lands.
func (c *client) login(user, password, lands string) {
	c.e.t.Helper()
	c.post("/login", "username", user, "password", password).redirects(c.e.t, lands)
}

// count returns the result of a counting query.
func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.st.Pool().QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}
