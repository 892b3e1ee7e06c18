package imapd_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailhost/maildir"
	"mailhost/mda"
	"mailhost/store"
	"mailhost/testsupport"
)

// idler is a logged-in session IDLE in INBOX that records what it is told.
type idler struct {
	exists  chan uint32
	expunge chan uint32
	flags   chan []imap.Flag
	c       *imapclient.Client
	cmd     *imapclient.IdleCommand
}

func startIdle(t *testing.T, e *env, n *node, user string) *idler {
	t.Helper()
	id := &idler{exists: make(chan uint32, 16), expunge: make(chan uint32, 16), flags: make(chan []imap.Flag, 16)}
	id.c = e.dial(t, n, user, "secret", &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				id.exists <- *d.NumMessages
			}
		},
		Expunge: func(seq uint32) { id.expunge <- seq },
		Fetch: func(m *imapclient.FetchMessageData) {
			for item := m.Next(); item != nil; item = m.Next() {
				if f, ok := item.(imapclient.FetchItemDataFlags); ok {
					id.flags <- f.Flags
				}
			}
		},
	})
	if _, err := id.c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	cmd, err := id.c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	id.cmd = cmd
	t.Cleanup(func() { cmd.Close() })
	return id
}

func waitFor[T any](t *testing.T, what string, c chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

func TestIdleSeesAppendFlagsExpungeOnSameAndOtherNode(t *testing.T) {
	e := newEnv(t)
	e.addMailbox(t, "bob@example.test", "secret", 0)
	second := e.startNode(t)
	same := startIdle(t, e, e.nodes[0], "bob@example.test")
	other := startIdle(t, e, second, "bob@example.test")

	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	appendMsg(t, c, "INBOX", testMsg)
	if n := waitFor(t, "EXISTS on the same node", same.exists); n != 1 {
		t.Errorf("same node: EXISTS %d", n)
	}
	if n := waitFor(t, "EXISTS on the second node", other.exists); n != 1 {
		t.Errorf("second node: EXISTS %d", n)
	}

	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true,
		Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	for _, id := range []*idler{same, other} {
		if f := waitFor(t, "FETCH FLAGS", id.flags); !slices.Contains(f, imap.FlagDeleted) {
			t.Errorf("flags update %v lacks \\Deleted", f)
		}
	}
	if _, err := c.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	for _, id := range []*idler{same, other} {
		if seq := waitFor(t, "EXPUNGE", id.expunge); seq != 1 {
			t.Errorf("EXPUNGE %d", seq)
		}
	}
}

func TestIdleSeesDeliveryAndAdoptedFiles(t *testing.T) {
	e := newEnv(t)
	mbID := e.addMailbox(t, "bob@example.test", "secret", 0)
	second := e.startNode(t)
	same := startIdle(t, e, e.nodes[0], "bob@example.test")
	other := startIdle(t, e, second, "bob@example.test")

	// A delivery by the delivery agent (what the MTA calls after DATA).
	names, _ := maildir.NewGenerator("mx")
	agent := &mda.Agent{Root: e.root, Owner: maildir.Owner{UID: os.Getuid(), GID: os.Getgid()}, Names: names, Index: e.db}
	_, err := agent.Deliver(context.Background(), mda.Message{Body: []byte(testMsg)}, []mda.Recipient{{
		Target: store.LocalTarget{MailboxID: mbID, Address: "bob@example.test", Domain: "example.test",
			Maildir: "example.test/bob/", Folder: "INBOX"},
	}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := waitFor(t, "EXISTS after delivery, same node", same.exists); n != 1 {
		t.Errorf("EXISTS %d", n)
	}
	if n := waitFor(t, "EXISTS after delivery, second node", other.exists); n != 1 {
		t.Errorf("EXISTS %d", n)
	}

	// A file dropped into new/ by another program is adopted at the next
	// poll (here: a NOOP of another session).
	dir := filepath.Join(e.maildirPath("bob@example.test"), "new")
	if err := os.WriteFile(filepath.Join(dir, "1700000000.foreign.host,S=10"), []byte("Subject: x\n\nforeign\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages != 2 {
		t.Errorf("SELECT after a foreign file: %d messages, want 2", sel.NumMessages)
	}
	// The first read-write SELECT took both as \Recent and moved them to cur/.
	for _, f := range e.files(t, "bob@example.test", "") {
		if !strings.HasPrefix(f, "cur/") {
			t.Errorf("%s still in new/ after SELECT", f)
		}
	}
	c2 := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	if sel2, err := c2.Select("INBOX", nil).Wait(); err != nil || sel2.NumMessages != 2 {
		t.Errorf("second SELECT: %v %+v", err, sel2)
	}
	r := dialRaw(t, e.nodes[0].addr)
	r.send("a LOGIN bob@example.test secret\r\nb SELECT INBOX\r\n")
	if l := r.expect("* 0 RECENT"); l == "" {
		t.Error("no RECENT 0 on a later SELECT")
	}
	if n := waitFor(t, "EXISTS for the adopted file", other.exists); n != 2 {
		t.Errorf("EXISTS %d", n)
	}
}

func TestQuotaAppendCopyMove(t *testing.T) {
	e := newEnv(t)
	msgSize := int64(len(testMsg))
	id := e.addMailbox(t, "bob@example.test", "secret", 2*msgSize+msgSize/2) // room for 2.5 messages
	c := e.dial(t, e.nodes[0], "bob@example.test", "secret", nil)
	appendMsg(t, c, "INBOX", testMsg)
	appendMsg(t, c, "INBOX", testMsg)

	overQuota := func(what string, err error) {
		t.Helper()
		var ie *imap.Error
		if !errors.As(err, &ie) || ie.Type != imap.StatusResponseTypeNo || ie.Code != imap.ResponseCodeOverQuota {
			t.Fatalf("%s: %v, want NO [OVERQUOTA]", what, err)
		}
	}
	cmd := c.Append("INBOX", msgSize, nil)
	cmd.Write([]byte(testMsg))
	cmd.Close()
	_, err := cmd.Wait()
	overQuota("APPEND", err)

	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	_, err = c.Copy(imap.SeqSetNum(1), "Archive").Wait()
	overQuota("COPY", err)
	_, err = c.Move(imap.SeqSetNum(1, 2), "Archive").Wait()
	overQuota("MOVE", err)

	if b, n := usage(t, e, id); b != 2*msgSize || n != 2 {
		t.Errorf("usage: %d bytes %d messages, want %d and 2", b, n, 2*msgSize)
	}
	for _, dir := range []string{"", ".Archive"} {
		files := e.files(t, "bob@example.test", dir)
		if want := map[string]int{"": 2, ".Archive": 0}[dir]; len(files) != want {
			t.Errorf("%q holds %v, want %d files", dir, files, want)
		}
	}
	// Within quota, MOVE works and keeps the usage.
	if _, err := e.db.Pool().Exec(context.Background(), `UPDATE mailboxes SET quota_bytes = 0 WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	data, err := c.Move(imap.SeqSetNum(1), "Archive").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if data.UIDValidity == 0 || !strings.Contains(data.DestUIDs.String(), "1") {
		t.Errorf("COPYUID of MOVE: %+v", data)
	}
	if b, n := usage(t, e, id); b != 2*msgSize || n != 2 {
		t.Errorf("usage after MOVE: %d bytes %d messages", b, n)
	}
	if files := e.files(t, "bob@example.test", ".Archive"); len(files) != 1 {
		t.Errorf("Archive after MOVE: %v", files)
	}
}

// TestNoticesSurviveListenerReconnect kills the LISTEN connections; the
// listeners reconnect and IDLE sessions still hear of changes made on
// another node.
func TestNoticesSurviveListenerReconnect(t *testing.T) {
	e := newEnvPolling(t, time.Hour) // no periodic wake-up: only notices count
	e.addMailbox(t, "bob@example.test", "secret", 0)
	second := e.startNode(t)
	idle := startIdle(t, e, e.nodes[0], "bob@example.test")
	// listeners counts the LISTEN connections other than those in gone.
	listeners := func(gone []int32) int {
		var n int
		if err := e.db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE query LIKE 'LISTEN %' AND datname = current_database() AND pid <> ALL($1)`, gone).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	testsupport.Eventually(t, 30*time.Second, "both nodes' LISTEN connections", func() bool { return listeners([]int32{}) == 2 })
	var killed []int32
	if err := e.db.Pool().QueryRow(context.Background(), `SELECT coalesce(array_agg(pid) FILTER (WHERE pg_terminate_backend(pid)), '{}')
		FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND datname = current_database()`).Scan(&killed); err != nil || len(killed) != 2 {
		t.Fatalf("terminated %d LISTEN connections: %v", len(killed), err)
	}
	testsupport.Eventually(t, 30*time.Second, "both nodes' listeners to reconnect", func() bool { return listeners(killed) == 2 })
	c := e.dial(t, second, "bob@example.test", "secret", nil)
	appendMsg(t, c, "INBOX", testMsg)
	if n := waitFor(t, "EXISTS after the listener reconnected", idle.exists); n != 1 {
		t.Errorf("EXISTS %d", n)
	}
}
