package imapd_test

import (
	"regexp"
	"strings"
	"sync"
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

var reFetchRecent = regexp.MustCompile(`^\* \d+ FETCH \(UID (\d+) FLAGS \(([^)]*)\)\)$`)

// TestRecentOnceUnderLoad: sessions on two nodes polling while another
// appends: each appended message is \Recent in exactly one of them (the
// sessions of a node take turns to claim, and skip what a turn before
// claimed; across nodes the index decides).
func TestRecentOnceUnderLoad(t *testing.T) {
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	e.startNode(t)
	const readers, appends = 8, 30
	rs := make([]*raw, readers)
	for i := range rs {
		rs[i] = loginRaw(t, e.nodes[i%2].addr)
		rs[i].run("s", "SELECT INBOX")
	}
	appender := loginRaw(t, e.nodes[0].addr)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
					r.runAny("n", "NOOP")
				}
			}
		}()
	}
	for range appends {
		appender.run("a", "APPEND INBOX {"+itoa64(int64(len(testMsg)))+"+}\r\n"+testMsg)
	}
	close(done)
	wg.Wait()
	recent := map[string]int{}
	for _, r := range rs {
		r.run("n1", "NOOP")
	}
	for i, r := range rs {
		r.run("n2", "NOOP") // a claim of the round before may cover UIDs it had not seen
		lines := having(r.run("f", "FETCH 1:* (UID FLAGS)"), "* ")
		if len(lines) != appends {
			t.Fatalf("session %d: %d messages: %q", i, len(lines), lines)
		}
		for _, l := range lines {
			m := reFetchRecent.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("session %d: %q", i, l)
			}
			if strings.Contains(m[2], `\Recent`) {
				recent[m[1]]++
			}
		}
	}
	if len(recent) != appends {
		t.Errorf("%d of %d messages \\Recent somewhere: %v", len(recent), appends, recent)
	}
	for uid, n := range recent {
		if n != 1 {
			t.Errorf("UID %s \\Recent in %d sessions", uid, n)
		}
	}
}
