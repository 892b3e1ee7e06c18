package pop3d_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mailhost/auth"
	"mailhost/maildir"
	"mailhost/mda"
	"mailhost/store"
	"mailhost/testsupport"
)

const alice = "alice@example.com"

func TestSessionTranscript(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.addMailbox(t, alice, "secret")
	uid1 := e.deliver(t, alice, message("one", "line 1\n.dotted\n..two dots\nlast line without newline"))
	e.deliver(t, alice, "Subject: crlf\r\n\r\nbody\r\n")
	uidvalidity := e.int64(t, `SELECT uidvalidity FROM folders WHERE name = 'INBOX'`)

	c := dial(t, e.plain)
	c.expect("CAPA", "+OK")
	caps := strings.Join(c.multi(), "|")
	for _, want := range []string{"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "USER", "SASL PLAIN LOGIN", "STLS"} {
		if !strings.Contains("|"+caps+"|", "|"+want+"|") {
			t.Errorf("CAPA %q lacks %s", caps, want)
		}
	}
	c.login("Alice@Example.COM", "secret")

	m1 := "From: a@remote.test\r\nTo: alice@example.com\r\nSubject: one\r\n\r\nline 1\r\n.dotted\r\n..two dots\r\nlast line without newline"
	m2 := "Subject: crlf\r\n\r\nbody\r\n"
	total := len(m1) + len(m2)
	c.expect("STAT", fmt.Sprintf("+OK 2 %d", total))
	c.expect("LIST", fmt.Sprintf("+OK 2 messages (%d octets)", total))
	if got, want := c.multi(), []string{fmt.Sprintf("1 %d", len(m1)), fmt.Sprintf("2 %d", len(m2))}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("LIST = %q; want %q", got, want)
	}
	c.expect("LIST 2", fmt.Sprintf("+OK 2 %d", len(m2)))
	c.expect("UIDL 1", fmt.Sprintf("+OK 1 %d.%d", uidvalidity, uid1))
	c.expect("UIDL", "+OK")
	if got := c.multi(); len(got) != 2 || got[0] != fmt.Sprintf("1 %d.%d", uidvalidity, uid1) {
		t.Fatalf("UIDL = %q", got)
	}

	c.expect("RETR 1", fmt.Sprintf("+OK %d octets", len(m1)))
	got := strings.Join(c.multi(), "\r\n")
	want := "From: a@remote.test\r\nTo: alice@example.com\r\nSubject: one\r\n\r\nline 1\r\n..dotted\r\n...two dots\r\nlast line without newline"
	if got != want {
		t.Fatalf("RETR 1 =\n%q\nwant (byte-stuffed, CRLF)\n%q", got, want)
	}
	c.expect("TOP 1 0", "+OK")
	if got := c.multi(); len(got) != 4 || got[3] != "" {
		t.Fatalf("TOP 1 0 = %q; want the three header lines and the blank line", got)
	}
	c.expect("TOP 1 2", "+OK")
	if got := c.multi(); len(got) != 6 || got[5] != "..dotted" {
		t.Fatalf("TOP 1 2 = %q", got)
	}
	c.expect("TOP 1 100", "+OK")
	if got := c.multi(); len(got) != 8 {
		t.Fatalf("TOP 1 100 = %q; want the whole message", got)
	}
	c.expect("NOOP", "+OK")
	c.expect("DELE 1", "+OK")
	c.expect("DELE 1", "-ERR Message 1 is deleted.")
	c.expect("RETR 1", "-ERR Message 1 is deleted.")
	c.expect("STAT", fmt.Sprintf("+OK 1 %d", len(m2)))
	c.expect("RSET", fmt.Sprintf("+OK Maildrop has 2 messages (%d octets).", total))
	c.expect("DELE 2", "+OK")
	c.expect("QUIT", "+OK Logging out, 1 messages deleted.")
	if !c.closed() {
		t.Fatal("connection open after QUIT")
	}
	if u := e.usage(t, alice); u.files != 1 || u.rows != 1 || u.messages != 1 || u.bytes != int64(len(message("one", "line 1\n.dotted\n..two dots\nlast line without newline"))) {
		t.Fatalf("after QUIT: %+v", u)
	}
	// The session's mail log line.
	if log := e.log.String(); !strings.Contains(log, "msg=\"pop3 session\"") || !strings.Contains(log, "user=alice@example.com") ||
		!strings.Contains(log, "retrieved=1") || !strings.Contains(log, "deleted=1") {
		t.Fatalf("no session log line with user, retrieved and deleted:\n%s", log)
	}
	if strings.Contains(e.log.String(), "secret") {
		t.Fatal("the password is in the log")
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.addMailbox(t, alice, "secret")
	e.deliver(t, alice, message("one", "x\n"))
	c := dial(t, e.plain)
	for _, tc := range []struct{ send, want string }{
		{"FOO", "-ERR Unknown command."},
		{"XYZZY", "-ERR Unknown command."},
		{"", "-ERR Empty command."},
		{"RE1R 1", "-ERR Unknown command."},
		{"STAT", "-ERR STAT is not allowed before login (USER/PASS or AUTH first)."},
		{"RETR 1", "-ERR RETR is not allowed before login"},
		{"NOOP", "-ERR NOOP is not allowed before login"},
		{"PASS secret", "-ERR USER first."},
		{"USER", "-ERR USER needs a user name."},
		{"APOP alice@example.com 0123456789abcdef0123456789abcdef", "-ERR [AUTH] APOP is not supported"},
		{"AUTH CRAM-MD5", "-ERR Unsupported authentication mechanism"},
		{"AUTH PLAIN !!!notbase64", "-ERR Invalid SASL response (not base64)."},
		{"AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("no nuls")), "-ERR Invalid SASL PLAIN response"},
		{"AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("bob@example.com\x00alice@example.com\x00secret")), "-ERR [AUTH] Logging in as another user is not supported."},
		{"CAPA x", "-ERR CAPA takes no arguments."},
		{"STLS now", "-ERR STLS takes no arguments."},
		{"USER " + alice, "+OK"},
		{"PASS wrong", "-ERR [AUTH] Authentication failed."},
		{strings.Repeat("A", 300), "-ERR Line too long"},
		{"LIST " + strings.Repeat("1", 41), "-ERR Argument too long."},
		{"LIST \x01", "-ERR Invalid character in argument."},
		{"CAPA", "+OK"},
	} {
		if got := c.cmd(tc.send); !strings.HasPrefix(got, tc.want) {
			t.Fatalf("%.40q: got %q; want %q", tc.send, got, tc.want)
		}
	}
	c.multi()
	c.login(alice, "secret")
	for _, tc := range []struct{ send, want string }{
		{"USER bob", "-ERR Already logged in."},
		{"STLS", "-ERR Already logged in."},
		{"RETR", "-ERR Missing message number."},
		{"RETR x", "-ERR Invalid message number: x."},
		{"RETR -1", "-ERR Invalid message number: -1."},
		{"RETR 0", "-ERR There is no message 0."},
		{"RETR 2", "-ERR There is no message 2."},
		{"RETR 99999999999", "-ERR Invalid message number: 99999999999."},
		{"LIST 1 2", "-ERR Too many arguments to LIST."},
		{"STAT 1", "-ERR Too many arguments to STAT."},
		{"TOP 1", "-ERR TOP needs a message number and a number of lines."},
		{"TOP 1 x", "-ERR Invalid number of lines: x."},
		{"TOP 1 -1", "-ERR Invalid number of lines: -1."},
		{"DELE 3", "-ERR There is no message 3."},
		{"noop", "+OK"},
		{"list 1", "+OK 1 "},
	} {
		if got := c.cmd(tc.send); !strings.HasPrefix(got, tc.want) {
			t.Fatalf("%q: got %q; want %q", tc.send, got, tc.want)
		}
	}
	c.expect("QUIT", "+OK Logging out, 0 messages deleted.")
	if u := e.usage(t, alice); u.files != 1 || u.rows != 1 {
		t.Fatalf("bad input changed the mailbox: %+v", u)
	}
}

func TestPipelining(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.addMailbox(t, alice, "secret")
	e.deliver(t, alice, message("one", "x\n"))
	c := dial(t, e.plain)
	c.send("USER " + alice + "\r\nPASS secret\r\nSTAT\r\nRETR 1\r\nNOOP")
	for _, want := range []string{"+OK", "+OK Logged in.", "+OK 1 ", "+OK "} {
		if got := c.line(); !strings.HasPrefix(got, want) {
			t.Fatalf("got %q; want %q", got, want)
		}
	}
	c.multi()
	if got := c.line(); got != "+OK" {
		t.Fatalf("NOOP: %q", got)
	}
}

func TestTooManyBadCommandsDisconnect(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := dial(t, e.plain)
	for i := 0; i < 19; i++ {
		c.expect("BOGUS", "-ERR Unknown command.")
	}
	c.expect("BOGUS", "-ERR Unknown command.")
	if got := c.line(); got != "-ERR Too many invalid commands, closing connection." {
		t.Fatalf("got %q", got)
	}
	if !c.closed() {
		t.Fatal("still open")
	}
}

func TestPasswordWithSpacesAndLongUser(t *testing.T) {
	e := newEnv(t, envOptions{})
	long := "firstname.lastname.department@subdomain.example.com" // over RFC 2449's 40
	e.addMailbox(t, long, " leading and trailing ")
	c := dial(t, e.plain)
	c.login(long, " leading and trailing ")
	c.expect("STAT", "+OK 0 0")
}

func TestFailedLoginsCloseAndThrottle(t *testing.T) {
	e := newEnv(t, envOptions{throttle: auth.ThrottleConfig{MaxFailures: 4, Block: time.Hour}})
	e.addMailbox(t, alice, "secret")
	c := dial(t, e.plain)
	for i := 0; i < 3; i++ {
		c.expect("USER "+alice, "+OK")
		c.expect("PASS nope", "-ERR [AUTH] Authentication failed.")
	}
	if !c.closed() {
		t.Fatal("connection still open after 3 failed logins")
	}
	c = dial(t, e.plain)
	c.expect("USER "+alice, "+OK")
	c.expect("PASS nope", "-ERR [AUTH] Authentication failed.") // the 4th: the block begins
	c = dial(t, e.plain)
	c.expect("USER "+alice, "+OK")
	c.expect("PASS secret", "-ERR [SYS/TEMP] Too many failed logins; try again later.")
	if !c.closed() {
		t.Fatal("throttled connection still open")
	}
	if !strings.Contains(e.log.String(), "login blocked after too many failures") {
		t.Fatal("block not logged")
	}
}

func TestPlaintextLoginNeedsTLS(t *testing.T) {
	e := newEnv(t, envOptions{noLoopbackPlaintext: true})
	e.addMailbox(t, alice, "secret")
	c := dial(t, e.plain)
	c.expect("CAPA", "+OK")
	caps := strings.Join(c.multi(), "|")
	if strings.Contains(caps, "USER") || strings.Contains(caps, "SASL") || !strings.Contains(caps, "STLS") {
		t.Fatalf("CAPA before TLS = %q; want STLS and no USER or SASL", caps)
	}
	c.expect("USER "+alice, "-ERR [AUTH] Plaintext authentication disallowed")
	c.expect("PASS secret", "-ERR [AUTH] Plaintext authentication disallowed")
	c.expect("AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00"+alice+"\x00secret")), "-ERR [AUTH] Plaintext authentication disallowed")
	// Over TLS it works: see the poplib tests for STLS and POP3S.
}

func TestIdleTimeout(t *testing.T) {
	e := newEnv(t, envOptions{idle: 300 * time.Millisecond})
	e.addMailbox(t, alice, "secret")
	e.deliver(t, alice, message("one", "x\n"))
	c := dial(t, e.plain)
	c.login(alice, "secret")
	c.expect("DELE 1", "+OK")
	if got := c.line(); got != "-ERR Disconnected for inactivity." {
		t.Fatalf("after idling: %q", got)
	}
	if !c.closed() {
		t.Fatal("still open")
	}
	if u := e.usage(t, alice); u.files != 1 || u.rows != 1 {
		t.Fatalf("an idle timeout deleted: %+v", u)
	}
}

func TestDroppedConnectionDeletesNothing(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.addMailbox(t, alice, "secret")
	for i := 0; i < 3; i++ {
		e.deliver(t, alice, message(fmt.Sprint(i), "x\n"))
	}
	before := e.usage(t, alice)
	c := dial(t, e.plain)
	c.login(alice, "secret")
	for i := 1; i <= 3; i++ {
		c.expect(fmt.Sprintf("DELE %d", i), "+OK")
	}
	c.conn.Close()
	// The lock is released when the server notices: then a new session
	// sees every message.
	c = waitLogin(t, e, alice, "secret")
	c.expect("STAT", "+OK 3 ")
	if after := e.usage(t, alice); after != before {
		t.Fatalf("after a dropped connection: %+v; before %+v", after, before)
	}
}

// waitLogin logs in, retrying while the mailbox is still locked by a
// session that the server has not yet seen end.
func waitLogin(t *testing.T, e *env, user, pw string) *client {
	t.Helper()
	var c *client
	testsupport.Eventually(t, 30*time.Second, "the mailbox lock to be free", func() bool {
		c = dial(t, e.plain)
		c.expect("USER "+user, "+OK")
		got := c.cmd("PASS " + pw)
		if strings.HasPrefix(got, "+OK") {
			return true
		}
		if !strings.HasPrefix(got, "-ERR [IN-USE]") {
			t.Fatalf("PASS: %q", got)
		}
		c.conn.Close()
		return false
	})
	return c
}

func TestDeleteAtQuit(t *testing.T) {
	e := newEnv(t, envOptions{})
	id := e.addMailbox(t, alice, "secret")
	var sizes int64
	for i := 0; i < 4; i++ {
		msg := message(fmt.Sprint(i), strings.Repeat("body line\n", i+1))
		sizes += int64(len(msg))
		e.deliver(t, alice, msg)
	}
	modseq := e.int64(t, `SELECT highestmodseq FROM folders WHERE mailbox_id = $1`, id)
	folderID := e.int64(t, `SELECT id FROM folders WHERE mailbox_id = $1`, id)

	ctx := context.Background()
	listen, err := pgx.ConnectConfig(ctx, e.st.Pool().Config().ConnConfig.Copy())
	if err != nil {
		t.Fatal(err)
	}
	defer listen.Close(ctx)
	if _, err := listen.Exec(ctx, "LISTEN mailhost_folder"); err != nil {
		t.Fatal(err)
	}

	c := dial(t, e.plain)
	c.login(alice, "secret")
	c.expect("DELE 1", "+OK")
	c.expect("DELE 3", "+OK")
	// Before QUIT nothing is gone.
	if u := e.usage(t, alice); u.files != 4 || u.rows != 4 {
		t.Fatalf("before QUIT: %+v", u)
	}
	c.expect("QUIT", "+OK Logging out, 2 messages deleted.")
	u := e.usage(t, alice)
	left := e.int64(t, `SELECT coalesce(sum(size), 0) FROM messages WHERE folder_id = $1`, folderID)
	if u.files != 2 || u.rows != 2 || u.messages != 2 || u.bytes != left {
		t.Fatalf("after QUIT: %+v (rows hold %d bytes)", u, left)
	}
	if m := e.int64(t, `SELECT highestmodseq FROM folders WHERE id = $1`, folderID); m <= modseq {
		t.Fatalf("highestmodseq %d not bumped from %d", m, modseq)
	}
	nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	n, err := listen.WaitForNotification(nctx)
	if err != nil || n.Payload != fmt.Sprintf("%d:expunge", folderID) {
		t.Fatalf("notification = %+v, %v; want %d:expunge", n, err, folderID)
	}
	// The remaining ones keep their UIDs: UIDL is stable across sessions.
	c = dial(t, e.plain)
	c.login(alice, "secret")
	c.expect("UIDL", "+OK")
	uids := c.multi()
	if len(uids) != 2 || !strings.HasSuffix(uids[0], ".2") || !strings.HasSuffix(uids[1], ".4") {
		t.Fatalf("UIDL after deleting 1 and 3 = %q", uids)
	}
}

func TestMessageGoneMeanwhile(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.addMailbox(t, alice, "secret")
	e.deliver(t, alice, message("one", "x\n"))
	e.deliver(t, alice, message("two", "y\n"))
	c := dial(t, e.plain)
	c.login(alice, "secret")
	// Another client (IMAP) expunges message 1 during the session.
	key := ""
	if err := e.st.Pool().QueryRow(context.Background(), `DELETE FROM messages WHERE uid = 1 RETURNING key`).Scan(&key); err != nil {
		t.Fatal(err)
	}
	e.exec(t, `UPDATE mailboxes SET used_messages = 1, used_bytes = (SELECT sum(size) FROM messages)`)
	if err := os.Remove(filepath.Join(e.inbox(t, alice).Path, "new", key)); err != nil {
		t.Fatal(err)
	}
	c.expect("RETR 1", "-ERR Message 1 no longer exists")
	c.expect("DELE 1", "+OK")
	c.expect("DELE 2", "+OK")
	c.expect("QUIT", "+OK Logging out, 1 messages deleted.")
	if u := e.usage(t, alice); u.files != 0 || u.rows != 0 || u.messages != 0 || u.bytes != 0 {
		t.Fatalf("after QUIT: %+v", u)
	}
}

func TestFlagsRenamedFileStillServed(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.addMailbox(t, alice, "secret")
	e.deliver(t, alice, message("one", "x\n"))
	// IMAP marks it \Seen: the file moves to cur/ with :2,S; the index
	// row may still name the old file.
	f := e.inbox(t, alice)
	var name string
	if err := e.st.Pool().QueryRow(context.Background(), `SELECT filename FROM messages`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	if _, err := f.SetFlags(name, "S"); err != nil {
		t.Fatal(err)
	}
	c := dial(t, e.plain)
	c.login(alice, "secret")
	c.expect("RETR 1", "+OK")
	c.multi()
	c.expect("DELE 1", "+OK")
	c.expect("QUIT", "+OK Logging out, 1 messages deleted.")
	if u := e.usage(t, alice); u.files != 0 || u.rows != 0 {
		t.Fatalf("after QUIT: %+v", u)
	}
}

func TestInUse(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.addMailbox(t, alice, "secret")
	e.addMailbox(t, "bob@example.com", "bobpw")
	c1 := dial(t, e.plain)
	c1.login(alice, "secret")

	c2 := dial(t, e.plain)
	c2.expect("USER "+alice, "+OK")
	c2.expect("PASS secret", "-ERR [IN-USE] Mailbox is locked by another POP3 session")
	// The session stays usable: another mailbox logs in.
	c2.login("bob@example.com", "bobpw")

	// A second node on the same database is refused too.
	e2 := newEnv(t, envOptions{st: e.st, root: e.root})
	c3 := dial(t, e2.plain)
	c3.expect("USER "+alice, "+OK")
	c3.expect("PASS secret", "-ERR [IN-USE]")

	c1.expect("QUIT", "+OK")
	c4 := waitLogin(t, e2, alice, "secret")
	c4.expect("QUIT", "+OK")
}

func TestShutdownEndsIdleSessions(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.addMailbox(t, alice, "secret")
	e.deliver(t, alice, message("one", "x\n"))
	c := dial(t, e.plain)
	c.login(alice, "secret")
	c.expect("DELE 1", "+OK")
	e.stop()
	if got := c.line(); got != "-ERR [SYS/TEMP] Server shutting down." {
		t.Fatalf("at shutdown: %q", got)
	}
	if u := e.usage(t, alice); u.files != 1 || u.rows != 1 {
		t.Fatalf("shutdown deleted: %+v", u)
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.addMailbox(t, alice, "secret")
	e.deliver(t, alice, message("one", "x\n"))
	c := dial(t, e.plain)
	c.login(alice, "secret")
	c.expect("RETR 1", "+OK")
	c.multi()
	c.expect("DELE 1", "+OK")
	c.expect("QUIT", "+OK")
	c.closed()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			got[mf.GetName()] += m.GetCounter().GetValue()
		}
	}
	for name, want := range map[string]float64{
		"mailhost_pop3_sessions_total": 1, "mailhost_pop3_retrieved_messages_total": 1,
		"mailhost_pop3_deleted_messages_total": 1, "mailhost_auth_logins_total": 1,
	} {
		if got[name] != want {
			t.Errorf("%s = %v; want %v", name, got[name], want)
		}
	}
}

// A message the delivery agent stores is served, and deleting it gives
// back exactly the quota it charged.
func TestDeliveredByTheMDA(t *testing.T) {
	e := newEnv(t, envOptions{})
	id := e.addMailbox(t, alice, "secret")
	folderID := e.int64(t, `SELECT id FROM folders WHERE mailbox_id = $1`, id)
	agent := &mda.Agent{Root: e.root, Owner: maildir.Owner{UID: -1, GID: -1}, Names: e.names, Index: e.st}
	body := "Subject: via mda\r\n\r\nhello\r\n.\r\n"
	_, err := agent.Deliver(context.Background(), mda.Message{Body: []byte(body)}, []mda.Recipient{{
		Target: store.LocalTarget{MailboxID: id, Address: alice, Domain: "example.com", Maildir: "example.com/alice/",
			Folder: "INBOX", FolderID: folderID},
		Header: []byte("Delivered-To: " + alice + "\r\n"),
	}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "Delivered-To: " + alice + "\r\n" + body
	c := dial(t, e.plain)
	c.login(alice, "secret")
	c.expect("LIST 1", fmt.Sprintf("+OK 1 %d", len(want)))
	c.expect("RETR 1", "+OK")
	if got := strings.Join(c.multi(), "\r\n") + "\r\n"; got != strings.Replace(want, "\r\n.\r\n", "\r\n..\r\n", 1) {
		t.Fatalf("RETR = %q", got)
	}
	if u := e.usage(t, alice); u.bytes != int64(len(want)) || u.messages != 1 {
		t.Fatalf("charged: %+v", u)
	}
	c.expect("DELE 1", "+OK")
	c.expect("QUIT", "+OK Logging out, 1 messages deleted.")
	if u := e.usage(t, alice); u != (usage{}) {
		t.Fatalf("after QUIT: %+v; want nothing left and no usage", u)
	}
}

// Files another program put into the Maildir (or a delivery that crashed
// before its commit left) are indexed at login, as an IMAP SELECT does.
func TestAdoptsUnindexedFiles(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.addMailbox(t, alice, "secret")
	e.deliver(t, alice, message("indexed", "x\n"))
	dir := e.inbox(t, alice).Path
	dropped := "Subject: dropped by procmail\n\nhi\n"
	if err := os.WriteFile(filepath.Join(dir, "new", "1700000000.M1P1.otherhost"), []byte(dropped), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cur", "1700000001.M1P1.otherhost:2,SR"), []byte(dropped), 0o600); err != nil {
		t.Fatal(err)
	}
	c := dial(t, e.plain)
	c.login(alice, "secret")
	c.expect("STAT", "+OK 3 ")
	c.expect("UIDL", "+OK")
	first := c.multi()
	c.expect("RETR 2", "+OK")
	c.multi()
	c.expect("QUIT", "+OK")
	if u := e.usage(t, alice); u.rows != 3 || u.messages != 3 {
		t.Fatalf("after adoption: %+v", u)
	}
	if f := e.int64(t, `SELECT count(*) FROM messages WHERE flags = ARRAY['\Answered', '\Seen']`); f != 1 {
		t.Fatalf("flags of the cur/ file not indexed (%d rows)", f)
	}
	// Nothing new: the next login does not adopt again, and UIDs hold.
	c = dial(t, e.plain)
	c.login(alice, "secret")
	c.expect("UIDL", "+OK")
	if again := c.multi(); strings.Join(again, "|") != strings.Join(first, "|") {
		t.Fatalf("UIDL changed: %q then %q", first, again)
	}
	if n := strings.Count(e.log.String(), "pop3 adopted files"); n != 1 {
		t.Fatalf("adopted %d times; want once", n)
	}
}

// Commands pipelined after STLS could have been injected by a man in the
// middle before TLS: they are dropped, not run (CVE-2011-0411 class).
func TestSTLSDropsPipelinedInput(t *testing.T) {
	e := newEnv(t, envOptions{noLoopbackPlaintext: true})
	e.addMailbox(t, alice, "secret")
	c := dial(t, e.plain)
	c.send("STLS\r\nUSER " + alice)
	if got := c.line(); got != "+OK Begin TLS negotiation now." {
		t.Fatalf("STLS: %q", got)
	}
	tc := tls.Client(c.conn, &tls.Config{InsecureSkipVerify: true}) // self-signed test certificate
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake after pipelined input: %v", err)
	}
	c.conn, c.r = tc, bufio.NewReader(tc)
	// Had "USER alice" been run, PASS would be accepted now.
	c.expect("PASS secret", "-ERR USER first.")
	c.expect("STLS", "-ERR Command not permitted when TLS active.")
	c.login(alice, "secret")
	if !strings.Contains(e.log.String(), "discarded input pipelined after STLS") {
		t.Fatal("the discarded input is not logged")
	}
}

// A client that hangs up in the middle of a RETR: the session ends, its
// lock goes, nothing is deleted.
func TestDisconnectMidRETR(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.addMailbox(t, alice, "secret")
	e.deliver(t, alice, message("small", "x\n"))
	e.deliver(t, alice, message("large", strings.Repeat("0123456789 abcdefghijklmnopqrstuvwxyz\n", 200_000))) // 7.6 MB
	before := e.usage(t, alice)
	c := dial(t, e.plain)
	c.login(alice, "secret")
	c.expect("DELE 1", "+OK")
	c.expect("RETR 2", "+OK")
	buf := make([]byte, 4096)
	if _, err := io.ReadFull(c.r, buf); err != nil {
		t.Fatal(err)
	}
	c.conn.Close()
	c = waitLogin(t, e, alice, "secret")
	c.expect("STAT", "+OK 2 ")
	if after := e.usage(t, alice); after != before {
		t.Fatalf("after a hang-up mid-RETR: %+v; before %+v", after, before)
	}
}

func TestConnectionsPerClientLimit(t *testing.T) {
	e := newEnv(t, envOptions{maxConnsPerClient: 2})
	c1, c2 := dial(t, e.plain), dial(t, e.plain)
	c, err := net.Dial("tcp", e.plain)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	third := &client{t: t, conn: c, r: bufio.NewReader(c)}
	if got := third.line(); got != "-ERR [SYS/TEMP] Too many connections from your address; try again later." {
		t.Fatalf("third connection: %q", got)
	}
	if !third.closed() {
		t.Fatal("third connection left open")
	}
	// Over implicit TLS the refusal comes after the handshake, never in
	// clear text.
	tc, err := tls.Dial("tcp", e.tlsAddr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	third = &client{t: t, conn: tc, r: bufio.NewReader(tc)}
	if got := third.line(); got != "-ERR [SYS/TEMP] Too many connections from your address; try again later." {
		t.Fatalf("third connection over TLS: %q", got)
	}
	if !third.closed() {
		t.Fatal("third connection over TLS left open")
	}
	c1.expect("QUIT", "+OK")
	c1.closed()
	c2.expect("NOOP", "-ERR NOOP is not allowed before login")
	// The server counts c1 out once its session has ended: a new
	// connection is served again.
	testsupport.Eventually(t, 30*time.Second, "a connection to be served again after c1 left", func() bool {
		c, err := net.Dial("tcp", e.plain)
		if err != nil {
			t.Fatal(err)
		}
		cl := &client{t: t, conn: c, r: bufio.NewReader(c)}
		g := cl.line()
		c.Close()
		return strings.HasPrefix(g, "+OK")
	})
}
