package imapd_test

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"mailhost/imapd"
	"mailhost/reconcile"
	"mailhost/store"
)

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// TestQResyncReconnect is a phone's resynchronisation (RFC 7162 3.2.5):
// it remembers UIDVALIDITY and HIGHESTMODSEQ, goes away while other
// sessions change flags, expunge and deliver, then comes back and gets
// only the changed flags and the UIDs that vanished.
func TestQResyncReconnect(t *testing.T) {
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	deliver := startMX(t, e)
	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	for range 5 {
		appendMsg(t, c, "INBOX", testMsg)
	}

	phone := loginRaw(t, e.nodes[0].addr)
	if l := phone.run("e", "ENABLE QRESYNC")[0]; l != "* ENABLED QRESYNC" {
		t.Errorf("ENABLE: %q", l)
	}
	sel := phone.run("s", "SELECT INBOX (QRESYNC (1 1))") // a wrong UIDVALIDITY: a plain SELECT
	uv, h := code(t, sel, "UIDVALIDITY"), code(t, sel, "HIGHESTMODSEQ")
	if len(having(sel, "* VANISHED")) != 0 || len(fetchedUIDs(t, sel)) != 0 {
		t.Errorf("SELECT with another UIDVALIDITY resynchronised: %q", sel)
	}
	phone.run("o", "LOGOUT")

	// Meanwhile: a flag change, two expunges, a delivery.
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.UIDSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
		Flags: []imap.Flag{imap.FlagSeen}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.UIDSetNum(3, 4), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
		Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	deliver()

	phone = loginRaw(t, e.nodes[0].addr)
	phone.run("e", "ENABLE QRESYNC")
	sel = phone.run("s", "SELECT INBOX (QRESYNC ("+itoa64(uv)+" "+itoa64(h)+" 1:5))")
	if v := having(sel, "* VANISHED"); len(v) != 1 || v[0] != "* VANISHED (EARLIER) 3:4" {
		t.Errorf("VANISHED: %q", sel)
	}
	if got := fetchedUIDs(t, sel); len(got) != 2 || got[0] != 2 || got[1] != 6 {
		t.Errorf("resync FETCH UIDs %v, want [2 6]: %q", got, sel)
	}
	for _, l := range having(sel, "* ") {
		if strings.Contains(l, " FETCH (") && (!strings.Contains(l, "FLAGS (") || !strings.Contains(l, "MODSEQ (")) {
			t.Errorf("resync FETCH without FLAGS and MODSEQ: %q", l)
		}
		if strings.Contains(l, "UID 2 ") && !strings.Contains(l, `\Seen`) {
			t.Errorf("the flag change is missing: %q", l)
		}
	}
	if n := having(sel, "* 4 EXISTS"); len(n) != 1 {
		t.Errorf("EXISTS: %q", sel)
	}
	h2 := code(t, sel, "HIGHESTMODSEQ")
	if h2 <= h {
		t.Errorf("HIGHESTMODSEQ %d after changes, was %d", h2, h)
	}

	// Once QRESYNC is on, removals are VANISHED, also during IDLE, and flag
	// updates carry MODSEQ.
	if err := c.Store(imap.UIDSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
		Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	lines := phone.run("n", "NOOP")
	if v := having(lines, "* "); len(v) != 1 || v[0] != "* VANISHED 1" {
		t.Errorf("NOOP after an expunge: %q", lines)
	}
	phone.send("i IDLE\r\n")
	phone.expect("+ ")
	if err := c.Store(imap.UIDSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
		Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	l := phone.expect("* ")
	if !strings.Contains(l, "FETCH (UID 2 FLAGS (") || !strings.Contains(l, `\Flagged`) || !strings.Contains(l, "MODSEQ (") {
		t.Errorf("IDLE flag update: %q", l)
	}
	if err := c.Store(imap.UIDSetNum(5), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
		Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	for {
		l = phone.expect("* ")
		if !strings.Contains(l, " FETCH ") { // the \Deleted update may come first
			break
		}
	}
	if l != "* VANISHED 5\r\n" {
		t.Errorf("IDLE expunge: %q", l)
	}
	phone.send("DONE\r\n")
	phone.expect("i OK")

	// UID FETCH ... (CHANGEDSINCE h VANISHED): the removals since h among
	// the UIDs asked for, then the changed messages.
	lines = phone.run("f", "UID FETCH 1:* (FLAGS) (CHANGEDSINCE "+itoa64(h)+" VANISHED)")
	if v := having(lines, "* VANISHED"); len(v) != 1 || v[0] != "* VANISHED (EARLIER) 1,3:5" {
		t.Errorf("UID FETCH VANISHED: %q", lines)
	}
	if i := strings.Index(strings.Join(lines, "\n"), "VANISHED"); i > strings.Index(strings.Join(lines, "\n"), "FETCH (") {
		t.Errorf("VANISHED (EARLIER) after the FETCH responses: %q", lines)
	}
	if got := fetchedUIDs(t, lines); len(got) != 2 || got[0] != 2 || got[1] != 6 {
		t.Errorf("CHANGEDSINCE UIDs %v: %q", got, lines)
	}
	if l := phone.runAny("f2", "FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)"); !strings.HasPrefix(l[len(l)-1], "f2 BAD") {
		t.Errorf("VANISHED without UID: %q", l)
	}

	// Tombstones pruned (or older than the index's): the server falls back
	// to every known UID that is not in the folder (RFC 7162 3.2.5.1).
	if _, err := e.db.Pool().Exec(context.Background(), `UPDATE folders SET vanished_floor = highestmodseq
		WHERE name = 'INBOX'`); err != nil {
		t.Fatal(err)
	}
	phone.run("o", "LOGOUT")
	phone = loginRaw(t, e.nodes[0].addr)
	phone.run("e", "ENABLE QRESYNC")
	sel = phone.run("s", "SELECT INBOX (QRESYNC ("+itoa64(uv)+" "+itoa64(h)+" 1:6))")
	if v := having(sel, "* VANISHED"); len(v) != 1 || v[0] != "* VANISHED (EARLIER) 1,3:5" {
		t.Errorf("VANISHED from the fallback: %q", sel)
	}
	// EXPUNGE answers VANISHED and the new HIGHESTMODSEQ in its tagged OK.
	st := having(phone.run("d", `UID STORE 6 +FLAGS.SILENT (\Deleted)`), "* ")
	if len(st) != 1 || !strings.Contains(st[0], "UID 6 MODSEQ (") {
		t.Fatalf("STORE .SILENT: %q", st)
	}
	lines = phone.run("x", "UID EXPUNGE 6")
	if want := []string{"* VANISHED 6", "x OK [HIGHESTMODSEQ " + itoa64(num(t, st[0], reModSeq)+1) + "] EXPUNGE completed"}; !slices.Equal(lines, want) {
		t.Errorf("UID EXPUNGE: %q, want %q", lines, want)
	}
	// A SELECT with QRESYNC that was not enabled is refused.
	other := loginRaw(t, e.nodes[0].addr)
	if l := other.runAny("s", "SELECT INBOX (QRESYNC ("+itoa64(uv)+" 1))"); !strings.HasPrefix(l[len(l)-1], "s BAD") {
		t.Errorf("QRESYNC without ENABLE: %q", l)
	}
}

// TestCondStoreTwoNodes: two servers, each with its own store and change
// listener on one database, agree on MODSEQs, and an IDLE session on one
// sees a STORE made on the other.
func TestCondStoreTwoNodes(t *testing.T) {
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	db2, err := store.Open(context.Background(), e.db.Pool().Config().ConnString(), store.Options{MaxConns: 5})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db2.Close)
	listener := db2.NewFolderListener(slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { listener.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	node2 := e.startNodeWith(t, func(o *imapd.Options) {
		o.Backend, o.Notices = db2, listener
		o.Files = &reconcile.Reconciler{Index: db2, Log: slog.New(slog.DiscardHandler)}
	})
	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	appendMsg(t, c, "INBOX", testMsg)

	one := loginRaw(t, e.nodes[0].addr)
	one.run("s", "SELECT INBOX (CONDSTORE)")
	two := loginRaw(t, node2.addr)
	two.run("e", "ENABLE CONDSTORE")
	two.run("s", "SELECT INBOX")
	idler := loginRaw(t, node2.addr)
	idler.run("e", "ENABLE CONDSTORE")
	idler.run("s", "EXAMINE INBOX")
	idler.send("i IDLE\r\n")
	idler.expect("+ ")

	st := having(one.run("st", `UID STORE 1 +FLAGS (\Answered)`), "* 1 FETCH")
	if len(st) != 1 {
		t.Fatalf("STORE on node 1: %q", st)
	}
	m := num(t, st[0], reModSeq)
	got := having(two.run("f", "FETCH 1 (MODSEQ)"), "* 1 FETCH")
	if len(got) == 0 || num(t, got[0], reModSeq) != m { // then perhaps the update, with the same MODSEQ
		t.Errorf("node 2 FETCH MODSEQ %q, node 1 STORE gave %d", got, m)
	}
	l := idler.expect("* 1 FETCH")
	if !strings.Contains(l, `\Answered`) || num(t, l, reModSeq) != m {
		t.Errorf("IDLE on node 2: %q, want MODSEQ %d", l, m)
	}
	idler.send("DONE\r\n")
	idler.expect("i OK")
	if h := code(t, two.run("n", "SELECT INBOX"), "HIGHESTMODSEQ"); h != m {
		t.Errorf("node 2 HIGHESTMODSEQ %d, want %d", h, m)
	}
}
