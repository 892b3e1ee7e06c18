package imapd_test

import (
	"strings"
	"testing"
	"time"
)

// TestSharedPollSeesEachNotice: the sessions of a node share the snapshot
// of a poll (store.FolderSub.SyncSince), yet each change of another node
// reaches every session once its notice arrived, by a FETCH (which polls
// only after a notice) as by NOOP. Nodes poll without notices only once
// an hour here, so only the notices bring the changes.
func TestSharedPollSeesEachNotice(t *testing.T) {
	e, other := twoNodesOneMessage(t)
	var local []*raw
	for range 3 {
		r := loginRaw(t, e.nodes[0].addr)
		r.run("s", "SELECT INBOX")
		local = append(local, r)
	}
	w := loginRaw(t, other.addr)
	w.run("s", "SELECT INBOX")
	for i, flag := range []string{`\Flagged`, `\Seen`, `\Answered`, `$Label1`} {
		w.run("w", "UID STORE 1 +FLAGS ("+flag+")")
		for j, r := range local {
			if j == 2 && i%2 == 1 { // NOOP reads the index as it is
				if !hasFlag(r.run("n", "NOOP"), flag) {
					t.Fatalf("change %d: NOOP of session %d does not show %s", i, j, flag)
				}
				continue
			}
			waitFlag(t, r, flag)
		}
	}
}

// twoNodesOneMessage starts two nodes that poll only after notices, with
// bob@example.test's INBOX holding testMsg as UID 1; e.nodes[0] is the
// first, other the second.
func twoNodesOneMessage(t *testing.T) (e *env, other *node) {
	t.Helper()
	e = newEnvPolling(t, time.Hour)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	other = e.startNode(t)
	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	appendMsg(t, c, "INBOX", testMsg)
	return e, other
}

// waitFlag runs FETCH until an unsolicited FETCH shows flag: the notice
// travels through PostgreSQL to the node.
func waitFlag(t *testing.T, r *raw, flag string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if hasFlag(r.run("f", "UID FETCH 1 (UID)"), flag) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no FETCH with %s within 10 s", flag)
}

func hasFlag(lines []string, flag string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, "* 1 FETCH") && strings.Contains(l, "FLAGS (") && strings.Contains(l, flag) {
			return true
		}
	}
	return false
}
