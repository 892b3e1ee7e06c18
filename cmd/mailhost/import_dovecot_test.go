package main

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"mailhost/testdb"
	"mailhost/testsupport"
)

// dovecotUser is a mailbox of the imported installation: its password
// hashed by a real Dovecot (doveadm pw) in the scheme, or given as stored.
type dovecotUser struct {
	local, scheme, stored, home string
}

// privateDovecot is a Dovecot of the test's own (IMAP and POP3 on
// loopback, Maildirs under mail/, users in a passwd-file), as the Debian
// how-to sets one up, with the uid and gid 5000 of vmail.
type privateDovecot struct {
	dir, conf, imap, pop3 string
}

const dovecotConf = `base_dir = {{DIR}}/run
state_dir = {{DIR}}/state
log_path = {{DIR}}/dovecot.log
instance_name = mailhost-import-test
listen = 127.0.0.1
protocols = imap pop3
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~
first_valid_uid = 5000
default_internal_user = dovecot
default_login_user = dovenull
pop3_uidl_format = %08Xu%08Xv
passdb {
  driver = passwd-file
  args = scheme=CRYPT username_format=%u {{DIR}}/users
}
userdb {
  driver = passwd-file
  args = username_format=%u {{DIR}}/users
}
namespace inbox {
  inbox = yes
  separator = .
  prefix =
}
service imap-login {
  inet_listener imap {
    port = {{IMAP}}
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = {{POP3}}
  }
  inet_listener pop3s {
    port = 0
  }
}
`

// startDovecot writes the configuration and the users and starts the
// master; it is stopped at cleanup (and by stop).
func startDovecot(t *testing.T, users []dovecotUser) *privateDovecot {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a private Dovecot with the vmail uid needs root")
	}
	dovecot := testsupport.RequireTool(t, "/usr/sbin/dovecot", "dovecot-imapd")
	testsupport.RequireTool(t, "/usr/lib/dovecot/pop3", "dovecot-pop3d")
	base, err := os.MkdirTemp("", "dovecot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil { // the login processes run as dovenull
		t.Fatal(err)
	}
	d := &privateDovecot{dir: base, conf: filepath.Join(base, "dovecot.conf"), imap: freePort(t), pop3: freePort(t)}
	_, iport, _ := strings.Cut(d.imap, ":")
	_, pport, _ := strings.Cut(d.pop3, ":")
	conf := strings.NewReplacer("{{DIR}}", base, "{{IMAP}}", iport, "{{POP3}}", pport).Replace(dovecotConf)
	var lines []string
	for _, u := range users {
		lines = append(lines, fmt.Sprintf("%s@example.org:%s:5000:5000::%s/mail/%s::", u.local, u.stored, base, u.home))
	}
	for name, content := range map[string]string{"dovecot.conf": conf, "users": strings.Join(lines, "\n") + "\n"} {
		if err := os.WriteFile(filepath.Join(base, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(base, "mail"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(base, "mail"), 5000, 5000); err != nil {
		t.Fatal(err)
	}
	// No pipe for its output: the daemon's children would hold it open.
	if err := exec.Command(dovecot, "-c", d.conf).Run(); err != nil {
		log, _ := os.ReadFile(filepath.Join(base, "dovecot.log"))
		t.Fatalf("dovecot: %v\n%s", err, log)
	}
	t.Cleanup(func() { d.stop(t) })
	testsupport.Eventually(t, 30*time.Second, "Dovecot's IMAP listener", func() bool {
		_, err := os.Stat(filepath.Join(base, "run", "master.pid"))
		return err == nil && canDial(d.imap) && canDial(d.pop3)
	})
	return d
}

// stop ends the Dovecot master (by its pid) and waits for it to exit.
func (d *privateDovecot) stop(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(d.dir, "run", "master.pid"))
	if err != nil {
		return
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 || syscall.Kill(pid, syscall.SIGTERM) != nil {
		return
	}
	testsupport.Eventually(t, 30*time.Second, "Dovecot to stop", func() bool { return syscall.Kill(pid, 0) != nil })
}

// hashWith asks Dovecot's doveadm for a hash of password in scheme.
func hashWith(t *testing.T, scheme, password string) string {
	t.Helper()
	out, err := exec.Command(testsupport.RequireTool(t, "doveadm", "dovecot-core"), "pw", "-s", scheme, "-p", password).Output()
	if err != nil {
		t.Fatalf("doveadm pw -s %s: %v", scheme, err)
	}
	return strings.TrimSpace(string(out))
}

// python runs a Python client script of testdata and returns its output.
func python(t *testing.T, script string, args ...string) string {
	t.Helper()
	py := testsupport.RequireTool(t, "python3", "python3")
	out, err := exec.Command(py, append([]string{filepath.Join("testdata", script)}, args...)...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("%s %v: %v\n%s", script, args, err, msg)
	}
	return string(out)
}

// pfaSource makes a Postfix Admin 3.3 database (PostgreSQL) listing the
// users, and returns its DSN.
func pfaSource(t *testing.T, users []dovecotUser) string {
	t.Helper()
	dsn := testdb.NewEmpty(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	schema, err := os.ReadFile("../../pfaimport/testdata/pfa-postgres.sql")
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{string(schema), `INSERT INTO domain (domain, description, transport) VALUES ('example.org', '', 'virtual')`}
	for _, u := range users {
		stored := u.stored
		if u.scheme == "cleartext" {
			stored = strings.TrimPrefix(stored, "{PLAIN}") // as Postfix Admin's encrypt = 'cleartext' keeps it
		}
		a := u.local + "@example.org"
		stmts = append(stmts,
			fmt.Sprintf(`INSERT INTO mailbox (username, password, name, maildir, local_part, domain)
				VALUES ('%s', '%s', '%s', '%s/', '%s', 'example.org')`, a, stored, u.local, u.home, u.local),
			fmt.Sprintf(`INSERT INTO alias (address, goto, domain) VALUES ('%s', '%s', 'example.org')`, a, a))
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%v\n%s", err, s)
		}
	}
	return dsn
}

// TestImportFromDovecot moves a mailbox set up by a real Dovecot (mail
// appended, flags and keywords set, folders created and subscribed, a
// message expunged, POP3 UIDLs shown) and the Postfix Admin database of
// its users into mailhost: an IMAP and POP3 client sees the same
// UIDVALIDITYs, UIDs, flags, keywords, subscriptions and UIDLs as from
// Dovecot, every user logs in with the password it had, and the hash is
// upgraded to mailhost's scheme at that login. A second run imports
// nothing more.
func TestImportFromDovecot(t *testing.T) {
	argon2id := strings.TrimSpace(run1(t, baseEnv("MAILHOST_PASSWORD_ARGON2_TIME=1", "MAILHOST_PASSWORD_ARGON2_MEMORY_KIB=16", // weaker than serve's: rehashed
		"MAILHOST_DATA_DIR="+dataDir(t)), "pw-dave\n", "passwd", "hash"))
	users := []dovecotUser{
		{local: "alice", scheme: "SHA512-CRYPT"},
		{local: "bob", scheme: "MD5-CRYPT"},
		{local: "carol", scheme: "BLF-CRYPT", home: "legacy/carol-maildir"},
		{local: "dave", scheme: "ARGON2ID", stored: argon2id},
		{local: "erin", scheme: "ARGON2I"},
		{local: "frank", scheme: "SHA256-CRYPT"},
		{local: "gina", scheme: "cleartext", stored: "{PLAIN}pw-gina"},
	}
	for i := range users {
		u := &users[i]
		if u.stored == "" {
			u.stored = hashWith(t, u.scheme, "pw-"+u.local)
		}
		if u.scheme == "MD5-CRYPT" {
			u.stored = strings.TrimPrefix(u.stored, "{MD5-CRYPT}") // Postfix Admin's md5crypt: a bare $1$ string
		}
		if u.home == "" {
			u.home = "example.org/" + u.local
		}
	}
	dv := startDovecot(t, users)
	dh, dip, _ := strings.Cut(dv.imap, ":")
	_, dpp, _ := strings.Cut(dv.pop3, ":")
	python(t, "dovecot_fill.py", dh, dip, "alice@example.org", "pw-alice")
	python(t, "dovecot_fill.py", dh, dip, "carol@example.org", "pw-carol")
	before := map[string]string{}
	for _, u := range users {
		before[u.local] = python(t, "mailstate.py", dh, dip, dpp, u.local+"@example.org", "pw-"+u.local)
	}
	dv.stop(t)

	e := newMailEnv(t)
	dsn := pfaSource(t, users)
	args := []string{"import", "postfixadmin", "--from", dsn, "--maildir-root", filepath.Join(dv.dir, "mail"), "--copy",
		"--passwords", "cleartext"}
	out := run1(t, e.env, "", args...)
	t.Log(out)
	if flat := strings.Join(strings.Fields(out), " "); !strings.Contains(flat, "mailboxes: imported 7, existing 0") ||
		!strings.Contains(flat, "messages: imported 8 ") {
		t.Fatalf("first import:\n%s", out)
	}
	e.start(t)
	mh, mip, _ := strings.Cut(e.imap, ":")
	_, mpp, _ := strings.Cut(e.pop3, ":")
	ctx := context.Background()
	for _, u := range users {
		addr := u.local + "@example.org"
		imported, err := e.st.Read().MailboxByAddress(ctx, addr, false)
		if err != nil {
			t.Fatal(err)
		}
		after := python(t, "mailstate.py", mh, mip, mpp, addr, "pw-"+u.local)
		if after != before[u.local] {
			t.Errorf("%s: Dovecot showed\n%s\nmailhost shows\n%s", addr, before[u.local], after)
		}
		m, err := e.st.Read().MailboxByAddress(ctx, addr, false)
		if err != nil {
			t.Fatal(err)
		}
		// Hashed at the import (cleartext) or upgraded at the login.
		upgraded := m.Password != imported.Password || u.scheme == "cleartext"
		if !upgraded || !strings.HasPrefix(m.Password, "{ARGON2ID}$argon2id$v=19$m=64,t=1,") {
			t.Errorf("%s (%s): hash after the login %q, imported %q: not upgraded", addr, u.scheme, m.Password, imported.Password)
		}
	}
	e.stop(t)

	out = run1(t, e.env, "", args...)
	if flat := strings.Join(strings.Fields(out), " "); !strings.Contains(flat, "mailboxes: imported 0, existing 7") ||
		!strings.Contains(flat, "messages: imported 0 (0 bytes), existing 8") || strings.Contains(flat, "differences") ||
		!strings.Contains(flat, "passwords changed here since the first run, kept: 6") {
		t.Fatalf("second import:\n%s", out)
	}
}

// canDial tells whether something listens on addr.
func canDial(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
