package imapd_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"mailhost/testsupport"
)

// sortMsgs are the messages of the SORT and THREAD tests, appended after
// one that is expunged so that UIDs (2 to 5) differ from sequence numbers
// (1 to 4). Message 2 answers 1 (References), message 4 too (In-Reply-To)
// under another subject; message 4 has no Date, so its sent date is its
// INTERNALDATE.
var sortMsgs = []struct{ internal, flags, header string }{
	{"02-Dec-2026 10:00:03 +0000", "", "Subject: Lunch?\nFrom: Zed <zed@x.test>\nTo: carol@x.test\n" +
		"Message-ID: <1@t>\nDate: Tue, 1 Dec 2026 09:00:00 +0000\n"},
	{"02-Dec-2026 10:00:01 +0000", "", "Subject: Re: Lunch?\nFrom: Yolanda <alice@x.test>\nTo: Zoe <bob@y.test>\n" +
		"Message-ID: <2@t>\nReferences: <1@t>\nDate: Tue, 1 Dec 2026 09:30:00 +0000\n"},
	{"02-Dec-2026 10:00:02 +0000", `\Flagged`, "Subject: [ops] Disk full\nFrom: Bob B <bob@y.test>\nTo: ann@x.test\n" +
		"Message-ID: <3@t>\nDate: Mon, 30 Nov 2026 22:00:00 +0000\n"},
	{"02-Dec-2026 10:00:00 +0000", "", "Subject: Something else\nFrom: =?UTF-8?Q?=C3=89mile?= <emile@z.test>\n" +
		"To: dave@x.test\nCc: eve@x.test\nMessage-ID: <4@t>\nIn-Reply-To: <1@t>\n"},
}

// sortBody makes message i's body, of a size of its own.
func sortBody(i int) string { return strings.Repeat("x", 10+((i*7)%4)*13) + "\n" }

// sortDo sends a tagged command and returns the untagged lines before
// its completion and the completion, without line ends.
func sortDo(r *raw, tag, command string) (untagged []string, done string) {
	r.t.Helper()
	r.send(tag + " " + command + "\r\n")
	for {
		l := strings.TrimRight(r.expect(""), "\r\n")
		if strings.HasPrefix(l, tag+" ") {
			return untagged, l
		}
		untagged = append(untagged, l)
	}
}

// sortSetup fills bob's INBOX with sortMsgs and returns a raw session
// with it selected.
func sortSetup(t *testing.T) (*env, *raw) {
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	r := rawLogin(t, e)
	app := func(flags, date, msg string) {
		msg = strings.ReplaceAll(msg, "\n", "\r\n")
		if _, done := sortDo(r, "ap", fmt.Sprintf("APPEND INBOX (%s) %q {%d+}\r\n%s", flags, date, len(msg), msg)); !strings.HasPrefix(done, "ap OK") {
			t.Fatalf("APPEND: %s", done)
		}
	}
	app("", "01-Dec-2026 00:00:00 +0000", "Subject: gone\n\nx\n")
	for i, m := range sortMsgs {
		app(m.flags, m.internal, m.header+"\n"+sortBody(i))
	}
	sortDo(r, "s", "SELECT INBOX")
	sortDo(r, "d", `STORE 1 +FLAGS.SILENT (\Deleted)`)
	if _, done := sortDo(r, "x", "EXPUNGE"); !strings.HasPrefix(done, "x OK") {
		t.Fatal(done)
	}
	return e, r
}

func TestSortThreadProtocol(t *testing.T) {
	_, r := sortSetup(t)

	// Sizes decide SIZE's order; the rest is worked out in sortMsgs' comment.
	bySize := []int{1, 2, 3, 4}
	slices.SortStableFunc(bySize, func(a, b int) int {
		size := func(i int) int { return len(strings.ReplaceAll(sortMsgs[i-1].header+"\n"+sortBody(i-1), "\n", "\r\n")) }
		return size(a) - size(b)
	})
	sizeWant := "* SORT"
	for _, n := range bySize {
		sizeWant += fmt.Sprint(" ", n)
	}

	for _, tc := range []struct{ cmd, want, done string }{
		{"CAPABILITY", "", "OK"},
		{"SORT (ARRIVAL) UTF-8 ALL", "* SORT 4 2 3 1", "OK"},
		{"SORT (DATE) UTF-8 ALL", "* SORT 3 1 2 4", "OK"},
		{"SORT (REVERSE DATE) UTF-8 ALL", "* SORT 4 2 1 3", "OK"},
		{"SORT (SUBJECT REVERSE DATE) US-ASCII ALL", "* SORT 3 2 1 4", "OK"},
		{"SORT (FROM) UTF-8 ALL", "* SORT 2 3 4 1", "OK"},
		{"SORT (DISPLAYFROM) UTF-8 ALL", "* SORT 3 4 2 1", "OK"},
		{"SORT (TO) UTF-8 ALL", "* SORT 3 2 1 4", "OK"},
		{"SORT (DISPLAYTO) UTF-8 ALL", "* SORT 3 1 4 2", "OK"},
		{"SORT (CC) UTF-8 ALL", "* SORT 1 2 3 4", "OK"},
		{"SORT (REVERSE CC) UTF-8 ALL", "* SORT 4 1 2 3", "OK"},
		{"SORT (SIZE) UTF-8 ALL", sizeWant, "OK"},
		{"UID SORT (DATE) UTF-8 ALL", "* SORT 4 2 3 5", "OK"},
		// Search criteria, evaluated as SEARCH does.
		{"SORT (ARRIVAL) UTF-8 FLAGGED", "* SORT 3", "OK"},
		{"SORT (DATE) UTF-8 NOT FROM zed", "* SORT 3 2 4", "OK"},
		{"UID SORT (DATE) UTF-8 UID 3:5 SUBJECT lunch", "* SORT 3", "OK"},
		{"SORT (DATE) UTF-8 2:3", "* SORT 3 2", "OK"},
		{"SORT (DATE) UTF-8 SUBJECT nothing-matches", "* SORT", "OK"},
		{"SORT (DATE) KOI8-R ALL", "", "NO [BADCHARSET (US-ASCII UTF-8)]"},
		{"SORT (COLOUR) UTF-8 ALL", "", "BAD"},
		{"SORT DATE UTF-8 ALL", "", "BAD"},
		// THREAD.
		{"THREAD ORDEREDSUBJECT UTF-8 ALL", "* THREAD (3)(1 2)(4)", "OK"},
		{"THREAD REFERENCES UTF-8 ALL", "* THREAD (3)(1 (2)(4))", "OK"},
		{"UID THREAD REFERENCES UTF-8 ALL", "* THREAD (4)(2 (3)(5))", "OK"},
		{"THREAD REFERENCES UTF-8 NOT UID 2", "* THREAD (3)((2)(4))", "OK"},
		{"UID THREAD ORDEREDSUBJECT UTF-8 UNFLAGGED", "* THREAD (2 3)(5)", "OK"},
		{"THREAD REFERENCES UTF-8 DELETED", "* THREAD", "OK"},
		{"THREAD ZIGZAG UTF-8 ALL", "", "BAD"},
		{"THREAD REFERENCES X-UNKNOWN ALL", "", "NO [BADCHARSET (US-ASCII UTF-8)]"},
		// ESORT: MIN and MAX are the ends of the order, ALL keeps it.
		{"SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL", `* ESEARCH (TAG "t") MIN 3 MAX 4 COUNT 4 ALL 3,1:2,4`, "OK"},
		{"UID SORT RETURN () (REVERSE ARRIVAL) UTF-8 ALL", `* ESEARCH (TAG "t") UID ALL 2,4,3,5`, "OK"},
		{"SORT RETURN (COUNT MIN) (DATE) UTF-8 SUBJECT nothing-matches", `* ESEARCH (TAG "t") COUNT 0`, "OK"},
		{"SORT RETURN (PARTIAL 2:3) (DATE) UTF-8 ALL", `* ESEARCH (TAG "t") PARTIAL (2:3 1:2)`, "OK"},
		{"UID SORT RETURN (PARTIAL -1:-2 COUNT) (DATE) UTF-8 ALL", `* ESEARCH (TAG "t") UID PARTIAL (-1:-2 3,5) COUNT 4`, "OK"},
		{"SORT RETURN (PARTIAL 5:9) (DATE) UTF-8 ALL", `* ESEARCH (TAG "t") PARTIAL (5:9 NIL)`, "OK"},
		{"SORT RETURN (FIRST) (DATE) UTF-8 ALL", "", "BAD"},
	} {
		untagged, done := sortDo(r, "t", tc.cmd)
		if !strings.HasPrefix(done, "t "+tc.done) {
			t.Errorf("%s: completion %q, want %q", tc.cmd, done, tc.done)
		}
		if tc.cmd == "CAPABILITY" {
			if len(untagged) != 1 || !strings.Contains(untagged[0], " SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT THREAD=REFERENCES ESORT") {
				t.Errorf("CAPABILITY: %q", untagged)
			}
			continue
		}
		var want []string
		if tc.want != "" {
			want = []string{tc.want}
		}
		if !slices.Equal(untagged, want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.cmd, untagged, want)
		}
	}

	// SAVE keeps the matches for '$' (SEARCHRES) and answers nothing alone.
	if untagged, done := sortDo(r, "v", "SORT RETURN (SAVE) (DATE) UTF-8 OR FLAGGED FROM emile"); len(untagged) != 0 || !strings.HasPrefix(done, "v OK") {
		t.Errorf("SORT RETURN (SAVE): %q %q", untagged, done)
	}
	if untagged, _ := sortDo(r, "f", "FETCH $ (UID)"); !slices.Equal(untagged, []string{"* 3 FETCH (UID 4)", "* 4 FETCH (UID 5)"}) {
		t.Errorf("FETCH $ after SORT SAVE: %q", untagged)
	}
	// With MIN (the first in the sort order) alone, only that one.
	if untagged, _ := sortDo(r, "w", "SORT RETURN (SAVE MIN) (REVERSE DATE) UTF-8 ALL"); !slices.Equal(untagged, []string{`* ESEARCH (TAG "w") MIN 4`}) {
		t.Errorf("SORT RETURN (SAVE MIN): %q", untagged)
	}
	if untagged, _ := sortDo(r, "f", "FETCH $ (UID)"); !slices.Equal(untagged, []string{"* 4 FETCH (UID 5)"}) {
		t.Errorf("FETCH $ after SORT SAVE MIN: %q", untagged)
	}
}

// TestSortSeesChanges: repeated SORTs (served from the session's
// summaries) number messages by the current view: after an expunge, and
// with a message that arrived since.
func TestSortSeesChanges(t *testing.T) {
	e, r := sortSetup(t)
	for range 2 {
		if untagged, _ := sortDo(r, "a", "SORT (DATE) UTF-8 ALL"); !slices.Equal(untagged, []string{"* SORT 3 1 2 4"}) {
			t.Fatalf("SORT: %q", untagged)
		}
	}
	sortDo(r, "d", `STORE 1 +FLAGS.SILENT (\Deleted)`)
	sortDo(r, "x", "EXPUNGE")
	if untagged, _ := sortDo(r, "b", "SORT (DATE) UTF-8 ALL"); !slices.Equal(untagged, []string{"* SORT 2 1 3"}) {
		t.Errorf("SORT after EXPUNGE of 1: %q", untagged)
	}
	// Another session appends the oldest message yet.
	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	appendMsg(t, c, "INBOX", "Subject: old\r\nDate: Sun, 1 Jan 2006 00:00:00 +0000\r\nMessage-ID: <1@t>\r\n\r\nold\r\n")
	untagged, _ := sortDo(r, "n", "NOOP")
	if !slices.Contains(untagged, "* 4 EXISTS") {
		t.Fatalf("NOOP after another session's APPEND: %q", untagged)
	}
	// Criteria on the header read the new message's header: its summary
	// comes from that reading; criteria on flags ask the index.
	if untagged, _ := sortDo(r, "o", "SORT (DATE) UTF-8 OR SUBJECT old SUBJECT disk"); !slices.Equal(untagged, []string{"* SORT 4 2"}) {
		t.Errorf("SORT with header criteria after APPEND: %q", untagged)
	}
	if untagged, _ := sortDo(r, "u", "SORT (REVERSE DATE) UTF-8 UNDELETED UNFLAGGED"); !slices.Equal(untagged, []string{"* SORT 3 1 4"}) {
		t.Errorf("SORT UNDELETED UNFLAGGED after APPEND: %q", untagged)
	}
	if untagged, _ := sortDo(r, "c", "UID SORT (DATE) UTF-8 ALL"); !slices.Equal(untagged, []string{"* SORT 6 4 3 5"}) {
		t.Errorf("UID SORT after APPEND: %q", untagged)
	}
	// It has the expunged message's Message-ID: the replies join it.
	if untagged, _ := sortDo(r, "d", "THREAD REFERENCES UTF-8 ALL"); !slices.Equal(untagged, []string{"* THREAD (4 (1)(3))(2)"}) {
		t.Errorf("THREAD after APPEND: %q", untagged)
	}
}

// TestPythonImaplibSortThread: Python's imaplib sort, thread and their
// UID forms get the answers a user's script would print.
func TestPythonImaplibSortThread(t *testing.T) {
	py := testsupport.RequireTool(t, "python3", "python3")
	e, _ := sortSetup(t)
	const script = `
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("bob@example.test", "secret")
print("CAPS", " ".join(c for c in m.capabilities if c.startswith(("SORT", "THREAD", "ESORT"))))
m.select("INBOX")
print("SORT", m.sort("(REVERSE DATE)", "UTF-8", "ALL"))
print("UIDSORT", m.uid("SORT", "(DISPLAYFROM)", "UTF-8", "ALL"))
print("THREAD", m.thread("REFERENCES", "UTF-8", "ALL"))
print("UIDTHREAD", m.uid("THREAD", "ORDEREDSUBJECT", "UTF-8", "ALL"))
# imaplib has no ESORT method: the command as a script sends it.
print("ESORT", m._simple_command("SORT", "RETURN", "(MIN COUNT)", "(DATE)", "UTF-8", "ALL")[0], m.untagged_responses.get("ESEARCH"))
m.logout()
`
	out := run(t, py, "-c", script, port(e.nodes[0].addr))
	t.Log(out)
	for _, want := range []string{
		"CAPS SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT THREAD=REFERENCES ESORT",
		"SORT ('OK', [b'4 2 1 3'])",
		"UIDSORT ('OK', [b'4 5 3 2'])",
		"THREAD ('OK', [b'(3)(1 (2)(4))'])",
		"UIDTHREAD ('OK', [b'(4)(2 3)(5)'])",
		`[b'(TAG "`,
		`") MIN 3 COUNT 4']`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
