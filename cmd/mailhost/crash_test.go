package main

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-smtp"
)

// The crash tests (issue 10) kill -9 a real `mailhost serve` in the middle
// of an operation, at three instants each, restart it on the same data
// directory and database, and check what a user would: `mailhost check`
// finds no difference, nothing removed came back (not even under a new
// UID), every acknowledged message is there exactly once, and STATUS (asked
// first after the restart) agrees with SELECT. The instants are chosen by
// watching the operation's effects (journal rows, files appearing or
// disappearing), not by sleeping.

// expected is what the index must hold after a restart: each Message-ID
// exactly once at its place, and nothing else.
type expected map[string]place

// verify compares a mailbox's index with want: every message exactly once,
// at the same folder and UID (a message adopted back would have a new UID),
// and no message that is not wanted.
func (want expected) verify(t *testing.T, got map[string][]place) {
	t.Helper()
	bad := 0
	for _, id := range sortedKeys(want) {
		w, ps := want[id], got[id]
		if len(ps) != 1 || ps[0].Folder != w.Folder || ps[0].UID != w.UID {
			if bad++; bad <= 10 {
				t.Errorf("%s: at %v, want exactly once at %s UID %d", id, ps, w.Folder, w.UID)
			}
		}
	}
	for _, id := range sortedKeys(got) {
		if _, ok := want[id]; !ok {
			if bad++; bad <= 10 {
				t.Errorf("%s: at %v, want it gone", id, got[id])
			}
		}
	}
	if bad > 10 {
		t.Errorf("... %d differences in all", bad)
	}
}

// snapshot makes the expectation from an index read: what is there stays.
func snapshot(t *testing.T, got map[string][]place) expected {
	t.Helper()
	want := expected{}
	for id, ps := range got {
		if len(ps) != 1 {
			t.Fatalf("%s at %v before the test", id, ps)
		}
		want[id] = ps[0]
	}
	return want
}

// crashRound is one kill: its name, and the wait for its instant, which
// also ends when done is closed (the operation answered first).
type crashRound struct {
	name string
	wait func(done <-chan struct{}) string // returns what it saw, for the log
}

// waitPending waits until the journal has rows (a removal's rows appear
// when its index transaction commits, before any file is unlinked), or
// done.
func (e *mailEnv) waitPending(t *testing.T, done <-chan struct{}) string {
	for {
		var n int
		if err := e.st.Pool().QueryRow(context.Background(), `SELECT count(*) FROM pending_files`).Scan(&n); err != nil {
			t.Error(err)
			return "an error"
		}
		if n > 0 {
			return fmt.Sprintf("%d journal rows", n)
		}
		select {
		case <-done:
			return "the command had answered"
		default:
		}
	}
}

// TestCrashDuringExpunge: EXPUNGE of 600 \Deleted messages, killed once its
// transaction committed (journal rows visible), after its first unlink and
// after half of its unlinks. The 600 never come back; the others stay at
// their UIDs; no folder's UIDNEXT moves (nothing was adopted).
func TestCrashDuringExpunge(t *testing.T) {
	const addr, nDel, nKeep = "exp@crash.test", 600, 30
	e := newMailEnv(t, addr)
	var rounds []crashRound
	events := make([]*fileEvents, 3)
	folders := []string{"INBOX"}
	for k := range 3 {
		folders = append(folders, "E"+strconv.Itoa(k))
	}
	e.createFolders(t, addr, folders[1:]...)
	for k := range 3 {
		dir := e.folderDir(t, addr, folders[k+1])
		writeMessages(t, dir, msgIDs(fmt.Sprintf("del%d", k), nDel), func(i int) string { return "T" + seenEvery(i, 2) })
		writeMessages(t, dir, msgIDs(fmt.Sprintf("keep%d", k), nKeep), func(i int) string { return seenEvery(i, 3) })
	}
	unlinks := func(k, n int) func(done <-chan struct{}) string {
		return func(done <-chan struct{}) string {
			return fmt.Sprintf("%d unlinks seen", events[k].wait(n, done))
		}
	}
	rounds = []crashRound{
		{"committed", func(done <-chan struct{}) string { return e.waitPending(t, done) }},
		{"first unlink", unlinks(1, 1)},
		{"half unlinked", unlinks(2, nDel/2)},
	}
	e.reindex(t)
	e.start(t)
	want := snapshot(t, e.index(t, addr))
	if len(want) != 3*(nDel+nKeep) {
		t.Fatalf("%d messages indexed, want %d", len(want), 3*(nDel+nKeep))
	}
	next := e.uidNext(t, addr)
	for k, r := range rounds {
		folder := folders[k+1]
		c := e.imapLogin(t, addr)
		if _, err := c.Select(folder, nil).Wait(); err != nil {
			t.Fatal(err)
		}
		dir := e.folderDir(t, addr, folder)
		events[k] = watchFiles(t, syscall.IN_DELETE, filepath.Join(dir, "cur"), filepath.Join(dir, "new"))
		cmd := c.Expunge()
		done := make(chan struct{})
		go func() { cmd.Close(); close(done) }()
		saw := r.wait(done)
		e.kill(t)
		c.Close()
		<-done
		t.Logf("round %d (%s): killed with %s, %d files on disk", k, r.name, saw, countFilesIn(dir))

		// The transaction committed before the instant: the 600 are gone
		// for good.
		for _, id := range msgIDs(fmt.Sprintf("del%d", k), nDel) {
			delete(want, id)
		}
		e.start(t)
		e.statusMatchesSelect(t, addr, folders...)
		e.check(t)
		want.verify(t, e.index(t, addr))
		if got := e.uidNext(t, addr); !maps.Equal(got, next) {
			t.Errorf("UIDNEXT %v after the restart, want %v: messages were indexed again", got, next)
		}
		if t.Failed() {
			t.Fatalf("round %d failed; serve's log:\n%s", k, e.srv.log)
		}
	}
	e.stop(t)
}

// TestCrashDuringMove: MOVE of 400 messages to another folder, killed while
// the links are being made (after the first and after half of them) and
// after the commit (the first source file unlinked). Each message is then
// exactly once: all still in the source at their UIDs, or all in the
// destination; links of a MOVE that did not commit are not adopted.
func TestCrashDuringMove(t *testing.T) {
	const addr, nMove, nStay = "move@crash.test", 400, 20
	e := newMailEnv(t, addr)
	var src, dst []string
	for k := range 3 {
		src = append(src, "M"+strconv.Itoa(k))
		dst = append(dst, "D"+strconv.Itoa(k))
	}
	e.createFolders(t, addr, append(slices.Clone(src), dst...)...)
	for k := range 3 {
		dir := e.folderDir(t, addr, src[k])
		writeMessages(t, dir, msgIDs(fmt.Sprintf("move%d", k), nMove), func(i int) string { return seenEvery(i, 2) })
		writeMessages(t, dir, msgIDs(fmt.Sprintf("stay%d", k), nStay), func(i int) string { return seenEvery(i, 3) })
	}
	events := make([]*fileEvents, 3)
	seen := func(k, n int, what string) func(done <-chan struct{}) string {
		return func(done <-chan struct{}) string {
			return fmt.Sprintf("%d %s seen", events[k].wait(n, done), what)
		}
	}
	rounds := []crashRound{
		{"first link", seen(0, 1, "links")},
		{"half linked", seen(1, nMove/2, "links")},
		{"first source unlink", seen(2, 1, "source unlinks")},
	}
	e.reindex(t)
	e.start(t)
	want := snapshot(t, e.index(t, addr))
	next := e.uidNext(t, addr)
	all := append(append([]string{"INBOX"}, src...), dst...)
	for k, r := range rounds {
		c := e.imapLogin(t, addr)
		if _, err := c.Select(src[k], nil).Wait(); err != nil {
			t.Fatal(err)
		}
		var uids imap.UIDSet
		moving := msgIDs(fmt.Sprintf("move%d", k), nMove)
		for _, id := range moving {
			uids.AddNum(imap.UID(want[id].UID))
		}
		if k < 2 {
			events[k] = watchFiles(t, syscall.IN_CREATE, filepath.Join(e.folderDir(t, addr, dst[k]), "cur"))
		} else {
			dir := e.folderDir(t, addr, src[k])
			events[k] = watchFiles(t, syscall.IN_DELETE, filepath.Join(dir, "cur"), filepath.Join(dir, "new"))
		}
		cmd := c.Move(uids, dst[k])
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		saw := r.wait(done)
		e.kill(t)
		c.Close()
		<-done
		t.Logf("round %d (%s): killed with %s", k, r.name, saw)

		e.start(t)
		e.statusMatchesSelect(t, addr, all...)
		e.check(t)
		got := e.index(t, addr)
		// All or nothing: the MOVE committed if any message is in the
		// destination (and then the destination took nMove UIDs).
		moved := slices.ContainsFunc(moving, func(id string) bool {
			return slices.ContainsFunc(got[id], func(p place) bool { return p.Folder == dst[k] })
		})
		if moved {
			bad := 0
			for _, id := range moving {
				if ps := got[id]; len(ps) == 1 && ps[0].Folder == dst[k] {
					want[id] = ps[0]
				} else if bad++; bad <= 10 {
					t.Errorf("%s: at %v after a committed MOVE, want once in %s", id, ps, dst[k])
				}
			}
			if bad > 10 {
				t.Errorf("... %d messages not moved in all", bad)
			}
			next[dst[k]] += nMove
		} else if r.name == "first source unlink" {
			t.Errorf("a source file was unlinked, yet the MOVE did not commit")
		}
		t.Logf("round %d: the MOVE %s", k, map[bool]string{true: "committed", false: "did not commit"}[moved])
		want.verify(t, got)
		if got := e.uidNext(t, addr); !maps.Equal(got, next) {
			t.Errorf("UIDNEXT %v after the restart, want %v: messages were indexed again", got, next)
		}
		if t.Failed() {
			t.Fatalf("round %d failed; serve's log:\n%s", k, e.srv.log)
		}
	}
	e.stop(t)
}

// TestCrashDuringPOP3Quit: a POP3 session marks 300 messages with DELE and
// QUITs; serve is killed once QUIT's transaction committed, after the
// first unlink and after half of them. The 300 never come back, the others
// stay at their UIDs.
func TestCrashDuringPOP3Quit(t *testing.T) {
	const addr, nDele, nKeep = "pop@crash.test", 300, 30
	e := newMailEnv(t, addr)
	inbox := e.folderDir(t, addr, "INBOX")
	for k := range 3 {
		writeMessages(t, inbox, msgIDs(fmt.Sprintf("dele%d", k), nDele), func(i int) string { return seenEvery(i, 2) })
	}
	writeMessages(t, inbox, msgIDs("keep", nKeep), func(i int) string { return seenEvery(i, 3) })
	var events *fileEvents
	unlinks := func(n int) func(done <-chan struct{}) string {
		return func(done <-chan struct{}) string {
			return fmt.Sprintf("%d unlinks seen", events.wait(n, done))
		}
	}
	rounds := []crashRound{
		{"committed", func(done <-chan struct{}) string { return e.waitPending(t, done) }},
		{"first unlink", unlinks(1)},
		{"half unlinked", unlinks(nDele / 2)},
	}
	e.reindex(t)
	e.start(t)
	want := snapshot(t, e.index(t, addr))
	next := e.uidNext(t, addr)
	for k, r := range rounds {
		p, err := dialPOP3(e.pop3, addr, mailPassword)
		if err != nil {
			t.Fatal(err)
		}
		uidl, err := p.uidl()
		if err != nil {
			t.Fatal(err)
		}
		deleting := map[string]bool{} // UIDL of the batch
		for _, id := range msgIDs(fmt.Sprintf("dele%d", k), nDele) {
			deleting[strconv.FormatUint(uint64(want[id].UID), 10)] = true
		}
		n := 0
		for _, num := range sortedNums(uidl) {
			if _, uid, _ := strings.Cut(uidl[num], "."); deleting[uid] {
				if _, err := p.cmd("DELE " + strconv.Itoa(num)); err != nil {
					t.Fatal(err)
				}
				n++
			}
		}
		if n != nDele {
			t.Fatalf("DELE of %d messages, want %d (UIDL %d lines)", n, nDele, len(uidl))
		}
		events = watchFiles(t, syscall.IN_DELETE, filepath.Join(inbox, "cur"), filepath.Join(inbox, "new"))
		done := make(chan struct{})
		go func() { p.cmd("QUIT"); close(done) }()
		saw := r.wait(done)
		e.kill(t)
		p.conn.Close()
		<-done
		t.Logf("round %d (%s): killed with %s, %d files on disk", k, r.name, saw, countFilesIn(inbox))

		for _, id := range msgIDs(fmt.Sprintf("dele%d", k), nDele) {
			delete(want, id)
		}
		e.start(t)
		e.statusMatchesSelect(t, addr, "INBOX")
		e.check(t)
		want.verify(t, e.index(t, addr))
		if got := e.uidNext(t, addr); !maps.Equal(got, next) {
			t.Errorf("UIDNEXT %v after the restart, want %v: messages were indexed again", got, next)
		}
		if t.Failed() {
			t.Fatalf("round %d failed; serve's log:\n%s", k, e.srv.log)
		}
	}
	e.stop(t)
}

// TestCrashDuringSMTPLoad: 20 SMTP sessions deliver to two mailboxes (some
// messages to both); serve is killed after a varying number of 250s. After
// each restart every acknowledged copy is indexed exactly once, a copy
// never acknowledged at most once, and STATUS agrees with SELECT before any
// SELECT adopted anything.
func TestCrashDuringSMTPLoad(t *testing.T) {
	boxes := []string{"a@load.test", "b@load.test"}
	e := newMailEnv(t, boxes...)
	e.start(t)
	acked := map[string]map[string]bool{} // mailbox -> Message-IDs with a 250
	sent := map[string]map[string]bool{}  // mailbox -> Message-IDs sent (DATA begun)
	for _, b := range boxes {
		acked[b], sent[b] = map[string]bool{}, map[string]bool{}
	}
	for k, after := range []int{25, 90, 200} {
		var mu sync.Mutex
		n := 0
		reached := make(chan struct{})
		var wg sync.WaitGroup
		for g := range 20 {
			wg.Go(func() {
				c, err := smtp.Dial(e.smtp)
				if err != nil {
					return
				}
				defer c.Close()
				if c.Hello("load.example") != nil {
					return
				}
				for i := 0; ; i++ {
					id := fmt.Sprintf("load%d-%d-%d@test", k, g, i)
					to := []string{boxes[(g+i)%2]}
					if i%3 == 0 {
						to = boxes
					}
					mu.Lock()
					for _, b := range to {
						sent[b][id] = true
					}
					mu.Unlock()
					if c.Mail("sender@remote.example", nil) != nil {
						return
					}
					for _, b := range to {
						if c.Rcpt(b, nil) != nil {
							return
						}
					}
					w, err := c.Data()
					if err != nil {
						return
					}
					fmt.Fprintf(w, "Message-ID: <%s>\r\nSubject: %s\r\n\r\n%s\r\n", id, id, strings.Repeat("load ", 100))
					if w.Close() != nil {
						return // killed: not acknowledged
					}
					mu.Lock()
					for _, b := range to {
						acked[b][id] = true
					}
					if n++; n == after {
						close(reached)
					}
					mu.Unlock()
				}
			})
		}
		ended := make(chan struct{})
		go func() { wg.Wait(); close(ended) }()
		select {
		case <-reached:
		case <-ended:
			t.Fatalf("round %d: every session ended before %d messages were acknowledged\n%s", k, after, e.srv.log)
		}
		e.kill(t)
		wg.Wait()
		t.Logf("round %d: killed after %d acknowledged transactions (waited for %d)", k, n, after)

		e.start(t)
		e.statusMatchesSelect(t, boxes[0], "INBOX")
		e.statusMatchesSelect(t, boxes[1], "INBOX")
		e.check(t)
		for _, b := range boxes {
			got := e.index(t, b)
			for id := range acked[b] {
				if len(got[id]) != 1 {
					t.Errorf("%s: acknowledged %s at %v, want exactly once", b, id, got[id])
				}
			}
			for id, ps := range got {
				if !sent[b][id] || len(ps) > 1 {
					t.Errorf("%s: %s at %v, never sent or more than once", b, id, ps)
				}
			}
		}
		if t.Failed() {
			t.Fatalf("round %d failed; serve's log:\n%s", k, e.srv.log)
		}
	}
	e.stop(t)
}

// seenEvery gives every nth message the Maildir flag S (\Seen).
func seenEvery(i, n int) string {
	if i%n == 0 {
		return "S"
	}
	return ""
}

func sortedNums(m map[int]string) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
