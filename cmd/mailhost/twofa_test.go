package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"mailhost/testdb"
	"mailhost/testsupport"
)

// mailClients logs in with real clients: swaks (submission, STARTTLS,
// AUTH PLAIN), Python's imaplib and poplib (clear text from loopback).
type mailClients struct {
	t                     *testing.T
	swaks, python         string
	submission, imap, pop string
}

// swaksLogin reports whether a message submitted as user with password
// was accepted, with swaks's transcript.
func (m mailClients) swaksLogin(user, password string) (bool, string) {
	host, port, _ := net.SplitHostPort(m.submission)
	out, err := exec.Command(m.swaks, "--server", host, "--port", port, "--tls", "--auth", "PLAIN",
		"--auth-user", user, "--auth-password", password, "--from", user, "--header", "From: "+user,
		"--to", user).CombinedOutput()
	return err == nil && strings.Contains(string(out), "<~  250 "), string(out)
}

// pyLogin runs a Python login over imaplib or poplib and reports whether
// it got in, with what it printed.
func (m mailClients) pyLogin(proto, user, password string) (bool, string) {
	scripts := map[string]string{"imap": `
import imaplib, sys
host, port = sys.argv[1].rsplit(":", 1)
c = imaplib.IMAP4(host, int(port))
try:
    c.login(sys.argv[2], sys.argv[3])
except imaplib.IMAP4.error as e:
    print("NO", e); sys.exit(3)
print(c.select("INBOX")[0]); c.logout()
`, "pop3": `
import poplib, sys
host, port = sys.argv[1].rsplit(":", 1)
c = poplib.POP3(host, int(port), timeout=20)
c.user(sys.argv[2])
try:
    c.pass_(sys.argv[3])
except poplib.error_proto as e:
    print("ERR", e); sys.exit(3)
print("OK", c.stat()); c.quit()
`}
	addr := map[string]string{"imap": m.imap, "pop3": m.pop}[proto]
	out, err := exec.Command(m.python, "-c", scripts[proto], addr, user, password).CombinedOutput()
	return err == nil, string(out)
}

// TestAppPasswordsWithRealClients: app passwords made with the command
// line open the protocols they name to swaks, imaplib and poplib, and no
// other; once the owner turns on a second factor (in serve's panel) the
// mailbox password no longer opens the mail protocols, app passwords do;
// a revoked app password is refused everywhere.
func TestAppPasswordsWithRealClients(t *testing.T) {
	m := mailClients{t: t, swaks: testsupport.RequireTool(t, "swaks", "swaks"),
		python:     testsupport.RequireTool(t, "python3", "python3"),
		submission: freePort(t), imap: freePort(t), pop: freePort(t)}
	env := baseEnv("DATABASE_URL="+testdb.New(t), "MAILHOST_DATA_DIR="+dataDir(t), "MAILHOST_HOSTNAME=mail.test",
		"MAILHOST_LISTEN_SUBMISSION="+m.submission, "MAILHOST_LISTEN_IMAP="+m.imap, "MAILHOST_LISTEN_POP3="+m.pop,
		"MAILHOST_AUTH_DELAY_MS=10", "MAILHOST_PASSWORD_ARGON2_TIME=1", "MAILHOST_PASSWORD_ARGON2_MEMORY_KIB=64")
	const user, mailboxPW = "alice@example.test", "alice-pw-1"
	run1(t, env, "", "domain", "add", "example.test")
	run1(t, env, mailboxPW+"\n", "mailbox", "add", user, "--password-stdin")
	phone := strings.TrimSpace(run1(t, env, "", "app-password", "add", user, "--name", "phone", "--protocol", "smtp,imap"))
	pop := strings.TrimSpace(run1(t, env, "", "app-password", "add", user, "--name", "fetcher", "--protocol", "pop3"))
	srv := startServe(t, env)

	expect := func(what string, want bool, ok bool, out string) {
		t.Helper()
		if ok != want {
			t.Fatalf("%s: got in %v, want %v\n%s\nserve log:\n%s", what, ok, want, out, srv.log)
		}
	}
	ok, out := m.swaksLogin(user, phone)
	expect("swaks with the phone's app password", true, ok, out)
	ok, out = m.pyLogin("imap", user, phone)
	expect("imaplib with the phone's app password", true, ok, out)
	ok, out = m.pyLogin("pop3", user, phone)
	expect("poplib with an smtp+imap app password", false, ok, out)
	ok, out = m.pyLogin("pop3", user, pop)
	expect("poplib with the pop3 app password", true, ok, out)
	ok, out = m.pyLogin("imap", user, pop)
	expect("imaplib with the pop3 app password", false, ok, out)
	ok, out = m.pyLogin("imap", user, mailboxPW)
	expect("imaplib with the mailbox password, no second factor", true, ok, out)

	// The owner turns on a second factor in the panel.
	enrolOwner(t, "http://"+srv.http, user, mailboxPW)
	ok, out = m.pyLogin("imap", user, mailboxPW)
	expect("imaplib with the mailbox password, second factor on", false, ok, out)
	ok, out = m.swaksLogin(user, mailboxPW)
	expect("swaks with the mailbox password, second factor on", false, ok, out)
	ok, out = m.pyLogin("imap", user, phone)
	expect("imaplib with the app password, second factor on", true, ok, out)

	// The list shows the last use and its address; a revoke shuts the door.
	list := run1(t, env, "", "app-password", "list", user)
	if !strings.Contains(list, "phone") || !strings.Contains(list, "smtp,imap") || !strings.Contains(list, "from 127.0.0.1") {
		t.Fatalf("app-password list:\n%s", list)
	}
	id := regexp.MustCompile(`(?m)^(\d+)\s+phone\s`).FindStringSubmatch(list)
	if id == nil {
		t.Fatalf("no id of phone in:\n%s", list)
	}
	run1(t, env, "", "app-password", "revoke", user, id[1])
	ok, out = m.swaksLogin(user, phone)
	expect("swaks with the revoked app password", false, ok, out)
	if !strings.Contains(out, "535 5.7.8") {
		t.Fatalf("swaks was not refused with 535 5.7.8:\n%s", out)
	}
	ok, out = m.pyLogin("imap", user, phone)
	expect("imaplib with the revoked app password", false, ok, out)
	if code := srv.stop(t); code != 0 {
		t.Fatalf("serve exit %d:\n%s", code, srv.log)
	}
}

// enrolOwner turns on a mailbox owner's second factor through the panel
// at base, as the owner's browser would, and returns the secret.
func enrolOwner(t *testing.T, base, user, password string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	post := func(path string, form url.Values) string {
		t.Helper()
		res, err := c.PostForm(base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	post("/login", url.Values{"username": {user}, "password": {password}})
	res, err := c.Get(base + "/me/totp")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`<code id="totp-secret">([A-Z2-7]+)</code>`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no secret on the enrolment page:\n%s", b)
	}
	code, err := totp.GenerateCode(string(m[1]), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if page := post("/me/totp", url.Values{"code": {code}}); !strings.Contains(page, `id="recovery-codes"`) {
		t.Fatalf("enrolment not confirmed:\n%s", page)
	}
	return string(m[1])
}

// TestSecondFactorInBrowser drives serve's panel with headless Chromium:
// an admin enrols (the secret read from the page, codes computed here),
// logs in with a code after the password, then with a recovery code,
// which is refused the second time; the super-admin resets the second
// factor and the admin logs in with the password alone.
func TestSecondFactorInBrowser(t *testing.T) {
	exe := chromium()
	if exe == "" {
		testsupport.Missing(t, "chromium", "chromium")
	}
	env := baseEnv("DATABASE_URL="+testdb.New(t), "MAILHOST_DATA_DIR="+dataDir(t), "MAILHOST_HOSTNAME=mail.test",
		"MAILHOST_AUTH_DELAY_MS=10")
	const rootPW, opsPW = "root password 1", "ops password 1"
	run1(t, env, rootPW+"\n", "admin", "add", "root", "--super", "--password-stdin")
	run1(t, env, opsPW+"\n", "admin", "add", "ops", "--password-stdin")
	srv := startServe(t, env)
	base := "http://" + srv.http
	art := artefacts(t)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(bctx, 3*time.Minute)
	defer cancel()
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v\nserve log:\n%s", what, err, srv.log)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err == nil {
			err = os.WriteFile(filepath.Join(art, name+".png"), png, 0o644)
		}
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
	}
	heading := func(h string) chromedp.Action[chromedp.Void] {
		return chromedp.WaitVisible(chromedp.Search(fmt.Sprintf(`//h1[contains(., %q)]`, h)))
	}
	fill := func(kv ...string) chromedp.Action[chromedp.Void] {
		var steps []chromedp.Action[chromedp.Void]
		for i := 0; i+1 < len(kv); i += 2 {
			steps = append(steps, chromedp.SetValue(chromedp.CSS("#f-"+kv[i]), kv[i+1]))
		}
		return chromedp.Steps(steps...)
	}
	submit := func(sel string) chromedp.Action[chromedp.Void] {
		return chromedp.Click(chromedp.CSS(sel + ` button[type=submit]`))
	}
	logout := chromedp.Steps(chromedp.Click(chromedp.CSS(`form.logout button`)), heading("Log in"))
	login := func(user, pass, lands string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(chromedp.Navigate(base+"/login"), heading("Log in"), fill("username", user, "password", pass),
			submit(`form[action="/login"]`), heading(lands))
	}
	code := func(secret string, at time.Time) string {
		t.Helper()
		c, err := totp.GenerateCode(secret, at)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	// Enrol: the QR code and the secret, confirmed with a code.
	run("login as ops", login("ops", opsPW, "Dashboard"))
	run("enrolment", chromedp.Navigate(base+"/account/totp"), heading("Second factor"), chromedp.WaitVisible(chromedp.CSS("#totp-qr")))
	shot("twofa-01-enrol")
	secret := text("#totp-secret")
	run("confirm", fill("code", code(secret, time.Now())), submit(`form[action="/account/totp"]`),
		chromedp.WaitVisible(chromedp.CSS("#recovery-codes")))
	shot("twofa-02-recovery-codes")
	recovery := strings.Fields(text("#recovery-codes"))
	if len(recovery) != 10 {
		t.Fatalf("recovery codes: %q", recovery)
	}

	// A code after the password (the next step's: the enrolment used this one's).
	run("logout", logout)
	run("password", login("ops", opsPW, "Second factor"))
	shot("twofa-03-code")
	run("code", fill("code", code(secret, time.Now().Add(30*time.Second))), submit(`form[action="/login/code"]`), heading("Dashboard"))

	// A recovery code, once.
	run("logout", logout)
	run("password again", login("ops", opsPW, "Second factor"))
	run("recovery code", fill("code", recovery[0]), submit(`form[action="/login/code"]`), heading("Dashboard"))
	run("logout", logout)
	run("password once more", login("ops", opsPW, "Second factor"))
	run("used recovery code", fill("code", recovery[0]), submit(`form[action="/login/code"]`),
		chromedp.WaitVisible(chromedp.CSS(`.alert`)))
	if s := text(".alert"); !strings.Contains(s, "Wrong code") {
		t.Fatalf("a used recovery code: %q", s)
	}
	shot("twofa-04-refused")

	// New recovery codes (password and an unused old code): the other old
	// ones stop working.
	run("another recovery code", fill("code", recovery[1]), submit(`form[action="/login/code"]`), heading("Dashboard"))
	run("new codes page", chromedp.Navigate(base+"/account/totp"), chromedp.Click(chromedp.CSS("#new-recovery-codes")),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/account/totp/recovery-codes"]`)), fill("current_password", opsPW, "code", recovery[2]),
		submit(`form[action="/account/totp/recovery-codes"]`), chromedp.WaitVisible(chromedp.CSS("#recovery-codes")))
	if fresh := strings.Fields(text("#recovery-codes")); len(fresh) != 10 || slices.Contains(fresh, recovery[3]) {
		t.Fatalf("new recovery codes: %q", fresh)
	}
	run("logout", logout)
	run("password after new codes", login("ops", opsPW, "Second factor"))
	run("an old recovery code", fill("code", recovery[3]), submit(`form[action="/login/code"]`),
		chromedp.WaitVisible(chromedp.CSS(`.alert`)))
	if s := text(".alert"); !strings.Contains(s, "Wrong code") {
		t.Fatalf("an old recovery code after new ones: %q", s)
	}

	// The super-admin resets it; ops logs in with the password alone.
	run("login as root", login("root", rootPW, "Dashboard"))
	run("ops's second factor", chromedp.Navigate(base+"/admins/ops/totp"), heading("Second factor of ops"))
	if s := text("#totp-state"); !strings.Contains(s, "on") || !strings.Contains(s, "10 recovery codes") {
		t.Fatalf("state before reset: %q", s)
	}
	run("reset", submit(`form[action="/admins/ops/totp/reset"]`), chromedp.WaitVisible(chromedp.Search(`//*[contains(., "Second factor reset")]`)))
	if s := text("#totp-state"); !strings.Contains(s, "has no second factor") {
		t.Fatalf("state after reset: %q", s)
	}
	shot("twofa-05-reset")
	run("logout root", logout)
	run("ops with the password alone", login("ops", opsPW, "Dashboard"))
	if code := srv.stop(t); code != 0 {
		t.Fatalf("serve exit %d:\n%s", code, srv.log)
	}
}

// TestTOTPCommand: the command line shows second factors, resets them
// (the way back in without the panel) and sets the policy; app-password
// refuses a bad protocol with the field named.
func TestTOTPCommand(t *testing.T) {
	env, _ := provEnv(t)
	run1(t, env, "root password 1\n", "admin", "add", "root", "--super", "--password-stdin")
	run1(t, env, "", "domain", "add", "example.test")
	run1(t, env, "alice password\n", "mailbox", "add", "alice@example.test", "--password-stdin")
	if out := run1(t, env, "", "totp", "status", "root"); !regexp.MustCompile(`enabled:\s+no`).MatchString(out) {
		t.Fatalf("totp status root:\n%s", out)
	}
	if out := run1(t, env, "", "totp", "policy", "--require-admins=true"); !regexp.MustCompile(`require admins:\s+yes`).MatchString(out) {
		t.Fatalf("totp policy:\n%s", out)
	}
	if out := run1(t, env, "", "totp", "policy"); !regexp.MustCompile(`require admins:\s+yes`).MatchString(out) {
		t.Fatalf("totp policy without a change:\n%s", out)
	}
	if code, _, errOut := mailhost(t, env, "", "totp", "reset", "alice@example.test"); code != 1 || !strings.Contains(errOut, "no second factor") {
		t.Fatalf("reset of nothing: exit %d: %s", code, errOut)
	}
	if code, _, errOut := mailhost(t, env, "", "totp", "reset"); code != 2 {
		t.Fatalf("reset without a name: exit %d: %s", code, errOut)
	}
	if code, _, errOut := mailhost(t, env, "", "app-password", "add", "alice@example.test", "--name", "x", "--protocol", "ftp"); code != 1 || !strings.Contains(errOut, "protocols[0]") {
		t.Fatalf("app-password with a bad protocol: exit %d: %s", code, errOut)
	}
}
