package imapd_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

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
`, port(e.nodes[0].addr), dir)
	if err := os.WriteFile(muttrc, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	keys := "<first-entry><flag-message>" +
		"<next-entry><delete-message>" +
		"<next-entry><display-message><exit>" +
		"<next-entry><save-message>=Archive<enter>" +
		"<sync-mailbox><quit>"
	cmd := []string{"testdata/pty_run.py", "60", mutt, "-n", "-F", muttrc, "-e", "push '" + keys + "'"}
	out := run(t, py, cmd...)
	t.Log(out)

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
