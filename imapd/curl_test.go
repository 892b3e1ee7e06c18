package imapd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"mailhost/testsupport"
)

// TestCurlURLs drives the server with curl's IMAP URLs (RFC 5092) and
// custom commands, the way scripts fetch and file mail: LIST, EXAMINE and
// SEARCH through the URL, FETCH by UID with a section, UID FETCH as a
// custom command on the selected mailbox, and APPEND by upload (-T).
func TestCurlURLs(t *testing.T) {
	curl := testsupport.RequireTool(t, "curl", "curl")
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	appendMsg(t, c, "INBOX", testMsg)
	appendMsg(t, c, "INBOX", strings.Replace(testMsg, "Hello there", "Second one", 1), `\Seen`)
	base := "imap://" + e.nodes[0].addr + "/"
	curlRun := func(args ...string) string {
		t.Helper()
		return run(t, curl, append([]string{"-sS", "--max-time", "20", "-u", "bob@example.test:secret"}, args...)...)
	}

	// LIST of the top level, and a LIST with a custom command.
	out := curlRun(base)
	for _, want := range []string{`"/" INBOX`, `\Sent) "/" "Sent"`, `\Archive) "/" "Archive"`} {
		if !strings.Contains(out, want) {
			t.Errorf("curl LIST lacks %q:\n%s", want, out)
		}
	}
	out = curlRun("-X", `LIST "" "Se*"`, base)
	if !strings.Contains(out, `Sent`) || strings.Contains(out, "INBOX") {
		t.Errorf("curl -X LIST Se*:\n%s", out)
	}

	// EXAMINE as a custom command shows the mailbox's counts.
	out = curlRun("-X", "EXAMINE INBOX", base)
	for _, want := range []string{"* 2 EXISTS", "UIDVALIDITY", "UIDNEXT 3", "FLAGS ("} {
		if !strings.Contains(out, want) {
			t.Errorf("curl EXAMINE lacks %q:\n%s", want, out)
		}
	}
	uidvalidity := regexp.MustCompile(`UIDVALIDITY (\d+)`).FindStringSubmatch(out)

	// SEARCH through the URL's query, on the mailbox curl SELECTs.
	out = curlRun(base + "INBOX?UNSEEN")
	if !strings.Contains(out, "* SEARCH 1") || strings.Contains(out, "2") {
		t.Errorf("curl INBOX?UNSEEN: %q", out)
	}

	// FETCH by UID, whole and by section; UIDVALIDITY in the URL is checked.
	if out = curlRun(base + "INBOX/;UID=2"); !strings.Contains(out, "Subject: Second one") || !strings.HasSuffix(out, "brown fox.\r\n") {
		t.Errorf("curl ;UID=2: %q", out)
	}
	if out = curlRun(base + "INBOX/;UID=1/;SECTION=HEADER.FIELDS%20(SUBJECT)"); out != "Subject: Hello there\r\n\r\n" {
		t.Errorf("curl ;SECTION=HEADER.FIELDS (SUBJECT): %q", out)
	}
	if out = curlRun(base + "INBOX/;UID=1/;SECTION=TEXT"); out != "Hi Bob,\r\nthe quick brown fox.\r\n" {
		t.Errorf("curl ;SECTION=TEXT: %q", out)
	}
	if out = curlRun(base + "INBOX/;UID=1/;PARTIAL=0.4"); out != "From" {
		t.Errorf("curl ;PARTIAL=0.4: %q", out)
	}
	if uidvalidity != nil {
		if out = curlRun(base + "INBOX;UIDVALIDITY=" + uidvalidity[1] + "/;UID=1"); out != testMsg {
			t.Errorf("curl with the right UIDVALIDITY: %q", out)
		}
		cmd := exec.Command(curl, "-sS", "--max-time", "20", "-u", "bob@example.test:secret", base+"INBOX;UIDVALIDITY=1/;UID=1")
		if b, err := cmd.CombinedOutput(); err == nil && uidvalidity[1] != "1" {
			t.Errorf("curl with a wrong UIDVALIDITY succeeded: %q", b)
		}
	} else {
		t.Error("no UIDVALIDITY in EXAMINE's answer")
	}

	// A custom UID FETCH on the mailbox of the URL (curl SELECTs it first);
	// curl fetched UID 1 above with BODY[], not BODY.PEEK[], so it is \Seen.
	out = curlRun("-X", "UID FETCH 1:* FLAGS", base+"INBOX")
	if !regexp.MustCompile(`\* 1 FETCH \((UID 1 FLAGS \(\\Seen\)|FLAGS \(\\Seen\) UID 1)\)`).MatchString(out) ||
		!regexp.MustCompile(`\* 2 FETCH \((UID 2 FLAGS \(\\Seen\)|FLAGS \(\\Seen\) UID 2)\)`).MatchString(out) {
		t.Errorf("curl -X 'UID FETCH 1:* FLAGS':\n%s", out)
	}
	// A custom STORE, seen by the next FETCH.
	curlRun("-X", `UID STORE 1 +FLAGS (\Flagged)`, base+"INBOX")
	if out = curlRun("-X", "UID FETCH 1 FLAGS", base+"INBOX"); !strings.Contains(out, `\Flagged`) {
		t.Errorf("after curl UID STORE: %q", out)
	}

	// APPEND by upload, to a folder that is not INBOX; the message keeps its bytes.
	upload := strings.Replace(testMsg, "Hello there", "Uploaded by curl", 1)
	file := filepath.Join(t.TempDir(), "msg.eml")
	if err := os.WriteFile(file, []byte(upload), 0o600); err != nil {
		t.Fatal(err)
	}
	curlRun("-T", file, base+"Archive")
	if out = curlRun(base + "Archive/;UID=1"); out != upload {
		t.Errorf("the uploaded message reads back as %q", out)
	}
	if out = curlRun("-X", "STATUS Archive (MESSAGES UIDNEXT)", base); !strings.Contains(out, "MESSAGES 1") || !strings.Contains(out, "UIDNEXT 2") {
		t.Errorf("curl STATUS Archive: %q", out)
	}

	// A large upload within APPENDLIMIT (1 MiB here) over TLS arrives whole;
	// one over it is refused, curl says so and nothing is appended.
	large := upload + strings.Repeat("a line of the large message's body\r\n", 25000)
	if err := os.WriteFile(file, []byte(large), 0o600); err != nil {
		t.Fatal(err)
	}
	curlRun("-k", "-T", file, "imaps://"+e.nodes[0].tlsAddr+"/Archive")
	if out = curlRun(base + "Archive/;UID=2"); out != large {
		t.Errorf("the large upload reads back as %d octets, want %d", len(out), len(large))
	}
	if err := os.WriteFile(file, []byte(large+strings.Repeat("x", 1<<20)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(curl, "-sS", "--max-time", "20", "-u", "bob@example.test:secret", "-T", file, base+"Archive")
	if b, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("curl's upload over APPENDLIMIT succeeded: %q", b)
	} else {
		t.Logf("curl's upload over APPENDLIMIT: %v: %s", err, b)
	}
	if out = curlRun("-X", "STATUS Archive (MESSAGES)", base); !strings.Contains(out, "MESSAGES 2") {
		t.Errorf("after the refused upload, curl STATUS Archive: %q", out)
	}
}
