package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// QueueEntry is a queue row as the queue tools show it: a message, or one
// copy of it (copies share ID, the message's queue id, and differ in Row).
type QueueEntry struct {
	ID         string                `json:"id"`
	Row        int64                 `json:"row"`
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
SELECT q.queue_id, q.id, q.size, q.arrival_at, q.sender, q.origin, q.auth_user, q.hold, q.expires_at,
       coalesce((SELECT json_agg(json_build_object('address', r.recipient, 'state', r.state, 'attempts', r.attempts,
               'next_attempt', r.next_attempt_at, 'last_attempt', r.last_attempt_at, 'last_error', r.last_error) ORDER BY r.id)
        FROM queue_recipients r WHERE r.queue_id = q.id), '[]')
FROM queue q`

func scanQueueEntry(row pgx.CollectableRow) (QueueEntry, error) {
	var e QueueEntry
	err := row.Scan(&e.ID, &e.Row, &e.Size, &e.Arrival, &e.Sender, &e.Origin, &e.AuthUser, &e.Hold, &e.Expires, &e.Recipients)
	return e, err
}

// queueRefSQL selects the rows of the message a queue tool names: $1 its
// queue id (upper case), else $2 (when not 0) one of its row numbers.
const queueRefSQL = `q.queue_id = coalesce((SELECT queue_id FROM queue WHERE queue_id = $1 LIMIT 1),
	(SELECT queue_id FROM queue WHERE id = $2))`

// QueueList returns queued rows, oldest message first, the copies of a
// message together.
func (s *Store) QueueList(ctx context.Context, f QueueFilter) ([]QueueEntry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 1 << 30
	}
	rows, err := s.pool.Query(ctx, queueEntrySQL+`
		WHERE ($1 = '' OR EXISTS (SELECT 1 FROM queue_recipients r WHERE r.queue_id = q.id AND r.domain = $1))
		  AND ($2 = '' OR ($2 = 'hold' AND q.hold)
		       OR EXISTS (SELECT 1 FROM queue_recipients r WHERE r.queue_id = q.id AND r.state = $2))
		ORDER BY min(q.id) OVER (PARTITION BY q.queue_id), q.id LIMIT $3`, f.Domain, f.State, limit)
	if err != nil {
		return nil, fmt.Errorf("store: queue list: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanQueueEntry)
	if err != nil {
		return nil, fmt.Errorf("store: queue list: %w", err)
	}
	return out, nil
}

// QueueMessage returns the rows of the message ref names (its queue id,
// or a row number of it), by row, and the first row's bytes.
func (s *Store) QueueMessage(ctx context.Context, ref string) ([]QueueEntry, []byte, error) {
	id, row := queueRef(ref)
	rows, _ := s.pool.Query(ctx, queueEntrySQL+` WHERE `+queueRefSQL+` ORDER BY q.id`, id, row)
	copies, err := pgx.CollectRows(rows, scanQueueEntry)
	if err != nil {
		return nil, nil, fmt.Errorf("store: queue message %s: %w", ref, err)
	}
	if len(copies) == 0 {
		return nil, nil, ErrNotFound
	}
	var body []byte
	if err := s.pool.QueryRow(ctx, `SELECT body FROM queue WHERE id = $1`, copies[0].Row).Scan(&body); errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, ErrNotFound
	} else if err != nil {
		return nil, nil, fmt.Errorf("store: queue message %s: %w", ref, err)
	}
	return copies, body, nil
}

// QueueFlush makes waiting recipients due now (postqueue -f, -i ID, -s
// DOMAIN): of the message ref names when ref != "", of domain when domain
// != "", otherwise all. It returns how many recipients it touched.
func (s *Store) QueueFlush(ctx context.Context, ref, domain string) (int64, error) {
	id, row := queueRef(ref)
	tag, err := s.pool.Exec(ctx, `UPDATE queue_recipients SET next_attempt_at = now(), updated_at = now()
		WHERE state IN ('queued', 'deferred') AND ($3 = '' OR domain = $3)
		  AND ($1 = '' OR queue_id IN (SELECT q.id FROM queue q WHERE `+queueRefSQL+`))`, id, row, domain)
	if err != nil {
		return 0, fmt.Errorf("store: queue flush: %w", err)
	}
	return tag.RowsAffected(), nil
}

// QueueHold puts the message ref names on hold or releases it, all its
// copies (postsuper -h/-H).
func (s *Store) QueueHold(ctx context.Context, ref string, hold bool) error {
	id, row := queueRef(ref)
	tag, err := s.pool.Exec(ctx, `UPDATE queue q SET hold = $3 WHERE `+queueRefSQL, id, row, hold)
	if err != nil {
		return fmt.Errorf("store: queue hold %s: %w", ref, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	if !hold { // released mail goes now, as Postfix does
		_, err = s.pool.Exec(ctx, `UPDATE queue_recipients SET next_attempt_at = now()
			WHERE queue_id IN (SELECT q.id FROM queue q WHERE `+queueRefSQL+`) AND state IN ('queued', 'deferred')`, id, row)
	}
	return err
}

// QueueDelete removes the message ref names, all its copies (postsuper -d
// ID).
func (s *Store) QueueDelete(ctx context.Context, ref string) error {
	id, row := queueRef(ref)
	tag, err := s.pool.Exec(ctx, `DELETE FROM queue q WHERE `+queueRefSQL, id, row)
	if err != nil {
		return fmt.Errorf("store: queue delete %s: %w", ref, err)
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
