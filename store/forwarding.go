package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Forwarding is a row of forwardings.
type Forwarding struct {
	MailboxID    int64
	Destinations []string
	KeepCopy     bool
	Active       bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

const forwardingCols = `mailbox_id, destinations, keep_copy, active, created_at, updated_at`

// ForwardingOf returns a mailbox's forwarding.
func (t *Tx) ForwardingOf(ctx context.Context, mailboxID int64) (Forwarding, error) {
	rows, err := t.q.Query(ctx, `SELECT `+forwardingCols+` FROM forwardings WHERE mailbox_id = $1`, mailboxID)
	if err != nil {
		return Forwarding{}, translate(err, "forwarding")
	}
	f, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Forwarding])
	return f, translate(err, "forwarding")
}

// PutForwarding creates or replaces a mailbox's forwarding.
func (t *Tx) PutForwarding(ctx context.Context, f Forwarding) (Forwarding, error) {
	rows, err := t.q.Query(ctx, `
		INSERT INTO forwardings (mailbox_id, destinations, keep_copy, active) VALUES ($1, $2, $3, $4)
		ON CONFLICT (mailbox_id) DO UPDATE SET destinations = EXCLUDED.destinations, keep_copy = EXCLUDED.keep_copy,
			active = EXCLUDED.active, updated_at = now()
		RETURNING `+forwardingCols, f.MailboxID, f.Destinations, f.KeepCopy, f.Active)
	if err != nil {
		return Forwarding{}, translate(err, "put forwarding")
	}
	out, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Forwarding])
	return out, translate(err, "put forwarding")
}

// DeleteForwarding removes a mailbox's forwarding.
func (t *Tx) DeleteForwarding(ctx context.Context, mailboxID int64) error {
	tag, err := t.q.Exec(ctx, `DELETE FROM forwardings WHERE mailbox_id = $1`, mailboxID)
	if err != nil {
		return translate(err, "delete forwarding")
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// Vacation is a row of vacations.
type Vacation struct {
	MailboxID       int64
	Subject         string
	Body            string
	ActiveFrom      *time.Time
	ActiveUntil     *time.Time
	IntervalSeconds int32
	Active          bool
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

const vacationCols = `mailbox_id, subject, body, active_from, active_until, interval_seconds, active, created_at, updated_at`

// VacationOf returns a mailbox's vacation reply.
func (t *Tx) VacationOf(ctx context.Context, mailboxID int64) (Vacation, error) {
	rows, err := t.q.Query(ctx, `SELECT `+vacationCols+` FROM vacations WHERE mailbox_id = $1`, mailboxID)
	if err != nil {
		return Vacation{}, translate(err, "vacation")
	}
	v, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Vacation])
	return v, translate(err, "vacation")
}

// PutVacation creates or replaces a mailbox's vacation reply; a changed
// reply forgets whom the old one was sent to.
func (t *Tx) PutVacation(ctx context.Context, v Vacation) (Vacation, error) {
	rows, err := t.q.Query(ctx, `
		INSERT INTO vacations (mailbox_id, subject, body, active_from, active_until, interval_seconds, active)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (mailbox_id) DO UPDATE SET subject = EXCLUDED.subject, body = EXCLUDED.body,
			active_from = EXCLUDED.active_from, active_until = EXCLUDED.active_until,
			interval_seconds = EXCLUDED.interval_seconds, active = EXCLUDED.active, updated_at = now()
		RETURNING `+vacationCols,
		v.MailboxID, v.Subject, v.Body, v.ActiveFrom, v.ActiveUntil, v.IntervalSeconds, v.Active)
	if err != nil {
		return Vacation{}, translate(err, "put vacation")
	}
	out, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Vacation])
	if err != nil {
		return Vacation{}, translate(err, "put vacation")
	}
	_, err = t.q.Exec(ctx, `DELETE FROM vacation_notifications WHERE mailbox_id = $1`, v.MailboxID)
	return out, translate(err, "put vacation")
}

// DeleteVacation removes a mailbox's vacation reply.
func (t *Tx) DeleteVacation(ctx context.Context, mailboxID int64) error {
	tag, err := t.q.Exec(ctx, `DELETE FROM vacations WHERE mailbox_id = $1`, mailboxID)
	if err != nil {
		return translate(err, "delete vacation")
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}
