package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"mailhost/web"
)

func TestLoginLogout(t *testing.T) {
	e := newEnv(t)
	e.admin("root", true)
	c := e.client()

	c.get("/domains").redirects(t, "/login?next=%2Fdomains")
	c.get("/").redirects(t, "/login")
	lp := c.get("/login?next=%2Fdomains").must(t, 200).has(t, `<label for="f-username">`, `<label for="f-password">`,
		`<h1>Log in</h1>`, `<main id="main"`, `value="/domains"`)
	if n := strings.Count(lp.body, "<h1"); n != 1 {
		t.Fatalf("%d h1 on the login page", n)
	}
	for k, v := range map[string]string{
		"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "same-origin",
		"X-Frame-Options":         "DENY",
	} {
		if got := lp.hdr.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}

	c.post("/login", "username", "root", "password", "wrong password").must(t, 401).has(t, "Wrong user name or password.")
	c.post("/login", "username", "nobody", "password", pw).must(t, 401)
	if n := e.count(`SELECT count(*) FROM web_sessions`); n != 0 {
		t.Fatalf("%d sessions after failed logins", n)
	}

	res := c.post("/login", "username", "root", "password", pw, "next", "/domains")
	res.redirects(t, "/domains")
	ck := cookie(t, res, "mailhost_session")
	if !ck.HttpOnly || ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, not Secure over plain HTTP, Path=/", ck)
	}
	if n := e.count(`SELECT count(*) FROM web_sessions WHERE kind = 'admin'`); n != 1 {
		t.Fatalf("%d admin sessions, want 1", n)
	}
	// The cookie holds the id; the table only its hash.
	if n := e.count(`SELECT count(*) FROM web_sessions WHERE id_hash = convert_to($1, 'UTF8')`, ck.Value); n != 0 {
		t.Fatal("the session id is stored in clear")
	}
	c.get("/domains").must(t, 200).has(t, "<h1>Domains</h1>", "root")
	c.get("/login").redirects(t, "/")

	c.post("/logout").redirects(t, "/login")
	if n := e.count(`SELECT count(*) FROM web_sessions`); n != 0 {
		t.Fatalf("%d sessions after logout", n)
	}
	c.get("/domains").redirects(t, "/login?next=%2Fdomains")
}

func cookie(t *testing.T, p page, name string) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: p.hdr}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no cookie %s in %v", name, p.hdr["Set-Cookie"])
	return nil
}

// After login only a local path is followed; anything a browser could take
// for another site goes to the dashboard.
func TestNoOpenRedirect(t *testing.T) {
	e := newEnv(t)
	e.admin("root", true)
	for _, next := range []string{"//evil.example/", `/\evil.example`, "https://evil.example/", "evil.example",
		"/%2F/evil.example", "javascript:alert(1)", "/\t/evil.example", ""} {
		c := e.client()
		res := c.post("/login", "username", "root", "password", pw, "next", next)
		loc := res.hdr.Get("Location")
		if res.code != 303 || !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, `/\`) {
			t.Errorf("next=%q: %d to %q", next, res.code, loc)
		}
		if next != "/%2F/evil.example" && loc != "/" {
			t.Errorf("next=%q: redirected to %q, want /", next, loc)
		}
	}
	// The login page does not even carry a bad next into its form.
	e.client().get("/login?next="+url.QueryEscape("//evil.example")).must(t, 200).lacks(t, "evil.example")
}

// A state-changing request from another origin is refused before it
// reaches a handler, and writes nothing.
func TestCrossOriginPostRefused(t *testing.T) {
	e := newEnv(t)
	e.admin("root", true)
	c := e.client()
	c.login("root", pw, "/")

	c.hdr.Set("Origin", "http://evil.example")
	c.hdr.Set("Sec-Fetch-Site", "cross-site")
	c.post("/domains/new", "name", "evil.test", "active", "on").must(t, 403).has(t, "Request refused")
	c.post("/logout").must(t, 403)
	if n := e.count(`SELECT count(*) FROM domains`); n != 0 {
		t.Fatalf("%d domains written by a cross-origin POST", n)
	}
	if n := e.count(`SELECT count(*) FROM web_sessions`); n != 1 {
		t.Fatalf("cross-origin logout ended the session")
	}
	// Only Origin, no Sec-Fetch-Site (older browsers): refused as well.
	c.hdr.Del("Sec-Fetch-Site")
	c.post("/domains/new", "name", "evil.test").must(t, 403)
	// A cross-origin login (login CSRF) too.
	e.client().do("POST", "/login", url.Values{"username": {"root"}, "password": {pw}}) // same-origin: fine
	x := e.client()
	x.hdr.Set("Sec-Fetch-Site", "cross-site")
	x.post("/login", "username", "root", "password", pw).must(t, 403)

	// Same origin, as the browser sends it: accepted.
	c.hdr.Set("Origin", e.srv.URL)
	c.hdr.Set("Sec-Fetch-Site", "same-origin")
	c.post("/domains/new", "name", "good.test", "active", "on").redirects(t, "/domains/good.test?done=created")
}

func TestSessionExpiry(t *testing.T) {
	e := newEnv(t, func(o *web.Options) { o.SessionIdle = 10 * time.Minute; o.SessionMax = time.Hour })
	e.admin("root", true)
	c := e.client()
	c.login("root", pw, "/")
	for range 5 { // active every 9 minutes: still in at 45 minutes
		e.clock.add(9 * time.Minute)
		c.get("/domains").must(t, 200)
	}
	e.clock.add(16 * time.Minute) // 61 minutes after login: the absolute limit
	c.get("/domains").redirects(t, "/login?next=%2Fdomains")

	c.login("root", pw, "/")
	e.clock.add(11 * time.Minute) // idle too long
	c.get("/domains").redirects(t, "/login?next=%2Fdomains")
}

// A deactivated admin's session ends at its next request.
func TestDeactivatedAdminLoggedOut(t *testing.T) {
	e := newEnv(t)
	e.admin("root", true)
	e.admin("dom", false)
	c := e.client()
	c.login("dom", pw, "/")
	c.get("/domains").must(t, 200)
	root := e.client()
	root.login("root", pw, "/")
	root.post("/admins/dom", "domains", "").redirects(t, "/admins?done=saved") // active box unticked
	c.get("/domains").redirects(t, "/login?next=%2Fdomains")
	c.post("/login", "username", "dom", "password", pw).must(t, 401)
}

func TestLoginThrottled(t *testing.T) {
	e := newEnv(t)
	e.admin("root", true)
	c := e.client()
	for range 5 {
		c.post("/login", "username", "root", "password", "wrong").must(t, 401)
	}
	c.post("/login", "username", "root", "password", pw).must(t, 429).has(t, "Too many failed logins")
	if n := e.count(`SELECT count(*) FROM web_sessions`); n != 0 {
		t.Fatal("a blocked login made a session")
	}
}

func TestFirstRunSetup(t *testing.T) {
	e := newEnv(t, func(o *web.Options) { o.SetupToken = "s3cret-token" })
	c := e.client()
	c.get("/setup").must(t, 404)
	c.get("/setup?token=wrong").must(t, 404)
	c.get("/setup?token=s3cret-token").must(t, 200).has(t, "Create the first administrator")
	c.post("/setup", "token", "wrong", "username", "root", "password", pw, "password_confirm", pw).must(t, 404)
	c.post("/setup", "token", "s3cret-token", "username", "root", "password", "short", "password_confirm", "short").
		must(t, 422).fieldError(t, "password", "at least 8 characters")
	c.post("/setup", "token", "s3cret-token", "username", "root", "password", pw, "password_confirm", "other").
		must(t, 422).fieldError(t, "password_confirm", "does not match")
	if n := e.count(`SELECT count(*) FROM admins`); n != 0 {
		t.Fatalf("%d admins after refused setups", n)
	}
	c.post("/setup", "token", "s3cret-token", "username", "root", "password", pw, "password_confirm", pw).redirects(t, "/")
	if n := e.count(`SELECT count(*) FROM admins WHERE username = 'root' AND superadmin`); n != 1 {
		t.Fatal("no super-admin root after setup")
	}
	c.get("/").must(t, 200).has(t, "Dashboard")
	e.client().get("/setup?token=s3cret-token").must(t, 410)
	e.client().post("/setup", "token", "s3cret-token", "username", "evil", "password", pw, "password_confirm", pw).must(t, 410)

	// Without a token (admins existed at start) there is no setup page.
	e2 := newEnv(t)
	e2.client().get("/setup?token=").must(t, 404)
}

func TestStaticFiles(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	body := c.get("/login").body
	i := strings.Index(body, `href="/static/app.`)
	if i < 0 {
		t.Fatal("no stylesheet link")
	}
	href := body[i+6 : i+6+strings.Index(body[i+6:], `"`)]
	res := c.get(href).must(t, 200)
	if res.hdr.Get("Content-Type") != "text/css; charset=utf-8" || !strings.Contains(res.hdr.Get("Cache-Control"), "max-age=31536000") {
		t.Fatalf("static headers: %v", res.hdr)
	}
	c.get("/static/app.css").must(t, 404)
	if strings.Contains(body, "<style") || strings.Contains(body, " style=") || strings.Contains(body, "<script>") || strings.Contains(body, "onclick") {
		t.Fatal("inline style or script in a page")
	}
}

// Over TLS the cookie is __Host-mailhost and Secure.
func TestSessionCookieOverTLS(t *testing.T) {
	e := newEnv(t)
	e.admin("root", true)
	srv := httptest.NewTLSServer(e.web)
	defer srv.Close()
	hc := srv.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := hc.PostForm(srv.URL+"/login", url.Values{"username": {"root"}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var ck *http.Cookie
	for _, c := range res.Cookies() {
		ck = c
	}
	if res.StatusCode != 303 || ck == nil || ck.Name != "__Host-mailhost" || !ck.Secure || !ck.HttpOnly || ck.Path != "/" || ck.Domain != "" {
		t.Fatalf("login over TLS: %d, cookie %+v", res.StatusCode, ck)
	}
}

// Mailbox owners' failed web logins count in the Authenticator shared with
// SMTP, IMAP and POP3: after the limit, the right password is refused too.
func TestOwnerLoginThrottled(t *testing.T) {
	e := newEnv(t)
	e.domain("example.com")
	e.mailbox("alice@example.com")
	c := e.client()
	for range 5 {
		c.post("/login", "username", "alice@example.com", "password", "wrong").must(t, 401)
	}
	c.post("/login", "username", "alice@example.com", "password", pw).must(t, 429).has(t, "Too many failed logins")
}

// A login made while logged in replaces the old session.
func TestLoginReplacesSession(t *testing.T) {
	e := newEnv(t)
	e.admin("root", true)
	c := e.client()
	c.login("root", pw, "/")
	c.login("root", pw, "/")
	if n := e.count(`SELECT count(*) FROM web_sessions`); n != 1 {
		t.Fatalf("%d sessions, want 1", n)
	}
}

// Behind a TLS-terminating proxy listed in web.trusted_proxies, a request
// marked X-Forwarded-Proto: https gets the __Host-, Secure cookie; the
// same header from anyone else is ignored.
func TestSessionCookieBehindTrustedProxy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		proxies []netip.Prefix
		secure  bool
	}{
		{"trusted", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, true},
		{"not trusted", []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(o *web.Options) { o.TrustedProxies = tc.proxies })
			e.admin("root", true)
			c := e.client()
			c.hdr.Set("X-Forwarded-Proto", "https")
			p := c.post("/login", "username", "root", "password", pw)
			p.redirects(t, "/")
			ck := p.hdr.Get("Set-Cookie")
			secure := strings.HasPrefix(ck, "__Host-mailhost=") && strings.Contains(ck, "; Secure")
			if secure != tc.secure {
				t.Errorf("Set-Cookie %q: want secure %v", ck, tc.secure)
			}
		})
	}
}
