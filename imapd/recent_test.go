package imapd_test

import (
	"regexp"
	"strings"
	"testing"
)

var reRecent = regexp.MustCompile(`^\* (\d+) RECENT$`)

// recentCount returns the RECENT count in lines, -1 when there is none.
func recentCount(lines []string) int {
	for _, l := range lines {
		if m := reRecent.FindStringSubmatch(l); m != nil {
			n := 0
			for _, c := range m[1] {
				n = n*10 + int(c-'0')
			}
			return n
		}
	}
	return -1
}

// TestRecent: appended, copied and delivered messages are \Recent in
// exactly the first IMAP4rev1 session that sees them (RFC 3501 2.3.2);
// EXAMINE and STATUS only look; IMAP4rev2 sessions see none and take none.
func TestRecent(t *testing.T) {
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	deliver := startMX(t, e)

	first := loginRaw(t, e.nodes[0].addr)
	if n := recentCount(first.run("s", "SELECT INBOX")); n != 0 {
		t.Errorf("empty INBOX: RECENT %d", n)
	}
	// Delivered while selected: recent here, with EXISTS.
	deliver()
	lines := first.run("n", "NOOP")
	if len(having(lines, "* 1 EXISTS")) != 1 || recentCount(lines) != 1 {
		t.Errorf("NOOP after a delivery: %q", lines)
	}
	if f := first.run("f", "FETCH 1 FLAGS")[0]; !strings.Contains(f, `\Recent`) {
		t.Errorf("delivered message not \\Recent: %q", f)
	}
	// Appended by another session: recent in the first that sees it.
	other := loginRaw(t, e.nodes[0].addr)
	other.run("a", "APPEND INBOX {"+itoa64(int64(len(testMsg)))+"+}\r\n"+testMsg)
	if st := other.run("st", "STATUS INBOX (RECENT)")[0]; st != `* STATUS INBOX (RECENT 1)` {
		t.Errorf("STATUS after APPEND: %q", st)
	}
	examine := loginRaw(t, e.nodes[0].addr)
	if n := recentCount(examine.run("x", "EXAMINE INBOX")); n != 1 {
		t.Errorf("EXAMINE: RECENT %d, want the unclaimed message", n)
	}
	lines = first.run("n2", "NOOP")
	if recentCount(lines) != 2 {
		t.Errorf("NOOP after APPEND: %q", lines)
	}
	if l := first.run("f2", "FETCH 2 FLAGS")[0]; !strings.Contains(l, `\Recent`) {
		t.Errorf("appended message not \\Recent: %q", l)
	}
	if n := recentCount(other.run("s", "SELECT INBOX")); n != 0 {
		t.Errorf("a later session: RECENT %d", n)
	}
	if l := other.run("f", "FETCH 1:* FLAGS"); strings.Contains(strings.Join(l, ""), `\Recent`) {
		t.Errorf("a later session sees \\Recent: %q", l)
	}
	// COPY: recent in the first session selecting the destination. An
	// IMAP4rev2 session first: it sees none and takes none.
	first.run("c", "COPY 1:2 Archive")
	if st := first.run("st", "STATUS Archive (RECENT)")[0]; st != `* STATUS "Archive" (RECENT 2)` {
		t.Errorf("STATUS after COPY: %q", st)
	}
	rev2 := loginRaw(t, e.nodes[0].addr)
	rev2.run("e", "ENABLE IMAP4rev2")
	lines = rev2.run("s", "SELECT Archive")
	if recentCount(lines) != -1 || strings.Contains(strings.Join(rev2.run("f", "FETCH 1:* FLAGS"), ""), `\Recent`) {
		t.Errorf("IMAP4rev2 session: %q", lines)
	}
	if n := recentCount(other.run("s2", "SELECT Archive")); n != 2 {
		t.Errorf("first IMAP4rev1 SELECT of Archive: RECENT %d", n)
	}
	if n := recentCount(examine.run("x2", "EXAMINE Archive")); n != 0 {
		t.Errorf("EXAMINE after the claim: RECENT %d", n)
	}
	if st := first.run("st2", "STATUS Archive (RECENT)")[0]; st != `* STATUS "Archive" (RECENT 0)` {
		t.Errorf("STATUS after the claim: %q", st)
	}
}
