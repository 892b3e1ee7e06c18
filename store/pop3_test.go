package store_test

import (
	"context"
	"testing"

	"mailhost/store"
	"mailhost/testdb"
)

func TestMailboxLocks(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	node1, node2 := s.NewMailboxLocks(), s.NewMailboxLocks()
	defer node1.Close()
	defer node2.Close()

	try := func(l *store.MailboxLocks, id int64, want bool) {
		t.Helper()
		ok, err := l.TryLock(ctx, id)
		if err != nil || ok != want {
			t.Fatalf("TryLock(%d) = %v, %v; want %v", id, ok, err, want)
		}
	}
	try(node1, 1, true)
	try(node1, 1, false) // a second session on the same node
	try(node2, 1, false) // a session on another node
	try(node2, 2, true)
	if err := node1.Unlock(ctx, 1); err != nil {
		t.Fatal(err)
	}
	try(node2, 1, true)
	if err := node2.Unlock(ctx, 1); err != nil {
		t.Fatal(err)
	}

	// node1 holds 3; its connection dies: the lock vanishes with it, and
	// the next call reconnects and takes it back for the running session.
	try(node1, 3, true)
	if _, err := s.Pool().Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND classid = 0 AND objid = 3 AND objsubid = 2
		AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`); err != nil {
		t.Fatal(err)
	}
	try(node1, 4, true) // notices, reconnects, takes 3 again
	try(node2, 3, false)
	node1.Close()
	try(node2, 3, true)
}

// TestMailboxLocksWholeID: mailboxes whose ids differ only above 32 bits
// have locks of their own; the lock of the one does not refuse the other.
func TestMailboxLocksWholeID(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	node1, node2 := s.NewMailboxLocks(), s.NewMailboxLocks()
	defer node1.Close()
	defer node2.Close()
	const low, high = int64(7), int64(7 + 1<<32)
	for _, c := range []struct {
		l  *store.MailboxLocks
		id int64
	}{{node1, low}, {node2, high}, {node1, high + 1<<40}, {node2, -low}} {
		if ok, err := c.l.TryLock(ctx, c.id); err != nil || !ok {
			t.Fatalf("TryLock(%d) = %v, %v; want true", c.id, ok, err)
		}
	}
	if ok, _ := node2.TryLock(ctx, low); ok {
		t.Error("two nodes hold the same mailbox")
	}
}

func TestPOP3ExpungeOnlyTouchesItsMailbox(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := s.Pool().Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`INSERT INTO domains (name) VALUES ('example.com')`)
	exec(`INSERT INTO mailboxes (domain_id, local_part, address, password, maildir, used_bytes, used_messages)
		SELECT id, n, n || '@example.com', '{PLAIN}x', 'example.com/' || n || '/', 10, 1
		FROM domains, unnest(ARRAY['a', 'b']) n`)
	exec(`INSERT INTO folders (mailbox_id, name) SELECT id, 'INBOX' FROM mailboxes`)
	exec(`INSERT INTO messages (folder_id, uid, modseq, key, filename, size, internal_date)
		SELECT f.id, 1, 1, 'k' || m.local_part, 'k' || m.local_part, 10, now()
		FROM folders f JOIN mailboxes m ON m.id = f.mailbox_id`)
	a, _ := s.MailboxCredentials(ctx, "a@example.com")
	b, _ := s.MailboxCredentials(ctx, "b@example.com")
	inA, err := s.POP3Inbox(ctx, a.MailboxID)
	if err != nil || len(inA.Messages) != 1 {
		t.Fatalf("POP3Inbox(a) = %+v, %v", inA, err)
	}
	inB, _ := s.POP3Inbox(ctx, b.MailboxID)
	// a's session names b's message and folder: nothing happens.
	got, err := s.POP3Expunge(ctx, a.MailboxID, inB.FolderID, []int64{inB.Messages[0].ID})
	if err != nil || len(got.Messages) != 0 {
		t.Fatalf("cross-mailbox expunge = %+v, %v", got, err)
	}
	got, err = s.POP3Expunge(ctx, a.MailboxID, inA.FolderID, []int64{inA.Messages[0].ID, inB.Messages[0].ID})
	if err != nil || len(got.Messages) != 1 || got.Messages[0].Key != "ka" {
		t.Fatalf("expunge = %+v, %v", got, err)
	}
	var used, msgs int64
	if err := s.Pool().QueryRow(ctx, `SELECT used_bytes, used_messages FROM mailboxes WHERE id = $1`, a.MailboxID).Scan(&used, &msgs); err != nil {
		t.Fatal(err)
	}
	if used != 0 || msgs != 0 {
		t.Fatalf("a's usage after expunge: %d bytes, %d messages", used, msgs)
	}
	// Expunging again (another session got there first) is harmless.
	got, err = s.POP3Expunge(ctx, a.MailboxID, inA.FolderID, []int64{inA.Messages[0].ID})
	if err != nil || len(got.Messages) != 0 {
		t.Fatalf("second expunge = %+v, %v", got, err)
	}
	if in, err := s.POP3Inbox(ctx, 999999); err != nil || len(in.Messages) != 0 {
		t.Fatalf("POP3Inbox of a mailbox without INBOX = %+v, %v", in, err)
	}
}
