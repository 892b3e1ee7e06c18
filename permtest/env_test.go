// Package permtest_test runs one permission matrix against both faces of
// the admin service: the REST API with bearer tokens and the web panel
// with logged-in sessions. Both faces ask the admin service and render its
// answer, so for every case they must agree.
package permtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"mailhost/admin"
	"mailhost/api"
	"mailhost/auth"
	"mailhost/maildir"
	"mailhost/store"
	"mailhost/testdb"
	"mailhost/web"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// testHasher is ARGON2ID with tiny parameters: real hashes, fast tests.
var testHasher = auth.Hasher{Scheme: auth.SchemeArgon2ID, Argon2Time: 1, Argon2MemoryKiB: 64, Argon2Threads: 1}

const pw = "correct horse battery"

// actor is who makes a request in the matrix.
type actor int

const (
	super  actor = iota // the super-admin root
	adminA              // alice, domain admin of a.example, where the objects are
	adminB              // bob, domain admin of b.example only
	owner               // user@a.example, a mailbox owner
)

var actors = []actor{super, adminA, adminB, owner}

func (a actor) String() string {
	return [...]string{"super-admin", "domain admin of a.example", "domain admin of b.example", "mailbox owner"}[a]
}

// username is the actor's login name.
func (a actor) username() string {
	return [...]string{"root", "alice", "bob", "user@a.example"}[a]
}

// env is both faces over one admin service and database: the API and the
// panel each on their own loopback server.
type env struct {
	t      *testing.T
	st     *store.Store
	svc    *admin.Service
	api    *httptest.Server
	panel  *httptest.Server
	tokens map[actor]string  // the API face: a bearer token per admin ("" for the owner: it has none)
	browse map[actor]*client // the panel face: a logged-in browser per actor
	n      int               // for unique names
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := testdb.Open(t)
	dir := t.TempDir()
	var own maildir.Owner
	if os.Geteuid() == 0 {
		own = maildir.Owner{UID: 5000, GID: 5000}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	throttle := auth.ThrottleConfig{MaxFailures: 50, Block: time.Minute, Delay: time.Millisecond}
	authn, err := auth.NewAuthenticator(st, auth.Options{Hasher: testHasher, Throttle: throttle, ThrottleStore: st, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	svc := admin.New(st, admin.Options{Hasher: testHasher, MaildirRoot: filepath.Join(dir, "vmail"),
		RetentionRoot: filepath.Join(dir, "retention"), RetentionDays: 30, Owner: own, Log: log, Logins: authn})
	panel, err := web.New(web.Options{Admin: svc, Logins: authn, RetentionDays: 30, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, svc: svc, tokens: map[actor]string{}, browse: map[actor]*client{}}
	e.api = httptest.NewServer(api.New(svc, log))
	t.Cleanup(e.api.Close)
	e.panel = httptest.NewServer(panel)
	t.Cleanup(e.panel.Close)
	return e
}

// cli runs f with the command line's full rights, failing the test on error.
func (e *env) cli(what string, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("%s: %v", what, err)
	}
}

// fixture makes the domains, the objects the cases act on, the actors,
// their tokens and their logged-in browsers.
func (e *env) fixture() {
	e.t.Helper()
	ctx, cli := context.Background(), admin.CLI()
	for _, d := range []string{"a.example", "b.example"} {
		_, err := e.svc.CreateDomain(ctx, cli, admin.DomainInput{Name: new(d)})
		e.cli("domain "+d, err)
		_, err = e.svc.CreateMailbox(ctx, cli, d, admin.MailboxInput{LocalPart: new("user"), Password: new(pw), Active: new(true)})
		e.cli("mailbox of "+d, err)
	}
	for a, doms := range map[actor][]string{super: nil, adminA: {"a.example"}, adminB: {"b.example"}} {
		_, err := e.svc.CreateAdmin(ctx, cli, admin.AdminInput{Username: new(a.username()), Password: new(pw),
			Superadmin: new(a == super), Domains: &doms})
		e.cli("admin "+a.username(), err)
		tok, err := e.svc.CreateToken(ctx, cli, admin.TokenInput{Name: new("matrix"), Admin: new(a.username())})
		e.cli("token of "+a.username(), err)
		e.tokens[a] = tok.Token
	}
	for _, a := range actors {
		e.browse[a] = e.client()
		e.login(a)
	}
}

// login logs a's browser in to the panel.
func (e *env) login(a actor) {
	e.t.Helper()
	p := e.browse[a].do("POST", "/login", url.Values{"username": {a.username()}, "password": {pw}})
	if p.code != http.StatusSeeOther || p.hdr.Get("Location") == "/login" {
		e.t.Fatalf("panel login of %s: %d to %q", a, p.code, p.hdr.Get("Location"))
	}
}

// stayLoggedIn logs a's browser in again when its session ended (a new
// password ends every panel session of its account).
func (e *env) stayLoggedIn(a actor) {
	e.t.Helper()
	if p := e.browse[a].do("GET", "/login", nil); p.code == http.StatusOK {
		e.login(a)
	}
}

// unique returns a name nobody used yet in this test.
func (e *env) unique(prefix string) string {
	e.n++
	return prefix + strconv.Itoa(e.n)
}

// domainOfA creates a domain that alice administers besides a.example
// (for the cases that deactivate or delete a domain), and returns it.
func (e *env) domainOfA() string {
	e.t.Helper()
	ctx, cli := context.Background(), admin.CLI()
	d := e.unique("d") + ".example"
	_, err := e.svc.CreateDomain(ctx, cli, admin.DomainInput{Name: &d})
	e.cli("domain "+d, err)
	ad, err := e.svc.Admin(ctx, cli, "alice")
	e.cli("admin alice", err)
	doms := append(ad.Domains, d)
	_, err = e.svc.UpdateAdmin(ctx, cli, "alice", admin.AdminInput{Domains: &doms})
	e.cli("alice's domains", err)
	return d
}

// limitA sets a.example's mailbox limit, for a case that raises it.
func (e *env) limitA(n int64) {
	e.t.Helper()
	_, err := e.svc.UpdateDomain(context.Background(), admin.CLI(), "a.example", admin.DomainInput{MaxMailboxes: &n})
	e.cli("limit of a.example", err)
}

func (e *env) mailbox() string {
	e.t.Helper()
	local := e.unique("m")
	_, err := e.svc.CreateMailbox(context.Background(), admin.CLI(), "a.example",
		admin.MailboxInput{LocalPart: &local, Password: new(pw), Active: new(true)})
	e.cli("mailbox "+local, err)
	return local + "@a.example"
}

func (e *env) alias() string {
	e.t.Helper()
	addr := e.unique("al") + "@a.example"
	_, err := e.svc.CreateAlias(context.Background(), admin.CLI(), "a.example",
		admin.AliasInput{Address: &addr, Destinations: &[]string{"user@a.example"}})
	e.cli("alias "+addr, err)
	return addr
}

func (e *env) aliasDomain() string {
	e.t.Helper()
	name := e.unique("ad") + ".example.net"
	_, err := e.svc.CreateAliasDomain(context.Background(), admin.CLI(),
		admin.AliasDomainInput{AliasDomain: &name, TargetDomain: new("a.example")})
	e.cli("alias domain "+name, err)
	return name
}

func (e *env) admin() string {
	e.t.Helper()
	name := e.unique("adm")
	_, err := e.svc.CreateAdmin(context.Background(), admin.CLI(), admin.AdminInput{Username: &name, Password: new(pw),
		Domains: &[]string{"a.example"}})
	e.cli("admin "+name, err)
	return name
}

// tokenOf creates a token of the admin named and returns its id.
func (e *env) tokenOf(username string) string {
	e.t.Helper()
	tok, err := e.svc.CreateToken(context.Background(), admin.CLI(), admin.TokenInput{Name: new(e.unique("t")), Admin: &username})
	e.cli("token of "+username, err)
	return strconv.FormatInt(tok.ID, 10)
}

// accessRuleOfA creates a recipient rule of a.example and returns its id.
func (e *env) accessRuleOfA() string {
	e.t.Helper()
	r, err := e.svc.CreateAccessRule(context.Background(), admin.CLI(), admin.AccessRuleInput{Kind: new("recipient"),
		Pattern: new(e.unique("r") + "@a.example"), Action: new("REJECT")})
	e.cli("access rule", err)
	return strconv.FormatInt(r.ID, 10)
}

// relocatedOfA marks an address of a.example as moved and returns it.
func (e *env) relocatedOfA() string {
	e.t.Helper()
	addr := e.unique("gone") + "@a.example"
	_, err := e.svc.CreateRelocated(context.Background(), admin.CLI(), admin.RelocatedInput{Address: &addr,
		NewLocation: new("x@remote.example")})
	e.cli("relocated "+addr, err)
	return addr
}

// domainSieveOfA writes a Sieve script of a.example and returns its name.
func (e *env) domainSieveOfA() string {
	e.t.Helper()
	name := e.unique("s")
	_, err := e.svc.PutDomainSieveScript(context.Background(), admin.CLI(), "a.example", name,
		admin.SieveScriptInput{Content: new("keep;")})
	e.cli("domain sieve script "+name, err)
	return name
}

// uniqueNet is a client network no other case uses.
func (e *env) uniqueNet() string {
	e.n++
	return fmt.Sprintf("10.%d.%d.0/24", e.n/256, e.n%256)
}

// loginBlock blocks a fresh client address in the login throttle and
// returns it.
func (e *env) loginBlock() string {
	ip := e.uniqueNet()
	ip = ip[:strings.IndexByte(ip+"/", '/')]
	now := time.Now()
	if _, err := e.st.UpdateLoginThrottle(context.Background(), []string{"ip:" + ip}, func(r store.ThrottleRecord) store.ThrottleRecord {
		r.LastFailure, r.BlockedUntil = now, now.Add(time.Hour)
		return r
	}); err != nil {
		e.t.Fatal(err)
	}
	return ip
}

// queued puts a message for a remote recipient in the queue and returns
// its id.
func (e *env) queued() string {
	e.t.Helper()
	ids, err := e.st.Enqueue(context.Background(), store.QueuedMessage{Sender: "user@a.example", Origin: "submission",
		Body:       []byte("Subject: queued\r\nFrom: user@a.example\r\n\r\nbody\r\n"),
		Recipients: []store.QueuedRecipient{{Address: "x@remote.example", Domain: "remote.example"}}})
	e.cli("enqueue", err)
	return strconv.FormatInt(ids[0], 10)
}

// answer is what a face did with a request.
type answer int

const (
	allowed answer = iota + 1
	refused
)

func (a answer) String() string {
	switch a {
	case allowed:
		return "allowed"
	case refused:
		return "refused"
	}
	return "neither"
}

// apiCall sends one API request as a and classifies the answer: 2xx is
// allowed; 401, 403 and 404 are refused; anything else means the case
// itself is wrong and fails the test.
// refusedField, when not "", names the field whose 422 error is the
// service's refusal (an object of another domain named in the body, which
// the service answers next to the field rather than with 403).
func (e *env) apiCall(a actor, method, path string, body any, refusedField string) (answer, int) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.api.URL+"/api/v1"+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if tok := e.tokens[a]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
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
	switch c := res.StatusCode; {
	case c >= 200 && c < 300:
		return allowed, c
	case c == http.StatusUnauthorized, c == http.StatusForbidden, c == http.StatusNotFound:
		return refused, c
	case c == http.StatusUnprocessableEntity && refusedField != "" &&
		bytes.Contains(raw, []byte(`{"field":"`+refusedField+`"`)):
		return refused, c
	default:
		e.t.Errorf("API %s %s as %s: %d is neither allowed nor refused: %s", method, path, a, c, raw)
		return 0, c
	}
}

// client is a browser: a cookie jar, redirects not followed. A POST
// carries no Origin or Sec-Fetch-Site header, as a same-origin form post
// from an older browser, which the panel's CSRF protection lets through.
type client struct {
	e   *env
	jar http.CookieJar
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, jar: jar}
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
	req, err := http.NewRequest(method, c.e.panel.URL+path, body)
	if err != nil {
		c.e.t.Fatal(err)
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

// panelCall sends one panel request as a (a GET when form is nil) and
// classifies the answer: 2xx, or a redirect after a change, is allowed;
// 403, 404 and a redirect to the login page are refused; anything else
// (a form shown again with errors) means the case itself is wrong.
func (e *env) panelCall(a actor, method, path string, form url.Values, refusedField string) (answer, int) {
	e.t.Helper()
	p := e.browse[a].do(method, path, form)
	switch c := p.code; {
	case c == http.StatusSeeOther && strings.HasPrefix(p.hdr.Get("Location"), "/login"):
		return refused, c
	case c >= 200 && c < 400:
		return allowed, c
	case c == http.StatusForbidden, c == http.StatusNotFound:
		return refused, c
	case c == http.StatusUnprocessableEntity && refusedField != "" &&
		strings.Contains(p.body, `id="f-`+refusedField+`-err"`):
		return refused, c
	default:
		body := p.body
		if i := strings.Index(body, "<main"); i >= 0 {
			body = body[i:]
		}
		e.t.Errorf("panel %s %s as %s: %d is neither allowed nor refused: %.2000s", method, path, a, c, body)
		return 0, c
	}
}

// appPasswordOfUser creates an app password of user@a.example (the
// owner's mailbox) and returns its id.
func (e *env) appPasswordOfUser() string {
	e.t.Helper()
	p, err := e.svc.CreateAppPassword(context.Background(), admin.CLI(), "user@a.example",
		admin.AppPasswordInput{Name: new(e.unique("app")), Protocols: []string{"imap"}})
	e.cli("app password", err)
	return strconv.FormatInt(p.ID, 10)
}

// mailboxWithTOTP creates a mailbox of a.example whose owner has a second
// factor, and returns its address.
func (e *env) mailboxWithTOTP() string {
	e.t.Helper()
	addr := e.mailbox()
	m, err := e.st.Read().MailboxByAddress(context.Background(), addr, false)
	e.cli("mailbox "+addr, err)
	e.enrol(admin.Account{MailboxID: m.ID})
	return addr
}

// adminWithTOTP creates a domain admin with a second factor and returns
// its user name.
func (e *env) adminWithTOTP() string {
	e.t.Helper()
	name := e.admin()
	ad, err := e.st.Read().AdminByUsername(context.Background(), name)
	e.cli("admin "+name, err)
	e.enrol(admin.Account{AdminID: ad.ID})
	return name
}

// enrol turns on c's second factor, as its owner would in the panel.
func (e *env) enrol(c admin.Account) {
	e.t.Helper()
	ctx := context.Background()
	en, err := e.svc.BeginTOTP(ctx, c)
	e.cli("begin totp", err)
	code, err := totp.GenerateCode(en.Secret, time.Now())
	e.cli("totp code", err)
	_, err = e.svc.ConfirmTOTP(ctx, c, code)
	e.cli("confirm totp", err)
}
