package imapd_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"mailhost/maildir"
	"mailhost/mda"
	"mailhost/store"
)

// only returns the lines of lines that start with prefix.
func only(lines []string, prefix string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// before reports whether a line starting with first comes before one
// starting with second.
func before(lines []string, first, second string) bool {
	i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, first) })
	j := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, second) })
	return i >= 0 && j >= 0 && i < j
}

// deliverToBob delivers msg to bob's INBOX through the delivery agent.
func deliverToBob(t *testing.T, e *env, msg string) {
	t.Helper()
	mb, err := e.db.MailboxCredentials(context.Background(), "bob@example.test")
	if err != nil {
		t.Fatal(err)
	}
	names, _ := maildir.NewGenerator("mx")
	agent := &mda.Agent{Root: e.root, Owner: maildir.Owner{UID: os.Getuid(), GID: os.Getgid()}, Names: names, Index: e.db}
	if _, err := agent.Deliver(context.Background(), mda.Message{Body: []byte(msg)}, []mda.Recipient{{
		Target: store.LocalTarget{MailboxID: mb.MailboxID, Address: "bob@example.test", Domain: "example.test",
			Maildir: "example.test/bob/", Folder: "INBOX"},
	}}, nil, nil); err != nil {
		t.Fatal(err)
	}
}

// TestContextSearchUpdates: a SEARCH context on UNSEEN (RFC 5267 4.3)
// learns of a delivery (ADDTO after EXISTS), of another session's \Seen
// (REMOVEFROM), during IDLE, and of an expunge (REMOVEFROM before
// EXPUNGE, in sequence numbers for a SEARCH without UID).
func TestContextSearchUpdates(t *testing.T) {
	e, r := sortSetup(t) // INBOX: UIDs 2 to 5 as sequence numbers 1 to 4, none seen
	other := rawLogin(t, e)
	other.run("s", "SELECT INBOX")

	lines := r.run("c1", "UID SEARCH RETURN (UPDATE) UNSEEN")
	if got := only(lines, "* ESEARCH"); !slices.Equal(got, []string{`* ESEARCH (TAG "c1") UID ALL 2:5`}) {
		t.Fatalf("UID SEARCH RETURN (UPDATE): %q", lines)
	}
	lines = r.run("c2", "SEARCH RETURN (COUNT UPDATE) UNSEEN")
	if got := only(lines, "* ESEARCH"); !slices.Equal(got, []string{`* ESEARCH (TAG "c2") COUNT 4`}) {
		t.Fatalf("SEARCH RETURN (COUNT UPDATE): %q", lines)
	}

	// A delivery: both contexts gain it once the client knows it exists.
	deliverToBob(t, e, "Subject: new\r\n\r\nnew\r\n")
	lines = r.run("n1", "NOOP")
	want := []string{`* ESEARCH (TAG "c1") UID ADDTO (0 6)`, `* ESEARCH (TAG "c2") ADDTO (0 5)`}
	if got := only(lines, "* ESEARCH"); !slices.Equal(got, want) || !before(lines, "* 5 EXISTS", "* ESEARCH") {
		t.Fatalf("NOOP after a delivery: %q, want EXISTS then %q", lines, want)
	}

	// Another session reads message 2 (UID 3).
	other.run("f", `UID STORE 3 +FLAGS (\Seen)`)
	lines = r.run("n2", "NOOP")
	want = []string{`* ESEARCH (TAG "c1") UID REMOVEFROM (0 3)`, `* ESEARCH (TAG "c2") REMOVEFROM (0 2)`}
	if got := only(lines, "* ESEARCH"); !slices.Equal(got, want) {
		t.Fatalf("NOOP after another session's \\Seen: %q, want %q", lines, want)
	}
	// Flag changes that do not touch the criteria say nothing.
	other.run("g", `UID STORE 2 +FLAGS (\Answered)`)
	if lines = r.run("n3", "NOOP"); len(only(lines, "* ESEARCH")) != 0 {
		t.Fatalf("NOOP after \\Answered: %q", lines)
	}

	// During IDLE, as they happen.
	r.send("i IDLE\r\n")
	r.until("+ ")
	other.run("h", `UID STORE 6 +FLAGS (\Seen)`)
	lines = r.until(`* ESEARCH (TAG "c2")`)
	if got := only(lines, "* ESEARCH"); !slices.Equal(got, []string{`* ESEARCH (TAG "c1") UID REMOVEFROM (0 6)`,
		`* ESEARCH (TAG "c2") REMOVEFROM (0 5)`}) {
		t.Fatalf("IDLE after another session's \\Seen: %q", lines)
	}
	r.send("DONE\r\n")
	r.until("i OK")

	// This session's own STORE and EXPUNGE: REMOVEFROM before EXPUNGE,
	// with the sequence number the message had.
	r.run("d", `STORE 1 +FLAGS.SILENT (\Deleted)`)
	lines = r.run("x", "EXPUNGE")
	want = []string{`* ESEARCH (TAG "c1") UID REMOVEFROM (0 2)`, `* ESEARCH (TAG "c2") REMOVEFROM (0 1)`}
	if got := only(lines, "* ESEARCH"); !slices.Equal(got, want) || !before(lines, `* ESEARCH (TAG "c2")`, "* 1 EXPUNGE") {
		t.Fatalf("EXPUNGE: %q, want %q before EXPUNGE", lines, want)
	}
	lines = r.run("y", `STORE 1:* -FLAGS.SILENT (\Seen)`)
	want = []string{`* ESEARCH (TAG "c1") UID ADDTO (0 3,6)`, `* ESEARCH (TAG "c2") ADDTO (0 1,4)`}
	if got := only(lines, "* ESEARCH"); !slices.Equal(got, want) {
		t.Fatalf("STORE -FLAGS \\Seen: %q, want %q", lines, want)
	}
}

// TestContextSortPositions: a SORT context (RFC 5267 4.3.3, 4.3.4) says
// where in the sort order messages enter and leave.
func TestContextSortPositions(t *testing.T) {
	e, r := sortSetup(t) // by DATE: UIDs 4 2 3 5; UID 4 is \Flagged
	other := rawLogin(t, e)
	other.run("s", "SELECT INBOX")

	lines := r.run("s1", "UID SORT RETURN (UPDATE) (DATE) UTF-8 UNFLAGGED")
	if got := only(lines, "* ESEARCH"); !slices.Equal(got, []string{`* ESEARCH (TAG "s1") UID ALL 2:3,5`}) {
		t.Fatalf("UID SORT RETURN (UPDATE): %q", lines)
	}
	lines = r.run("s2", "SORT RETURN (UPDATE MIN) (REVERSE DATE) UTF-8 UNFLAGGED")
	if got := only(lines, "* ESEARCH"); !slices.Equal(got, []string{`* ESEARCH (TAG "s2") MIN 4`}) {
		t.Fatalf("SORT RETURN (UPDATE MIN): %q", lines)
	}

	steps := []struct {
		what, cmd string
		want      []string
	}{
		{"UID 4 unflagged: first by date", `UID STORE 4 -FLAGS (\Flagged)`,
			[]string{`* ESEARCH (TAG "s1") UID ADDTO (1 4)`, `* ESEARCH (TAG "s2") ADDTO (4 3)`}},
		{"a message dated between UIDs 2 and 3", "APPEND INBOX {62+}\r\n" +
			"Subject: mid\r\nDate: Tue, 1 Dec 2026 09:15:00 +0000\r\n\r\nmiddle\r\n",
			[]string{`* ESEARCH (TAG "s1") UID ADDTO (3 6)`, `* ESEARCH (TAG "s2") ADDTO (3 5)`}},
		{"UIDs 2 and 3 flagged", `UID STORE 2:3 +FLAGS (\Flagged)`,
			[]string{`* ESEARCH (TAG "s1") UID REMOVEFROM (2 2 3 3)`, `* ESEARCH (TAG "s2") REMOVEFROM (2 2 3 1)`}},
	}
	for _, st := range steps {
		other.run("o", st.cmd)
		lines := r.run("n", "NOOP")
		if got := only(lines, "* ESEARCH"); !slices.Equal(got, st.want) {
			t.Fatalf("%s: %q, want %q", st.what, lines, st.want)
		}
	}
	// Now s1 is UIDs 4 6 5 (sequence numbers 3 5 4); an expunge of UID 6.
	other.run("d", `UID STORE 6 +FLAGS.SILENT (\Deleted)`)
	other.run("x", "UID EXPUNGE 6")
	lines = r.run("n", "NOOP")
	want := []string{`* ESEARCH (TAG "s1") UID REMOVEFROM (2 6)`, `* ESEARCH (TAG "s2") REMOVEFROM (2 5)`}
	if got := only(lines, "* ESEARCH"); !slices.Equal(got, want) || !before(lines, `* ESEARCH (TAG "s2")`, "* 5 EXPUNGE") {
		t.Fatalf("expunge of UID 6: %q, want %q before EXPUNGE", lines, want)
	}
	if lines = r.run("a", "UID SORT RETURN (ALL) (DATE) UTF-8 UNFLAGGED"); !slices.Contains(lines, `* ESEARCH (TAG "a") UID ALL 4:5`) {
		t.Fatalf("the result the updates lead to: %q", lines)
	}
}

// TestSearchPartialAndSave: PARTIAL in SEARCH RETURN (RFC 5267 4.4, RFC
// 9394 3.1) and SAVE with MIN keeping only the minimum (RFC 5182 2.1).
func TestSearchPartialAndSave(t *testing.T) {
	_, r := sortSetup(t) // UIDs 2 to 5 as sequence numbers 1 to 4; UID 4 is \Flagged
	for _, tc := range []struct{ cmd, want, done string }{
		{"UID SEARCH RETURN (PARTIAL 2:3) ALL", `* ESEARCH (TAG "p") UID PARTIAL (2:3 3:4)`, "OK"},
		{"SEARCH RETURN (PARTIAL -1:-2 COUNT) ALL", `* ESEARCH (TAG "p") PARTIAL (-1:-2 3:4) COUNT 4`, "OK"},
		{"SEARCH RETURN (PARTIAL 3:1) UNFLAGGED", `* ESEARCH (TAG "p") PARTIAL (1:3 1:2,4)`, "OK"},
		{"SEARCH RETURN (PARTIAL 5:9) ALL", `* ESEARCH (TAG "p") PARTIAL (5:9 NIL)`, "OK"},
		{"SEARCH RETURN (MIN PARTIAL -4:-9) ALL", `* ESEARCH (TAG "p") MIN 1 PARTIAL (-4:-9 1)`, "OK"},
		{"SEARCH RETURN (PARTIAL 1:2 ALL) ALL", "", "BAD"},
		{"SEARCH RETURN (PARTIAL 0:2) ALL", "", "BAD"},
		{"SEARCH RETURN (PARTIAL 1:-2) ALL", "", "BAD"},
		{"SEARCH RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL", "", "BAD"},
		{"SEARCH RETURN (CONTEXT COUNT) ALL", `* ESEARCH (TAG "p") COUNT 4`, "OK"},
		{"SEARCH RETURN (CONTEXT) UNFLAGGED", `* ESEARCH (TAG "p") ALL 1:2,4`, "OK"},
	} {
		untagged, done := sortDo(r, "p", tc.cmd)
		if !strings.HasPrefix(done, "p "+tc.done) {
			t.Errorf("%s: completion %q, want %q", tc.cmd, done, tc.done)
		}
		var want []string
		if tc.want != "" {
			want = []string{tc.want}
		}
		if !slices.Equal(untagged, want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.cmd, untagged, want)
		}
	}
	for _, tc := range []struct{ save, want string }{
		{"SAVE MIN", "* 2 FETCH (UID 3)"},
		{"MAX SAVE", "* 4 FETCH (UID 5)"},
		{"SAVE MIN COUNT", "* 2 FETCH (UID 3) * 4 FETCH (UID 5)"},
	} {
		sortDo(r, "v", "SEARCH RETURN ("+tc.save+") NOT 1 UNFLAGGED")
		untagged, _ := sortDo(r, "f", "FETCH $ (UID)")
		if got := strings.Join(untagged, " "); got != tc.want {
			t.Errorf("FETCH $ after SEARCH RETURN (%s): %q, want %q", tc.save, got, tc.want)
		}
	}
}

// TestContextCancelAndLimits: CANCELUPDATE ends a context (RFC 5267
// 4.3.5); a tag of an active context is refused (4.3); beyond 8 contexts
// NOUPDATE (4.3.1); leaving the folder ends them all.
func TestContextCancelAndLimits(t *testing.T) {
	e, r := sortSetup(t)
	other := rawLogin(t, e)
	other.run("s", "SELECT INBOX")

	for i := 1; i <= 8; i++ {
		lines := r.run(fmt.Sprint("u", i), "SEARCH RETURN (UPDATE COUNT) UNSEEN")
		if len(only(lines, "* NO")) != 0 {
			t.Fatalf("context %d: %q", i, lines)
		}
	}
	lines := r.run("u9", "SEARCH RETURN (UPDATE COUNT) UNSEEN")
	if !slices.Equal(lines, []string{`* NO [NOUPDATE "u9"] Too many update contexts (at most 8)`,
		`* ESEARCH (TAG "u9") COUNT 4`, "u9 OK SEARCH completed"}) {
		t.Fatalf("a ninth context: %q", lines)
	}
	if lines := r.runAny("u1", "SEARCH RETURN (UPDATE) ALL"); !strings.HasPrefix(lines[len(lines)-1], "u1 BAD") {
		t.Fatalf("UPDATE with the tag of an active context: %q", lines)
	}
	if lines := r.runAny("c", `CANCELUPDATE "u1" "u2"`); !strings.HasPrefix(lines[len(lines)-1], "c OK") {
		t.Fatalf("CANCELUPDATE: %q", lines)
	}
	if lines := r.runAny("c", `CANCELUPDATE "u1"`); !strings.HasPrefix(lines[len(lines)-1], "c NO") {
		t.Fatalf("CANCELUPDATE of a cancelled context: %q", lines)
	}
	if lines := r.runAny("c", `CANCELUPDATE u3`); !strings.HasPrefix(lines[len(lines)-1], "c BAD") {
		t.Fatalf("CANCELUPDATE with an atom: %q", lines)
	}
	other.run("f", `STORE 1 +FLAGS (\Seen)`)
	lines = r.run("n", "NOOP")
	var tags []string
	for _, l := range only(lines, "* ESEARCH") {
		if !strings.HasSuffix(l, "REMOVEFROM (0 1)") {
			t.Errorf("update %q", l)
		}
		tags = append(tags, strings.Fields(l)[3])
	}
	if want := []string{`"u3")`, `"u4")`, `"u5")`, `"u6")`, `"u7")`, `"u8")`}; !slices.Equal(tags, want) {
		t.Errorf("updates after CANCELUPDATE of u1, u2: %q", lines)
	}
	// A cancelled context's tag may be used again; UNSELECT ends them all.
	r.run("u1", "SEARCH RETURN (UPDATE) UNSEEN")
	r.run("un", "UNSELECT")
	r.run("s", "SELECT INBOX")
	other.run("g", `STORE 2 +FLAGS (\Seen)`)
	if lines = r.run("n", "NOOP"); len(only(lines, "* ESEARCH")) != 0 {
		t.Errorf("updates after UNSELECT and SELECT: %q", lines)
	}
	if lines = r.run("u1", "SEARCH RETURN (UPDATE COUNT) UNSEEN"); !slices.Contains(lines, `* ESEARCH (TAG "u1") COUNT 2`) {
		t.Errorf("a context after SELECT: %q", lines)
	}
	if lines := r.runAny("c", `CANCELUPDATE "u3"`); !strings.HasPrefix(lines[len(lines)-1], "c NO") {
		t.Fatalf("CANCELUPDATE of a context of the previous selection: %q", lines)
	}
}

// TestContextQResync: with QRESYNC a context's REMOVEFROM comes before
// the VANISHED of the messages gone, and a MOVE out of the folder by this
// session removes them too.
func TestContextQResync(t *testing.T) {
	e, r := sortSetup(t) // UIDs 2 to 5
	other := rawLogin(t, e)
	other.run("s", "SELECT INBOX")
	r.run("u", "UNSELECT")
	r.run("q", "ENABLE QRESYNC")
	r.run("s", "SELECT INBOX")
	r.run("c", "UID SEARCH RETURN (UPDATE MIN) ALL")
	other.run("d", `UID STORE 2 +FLAGS.SILENT (\Deleted)`)
	other.run("x", "EXPUNGE")
	lines := r.run("n", "NOOP")
	if !slices.Equal(only(lines, "* "), []string{`* ESEARCH (TAG "c") UID REMOVEFROM (0 2)`, "* VANISHED 2"}) {
		t.Fatalf("NOOP after another session's EXPUNGE: %q", lines)
	}
	lines = r.run("m", "UID MOVE 4:5 Trash")
	if got := only(lines, "* ESEARCH"); !slices.Equal(got, []string{`* ESEARCH (TAG "c") UID REMOVEFROM (0 4:5)`}) ||
		!before(lines, "* ESEARCH", "* VANISHED") {
		t.Fatalf("UID MOVE: %q", lines)
	}
}
