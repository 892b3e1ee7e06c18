package imapd_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"mailhost/testsupport"
)

// TestMutt drives mutt, a terminal mail reader, under a pseudo-terminal
// (testdata/pty_run.py) with keys pushed from its command line: it opens
// INBOX over IMAP, flags the first message, deletes the second, reads the
// third, saves the fourth to Archive, syncs the mailbox ($) and quits. The
// server's state shows each action.
func TestMutt(t *testing.T) {
	mutt := testsupport.RequireTool(t, "mutt", "mutt")
	py := testsupport.RequireTool(t, "python3", "python3")
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	for i := 1; i <= 4; i++ {
		appendMsg(t, c, "INBOX", syncMsg(fmt.Sprintf("m%d", i)))
	}

	muttrc := writeMuttrc(t, e, "")
	keys := "<first-entry><flag-message>" +
		"<next-entry><delete-message>" +
		"<next-entry><display-message><exit>" +
		"<next-entry><save-message>=Archive<enter>" +
		"<sync-mailbox><quit>"
	runMutt(t, mutt, py, muttrc, keys)

	got := serverMessages(t, c)
	t.Logf("the server after mutt: %v", got)
	want := map[string]string{"m1": "F", "m3": "S"}
	if fmt.Sprint(got["INBOX"]) != fmt.Sprint(want) {
		t.Errorf("after mutt, INBOX holds %v, want %v (m1 flagged, m2 deleted, m3 read, m4 saved to Archive)", got["INBOX"], want)
	}
	if a := got["Archive"]; len(a) != 1 || !slices.Contains([]string{"", "S"}, a["m4"]) {
		t.Errorf("after mutt, Archive holds %v, want m4", a)
	}
	if files := e.files(t, "bob@example.test", ""); len(files) != 2 {
		t.Errorf("the server's INBOX Maildir holds %v, want 2 messages", files)
	}
}

// TestMuttQresync has mutt resynchronise from its header cache with
// CONDSTORE and QRESYNC (RFC 7162), as a phone reconnects: between two
// mutt sessions another client, on another node, expunges, flags and
// appends; the second session acts on messages by their place in its
// index, so a missed VANISHED or flag change would make it act on the
// wrong message.
func TestMuttQresync(t *testing.T) {
	mutt := testsupport.RequireTool(t, "mutt", "mutt")
	py := testsupport.RequireTool(t, "python3", "python3")
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	for i := 1; i <= 4; i++ {
		appendMsg(t, c, "INBOX", syncMsg(fmt.Sprintf("m%d", i)))
	}
	muttrc := writeMuttrc(t, e, `set header_cache = "%DIR%/hcache"
set imap_condstore = yes
set imap_qresync = yes
`)
	runMutt(t, mutt, py, muttrc, "<first-entry><flag-message><sync-mailbox><quit>")

	// The other client is on a second node: its modseqs are the index's.
	o := e.dial(t, e.startNode(t), "bob@example.test", "secret", nil)
	if _, err := o.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	storeFlags(t, o, "m2", imap.StoreFlagsAdd, imap.FlagDeleted)
	if _, err := o.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	storeFlags(t, o, "m1", imap.StoreFlagsAdd, imap.FlagAnswered)
	storeFlags(t, o, "m4", imap.StoreFlagsAdd, imap.FlagSeen)
	appendMsg(t, o, "INBOX", syncMsg("m5"))
	if err := o.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}

	// The second entry is now m3, the last m5; m1 keeps the \Answered
	// mutt learnt of (its sync writes the flags it knows).
	log := runMutt(t, mutt, py, muttrc, "<first-entry><next-entry><delete-message><last-entry><flag-message><sync-mailbox><quit>")
	// mutt resynchronises with a UID FETCH ... (CHANGEDSINCE m VANISHED)
	// after a SELECT (CONDSTORE), having ENABLEd QRESYNC.
	for _, want := range []string{"< * ENABLED QRESYNC\n", "(CHANGEDSINCE ", "< * VANISHED (EARLIER) 2\n",
		"FLAGS (\\Answered \\Flagged) MODSEQ ("} {
		if !strings.Contains(log, want) {
			t.Errorf("mutt's log lacks %q", want)
		}
	}
	got := serverMessages(t, c)["INBOX"]
	want := map[string]string{"m1": "FR", "m4": "S", "m5": "F"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after mutt's resynchronisation, INBOX holds %v, want %v", got, want)
	}
	if t.Failed() {
		t.Log(log)
	}
}

// writeMuttrc writes a muttrc for bob's account on the first node, with
// extra lines (%DIR% is the muttrc's directory).
func writeMuttrc(t *testing.T, e *env, extra string) string {
	t.Helper()
	dir := t.TempDir()
	muttrc := filepath.Join(dir, "muttrc")
	cfg := fmt.Sprintf(`set imap_user = "bob@example.test"
set imap_pass = "secret"
set folder = "imap://127.0.0.1:%s/"
set spoolfile = "+INBOX"
set ssl_starttls = no
set ssl_force_tls = no
set imap_authenticators = "login"
set sort = mailbox-order
set resolve = no
set delete = yes
set quit = yes
set move = no
set confirmappend = no
set confirmcreate = no
set mark_old = no
set wait_key = no
set beep = no
set record = ""
set header_cache = ""
set message_cachedir = ""
set tmpdir = "%s"
set pager_stop = yes
`, port(e.nodes[0].addr), dir) + strings.ReplaceAll(extra, "%DIR%", dir)
	if err := os.WriteFile(muttrc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return muttrc
}

// runMutt runs mutt on a muttrc under a pseudo-terminal, with keys pushed
// as if typed, and fails t unless it exits with status 0 within a minute.
// It returns mutt's debug log (level 2: the IMAP commands it sent).
func runMutt(t *testing.T, mutt, py, muttrc, keys string) string {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(py, "testdata/pty_run.py", "60", mutt, "-n", "-F", muttrc, "-d", "2", "-e", "push '"+keys+"'")
	cmd.Env = append(os.Environ(), "HOME="+home)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mutt %s: %v\n%s", keys, err, out)
	}
	b, err := os.ReadFile(filepath.Join(home, ".muttdebug0"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMuttUTF8Folder has mutt, which ENABLEs UTF8=ACCEPT (RFC 6855), save
// a message to a new folder with a non-ASCII name; a client that did not
// enable it sees the same folder in modified UTF-7, and its message.
func TestMuttUTF8Folder(t *testing.T) {
	mutt := testsupport.RequireTool(t, "mutt", "mutt")
	py := testsupport.RequireTool(t, "python3", "python3")
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	appendMsg(t, c, "INBOX", syncMsg("m1"))
	muttrc := writeMuttrc(t, e, "set charset = \"utf-8\"\n")
	log := runMutt(t, mutt, py, muttrc, "<first-entry><save-message>=Réunions/été<enter><sync-mailbox><quit>")
	got := serverMessages(t, c)
	if fmt.Sprint(got["Réunions/été"]) != "map[m1:]" || len(got["INBOX"]) != 0 {
		t.Errorf("after mutt saved m1 to Réunions/été: %v", got)
	}
	if !strings.Contains(log, "< * ENABLED UTF8=ACCEPT\n") {
		t.Errorf("mutt did not enable UTF8=ACCEPT")
	}
	if t.Failed() {
		t.Log(log)
	}
}
