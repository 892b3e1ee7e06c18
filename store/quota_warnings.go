package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// QuotaUsage is what a quota warning tells its owner.
type QuotaUsage struct {
	MailboxID  int64
	Address    string
	Domain     string
	UsedBytes  int64
	QuotaBytes int64
	Percent    int    // the threshold crossed
	Text       string // the domain's warning text, "" for the built-in one
}

// QuotaWarning compares a mailbox's usage with the thresholds (percent,
// ascending) and the threshold it was last warned at, in one transaction
// under the mailbox row's lock. Crossing a higher threshold records it and
// queues the message build returns (nil: nothing); falling below the
// recorded one lowers it, so the next crossing warns again. It reports
// whether a warning was queued.
func (s *Store) QuotaWarning(ctx context.Context, mailboxID int64, thresholds []int, build func(QuotaUsage) *QueuedMessage) (bool, error) {
	queued := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		queued = false
		var u QuotaUsage
		var warned int
		err := tx.QueryRow(ctx, `
			SELECT m.id, m.address, d.name, m.used_bytes, m.quota_bytes, d.quota_warning_text,
				coalesce((SELECT percent FROM quota_warnings WHERE mailbox_id = m.id), 0)
			FROM mailboxes m JOIN domains d ON d.id = m.domain_id WHERE m.id = $1 FOR UPDATE OF m`, mailboxID).
			Scan(&u.MailboxID, &u.Address, &u.Domain, &u.UsedBytes, &u.QuotaBytes, &u.Text, &warned)
		if err != nil {
			return err
		}
		reached := 0 // also when the quota is gone (0: unlimited)
		for _, t := range thresholds {
			if u.QuotaBytes > 0 && u.UsedBytes*100 >= int64(t)*u.QuotaBytes {
				reached = t
			}
		}
		if reached == warned {
			return nil
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO quota_warnings (mailbox_id, percent) VALUES ($1, $2)
			ON CONFLICT (mailbox_id) DO UPDATE SET percent = EXCLUDED.percent, warned_at = now()`, mailboxID, reached); err != nil {
			return err
		}
		if reached < warned {
			return nil // went down: the next crossing warns again
		}
		u.Percent = reached
		m := build(u)
		if m == nil {
			return nil
		}
		b := &pgx.Batch{}
		var id int64
		queueEnqueue(b, *m, &id)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		queued = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store: quota warning of mailbox %d: %w", mailboxID, err)
	}
	return queued, nil
}

// QuotaWarningCandidates returns the mailboxes among ids (all mailboxes
// when ids is nil) whose usage reaches another of the thresholds (percent,
// ascending) than the one they were last warned at: those QuotaWarning
// would warn, or whose level it would lower (a raised quota). One query,
// no lock: QuotaWarning decides under the mailbox row's lock.
func (s *Store) QuotaWarningCandidates(ctx context.Context, thresholds []int, ids []int64) ([]int64, error) {
	if len(thresholds) == 0 || ids != nil && len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT m.id FROM mailboxes m LEFT JOIN quota_warnings w ON w.mailbox_id = m.id
		WHERE ($2::bigint[] IS NULL OR m.id = ANY ($2))
		  AND (w.mailbox_id IS NOT NULL OR m.quota_bytes > 0 AND m.used_bytes * 100 >= m.quota_bytes * ($1::integer[])[1])
		  AND coalesce(w.percent, 0) <> CASE WHEN m.quota_bytes > 0 THEN coalesce(
			(SELECT max(t) FROM unnest($1::integer[]) t WHERE m.used_bytes * 100 >= m.quota_bytes * t), 0) ELSE 0 END
		ORDER BY m.id`, thresholds, ids)
	if err != nil {
		return nil, fmt.Errorf("store: quota warning candidates: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("store: quota warning candidates: %w", err)
	}
	return out, nil
}

// QuotaWarningText returns a domain's quota warning text ("" built in).
func (t *Tx) QuotaWarningText(ctx context.Context, domainID int64) (string, error) {
	var text string
	err := t.q.QueryRow(ctx, `SELECT quota_warning_text FROM domains WHERE id = $1`, domainID).Scan(&text)
	return text, translate(err, "quota warning text")
}

// SetQuotaWarningText sets a domain's quota warning text ("" built in).
func (t *Tx) SetQuotaWarningText(ctx context.Context, domainID int64, text string) error {
	_, err := t.q.Exec(ctx, `UPDATE domains SET quota_warning_text = $2 WHERE id = $1`, domainID, text)
	return translate(err, "set quota warning text")
}
