package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ActiveVacation returns the vacation reply of a mailbox when it is active
// now, else ErrNotFound.
func (s *Store) ActiveVacation(ctx context.Context, mailboxID int64) (Vacation, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT `+vacationCols+` FROM vacations
		WHERE mailbox_id = $1 AND active
		  AND (active_from IS NULL OR active_from <= now())
		  AND (active_until IS NULL OR active_until > now())`, mailboxID)
	v, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Vacation])
	if errors.Is(err, pgx.ErrNoRows) {
		return Vacation{}, ErrNotFound
	}
	if err != nil {
		return Vacation{}, fmt.Errorf("store: vacation of mailbox %d: %w", mailboxID, err)
	}
	return v, nil
}

// QueueVacationReply records that sender is answered by the mailbox's
// vacation reply and queues reply, in one transaction, unless sender was
// already answered within interval. It reports whether the reply was
// queued.
func (s *Store) QueueVacationReply(ctx context.Context, mailboxID int64, sender string, interval time.Duration, reply QueuedMessage) (bool, error) {
	queued, err := s.claimAndQueue(ctx, `
		INSERT INTO vacation_notifications (mailbox_id, sender) VALUES ($1, $2)
		ON CONFLICT (mailbox_id, sender) DO UPDATE SET notified_at = now()
		WHERE vacation_notifications.notified_at <= now() - make_interval(secs => $3)`,
		[]any{mailboxID, sender, interval.Seconds()}, reply)
	if err != nil {
		return false, fmt.Errorf("store: vacation reply: %w", err)
	}
	return queued, nil
}

// claimAndQueue runs claim (a statement that touches a row only when an
// automatic reply is due) and, when it did, queues reply, in one
// transaction. It reports whether the reply was queued.
func (s *Store) claimAndQueue(ctx context.Context, claim string, args []any, reply QueuedMessage) (bool, error) {
	queued := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		queued = false
		tag, err := tx.Exec(ctx, claim, args...)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		b := &pgx.Batch{}
		var id int64
		queueEnqueue(b, reply, &id)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		queued = true
		return nil
	})
	return queued, err
}
