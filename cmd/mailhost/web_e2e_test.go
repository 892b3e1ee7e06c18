package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"mailhost/testsupport"
)

// chromium finds the Chromium of Debian's chromium package (scripts/setup.sh
// installs it), or another Chrome on PATH.
func chromium() string {
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	return ""
}

// artefacts is where the browser test saves its screenshots:
// $MAILHOST_ARTEFACTS, or testdata/artefacts (git-ignored).
func artefacts(t *testing.T) string {
	dir := os.Getenv("MAILHOST_ARTEFACTS")
	if dir == "" {
		dir = filepath.Join("testdata", "artefacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestWebPanelInBrowser drives the panel of a real `mailhost serve` with
// headless Chromium: first-run setup, login as super-admin, a domain, a
// mailbox and an alias made through the forms and listed with their
// usage, then the mailbox owner changes the password and logs in to IMAP
// with the new one.
func TestWebPanelInBrowser(t *testing.T) {
	exe := chromium()
	if exe == "" {
		testsupport.Missing(t, "chromium", "chromium")
	}
	python := testsupport.RequireTool(t, "python3", "python3")
	imapAddr, smtpAddr := freePort(t), freePort(t)
	// The embedded default (make run): serve runs its own PostgreSQL as
	// vmail, so connections made after the privilege drop work too.
	env := baseEnv("MAILHOST_DATA_DIR="+dataDir(t),
		"MAILHOST_HOSTNAME=mail.example.test", "MAILHOST_LISTEN_IMAP="+imapAddr, "MAILHOST_LISTEN_SMTP="+smtpAddr, "MAILHOST_AUTH_DELAY_MS=10")
	srv := startServe(t, env)
	m := regexp.MustCompile(`url="?(http://[^"\s]+/setup\?token=[^"\s]+)`).FindStringSubmatch(srv.log.String())
	if m == nil {
		t.Fatalf("serve printed no setup link:\n%s", srv.log)
	}
	setupURL, base := m[1], "http://"+srv.http
	if !strings.HasPrefix(setupURL, base+"/setup?token=") {
		t.Fatalf("setup link %s is not on %s", setupURL, base)
	}
	art := artefacts(t)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("hide-scrollbars", true), // screenshots as wide as the viewport
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(bctx); err != nil { // starts the browser; no timeout on this first call
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
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(art, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
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
	const rootPW, alicePW, aliceNew = "root password 1", "alice password 1", "alice password 2"

	// First run: the setup link creates the super-admin, once.
	run("setup", chromedp.Navigate(setupURL), heading("Create the first administrator"))
	shot("01-setup")
	run("setup form", fill("username", "root", "password", rootPW, "password_confirm", rootPW), submit(`form[action="/setup"]`), heading("Dashboard"))
	run("logout", logout)
	shot("02-login")
	run("login as root", login("root", rootPW, "Dashboard"))

	// A domain, a mailbox and an alias through the forms.
	run("new domain", chromedp.Navigate(base+"/domains/new"), heading("New domain"),
		fill("name", "shop.example", "description", "The shop", "max_mailboxes", "10", "max_aliases", "20",
			"max_quota_bytes", "1G", "quota_bytes", "10G"))
	shot("03-domain-form")
	run("create domain", submit("main form"), heading("Domain shop.example"))
	shot("04-domain")
	if s := text("main"); !strings.Contains(s, "10 mail.example.test.") || !strings.Contains(s, "v=spf1 mx -all") {
		t.Fatalf("domain page lacks its DNS records:\n%s", s)
	}
	// A form error first: it shows next to the field, the input kept.
	run("bad mailbox", chromedp.Navigate(base+"/domains/shop.example/mailboxes/new"), heading("New mailbox"),
		fill("local_part", "alice", "name", "Alice Liddell", "quota_bytes", "500M", "password", "short"), submit("main form"),
		chromedp.WaitVisible(chromedp.CSS("#f-password-err")))
	if s := text("#f-password-err"); !strings.Contains(s, "at least 8") {
		t.Fatalf("password error: %q", s)
	}
	shot("05-mailbox-form-error")
	run("create mailbox", fill("password", alicePW), submit("main form"), heading("Mailbox alice@shop.example"))
	run("new alias", chromedp.Navigate(base+"/domains/shop.example/aliases/new"), heading("New alias"),
		fill("address", "info", "destinations", "alice@shop.example\nsales@partner.example"), submit("main form"),
		heading("Aliases of shop.example"))
	if s := text("main"); !strings.Contains(s, "info@shop.example") || !strings.Contains(s, "alice@shop.example, sales@partner.example") {
		t.Fatalf("alias not listed:\n%s", s)
	}
	shot("06-aliases")

	// Listed with their usage.
	run("domains", chromedp.Navigate(base+"/domains"), heading("Domains"))
	if s := text("main"); !strings.Contains(s, "1 of 10 (10%)") || !strings.Contains(s, "1 of 20 (5%)") || !strings.Contains(s, "500 MiB of 10 GiB (4%)") {
		t.Fatalf("domain list lacks the usage:\n%s", s)
	}
	shot("07-domains")
	run("mailboxes", chromedp.Navigate(base+"/domains/shop.example/mailboxes"), heading("Mailboxes of shop.example"))
	if s := text("main"); !strings.Contains(s, "alice@shop.example") || !strings.Contains(s, "0 B of 500 MiB (0%)") {
		t.Fatalf("mailbox list lacks alice and her quota:\n%s", s)
	}
	shot("08-mailboxes")
	// Traffic: two messages over SMTP (Python's smtplib); the dashboard
	// draws them and the mail log finds one by the queue id of its 250.
	qid := ""
	for i := 0; i < 2; i++ {
		out, err := exec.Command(python, "-c", `import smtplib, sys
s = smtplib.SMTP(sys.argv[1].rsplit(":", 1)[0], int(sys.argv[1].rsplit(":", 1)[1]))
s.sendmail("bob@example.org", ["alice@shop.example"], "Subject: hello\r\n\r\nhi\r\n")
s.quit()`, smtpAddr).CombinedOutput()
		if err != nil {
			t.Fatalf("smtplib: %v\n%s", err, out)
		}
	}
	testsupport.Eventually(t, 30*time.Second, "the mail log lines recorded", func() bool {
		m := regexp.MustCompile(`msg=accepted [^\n]*?queue_id=(\w+)`).FindStringSubmatch(srv.log.String())
		if m != nil {
			qid = m[1]
		}
		return m != nil
	})
	total := ""
	testsupport.Eventually(t, 30*time.Second, "the dashboard's received chart", func() bool {
		run("dashboard", chromedp.Navigate(base+"/"), heading("Dashboard"))
		total, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#day ~ div figure[data-metric="received"]').dataset.total`))
		return total == "2"
	})
	if s := text(`section[aria-labelledby="day"]`); !strings.Contains(s, "Messages received: 2 in all") || !strings.Contains(s, "Delivered to mailboxes: 2 in all") {
		t.Errorf("the dashboard's last 24 hours:\n%s", s)
	}
	shot("09-dashboard")
	run("mail log", chromedp.Navigate(base+"/maillog"), heading("Mail log"), fill("q", qid), submit(`form[action="/maillog"]`))
	// The result page has the same heading as the form's: wait for the
	// search's address to be loaded, not for the heading (which the page
	// before the submit has too, and which is gone while it navigates).
	testsupport.Eventually(t, 30*time.Second, "the mail log search's page", func() bool {
		done, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`location.search.includes("q=") && document.readyState === "complete"`))
		return err == nil && done
	})
	run("mail log results", heading("Mail log"))
	if s := text("main"); !strings.Contains(s, "delivered") || !strings.Contains(s, "alice@shop.example") || !strings.Contains(s, qid) {
		t.Errorf("the mail log for %s:\n%s", qid, s)
	}
	shot("09a-maillog")
	run("queue", chromedp.Click(chromedp.Search(`//nav//a[.="Queue"]`)), heading("Mail queue"))
	if s := text("main"); !strings.Contains(s, "The mail queue is empty.") {
		t.Fatalf("queue page:\n%s", s)
	}
	shot("09b-queue")

	// Phone width.
	// Phone width: nothing wider than the screen, so no sideways scrolling.
	fits := func(page string) {
		t.Helper()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= document.documentElement.clientWidth`))
		if err != nil || !ok {
			t.Errorf("%s is wider than a phone screen (%v)", page, err)
		}
	}
	run("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Navigate(base+"/domains"), heading("Domains"))
	fits("domain list")
	shot("10-phone-domains")
	run("phone domain", chromedp.Navigate(base+"/domains/shop.example"), heading("Domain shop.example"))
	fits("domain page")
	shot("11-phone-domain")
	run("phone mailbox", chromedp.Navigate(base+"/mailboxes/alice@shop.example"), heading("Mailbox alice@shop.example"))
	fits("mailbox page")
	shot("12-phone-mailbox")
	run("phone mailboxes", chromedp.Navigate(base+"/domains/shop.example/mailboxes"), heading("Mailboxes of shop.example"))
	fits("mailbox list")
	shot("12b-phone-mailboxes")
	run("desktop", chromedp.EmulateViewport(1280, 900))

	// The owner changes the password.
	run("logout root", logout)
	run("login as alice", login("alice@shop.example", alicePW, "Your mailbox"))
	shot("13-owner")
	run("change password", chromedp.Navigate(base+"/me/password"), heading("Change your password"),
		fill("current_password", alicePW, "password", aliceNew), submit("main form"), heading("Your mailbox"))
	if s := text("main"); !strings.Contains(s, "Password changed.") {
		t.Fatalf("no confirmation:\n%s", s)
	}

	// IMAP takes the new password, not the old one (Python's imaplib).
	imapLogin := func(pass string) (string, error) {
		out, err := exec.Command(python, "-c", `
import imaplib, sys
host, port = sys.argv[1].rsplit(":", 1)
m = imaplib.IMAP4(host, int(port))
try:
    m.login(sys.argv[2], sys.argv[3])
except imaplib.IMAP4.error as e:
    print("NO", e); sys.exit(3)
typ, data = m.select("INBOX")
print(typ, data[0].decode())
m.logout()
`, imapAddr, "alice@shop.example", pass).CombinedOutput()
		return string(out), err
	}
	if out, err := imapLogin(aliceNew); err != nil || !strings.HasPrefix(out, "OK") {
		t.Fatalf("IMAP login with the new password: %v\n%s\nserve log:\n%s", err, out, srv.log)
	}
	if out, err := imapLogin(alicePW); err == nil {
		t.Fatalf("IMAP login with the old password succeeded: %s", out)
	}
	if code := srv.stop(t); code != 0 {
		t.Fatalf("serve exit %d:\n%s", code, srv.log)
	}
}
