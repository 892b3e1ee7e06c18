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

// TestFetchmailIMAP has fetchmail download over IMAP with STARTTLS, as a
// user's cron job does: with fetchall and keep, every message stays and is
// \Seen; then with flush, it downloads only the new one and deletes
// (expunges) it and the old ones.
func TestFetchmailIMAP(t *testing.T) {
	fetchmail := testsupport.RequireTool(t, "fetchmail", "fetchmail")
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	var ids []string
	for i := 1; i <= 8; i++ {
		id := fmt.Sprintf("f%d", i)
		ids = append(ids, id)
		var flags []imap.Flag
		if i <= 2 {
			flags = []imap.Flag{imap.FlagSeen}
		}
		appendMsg(t, c, "INBOX", syncMsg(id), flags...)
	}
	home := t.TempDir()
	fetch := func(keep string) []string {
		t.Helper()
		outDir := filepath.Join(home, "out"+keep)
		if err := os.Mkdir(outDir, 0o700); err != nil {
			t.Fatal(err)
		}
		mda := filepath.Join(home, "mda.sh")
		if err := os.WriteFile(mda, []byte("#!/bin/sh\nexec cat > \""+outDir+"/msg.$$\"\n"), 0o700); err != nil {
			t.Fatal(err)
		}
		rc := fmt.Sprintf("set no bouncemail\npoll 127.0.0.1 service %s protocol IMAP auth password timeout 20\n"+
			"  user %q password %q is root here\n  sslproto TLS1.2+ no sslcertck\n  %s\n  mda %q\n",
			port(e.nodes[0].addr), "bob@example.test", "secret", keep, mda)
		rcFile := filepath.Join(home, "fetchmailrc")
		if err := os.WriteFile(rcFile, []byte(rc), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(fetchmail, "-f", rcFile, "--nosyslog", "--nodetach", "--pidfile", filepath.Join(home, "pid"))
		cmd.Env = append(os.Environ(), "HOME="+home, "FETCHMAILHOME="+home)
		out, err := cmd.CombinedOutput()
		t.Logf("fetchmail %s:\n%s", keep, out)
		if err != nil {
			t.Fatalf("fetchmail %s: %v", keep, err)
		}
		var got []string
		files, _ := os.ReadDir(outDir)
		for _, f := range files {
			b, _ := os.ReadFile(filepath.Join(outDir, f.Name()))
			_, rest, _ := strings.Cut(string(b), "Message-ID: <")
			id, _, _ := strings.Cut(rest, "@")
			if !strings.Contains(string(b), "body of "+id) {
				t.Errorf("fetchmail delivered %q", b)
			}
			got = append(got, id)
		}
		slices.Sort(got)
		return got
	}

	if got := fetch("fetchall keep"); !slices.Equal(got, ids) {
		t.Errorf("fetchmail fetchall keep delivered %v, want %v", got, ids)
	}
	want := map[string]string{}
	for _, id := range ids {
		want[id] = "S"
	}
	if got := serverMessages(t, c)["INBOX"]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after fetchall keep, INBOX holds %v, want all \\Seen", got)
	}

	appendMsg(t, c, "INBOX", syncMsg("f9"))
	if got := fetch("no keep flush"); !slices.Equal(got, []string{"f9"}) {
		t.Errorf("fetchmail (new only, no keep, flush) delivered %v, want [f9]", got)
	}
	if got := serverMessages(t, c)["INBOX"]; len(got) != 0 {
		t.Errorf("after fetchmail with flush, INBOX holds %v", got)
	}
	if files := e.files(t, "bob@example.test", ""); len(files) != 0 {
		t.Errorf("the server's INBOX Maildir still holds %v", files)
	}
}
