package web_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"mailhost/admin"
)

var (
	secretRE   = regexp.MustCompile(`<code id="totp-secret">([A-Z2-7]+)</code>`)
	recoveryRE = regexp.MustCompile(`<li><code>([a-z2-7]{5}-[a-z2-7]{5})</code></li>`)
)

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// An owner enrols in the panel; its other sessions end; the login then
// asks a code after the password: a code is good once, a recovery code
// once, and wrong codes are throttled.
func TestOwnerSecondFactorInPanel(t *testing.T) {
	e := newEnv(t)
	e.domain("example.com")
	e.mailbox("alice@example.com")
	c, other := e.client(), e.client()
	c.login("alice@example.com", pw, "/me")
	other.login("alice@example.com", pw, "/me")

	p := c.get("/me/totp").must(t, http.StatusOK).has(t, `id="totp-qr" src="data:image/png;base64,`)
	m := secretRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no secret on the enrolment page:\n%s", trim(p.body))
	}
	secret := m[1]
	c.post("/me/totp", "code", "000000").must(t, http.StatusUnprocessableEntity).fieldError(t, "code", "not the current code")
	p = c.post("/me/totp", "code", totpCode(t, secret, time.Now())).must(t, http.StatusOK)
	codes := recoveryRE.FindAllStringSubmatch(p.body, -1)
	if len(codes) != admin.RecoveryCodeCount {
		t.Fatalf("%d recovery codes shown:\n%s", len(codes), trim(p.body))
	}
	other.get("/me").redirects(t, "/login?next=%2Fme") // its session ended with the change
	c.get("/me").must(t, http.StatusOK)                // this one goes on
	c.get("/me/totp").must(t, http.StatusOK).has(t, "is <strong>on</strong>").lacks(t, secret)

	// The second step.
	logIn := func(cl *client) {
		t.Helper()
		cl.post("/logout")
		cl.login("alice@example.com", pw, "/login/code")
		cl.get("/me").redirects(t, "/login?next=%2Fme") // no session before the code
	}
	logIn(c)
	c.get("/login/code").must(t, http.StatusOK).has(t, `autocomplete="one-time-code"`)
	c.post("/login/code", "code", "000000").must(t, http.StatusUnauthorized).has(t, "Wrong code")
	code := totpCode(t, secret, time.Now().Add(30*time.Second)) // the enrolment used this step's code
	c.post("/login/code", "code", code).redirects(t, "/me")
	c.get("/me").must(t, http.StatusOK)
	logIn(c)
	c.post("/login/code", "code", code).must(t, http.StatusUnauthorized) // replayed in its step
	c.post("/login/code", "code", codes[0][1]).redirects(t, "/me")
	logIn(c)
	c.post("/login/code", "code", codes[0][1]).must(t, http.StatusUnauthorized) // a recovery code is good once
	// A stranger's client does not get past the second step by guessing.
	throttled := false
	for range 6 {
		if c.post("/login/code", "code", "123456").code == http.StatusTooManyRequests {
			throttled = true
			break
		}
	}
	if !throttled {
		t.Fatal("wrong codes are not throttled")
	}
	// Without a login in progress the code page sends to the login.
	e.client().get("/login/code").redirects(t, "/login")
	if n := e.count(`SELECT count(*) FROM audit_log WHERE object_type = 'second_factor' AND action = 'enable'`); n != 1 {
		t.Fatalf("%d audit rows", n)
	}
}

// The policy sends admins without a second factor to enrol before any
// other page; a super-admin's reset ends the admin's sessions and sends
// it to enrol again.
func TestAdminSecondFactorPolicy(t *testing.T) {
	e := newEnv(t)
	e.domain("example.com")
	e.admin("root", true)
	e.admin("alice", false, "example.com")
	root, alice := e.client(), e.client()
	root.login("root", pw, "/")
	root.post("/security", "require_admin_totp", "on").redirects(t, "/security?done=saved")
	root.get("/domains").redirects(t, "/account/totp") // root has none either
	alice.login("alice", pw, "/account/totp")
	alice.get("/domains").redirects(t, "/account/totp")
	alice.get("/").redirects(t, "/account/totp")
	p := alice.get("/account/totp").must(t, http.StatusOK).has(t, "required for administrators")
	secret := secretRE.FindStringSubmatch(p.body)[1]
	alice.post("/account/totp", "code", totpCode(t, secret, time.Now())).must(t, http.StatusOK).has(t, "recovery-codes")
	alice.get("/domains").must(t, http.StatusOK)

	// Root enrols too, then resets alice's.
	p = root.get("/account/totp").must(t, http.StatusOK)
	rs := secretRE.FindStringSubmatch(p.body)[1]
	root.post("/account/totp", "code", totpCode(t, rs, time.Now())).must(t, http.StatusOK)
	root.get("/admins/alice/totp").must(t, http.StatusOK).has(t, "is <strong>on</strong>")
	alice.post("/admins/alice/totp/reset").must(t, http.StatusForbidden)
	root.post("/admins/alice/totp/reset").redirects(t, "/admins/alice/totp?done=totp-reset")
	alice.get("/domains").redirects(t, "/login?next=%2Fdomains")
	alice.login("alice", pw, "/account/totp")
	if sf, err := e.svc.AdminSecondFactor(context.Background(), admin.CLI(), "alice"); err != nil || sf.Enabled {
		t.Fatalf("after reset: %+v, %v", sf, err)
	}
}

// An owner makes app passwords in the panel: shown once, listed with
// their protocols, revocable.
func TestOwnerAppPasswordsInPanel(t *testing.T) {
	e := newEnv(t)
	e.domain("example.com")
	e.mailbox("alice@example.com")
	c := e.client()
	c.login("alice@example.com", pw, "/me")
	c.get("/me/app-passwords").must(t, http.StatusOK).has(t, "No app passwords.")
	c.post("/me/app-passwords", "name", "phone").must(t, http.StatusUnprocessableEntity).has(t, "name at least one of")
	p := c.post("/me/app-passwords", "name", "phone", "protocols", "imap", "protocols", "smtp").must(t, http.StatusCreated)
	m := regexp.MustCompile(`<code id="secret">([a-z2-7-]{27})</code>`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no app password shown:\n%s", trim(p.body))
	}
	p = c.get("/me/app-passwords").must(t, http.StatusOK).has(t, "phone", "imap, smtp").lacks(t, m[1])
	id := regexp.MustCompile(`action="/me/app-passwords/(\d+)/revoke"`).FindStringSubmatch(p.body)
	if id == nil {
		t.Fatalf("no revoke button:\n%s", trim(p.body))
	}
	// Another owner cannot revoke it.
	e.mailbox("bob@example.com")
	bob := e.client()
	bob.login("bob@example.com", pw, "/me")
	bob.post("/me/app-passwords/"+id[1]+"/revoke").must(t, http.StatusNotFound)
	c.post("/me/app-passwords/"+id[1]+"/revoke").redirects(t, "/me/app-passwords?done=app-revoked")
	c.get("/me/app-passwords").must(t, http.StatusOK).has(t, "No app passwords.")
	if !strings.Contains(c.get("/me").body, "app password") {
		t.Fatal("the mail client settings do not mention app passwords")
	}
}
