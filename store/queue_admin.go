package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// QueueEntry is a queued message as the queue tools show it.
type QueueEntry struct {
	ID         int64                 `json:"id"`
	Size       int64                 `json:"size"`
	Arrival    time.Time             `json:"arrival"`
	Sender     string                `json:"sender"`
	Origin     string                `json:"origin"`
	AuthUser   string                `json:"auth_user,omitempty"`
	Hold       bool                  `json:"hold"`
	Expires    time.Time             `json:"expires"`
	Recipients []QueueEntryRecipient `json:"recipients"`
}

// QueueEntryRecipient is one recipient of a queued message with its state.
type QueueEntryRecipient struct {
	Address     string     `json:"address"`
	State       string     `json:"state"`
	Attempts    int        `json:"attempts"`
	NextAttempt time.Time  `json:"next_attempt"`
	LastAttempt *time.Time `json:"last_attempt,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
}

// QueueFilter selects queued messages: with a recipient of Domain, or in
// State ("deferred": a recipient deferred; "hold": on hold).
type QueueFilter struct {
	Domain string
	State  string
	Limit  int // 0: all
}

const queueEntrySQL = `
SELECT q.id, q.size, q.arrival_at, q.sender, q.origin, q.auth_user, q.hold, q.expires_at,
       coalesce((SELECT json_agg(json_build_object('address', r.recipient, 'state', r.state, 'attempts', r.attempts,
               'next_attempt', r.next_attempt_at, 'last_attempt', r.last_attempt_at, 'last_error', r.last_error) ORDER BY r.id)
        FROM queue_recipients r WHERE r.queue_id = q.id), '[]')
FROM queue q`

func scanQueueEntry(row pgx.CollectableRow) (QueueEntry, error) {
	var e QueueEntry
	err := row.Scan(&e.ID, &e.Size, &e.Arrival, &e.Sender, &e.Origin, &e.AuthUser, &e.Hold, &e.Expires, &e.Recipients)
	return e, err
}

// QueueList returns queued messages, oldest first.
func (s *Store) QueueList(ctx context.Context, f QueueFilter) ([]QueueEntry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 1 << 30
	}
	rows, err := s.pool.Query(ctx, queueEntrySQL+`
		WHERE ($1 = '' OR EXISTS (SELECT 1 FROM queue_recipients r WHERE r.queue_id = q.id AND r.domain = $1))
		  AND ($2 = '' OR ($2 = 'hold' AND q.hold)
		       OR EXISTS (SELECT 1 FROM queue_recipients r WHERE r.queue_id = q.id AND r.state = $2))
		ORDER BY q.id LIMIT $3`, f.Domain, f.State, limit)
	if err != nil {
		return nil, fmt.Errorf("store: queue list: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanQueueEntry)
	if err != nil {
		return nil, fmt.Errorf("store: queue list: %w", err)
	}
	return out, nil
}

// QueueMessage returns one queued message and its bytes.
func (s *Store) QueueMessage(ctx context.Context, id int64) (QueueEntry, []byte, error) {
	rows, _ := s.pool.Query(ctx, queueEntrySQL+` WHERE q.id = $1`, id)
	e, err := pgx.CollectExactlyOneRow(rows, scanQueueEntry)
	if errors.Is(err, pgx.ErrNoRows) {
		return QueueEntry{}, nil, ErrNotFound
	}
	if err != nil {
		return QueueEntry{}, nil, fmt.Errorf("store: queue message %d: %w", id, err)
	}
	var body []byte
	if err := s.pool.QueryRow(ctx, `SELECT body FROM queue WHERE id = $1`, id).Scan(&body); errors.Is(err, pgx.ErrNoRows) {
		return QueueEntry{}, nil, ErrNotFound
	} else if err != nil {
		return QueueEntry{}, nil, fmt.Errorf("store: queue message %d: %w", id, err)
	}
	return e, body, nil
}

// QueueFlush makes waiting recipients due now (postqueue -f, -i ID, -s
// DOMAIN): of message id when id > 0, of domain when domain != "",
// otherwise all. It returns how many recipients it touched.
func (s *Store) QueueFlush(ctx context.Context, id int64, domain string) (int64, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE queue_recipients SET next_attempt_at = now(), updated_at = now()
		WHERE state IN ('queued', 'deferred') AND ($1 = 0 OR queue_id = $1) AND ($2 = '' OR domain = $2)`, id, domain)
	if err != nil {
		return 0, fmt.Errorf("store: queue flush: %w", err)
	}
	return tag.RowsAffected(), nil
}

// QueueHold puts a message on hold or releases it (postsuper -h/-H).
func (s *Store) QueueHold(ctx context.Context, id int64, hold bool) error {
	tag, err := s.pool.Exec(ctx, `UPDATE queue SET hold = $2 WHERE id = $1`, id, hold)
	if err != nil {
		return fmt.Errorf("store: queue hold %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	if !hold { // released mail goes now, as Postfix does
		_, err = s.pool.Exec(ctx, `UPDATE queue_recipients SET next_attempt_at = now()
			WHERE queue_id = $1 AND state IN ('queued', 'deferred')`, id)
	}
	return err
}

// QueueDelete removes a message (postsuper -d ID).
func (s *Store) QueueDelete(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM queue WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("store: queue delete %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// QueueDeleteAll removes every message, or with deferredOnly those with a
// deferred recipient (postsuper -d ALL [deferred]); it returns how many.
func (s *Store) QueueDeleteAll(ctx context.Context, deferredOnly bool) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM queue q WHERE NOT $1 OR EXISTS (
		SELECT 1 FROM queue_recipients r WHERE r.queue_id = q.id AND r.state = 'deferred')`, deferredOnly)
	if err != nil {
		return 0, fmt.Errorf("store: queue delete: %w", err)
	}
	return tag.RowsAffected(), nil
}
