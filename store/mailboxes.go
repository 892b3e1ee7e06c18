package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Mailbox is a row of mailboxes.
type Mailbox struct {
	ID           int64
	DomainID     int64
	LocalPart    string
	Address      string
	Name         string
	Password     string // crypt string with its {SCHEME} prefix
	QuotaBytes   int64
	UsedBytes    int64
	UsedMessages int64
	Maildir      string // relative to the Maildir root: <domain>/<local part>/
	Active       bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// NewFolder is a folder row made with a new mailbox.
type NewFolder struct {
	Name       string
	SpecialUse string // "" for none
}

const mailboxCols = `id, domain_id, local_part, address, name, password, quota_bytes, used_bytes, used_messages,
	maildir, active, created_at, updated_at`

func collectMailbox(rows pgx.Rows, err error, what string) (Mailbox, error) {
	if err != nil {
		return Mailbox{}, translate(err, what)
	}
	m, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Mailbox])
	return m, translate(err, what)
}

// InsertMailbox stores a new mailbox and its folder rows, subscribed: the
// folders the server makes itself (INBOX, the special-use defaults) are,
// unlike those a client CREATEs.
func (t *Tx) InsertMailbox(ctx context.Context, m Mailbox, folders []NewFolder) (Mailbox, error) {
	rows, err := t.q.Query(ctx, `
		INSERT INTO mailboxes (domain_id, local_part, address, name, password, quota_bytes, maildir, active)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		RETURNING `+mailboxCols,
		m.DomainID, m.LocalPart, m.Address, m.Name, m.Password, m.QuotaBytes, m.Maildir, m.Active)
	out, err := collectMailbox(rows, err, "insert mailbox")
	if err != nil {
		return Mailbox{}, err
	}
	for _, f := range folders {
		var su *string
		if f.SpecialUse != "" {
			su = &f.SpecialUse
		}
		if _, err := t.q.Exec(ctx, `WITH f AS (INSERT INTO folders (mailbox_id, name, special_use) VALUES ($1, $2, $3))
			INSERT INTO subscriptions (mailbox_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
			out.ID, f.Name, su); err != nil {
			return Mailbox{}, translate(err, "insert folder")
		}
	}
	return out, nil
}

// MailboxByAddress returns the mailbox; with lock it is locked FOR UPDATE.
func (t *Tx) MailboxByAddress(ctx context.Context, addr string, lock bool) (Mailbox, error) {
	sql := `SELECT ` + mailboxCols + ` FROM mailboxes WHERE address = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	rows, err := t.q.Query(ctx, sql, addr)
	return collectMailbox(rows, err, "mailbox by address")
}

// UpdateMailbox writes name, password, quota and active of m.
func (t *Tx) UpdateMailbox(ctx context.Context, m Mailbox) (Mailbox, error) {
	rows, err := t.q.Query(ctx, `
		UPDATE mailboxes SET name = $2, password = $3, quota_bytes = $4, active = $5, updated_at = now()
		WHERE id = $1
		RETURNING `+mailboxCols,
		m.ID, m.Name, m.Password, m.QuotaBytes, m.Active)
	return collectMailbox(rows, err, "update mailbox")
}

// DeleteMailbox removes a mailbox with its folders, index, forwarding and
// vacation rows.
func (t *Tx) DeleteMailbox(ctx context.Context, id int64) error {
	tag, err := t.q.Exec(ctx, `DELETE FROM mailboxes WHERE id = $1`, id)
	if err != nil {
		return translate(err, "delete mailbox")
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// MailboxFilter selects a domain's mailboxes for ListMailboxes.
type MailboxFilter struct {
	DomainID int64
	Q        string // substring of the address or the display name
	Page
}

// ListMailboxes returns a page of a domain's mailboxes sorted by address:
// a keyset scan of (domain_id, address), or for Q the GIN index over
// (domain_id, trigrams of address and name) of migration 0004.
func (t *Tx) ListMailboxes(ctx context.Context, f MailboxFilter) ([]Mailbox, error) {
	sql := `SELECT ` + mailboxCols + ` FROM mailboxes WHERE domain_id = $1 AND address > $2`
	args := []any{f.DomainID, f.After, f.Limit}
	if f.Q != "" {
		sql += ` AND (address || ' ' || lower(name)) LIKE $4`
		args = append(args, likePattern(f.Q))
		args = append([]any{customPlan}, args...) // planned for this search: the trigram index
	}
	sql += ` ORDER BY address LIMIT $3`
	rows, err := t.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(err, "list mailboxes")
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[Mailbox])
	return out, translate(err, "list mailboxes")
}

// DomainMailboxes returns every mailbox of a domain, locked FOR UPDATE.
func (t *Tx) DomainMailboxes(ctx context.Context, domainID int64) ([]Mailbox, error) {
	rows, err := t.q.Query(ctx, `SELECT `+mailboxCols+` FROM mailboxes WHERE domain_id = $1 ORDER BY address FOR UPDATE`, domainID)
	if err != nil {
		return nil, translate(err, "domain mailboxes")
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[Mailbox])
	return out, translate(err, "domain mailboxes")
}

// RetainedMaildir is a row of retained_maildirs: the Maildir of a deleted
// mailbox, waiting for its purge.
type RetainedMaildir struct {
	ID         int64
	Address    string
	Path       string // relative to the retention root
	UsedBytes  int64
	DeletedAt  time.Time
	PurgeAfter time.Time
}

// InsertRetained records a retained Maildir.
func (t *Tx) InsertRetained(ctx context.Context, r RetainedMaildir) error {
	_, err := t.q.Exec(ctx, `INSERT INTO retained_maildirs (address, path, used_bytes, purge_after) VALUES ($1, $2, $3, $4)`,
		r.Address, r.Path, r.UsedBytes, r.PurgeAfter)
	return translate(err, "insert retained maildir")
}

// ExpiredRetained returns retained Maildirs whose purge time has come,
// locked and skipping those another node is purging.
func (t *Tx) ExpiredRetained(ctx context.Context, now time.Time, limit int) ([]RetainedMaildir, error) {
	rows, err := t.q.Query(ctx, `
		SELECT id, address, path, used_bytes, deleted_at, purge_after FROM retained_maildirs
		WHERE purge_after <= $1 ORDER BY purge_after LIMIT $2 FOR UPDATE SKIP LOCKED`, now, limit)
	if err != nil {
		return nil, translate(err, "expired retained maildirs")
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[RetainedMaildir])
	return out, translate(err, "expired retained maildirs")
}

// DeleteRetained forgets a retained Maildir (its files are gone).
func (t *Tx) DeleteRetained(ctx context.Context, id int64) error {
	_, err := t.q.Exec(ctx, `DELETE FROM retained_maildirs WHERE id = $1`, id)
	return translate(err, "delete retained maildir")
}
