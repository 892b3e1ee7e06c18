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
	// UIDL is the POP3 unique-id an import kept from the server before
	// (messages.pop3_uidl); "" for the native "<uidvalidity>.<uid>".
	UIDL string
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
		SELECT id, uid, key, filename, size, coalesce(pop3_uidl, '') FROM messages WHERE folder_id = $1 ORDER BY uid`, in.FolderID)
	if err != nil {
		return POP3Maildrop{}, translate(err, "pop3 inbox messages")
	}
	in.Messages, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (POP3Message, error) {
		var m POP3Message
		err := r.Scan(&m.ID, &m.UID, &m.Key, &m.Filename, &m.Size, &m.UIDL)
		return m, err
	})
	if err != nil {
		return POP3Maildrop{}, translate(err, "pop3 inbox messages")
	}
	return in, nil
}

// POP3Expunge deletes the message rows ids of folder folderID (of mailbox
// mailboxID) in one transaction: the rows, their size and count from the
// mailbox's usage, one HIGHESTMODSEQ step of the folder with the rows'
// expunge tombstones (QRESYNC), and a
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
		uids := make([]int64, len(out.Messages))
		for i, m := range out.Messages {
			uids[i] = m.UID
		}
		if _, err := s.recordExpunge(ctx, tx, folderID, uids); err != nil {
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

// MailboxLocks holds this node's POP3 mailbox locks: PostgreSQL session
// advisory locks on one dedicated connection, so that one POP3 session per
// mailbox runs at a time across every node sharing the database. One
// connection per node, not one per session: a session lock lives as long
// as the connection that took it, and a thousand POP3 sessions must not
// hold a thousand connections (nor pin pool connections). Sessions of
// this node are told apart in memory, since a session lock is re-entrant
// for the connection holding it.
//
// The connection is used by one round trip at a time; callers wait for it
// on a channel, with their context, and never under a mutex, so a slow
// round trip delays only the lock requests behind it and a caller that
// gives up does not wait. If the connection breaks, its locks vanish with
// it; the next round trip reconnects and takes the locks of the sessions
// still running again. Safe for concurrent use; Close releases everything.
type MailboxLocks struct {
	connect func(context.Context) (*pgx.Conn, error)

	use  chan struct{} // a token: whoever holds it may use conn
	conn *pgx.Conn     // guarded by use

	mu   sync.Mutex // guards held; never held across a round trip
	held map[int64]lockState
}

// lockState is what this node knows of a mailbox's lock.
type lockState int

const (
	lockTaking    lockState = iota + 1 // a TryLock is asking the database
	lockHeld                           // a session of this node holds it
	lockReleasing                      // an Unlock is telling the database
)

// NewMailboxLocks returns the lock holder of this node. It connects with
// the pool's settings on Connect or at first use.
func (s *Store) NewMailboxLocks() *MailboxLocks {
	cfg := s.pool.Config().ConnConfig
	return &MailboxLocks{
		connect: func(ctx context.Context) (*pgx.Conn, error) { return pgx.ConnectConfig(ctx, cfg.Copy()) },
		use:     make(chan struct{}, 1),
		held:    map[int64]lockState{},
	}
}

// Connect opens the lock connection now rather than at the first login:
// serve calls it at start, before dropping privileges (a Unix socket
// only root may reach still works) and so that a database that cannot be
// reached is reported at once.
func (l *MailboxLocks) Connect(ctx context.Context) error {
	return l.roundTrip(ctx, func(context.Context, *pgx.Conn) error { return nil })
}

// lockTimeout bounds a lock round trip. The context of a call bounds only
// the wait for the connection: a query it cancelled would leave the
// connection, and so every session's lock, in doubt.
const lockTimeout = 10 * time.Second

// TryLock takes mailbox id's lock; false when a session (of this node or
// another) holds it.
func (l *MailboxLocks) TryLock(ctx context.Context, id int64) (bool, error) {
	l.mu.Lock()
	if _, busy := l.held[id]; busy {
		l.mu.Unlock()
		return false, nil
	}
	l.held[id] = lockTaking
	l.mu.Unlock()
	var ok bool
	err := l.roundTrip(ctx, func(ctx context.Context, c *pgx.Conn) (err error) {
		ok, err = try(ctx, c, id)
		return err
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil || !ok {
		delete(l.held, id)
		return false, err
	}
	l.held[id] = lockHeld
	return true, nil
}

// Unlock releases mailbox id's lock.
func (l *MailboxLocks) Unlock(ctx context.Context, id int64) error {
	l.mu.Lock()
	if l.held[id] != lockHeld {
		l.mu.Unlock()
		return nil
	}
	// Until the database has it back, no session of this node may take
	// it: a reconnection meanwhile would hand it over, and this unlock
	// would then release the new session's lock.
	l.held[id] = lockReleasing
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.held, id)
		l.mu.Unlock()
	}()
	// A broken connection took the lock with it; roundTrip reconnects
	// for the other sessions, and the unlock finds nothing to release.
	// The turn is awaited whatever ctx says: a lock left behind on the
	// connection would keep the mailbox from every other node.
	return l.roundTrip(context.WithoutCancel(ctx), func(ctx context.Context, c *pgx.Conn) error {
		hi, lo := lockKeys(id)
		_, err := c.Exec(ctx, `SELECT pg_advisory_unlock($1, $2)`, hi, lo)
		return err
	})
}

// Close releases every lock and closes the connection. The locks are
// released first: the server ends a closed session a little later, and
// another node should not wait for that.
func (l *MailboxLocks) Close() {
	l.use <- struct{}{}
	defer func() { <-l.use }()
	if l.conn != nil && !l.conn.IsClosed() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		l.conn.Exec(ctx, `SELECT pg_advisory_unlock_all()`) //nolint:errcheck // closing releases them anyway
		cancel()
	}
	l.dropConn()
	l.mu.Lock()
	clear(l.held)
	l.mu.Unlock()
}

// roundTrip runs fn on the lock connection once it is this caller's turn,
// connecting first when needed. A failure is taken for a dead connection:
// it is dropped, and fn tried once more on a new one.
func (l *MailboxLocks) roundTrip(ctx context.Context, fn func(context.Context, *pgx.Conn) error) error {
	select {
	case l.use <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("store: pop3 lock: %w", ctx.Err())
	}
	defer func() { <-l.use }()
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockTimeout)
	defer cancel()
	var err error
	for range 2 {
		if err = l.ensureConn(qctx); err != nil {
			return err
		}
		if err = fn(qctx, l.conn); err == nil {
			return nil
		}
		l.dropConn()
	}
	return translate(err, "pop3 lock")
}

func try(ctx context.Context, c *pgx.Conn, id int64) (bool, error) {
	var ok bool
	hi, lo := lockKeys(id)
	if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, hi, lo).Scan(&ok); err != nil {
		return false, err
	}
	return ok, nil
}

// ensureConn connects when there is no live connection and takes back the
// locks of the sessions still running; a lock another node took in the
// meantime is lost to its session (which still deletes only what it saw).
// The caller holds the use token.
func (l *MailboxLocks) ensureConn(ctx context.Context) error {
	if l.conn != nil && !l.conn.IsClosed() {
		return nil
	}
	c, err := l.connect(ctx)
	if err != nil {
		return fmt.Errorf("store: pop3 lock connection: %w", err)
	}
	l.conn = c
	l.mu.Lock()
	var retake []int64
	for id, st := range l.held {
		if st == lockHeld {
			retake = append(retake, id)
		}
	}
	l.mu.Unlock()
	for _, id := range retake {
		ok, err := try(ctx, c, id)
		if err == nil && ok {
			continue
		}
		l.mu.Lock()
		if l.held[id] == lockHeld {
			delete(l.held, id)
		}
		l.mu.Unlock()
	}
	return nil
}

// dropConn closes the connection; the caller holds the use token.
func (l *MailboxLocks) dropConn() {
	if l.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		l.conn.Close(ctx)
		cancel()
		l.conn = nil
	}
}

// lockKeys are the two int4 keys of mailbox id's advisory lock: its high
// and low halves, so that every mailbox has its own lock however large its
// id. The two-int4 key space is the POP3 locks' alone: PostgreSQL keeps it
// apart from the bigint one (pg_locks.objsubid 2 against 1), where the
// other advisory locks live (migrations, the address triggers' hashtext
// keys), so these never collide with them. (A bigint key holding the id
// would: hashtext values are small integers, as mailbox ids are.)
func lockKeys(id int64) (hi, lo int32) { return int32(id >> 32), int32(uint32(id)) }
