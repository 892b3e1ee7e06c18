package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// SieveScript is a row of sieve_scripts: a mailbox's script (Position
// "personal") or a domain's ("before", "after", "global").
type SieveScript struct {
	ID        int64
	MailboxID *int64
	DomainID  *int64
	Name      string
	Position  string
	Active    bool
	Content   string
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Positions of domain scripts.
const (
	SievePersonal = "personal"
	SieveBefore   = "before"
	SieveAfter    = "after"
	SieveGlobal   = "global"
)

const sieveCols = `id, mailbox_id, domain_id, name, position, active, content, version, created_at, updated_at`

// SieveScripts lists a mailbox's scripts by name.
func (t *Tx) SieveScripts(ctx context.Context, mailboxID int64) ([]SieveScript, error) {
	rows, err := t.q.Query(ctx, `SELECT `+sieveCols+` FROM sieve_scripts WHERE mailbox_id = $1 ORDER BY name`, mailboxID)
	if err != nil {
		return nil, translate(err, "sieve scripts")
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[SieveScript])
	return out, translate(err, "sieve scripts")
}

// SieveScript returns one of a mailbox's scripts.
func (t *Tx) SieveScript(ctx context.Context, mailboxID int64, name string) (SieveScript, error) {
	rows, err := t.q.Query(ctx, `SELECT `+sieveCols+` FROM sieve_scripts WHERE mailbox_id = $1 AND name = $2`, mailboxID, name)
	if err != nil {
		return SieveScript{}, translate(err, "sieve script")
	}
	s, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[SieveScript])
	return s, translate(err, "sieve script")
}

// ErrTooManyScripts refuses a new script past the mailbox's limit.
var ErrTooManyScripts = errors.New("store: too many scripts")

// PutSieveScript creates a mailbox's script or replaces its content (a new
// version), keeping whether it is active. A new script past maxScripts (0:
// no limit) is ErrTooManyScripts; the mailbox row is locked for the count.
func (t *Tx) PutSieveScript(ctx context.Context, mailboxID int64, name, content string, maxScripts int) (SieveScript, error) {
	if maxScripts > 0 {
		var n int
		var exists bool
		err := t.q.QueryRow(ctx, `
			WITH mb AS (SELECT id FROM mailboxes WHERE id = $1 FOR UPDATE)
			SELECT count(*), coalesce(bool_or(name = $2), false) FROM sieve_scripts
			WHERE mailbox_id = (SELECT id FROM mb)`, mailboxID, name).Scan(&n, &exists)
		if err != nil {
			return SieveScript{}, translate(err, "put sieve script")
		}
		if !exists && n >= maxScripts {
			return SieveScript{}, ErrTooManyScripts
		}
	}
	rows, err := t.q.Query(ctx, `
		INSERT INTO sieve_scripts (mailbox_id, name, content) VALUES ($1, $2, $3)
		ON CONFLICT (mailbox_id, name) DO UPDATE SET content = EXCLUDED.content,
			version = sieve_scripts.version + 1, updated_at = now()
		RETURNING `+sieveCols, mailboxID, name, content)
	if err != nil {
		return SieveScript{}, translate(err, "put sieve script")
	}
	s, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[SieveScript])
	return s, translate(err, "put sieve script")
}

// ErrActiveScript refuses to delete the active script (RFC 5804 2.10).
var ErrActiveScript = errors.New("store: the script is active")

// DeleteSieveScript removes a mailbox's script that is not active.
func (t *Tx) DeleteSieveScript(ctx context.Context, mailboxID int64, name string) error {
	var active bool
	err := t.q.QueryRow(ctx, `
		WITH d AS (DELETE FROM sieve_scripts WHERE mailbox_id = $1 AND name = $2 AND NOT active RETURNING id)
		SELECT s.active FROM sieve_scripts s WHERE s.mailbox_id = $1 AND s.name = $2
		UNION ALL SELECT false FROM d`, mailboxID, name).Scan(&active)
	if err != nil {
		return translate(err, "delete sieve script")
	}
	if active {
		return ErrActiveScript
	}
	return nil
}

// RenameSieveScript renames a mailbox's script; ErrConflict when the new
// name is taken.
func (t *Tx) RenameSieveScript(ctx context.Context, mailboxID int64, from, to string) error {
	tag, err := t.q.Exec(ctx, `UPDATE sieve_scripts SET name = $3, updated_at = now() WHERE mailbox_id = $1 AND name = $2`,
		mailboxID, from, to)
	if err != nil {
		return translate(err, "rename sieve script")
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// ActivateSieveScript makes name the mailbox's one active script; "" turns
// every script off (RFC 5804 2.8).
func (t *Tx) ActivateSieveScript(ctx context.Context, mailboxID int64, name string) error {
	if name != "" {
		var ok bool
		if err := t.q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sieve_scripts WHERE mailbox_id = $1 AND name = $2)`,
			mailboxID, name).Scan(&ok); err != nil {
			return translate(err, "activate sieve script")
		}
		if !ok {
			return ErrNotFound
		}
	}
	// Off first, then on: the partial unique index allows one active row.
	if _, err := t.q.Exec(ctx, `UPDATE sieve_scripts SET active = false WHERE mailbox_id = $1 AND active AND name <> $2`,
		mailboxID, name); err != nil {
		return translate(err, "activate sieve script")
	}
	if name == "" {
		return nil
	}
	_, err := t.q.Exec(ctx, `UPDATE sieve_scripts SET active = true WHERE mailbox_id = $1 AND name = $2 AND NOT active`, mailboxID, name)
	return translate(err, "activate sieve script")
}

// DomainSieveScripts lists a domain's scripts by position and name.
func (t *Tx) DomainSieveScripts(ctx context.Context, domainID int64) ([]SieveScript, error) {
	rows, err := t.q.Query(ctx, `SELECT `+sieveCols+` FROM sieve_scripts WHERE domain_id = $1 ORDER BY position, name`, domainID)
	if err != nil {
		return nil, translate(err, "domain sieve scripts")
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[SieveScript])
	return out, translate(err, "domain sieve scripts")
}

// DomainSieveScript returns one of a domain's scripts.
func (t *Tx) DomainSieveScript(ctx context.Context, domainID int64, name string) (SieveScript, error) {
	rows, err := t.q.Query(ctx, `SELECT `+sieveCols+` FROM sieve_scripts WHERE domain_id = $1 AND name = $2`, domainID, name)
	if err != nil {
		return SieveScript{}, translate(err, "domain sieve script")
	}
	s, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[SieveScript])
	return s, translate(err, "domain sieve script")
}

// PutDomainSieveScript creates or replaces a domain's script.
func (t *Tx) PutDomainSieveScript(ctx context.Context, domainID int64, name, position, content string, active bool) (SieveScript, error) {
	rows, err := t.q.Query(ctx, `
		INSERT INTO sieve_scripts (domain_id, name, position, content, active) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (domain_id, name) DO UPDATE SET content = EXCLUDED.content, position = EXCLUDED.position,
			active = EXCLUDED.active, version = sieve_scripts.version + 1, updated_at = now()
		RETURNING `+sieveCols, domainID, name, position, content, active)
	if err != nil {
		return SieveScript{}, translate(err, "put domain sieve script")
	}
	s, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[SieveScript])
	return s, translate(err, "put domain sieve script")
}

// DeleteDomainSieveScript removes a domain's script.
func (t *Tx) DeleteDomainSieveScript(ctx context.Context, domainID int64, name string) error {
	tag, err := t.q.Exec(ctx, `DELETE FROM sieve_scripts WHERE domain_id = $1 AND name = $2`, domainID, name)
	if err != nil {
		return translate(err, "delete domain sieve script")
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// SieveRef names a version of a script without its content: enough to
// find its compiled form in a cache.
type SieveRef struct {
	ID       int64
	Version  int64
	Position string
	Name     string
}

// SieveChain returns the scripts a delivery to the mailbox runs, in order:
// the domain's active 'before' scripts, the mailbox's active script, the
// domain's active 'after' scripts (each group by name). One query, no
// content.
func (s *Store) SieveChain(ctx context.Context, mailboxID int64) ([]SieveRef, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT s.id, s.version, s.position, s.name FROM sieve_scripts s
		WHERE s.active AND (s.mailbox_id = $1 OR s.position IN ('before', 'after')
			AND s.domain_id = (SELECT domain_id FROM mailboxes WHERE id = $1))
		ORDER BY CASE s.position WHEN 'before' THEN 0 WHEN 'personal' THEN 1 ELSE 2 END, s.name`, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("store: sieve chain of mailbox %d: %w", mailboxID, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[SieveRef])
	if err != nil {
		return nil, fmt.Errorf("store: sieve chain of mailbox %d: %w", mailboxID, err)
	}
	return out, nil
}

// SieveInclude finds the script an include names (RFC 6609): personal,
// among the mailbox's scripts; global, among its domain's.
func (s *Store) SieveInclude(ctx context.Context, mailboxID int64, global bool, name string) (SieveRef, error) {
	q := `SELECT id, version, position, name FROM sieve_scripts WHERE mailbox_id = $1 AND name = $2`
	if global {
		q = `SELECT id, version, position, name FROM sieve_scripts
			WHERE domain_id = (SELECT domain_id FROM mailboxes WHERE id = $1) AND name = $2`
	}
	rows, _ := s.pool.Query(ctx, q, mailboxID, name)
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[SieveRef])
	return r, translate(err, "sieve include")
}

// SieveContent returns the content of a script version; ErrNotFound when
// the script changed or went away since the reference was read.
func (s *Store) SieveContent(ctx context.Context, ref SieveRef) (string, error) {
	var content string
	err := s.pool.QueryRow(ctx, `SELECT content FROM sieve_scripts WHERE id = $1 AND version = $2`, ref.ID, ref.Version).Scan(&content)
	return content, translate(err, "sieve content")
}
