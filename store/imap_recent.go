package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// \Recent (RFC 3501 2.3.2): a message is recent in exactly one session,
// the first IMAP4rev1 session that sees it. The folder's recent_uid is the
// highest UID some session already took as recent; a session claims the
// UIDs above it (at SELECT and at each later poll) by moving it up to
// UIDNEXT-1 under the folder row's lock, so two sessions on any nodes never
// claim the same UID. Messages a delivery, APPEND, COPY or MOVE adds get
// UIDs above every claim, so each is recent once.

// IMAPClaimRecent makes the messages added to a folder since the last claim
// recent in the caller's session: it returns the UID range [from, to] that
// is now the caller's (some UIDs in it may be expunged already), or 0, 0
// when there is none. For SELECT by an IMAP4rev1 session and its polls;
// EXAMINE, STATUS and IMAP4rev2 sessions must not claim (IMAPPeekRecent).
func (s *Store) IMAPClaimRecent(ctx context.Context, folderID int64) (from, to uint32, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var last, next int64
		if err := tx.QueryRow(ctx, `SELECT recent_uid, uidnext FROM folders WHERE id = $1 FOR UPDATE`,
			folderID).Scan(&last, &next); err != nil {
			return err
		}
		from, to = 0, 0
		if last >= next-1 {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE folders SET recent_uid = $2 WHERE id = $1`, folderID, next-1); err != nil {
			return err
		}
		from, to = uint32(last+1), uint32(next-1)
		return nil
	})
	return from, to, translate(err, "claim recent")
}

// IMAPPeekRecent returns the UID range a claim would take now, without
// taking it (EXAMINE is a read-only peek, RFC 3501 6.3.2), or 0, 0.
func (s *Store) IMAPPeekRecent(ctx context.Context, folderID int64) (from, to uint32, err error) {
	var last, next int64
	err = s.pool.QueryRow(ctx, `SELECT recent_uid, uidnext FROM folders WHERE id = $1`, folderID).Scan(&last, &next)
	if err != nil {
		return 0, 0, translate(err, "peek recent")
	}
	if last >= next-1 {
		return 0, 0, nil
	}
	return uint32(last + 1), uint32(next - 1), nil
}
