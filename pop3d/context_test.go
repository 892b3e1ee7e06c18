package pop3d_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"mailhost/maildir"
	"mailhost/testdb"
)

// TestDisconnectCancelsCommand: a client that goes away while its login
// waits on the database cancels that query (it does not wait for a lock
// on behalf of nobody), and the mailbox's POP3 lock is free again.
func TestDisconnectCancelsCommand(t *testing.T) {
	e := newEnv(t, envOptions{})
	id := e.addMailbox(t, "alice@example.com", "pw")
	b := testdb.Block(t, e.st, "messages")
	c := dial(t, e.plain)
	c.expect("USER alice@example.com", "+OK")
	c.send("PASS pw")
	b.WaitFor(t, 1, "the login to wait for the messages table")
	c.conn.Close()
	b.WaitFor(t, 0, "the login's query to be cancelled")
	b.Release()
	for deadline := time.Now().Add(20 * time.Second); e.int64(t, `SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 2 AND objid = $1`, id) > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the session's POP3 lock was not released")
		}
	}
	dial(t, e.plain).login("alice@example.com", "pw")
}

// TestShutdownCancelsCommand: a shutdown cancels a command waiting on the
// database, and the server stops without waiting for the lock.
func TestShutdownCancelsCommand(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.addMailbox(t, "alice@example.com", "pw")
	b := testdb.Block(t, e.st, "messages")
	c := dial(t, e.plain)
	c.expect("USER alice@example.com", "+OK")
	c.send("PASS pw")
	b.WaitFor(t, 1, "the login to wait for the messages table")
	stopped := make(chan struct{})
	go func() { e.stop(); close(stopped) }()
	b.WaitFor(t, 0, "the login's query to be cancelled")
	<-stopped // while the table is still locked
	if r := c.line(); !strings.HasPrefix(r, "-ERR [SYS/TEMP]") {
		t.Errorf("PASS answered %q, want a temporary failure", r)
	}
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if rest, err := io.ReadAll(c.r); err != nil || !strings.Contains(string(rest), "shutting down") {
		t.Errorf("after the reply: %q, %v; want the shutdown notice, then the end", rest, err)
	}
}

// TestLocksOfIDsApartAbove32Bits: two mailboxes whose ids differ only
// above the low 32 bits are used by two POP3 sessions at once.
func TestLocksOfIDsApartAbove32Bits(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.exec(t, `INSERT INTO domains (name) VALUES ('example.com')`)
	for _, m := range []struct {
		id    int64
		local string
	}{{5, "low"}, {5 + 1<<32, "high"}} {
		hash, err := cheapHasher.Hash("pw")
		if err != nil {
			t.Fatal(err)
		}
		e.exec(t, `INSERT INTO mailboxes (id, domain_id, local_part, address, password, maildir)
			OVERRIDING SYSTEM VALUE
			SELECT $1, id, $2, $2 || '@example.com', $3, 'example.com/' || $2 || '/' FROM domains`, m.id, m.local, hash)
		e.exec(t, `INSERT INTO folders (mailbox_id, name) VALUES ($1, 'INBOX')`, m.id)
		if _, err := maildir.Create(e.root, "example.com", m.local, maildir.Owner{UID: -1, GID: -1}); err != nil {
			t.Fatal(err)
		}
	}
	low := dial(t, e.plain)
	low.login("low@example.com", "pw")
	high := dial(t, e.plain)
	high.expect("USER high@example.com", "+OK")
	if r := high.cmd("PASS pw"); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("second mailbox refused while the first is open: %q", r)
	}
	low.expect("QUIT", "+OK")
	high.expect("QUIT", "+OK")
}
