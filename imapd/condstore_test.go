package imapd_test

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// run sends one command and returns every line up to and including its
// tagged answer, without their CRLF; it fails unless the answer is OK.
func (r *raw) run(tag, cmd string) []string {
	r.t.Helper()
	lines := r.runAny(tag, cmd)
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, tag+" OK") {
		r.t.Fatalf("%s %s: %q", tag, cmd, lines)
	}
	return lines
}

// runAny is run accepting any tagged answer.
func (r *raw) runAny(tag, cmd string) []string {
	r.t.Helper()
	r.send(tag + " " + cmd + "\r\n")
	return r.until(tag + " ")
}

// until reads lines up to one starting with prefix.
func (r *raw) until(prefix string) []string {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var out []string
	for {
		line, err := r.br.ReadString('\n')
		if err != nil {
			r.t.Fatalf("waiting for %q: %v (saw %q)", prefix, err, out)
		}
		line = strings.TrimSuffix(line, "\r\n")
		out = append(out, line)
		if strings.HasPrefix(line, prefix) {
			return out
		}
	}
}

// having returns the lines that start with prefix.
func having(lines []string, prefix string) []string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

var (
	reModSeq = regexp.MustCompile(`MODSEQ \(?(\d+)\)?`)
	reUID    = regexp.MustCompile(`UID (\d+)`)
)

// num returns the number after what in line (`MODSEQ (n)`, `[HIGHESTMODSEQ n]`).
func num(t *testing.T, line string, re *regexp.Regexp) int64 {
	t.Helper()
	m := re.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no %v in %q", re, line)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// code returns the number of a response code such as HIGHESTMODSEQ in lines.
func code(t *testing.T, lines []string, name string) int64 {
	t.Helper()
	re := regexp.MustCompile(`\[` + name + ` (\d+)\]`)
	for _, l := range lines {
		if m := re.FindStringSubmatch(l); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			return n
		}
	}
	t.Fatalf("no [%s] in %q", name, lines)
	return 0
}

// fetchedUIDs returns the UIDs of the FETCH responses in lines, ascending.
func fetchedUIDs(t *testing.T, lines []string) []int64 {
	t.Helper()
	var out []int64
	for _, l := range having(lines, "* ") {
		if strings.Contains(l, " FETCH (") {
			out = append(out, num(t, l, reUID))
		}
	}
	slices.Sort(out)
	return out
}

func loginRaw(t *testing.T, addr string) *raw {
	t.Helper()
	r := dialRaw(t, addr)
	r.run("l", "LOGIN bob@example.test secret")
	return r
}

// TestCondStore: CONDSTORE (RFC 7162 3.1) as a client sees it on the wire.
func TestCondStore(t *testing.T) {
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	for range 3 {
		appendMsg(t, c, "INBOX", testMsg)
	}
	r := loginRaw(t, e.nodes[0].addr)
	caps := r.run("c", "CAPABILITY")[0]
	for _, want := range []string{" CONDSTORE", " QRESYNC", " OBJECTID", " SAVEDATE"} {
		if !strings.Contains(caps, want) {
			t.Errorf("CAPABILITY lacks%s: %q", want, caps)
		}
	}
	sel := r.run("s", "SELECT INBOX (CONDSTORE)")
	h := code(t, sel, "HIGHESTMODSEQ")
	if h < 3 {
		t.Errorf("HIGHESTMODSEQ %d after three APPENDs", h)
	}
	mods := map[int64]int64{}
	for _, l := range having(r.run("f", "FETCH 1:* (UID MODSEQ)"), "* ") {
		mods[num(t, l, reUID)] = num(t, l, reModSeq)
	}
	if len(mods) != 3 || mods[3] != h {
		t.Errorf("FETCH MODSEQ %v, HIGHESTMODSEQ %d", mods, h)
	}

	// STORE gives the changed message the next modseq; FETCH shows it.
	got := having(r.run("st1", `STORE 1 +FLAGS (\Flagged)`), "* 1 FETCH")
	if len(got) != 1 || num(t, got[0], reModSeq) != h+1 || !strings.Contains(got[0], `\Flagged`) {
		t.Fatalf("STORE: %q, want MODSEQ %d", got, h+1)
	}
	// UNCHANGEDSINCE: message 1 changed after h, so it fails: MODIFIED 1.
	lines := r.run("st2", `STORE 1:2 (UNCHANGEDSINCE `+strconv.FormatInt(h, 10)+`) +FLAGS (\Seen)`)
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "st2 OK [MODIFIED 1]") {
		t.Errorf("conditional STORE: %q", lines)
	}
	if f := having(lines, "* "); len(f) != 1 || !strings.HasPrefix(f[0], "* 2 FETCH") || num(t, f[0], reModSeq) != h+2 {
		t.Errorf("conditional STORE responses: %q", f)
	}
	// .SILENT still reports the new modseq once CONDSTORE is on.
	lines = r.run("st3", `STORE 3 +FLAGS.SILENT (\Deleted)`)
	if f := having(lines, "* "); len(f) != 1 || f[0] != "* 3 FETCH (MODSEQ ("+strconv.FormatInt(h+3, 10)+"))" {
		t.Errorf("STORE .SILENT: %q", f)
	}
	// SEARCH MODSEQ carries the highest modseq of what it found.
	lines = r.run("sr", "SEARCH MODSEQ "+strconv.FormatInt(h+2, 10))
	if want := "* SEARCH 2 3 (MODSEQ " + strconv.FormatInt(h+3, 10) + ")"; lines[0] != want {
		t.Errorf("SEARCH MODSEQ: %q, want %q", lines[0], want)
	}
	lines = r.run("es", "UID SEARCH RETURN (ALL) MODSEQ "+strconv.FormatInt(h+2, 10))
	if !strings.HasSuffix(lines[0], " ALL 2:3 MODSEQ "+strconv.FormatInt(h+3, 10)) {
		t.Errorf("ESEARCH MODSEQ: %q", lines[0])
	}
	// CHANGEDSINCE: only what changed after it, with MODSEQ.
	lines = r.run("f2", "FETCH 1:* (FLAGS) (CHANGEDSINCE "+strconv.FormatInt(h+1, 10)+")")
	if f := having(lines, "* "); len(f) != 2 || !strings.HasPrefix(f[0], "* 2 FETCH") || !strings.Contains(f[1], "MODSEQ (") {
		t.Errorf("CHANGEDSINCE: %q", f)
	}
	// STATUS HIGHESTMODSEQ and MAILBOXID.
	lines = r.run("stat", "STATUS INBOX (HIGHESTMODSEQ MAILBOXID)")
	if !strings.Contains(lines[0], "HIGHESTMODSEQ "+strconv.FormatInt(h+3, 10)) || !strings.Contains(lines[0], "MAILBOXID (F") {
		t.Errorf("STATUS: %q", lines[0])
	}
	// Another session's change arrives with its MODSEQ; its EXPUNGE as
	// EXPUNGE (QRESYNC is not enabled).
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
		Flags: []imap.Flag{"$Important"}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	lines = r.run("n1", "NOOP")
	f := having(lines, "* 1 FETCH")
	if len(f) != 1 || num(t, f[0], reModSeq) != h+4 || !strings.Contains(f[0], "$Important") {
		t.Errorf("update after another session's STORE: %q", lines)
	}
	if i, j := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "* FLAGS") }),
		slices.Index(lines, f[0]); i < 0 || i > j {
		t.Errorf("the new keyword is not announced before the FETCH: %q", lines)
	}
	if seqs, err := c.Expunge().Collect(); err != nil || len(seqs) != 1 {
		t.Fatal(seqs, err)
	}
	if lines = r.run("n2", "NOOP"); len(having(lines, "* 3 EXPUNGE")) != 1 {
		t.Errorf("EXPUNGE not reported: %q", lines)
	}
}
