package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// POP3Message is one message of a POP3 maildrop, as the index knows it.
type POP3Message struct {
	ID       int64  // messages.id
	UID      int64  // IMAP UID, stable
	Key      string // Maildir key
	Filename string // file name last known to the index (flags may have changed it since)
	Size     int64  // bytes on disk, as charged to the quota
}

// POP3Maildrop is the maildrop of a POP3 session: the INBOX folder's
// messages in UID order, as they were at login.
type POP3Maildrop struct {
	FolderID    int64
	UIDValidity int64
	Messages    []POP3Message
}

// POP3Expunged is what a POP3 expunge removed from the index.
type POP3Expunged struct {
	Messages []POP3Message // the rows deleted (those still there), whose files to remove
}

// POP3Inbox returns the INBOX folder of a mailbox and its messages in UID
// order. A mailbox without an INBOX row has an empty maildrop.
func (s *Store) POP3Inbox(ctx context.Context, mailboxID int64) (POP3Maildrop, error) {
	var in POP3Maildrop
	err := s.pool.QueryRow(ctx, `SELECT id, uidvalidity FROM folders WHERE mailbox_id = $1 AND name = 'INBOX'`,
		mailboxID).Scan(&in.FolderID, &in.UIDValidity)
	if errors.Is(err, pgx.ErrNoRows) {
		return POP3Maildrop{}, nil
	}
	if err != nil {
		return POP3Maildrop{}, translate(err, "pop3 inbox folder")
	}
	rows, err := s.pool.Query(ctx, `
		SELECT id, uid, key, filename, size FROM messages WHERE folder_id = $1 ORDER BY uid`, in.FolderID)
	if err != nil {
		return POP3Maildrop{}, translate(err, "pop3 inbox messages")
	}
	in.Messages, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (POP3Message, error) {
		var m POP3Message
		err := r.Scan(&m.ID, &m.UID, &m.Key, &m.Filename, &m.Size)
		return m, err
	})
	if err != nil {
		return POP3Maildrop{}, translate(err, "pop3 inbox messages")
	}
	return in, nil
}

// POP3Expunge deletes the message rows ids of folder folderID (of mailbox
// mailboxID) in one transaction: the rows, their size and count from the
// mailbox's usage, one HIGHESTMODSEQ step of the folder, and a
// "<folder id>:expunge" notice on FolderChannel at commit, and the keys in
// the journal for removal. Rows already gone (expunged over IMAP meanwhile)
// are skipped; the rows deleted are returned so the caller removes their
// files after the commit, then calls FinishPending.
func (s *Store) POP3Expunge(ctx context.Context, mailboxID, folderID int64, ids []int64) (POP3Expunged, error) {
	var out POP3Expunged
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockRows(ctx, tx, mailboxID, folderID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
			WITH d AS (
				DELETE FROM messages m USING folders f
				WHERE m.id = ANY($3) AND m.folder_id = $2 AND f.id = m.folder_id AND f.mailbox_id = $1
				RETURNING m.id, m.folder_id, m.uid, m.key, m.filename, m.size
			)`+fmt.Sprintf(journalRemovals, 4)+`
			SELECT id, uid, key, filename, size FROM d ORDER BY uid`, mailboxID, folderID, ids, s.node)
		if err != nil {
			return err
		}
		out.Messages, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (POP3Message, error) {
			var m POP3Message
			err := r.Scan(&m.ID, &m.UID, &m.Key, &m.Filename, &m.Size)
			return m, err
		})
		if err != nil || len(out.Messages) == 0 {
			return err
		}
		var bytes int64
		for _, m := range out.Messages {
			bytes += m.Size
		}
		if _, err := tx.Exec(ctx, `
			UPDATE mailboxes SET used_bytes = greatest(used_bytes - $2, 0),
			                     used_messages = greatest(used_messages - $3, 0)
			WHERE id = $1`, mailboxID, bytes, len(out.Messages)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE folders SET highestmodseq = highestmodseq + 1 WHERE id = $1`, folderID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, FolderChannel, strconv.FormatInt(folderID, 10)+":expunge")
		return err
	})
	if err != nil {
		return POP3Expunged{}, translate(err, "pop3 expunge")
	}
	return out, nil
}

// pop3LockClass is the first key of the POP3 advisory locks ("POP3"), the
// mailbox id the second, so they collide with no other advisory lock.
const pop3LockClass = 0x504f5033

// MailboxLocks holds this node's POP3 mailbox locks: PostgreSQL session
// advisory locks on one dedicated connection (not a pool connection, so a
// thousand POP3 sessions do not take a thousand connections), so that one
// POP3 session per mailbox runs at a time across every node sharing the
// database. Sessions of this node are told apart in memory, since a
// session lock is re-entrant for the connection holding it. If the
// connection breaks, its locks vanish with it; the next call reconnects and
// takes the locks of the sessions still running again. Safe for concurrent
// use; Close releases everything.
type MailboxLocks struct {
	connect func(context.Context) (*pgx.Conn, error)

	mu   sync.Mutex
	conn *pgx.Conn
	held map[int64]struct{}
}

// NewMailboxLocks returns the lock holder of this node. It connects with
// the pool's settings on Connect or at first use.
func (s *Store) NewMailboxLocks() *MailboxLocks {
	cfg := s.pool.Config().ConnConfig
	return &MailboxLocks{
		connect: func(ctx context.Context) (*pgx.Conn, error) { return pgx.ConnectConfig(ctx, cfg.Copy()) },
		held:    map[int64]struct{}{},
	}
}

// Connect opens the lock connection now rather than at the first login:
// serve calls it at start, before dropping privileges (a Unix socket
// only root may reach still works) and so that a database that cannot be
// reached is reported at once.
func (l *MailboxLocks) Connect(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockTimeout)
	defer cancel()
	return l.ensureConn(ctx)
}

// lockTimeout bounds a lock round trip. The context of a call is not used
// as is: cancelling a query closes its connection, which would drop every
// session's lock.
const lockTimeout = 10 * time.Second

// TryLock takes mailbox id's lock; false when a session (of this node or
// another) holds it.
func (l *MailboxLocks) TryLock(ctx context.Context, id int64) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.held[id]; ok {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockTimeout)
	defer cancel()
	var ok bool
	var err error
	for attempt := 0; attempt < 2; attempt++ { // a dead connection is noticed on use: reconnect once
		if err = l.ensureConn(ctx); err != nil {
			return false, err
		}
		if ok, err = l.try(ctx, id); err == nil {
			break
		}
		l.dropConn()
	}
	if err != nil {
		return false, err
	}
	if ok {
		l.held[id] = struct{}{}
	}
	return ok, nil
}

// Unlock releases mailbox id's lock.
func (l *MailboxLocks) Unlock(ctx context.Context, id int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.held[id]; !ok {
		return nil
	}
	delete(l.held, id)
	if l.conn == nil || l.conn.IsClosed() {
		return nil // the lock went with the connection
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockTimeout)
	defer cancel()
	if _, err := l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1, $2)`, int32(pop3LockClass), lockKey(id)); err != nil {
		// The connection is gone, and this lock with it: reconnect now
		// to take back the locks of the other sessions.
		l.dropConn()
		if err := l.ensureConn(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Close releases every lock and closes the connection. The locks are
// released first: the server ends a closed session a little later, and
// another node should not wait for that.
func (l *MailboxLocks) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil && !l.conn.IsClosed() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		l.conn.Exec(ctx, `SELECT pg_advisory_unlock_all()`) //nolint:errcheck // closing releases them anyway
		cancel()
	}
	l.dropConn()
	clear(l.held)
}

func (l *MailboxLocks) try(ctx context.Context, id int64) (bool, error) {
	var ok bool
	err := l.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, int32(pop3LockClass), lockKey(id)).Scan(&ok)
	if err != nil {
		return false, translate(err, "pop3 lock")
	}
	return ok, nil
}

// ensureConn connects when there is no live connection and takes back the
// locks of the sessions still running; a lock another node took in the
// meantime is lost to its session (which still deletes only what it saw).
func (l *MailboxLocks) ensureConn(ctx context.Context) error {
	if l.conn != nil && !l.conn.IsClosed() {
		return nil
	}
	c, err := l.connect(ctx)
	if err != nil {
		return fmt.Errorf("store: pop3 lock connection: %w", err)
	}
	l.conn = c
	for id := range l.held {
		if ok, err := l.try(ctx, id); err != nil || !ok {
			delete(l.held, id)
		}
	}
	return nil
}

func (l *MailboxLocks) dropConn() {
	if l.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		l.conn.Close(ctx)
		cancel()
		l.conn = nil
	}
}

// lockKey maps a mailbox id onto the int4 second key of the lock.
func lockKey(id int64) int32 { return int32(id) }
