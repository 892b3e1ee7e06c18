package store

import (
	"context"
	"errors"

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
//
// A look without a lock, then, when there is something to claim, one
// UPDATE that moves recent_uid on only if it is still what the look saw
// (under the row's lock, re-checked after waiting for it); if another
// session claimed first, it looks again. No transaction of its own, and
// no lock at all when there is nothing to claim.
func (s *Store) IMAPClaimRecent(ctx context.Context, folderID int64) (from, to uint32, err error) {
	for range maxClaimAttempts {
		last, next, err := s.peekRecent(ctx, folderID)
		if err != nil || last >= next-1 {
			return 0, 0, translate(err, "claim recent")
		}
		from, to, claimed, err := s.claimRecent(ctx, folderID, last)
		if err != nil || claimed {
			return from, to, err
		}
		// claimed by another session meanwhile (or the folder is gone)
	}
	return 0, 0, nil // others keep claiming first: theirs, then
}

// IMAPClaimRecentSeen is IMAPClaimRecent after a look the caller took
// already, in the snapshot of an IMAPSync (its RecentUID and UIDNEXT): a
// poll claims without another read, and not at all when the snapshot
// shows every UID claimed (by the session that polled first, typically).
// When another session claims first it gives up, without looking again:
// that claim, taken after the snapshot, covers every UID the snapshot
// showed (recent_uid only moves up, to UIDNEXT-1), and a message added
// later brings a notice, thus a poll and a claim of its own.
func (s *Store) IMAPClaimRecentSeen(ctx context.Context, folderID int64, recentUID, uidNext uint32) (from, to uint32, err error) {
	if int64(recentUID) >= int64(uidNext)-1 {
		return 0, 0, nil
	}
	from, to, _, err = s.claimRecent(ctx, folderID, int64(recentUID))
	return from, to, err
}

// claimRecent moves a folder's recent_uid from last to UIDNEXT-1 and
// returns the range taken; claimed is false when recent_uid was no
// longer last (another session claimed first).
func (s *Store) claimRecent(ctx context.Context, folderID, last int64) (from, to uint32, claimed bool, err error) {
	var upto int64
	err = s.pool.QueryRow(ctx, `UPDATE folders SET recent_uid = uidnext - 1
		WHERE id = $1 AND recent_uid = $2 RETURNING recent_uid`, folderID, last).Scan(&upto)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, translate(err, "claim recent")
	}
	return uint32(last + 1), uint32(upto), true, nil
}

// maxClaimAttempts bounds IMAPClaimRecent's looks.
const maxClaimAttempts = 8

func (s *Store) peekRecent(ctx context.Context, folderID int64) (last, next int64, err error) {
	err = s.pool.QueryRow(ctx, `SELECT recent_uid, uidnext FROM folders WHERE id = $1`, folderID).Scan(&last, &next)
	return last, next, err
}

// IMAPPeekRecent returns the UID range a claim would take now, without
// taking it (EXAMINE is a read-only peek, RFC 3501 6.3.2), or 0, 0.
func (s *Store) IMAPPeekRecent(ctx context.Context, folderID int64) (from, to uint32, err error) {
	last, next, err := s.peekRecent(ctx, folderID)
	if err != nil {
		return 0, 0, translate(err, "peek recent")
	}
	if last >= next-1 {
		return 0, 0, nil
	}
	return uint32(last + 1), uint32(next - 1), nil
}
