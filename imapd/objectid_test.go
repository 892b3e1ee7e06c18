package imapd_test

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	reMailboxID = regexp.MustCompile(`MAILBOXID \((F[0-9a-f]+)\)`)
	reEmailID   = regexp.MustCompile(`EMAILID \((M[0-9a-f]+)\)`)
)

func match1(t *testing.T, re *regexp.Regexp, s string) string {
	t.Helper()
	m := re.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no %v in %q", re, s)
	}
	return m[1]
}

// TestSubscriptionsAndRecreatedMailboxes: CREATE does not subscribe;
// DELETE keeps the subscription, shown \NonExistent; RENAME moves it; a
// mailbox deleted and created again in the same second has a new
// UIDVALIDITY and MAILBOXID.
func TestSubscriptionsAndRecreatedMailboxes(t *testing.T) {
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	r := loginRaw(t, e.nodes[0].addr)

	r.run("c", "CREATE foo")
	if l := having(r.run("ls", `LSUB "" foo`), "* "); len(l) != 0 {
		t.Errorf("CREATE subscribed: %q", l)
	}
	if l := having(r.run("ls2", `LIST (SUBSCRIBED) "" foo`), "* "); len(l) != 0 {
		t.Errorf("CREATE subscribed: %q", l)
	}
	r.run("sub", "SUBSCRIBE foo")
	if l := having(r.run("ls3", `LIST "" foo RETURN (SUBSCRIBED)`), "* "); len(l) != 1 || !strings.Contains(l[0], `\Subscribed`) {
		t.Errorf("after SUBSCRIBE: %q", l)
	}
	r.run("d", "DELETE foo")
	if l := having(r.run("ls4", `LIST (SUBSCRIBED) "" "*"`), "* LIST"); !containsLine(l, `* LIST (\Subscribed \NonExistent) "/" "foo"`) {
		t.Errorf("LIST (SUBSCRIBED) after DELETE: %q", l)
	}
	if l := having(r.run("ls5", `LSUB "" foo`), "* "); len(l) != 1 || l[0] != `* LSUB (\Noselect) "/" "foo"` {
		t.Errorf("LSUB after DELETE: %q", l)
	}
	if l := having(r.run("ls6", `LIST "" foo`), "* "); len(l) != 0 {
		t.Errorf("plain LIST after DELETE: %q", l)
	}
	r.run("u", "UNSUBSCRIBE foo")
	if l := having(r.run("ls7", `LSUB "" foo`), "* "); len(l) != 0 {
		t.Errorf("LSUB after UNSUBSCRIBE: %q", l)
	}

	// RENAME moves the subscription.
	r.run("c2", "CREATE bar")
	r.run("sub2", "SUBSCRIBE bar")
	r.run("rn", "RENAME bar baz")
	l := having(r.run("ls8", `LSUB "" "ba*"`), "* ")
	if len(l) != 1 || !strings.HasSuffix(l[0], `"baz"`) {
		t.Errorf("LSUB after RENAME: %q", l)
	}

	// DELETE then CREATE at once: another UIDVALIDITY, another MAILBOXID.
	r.run("c3", "CREATE again")
	before := r.run("st", "STATUS again (UIDVALIDITY MAILBOXID)")[0]
	r.run("d3", "DELETE again")
	r.run("c4", "CREATE again")
	after := r.run("st2", "STATUS again (UIDVALIDITY MAILBOXID)")[0]
	uv := regexp.MustCompile(`UIDVALIDITY (\d+)`)
	if match1(t, uv, before) == match1(t, uv, after) {
		t.Errorf("UIDVALIDITY of a re-created mailbox unchanged: %q, %q", before, after)
	}
	if match1(t, reMailboxID, before) == match1(t, reMailboxID, after) {
		t.Errorf("MAILBOXID of a re-created mailbox unchanged: %q, %q", before, after)
	}
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

// TestObjectIDAndSaveDate: MAILBOXID, EMAILID and THREADID (RFC 8474),
// kept by RENAME, COPY and MOVE; SAVEDATE and its search keys (RFC 8514).
func TestObjectIDAndSaveDate(t *testing.T) {
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	r := loginRaw(t, e.nodes[0].addr)
	r.run("a", "APPEND INBOX {"+itoa64(int64(len(testMsg)))+"+}\r\n"+testMsg)
	r.run("c", "CREATE Box")
	sel := r.run("s", "SELECT Box")
	boxID := match1(t, reMailboxID, strings.Join(having(sel, "* OK [MAILBOXID"), ""))
	if st := r.run("st", "STATUS Box (MAILBOXID)")[0]; match1(t, reMailboxID, st) != boxID {
		t.Errorf("STATUS MAILBOXID %q, SELECT said %s", st, boxID)
	}
	r.run("rn", "RENAME Box Box2")
	if st := r.run("st2", "STATUS Box2 (MAILBOXID)")[0]; match1(t, reMailboxID, st) != boxID {
		t.Errorf("RENAME changed the MAILBOXID: %q, was %s", st, boxID)
	}

	r.run("s2", "SELECT INBOX")
	f := r.run("f", "FETCH 1 (EMAILID THREADID SAVEDATE)")[0]
	emailID := match1(t, reEmailID, f)
	if !strings.Contains(f, "THREADID NIL") || !strings.Contains(f, `SAVEDATE "`) {
		t.Errorf("FETCH: %q", f)
	}
	r.run("cp", "COPY 1 Archive")
	r.run("mv", "MOVE 1 Box2")
	for _, box := range []string{"Archive", "Box2"} {
		r.run("x", "EXAMINE "+box)
		if f := r.run("f", "FETCH 1 (EMAILID)")[0]; match1(t, reEmailID, f) != emailID {
			t.Errorf("EMAILID in %s: %q, want %s", box, f, emailID)
		}
	}

	if l := r.run("se", "SEARCH EMAILID "+emailID)[0]; l != "* SEARCH 1" {
		t.Errorf("SEARCH EMAILID: %q", l)
	}
	if l := r.run("st", "SEARCH THREADID T1")[0]; l != "* SEARCH" {
		t.Errorf("SEARCH THREADID: %q", l)
	}
	today := time.Now().Format("2-Jan-2006")
	for key, want := range map[string]string{
		"SAVEDSINCE " + today:  "* SEARCH 1",
		"SAVEDON " + today:     "* SEARCH 1",
		"SAVEDBEFORE " + today: "* SEARCH",
		"SAVEDATESUPPORTED":    "* SEARCH 1",
	} {
		if l := r.run("sr", "SEARCH "+key)[0]; l != want {
			t.Errorf("SEARCH %s: %q, want %q", key, l, want)
		}
	}
}
