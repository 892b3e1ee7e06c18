package imapd_test

import (
	"strings"
	"testing"
)

// FETCH takes a message's row from the node's row cache, whose file name
// another node's flag change makes stale: the body is still served (the
// file found by its key); once the other node expunges the message, a
// FETCH of it answers OK without its data.
func TestRowCacheFollowsOtherNodesRenames(t *testing.T) {
	e, other := twoNodesOneMessage(t)
	r := loginRaw(t, e.nodes[0].addr)
	r.run("s", "SELECT INBOX")
	body := func(tag string) bool {
		return strings.Contains(strings.Join(r.run(tag, "UID FETCH 1 (BODY.PEEK[])"), "\n"), "the quick brown fox")
	}
	if !body("f1") {
		t.Fatal("first FETCH: no body")
	}
	w := loginRaw(t, other.addr)
	w.run("s", "SELECT INBOX")
	for i, flag := range []string{`\Flagged`, `\Answered`, `\Draft`} {
		w.run("w", "UID STORE 1 +FLAGS ("+flag+")")
		if !body("f2") {
			t.Fatalf("FETCH after the other node's rename %d: no body", i)
		}
	}
	w.run("d", `UID STORE 1 +FLAGS (\Deleted)`)
	w.run("x", "UID EXPUNGE 1")
	if lines := r.run("f3", "UID FETCH 1 (BODY.PEEK[])"); strings.Contains(strings.Join(lines, "\n"), "BODY[]") {
		t.Errorf("FETCH of a message the other node expunged sent data: %q", lines)
	}
	r.run("n", "NOOP")
}
