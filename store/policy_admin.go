package store

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The admin service's methods on the policy tables: access rules (Postfix
// access(5)) and relocated entries (Postfix relocated(5)). The SMTP
// server's lookups are in policy.go and resolve.go.

// AccessRuleRecord is a whole row of access_rules.
type AccessRuleRecord struct {
	ID        int64     `db:"id"`
	Kind      string    `db:"kind"`
	Pattern   string    `db:"pattern"`
	Action    string    `db:"action"`
	Comment   string    `db:"comment"`
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
}

const accessRuleCols = `id, kind, pattern, action, comment, created_at, updated_at`

// kindPos is the SQL of a kind's place in the order the SMTP server
// consults the kinds in (client, HELO, sender, recipient), which is the
// order of ListAccessRules.
func kindPos(expr string) string {
	return `array_position(ARRAY['client', 'helo', 'sender', 'recipient'], ` + expr + `)`
}

func collectAccessRule(rows pgx.Rows, err error, what string) (AccessRuleRecord, error) {
	if err != nil {
		return AccessRuleRecord{}, translate(err, what)
	}
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[AccessRuleRecord])
	return r, translate(err, what)
}

// InsertAccessRule stores a new access rule; ErrConflict when one of that
// kind and pattern exists.
func (t *Tx) InsertAccessRule(ctx context.Context, r AccessRuleRecord) (AccessRuleRecord, error) {
	rows, err := t.q.Query(ctx, `
		INSERT INTO access_rules (kind, pattern, action, comment) VALUES ($1, $2, $3, $4)
		RETURNING `+accessRuleCols, r.Kind, r.Pattern, r.Action, r.Comment)
	return collectAccessRule(rows, err, "insert access rule")
}

// AccessRuleByID returns the access rule with that id, locked for update
// when lock is set.
func (t *Tx) AccessRuleByID(ctx context.Context, id int64, lock bool) (AccessRuleRecord, error) {
	sql := `SELECT ` + accessRuleCols + ` FROM access_rules WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	rows, err := t.q.Query(ctx, sql, id)
	return collectAccessRule(rows, err, "access rule")
}

// AccessRuleByKey returns the access rule of that kind and pattern.
func (t *Tx) AccessRuleByKey(ctx context.Context, kind, pattern string) (AccessRuleRecord, error) {
	rows, err := t.q.Query(ctx, `SELECT `+accessRuleCols+` FROM access_rules WHERE kind = $1 AND pattern = $2`, kind, pattern)
	return collectAccessRule(rows, err, "access rule")
}

// UpdateAccessRule writes the action and comment of r.
func (t *Tx) UpdateAccessRule(ctx context.Context, r AccessRuleRecord) (AccessRuleRecord, error) {
	rows, err := t.q.Query(ctx, `
		UPDATE access_rules SET action = $2, comment = $3, updated_at = now() WHERE id = $1
		RETURNING `+accessRuleCols, r.ID, r.Action, r.Comment)
	return collectAccessRule(rows, err, "update access rule")
}

// DeleteAccessRule removes an access rule.
func (t *Tx) DeleteAccessRule(ctx context.Context, id int64) error {
	tag, err := t.q.Exec(ctx, `DELETE FROM access_rules WHERE id = $1`, id)
	if err != nil {
		return translate(err, "delete access rule")
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteDomainAccessRules removes the recipient rules of one domain's
// addresses ("user@domain", "@domain") and returns them.
func (t *Tx) DeleteDomainAccessRules(ctx context.Context, domain string) ([]AccessRuleRecord, error) {
	rows, err := t.q.Query(ctx, `DELETE FROM access_rules
		WHERE kind = 'recipient' AND split_part(pattern, '@', 2) = $1 RETURNING `+accessRuleCols, domain)
	if err != nil {
		return nil, translate(err, "delete domain access rules")
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[AccessRuleRecord])
	return out, translate(err, "delete domain access rules")
}

// AccessRuleFilter selects access rules for ListAccessRules. After (of
// Page) is the "kind pattern" of the last row of the previous page.
type AccessRuleFilter struct {
	Kind   string // "" for all
	Q      string // substring of the pattern
	Domain string // only recipient rules of this domain's addresses
	// Domains, when not nil, restricts the list to recipient rules of
	// these domains' addresses (a domain admin's view).
	Domains []string
	Page
}

// ListAccessRules returns a page of access rules in the order the SMTP
// server consults their kinds, then by pattern.
func (t *Tx) ListAccessRules(ctx context.Context, f AccessRuleFilter) ([]AccessRuleRecord, error) {
	afterKind, afterPattern, _ := strings.Cut(f.After, " ")
	sql := `SELECT ` + accessRuleCols + ` FROM access_rules
		WHERE ($1 = '' OR (` + kindPos("kind") + `, pattern) > (` + kindPos("$1::text") + `, $2))
		  AND ($3 = '' OR kind = $3)
		  AND ($4 = '' OR (kind = 'recipient' AND split_part(pattern, '@', 2) = $4))
		  AND ($5::text[] IS NULL OR (kind = 'recipient' AND split_part(pattern, '@', 2) = ANY ($5)))
		  AND ($6 = '' OR pattern LIKE $6)
		ORDER BY ` + kindPos("kind") + `, pattern LIMIT $7`
	q := ""
	if f.Q != "" {
		q = likePattern(f.Q)
	}
	rows, err := t.q.Query(ctx, sql, afterKind, afterPattern, f.Kind, f.Domain, f.Domains, q, f.Limit)
	if err != nil {
		return nil, translate(err, "list access rules")
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[AccessRuleRecord])
	return out, translate(err, "list access rules")
}

// Relocated is a row of relocated: an address ("user@domain" or
// "@domain") and where its user went (an address or any text).
type Relocated struct {
	ID         int64     `db:"id"`
	Address    string    `db:"address"`
	NewAddress string    `db:"new_address"`
	CreatedAt  time.Time `db:"created_at"`
	UpdatedAt  time.Time `db:"updated_at"`
}

const relocatedCols = `id, address, new_address, created_at, updated_at`

func collectRelocated(rows pgx.Rows, err error, what string) (Relocated, error) {
	if err != nil {
		return Relocated{}, translate(err, what)
	}
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Relocated])
	return r, translate(err, what)
}

// InsertRelocated stores a new relocated entry; ErrConflict when the
// address has one.
func (t *Tx) InsertRelocated(ctx context.Context, r Relocated) (Relocated, error) {
	rows, err := t.q.Query(ctx, `INSERT INTO relocated (address, new_address) VALUES ($1, $2) RETURNING `+relocatedCols,
		r.Address, r.NewAddress)
	return collectRelocated(rows, err, "insert relocated")
}

// RelocatedByAddress returns the relocated entry of an address, locked for
// update when lock is set.
func (t *Tx) RelocatedByAddress(ctx context.Context, addr string, lock bool) (Relocated, error) {
	sql := `SELECT ` + relocatedCols + ` FROM relocated WHERE address = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	rows, err := t.q.Query(ctx, sql, addr)
	return collectRelocated(rows, err, "relocated")
}

// UpdateRelocated writes the new address of r.
func (t *Tx) UpdateRelocated(ctx context.Context, r Relocated) (Relocated, error) {
	rows, err := t.q.Query(ctx, `UPDATE relocated SET new_address = $2, updated_at = now() WHERE id = $1
		RETURNING `+relocatedCols, r.ID, r.NewAddress)
	return collectRelocated(rows, err, "update relocated")
}

// DeleteRelocated removes a relocated entry.
func (t *Tx) DeleteRelocated(ctx context.Context, id int64) error {
	tag, err := t.q.Exec(ctx, `DELETE FROM relocated WHERE id = $1`, id)
	if err != nil {
		return translate(err, "delete relocated")
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteDomainRelocated removes the relocated entries of one domain's
// addresses and returns them.
func (t *Tx) DeleteDomainRelocated(ctx context.Context, domain string) ([]Relocated, error) {
	rows, err := t.q.Query(ctx, `DELETE FROM relocated WHERE split_part(address, '@', 2) = $1 RETURNING `+relocatedCols, domain)
	if err != nil {
		return nil, translate(err, "delete domain relocated")
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[Relocated])
	return out, translate(err, "delete domain relocated")
}

// RelocatedFilter selects relocated entries for ListRelocated.
type RelocatedFilter struct {
	Q      string // substring of the address or the new address
	Domain string // only this domain's addresses
	// Domains, when not nil, restricts the list to these domains'
	// addresses (a domain admin's view).
	Domains []string
	Page
}

// ListRelocated returns a page of relocated entries sorted by address.
func (t *Tx) ListRelocated(ctx context.Context, f RelocatedFilter) ([]Relocated, error) {
	q := ""
	if f.Q != "" {
		q = likePattern(f.Q)
	}
	rows, err := t.q.Query(ctx, `SELECT `+relocatedCols+` FROM relocated
		WHERE address > $1
		  AND ($2 = '' OR split_part(address, '@', 2) = $2)
		  AND ($3::text[] IS NULL OR split_part(address, '@', 2) = ANY ($3))
		  AND ($4 = '' OR address LIKE $4 OR lower(new_address) LIKE $4)
		ORDER BY address LIMIT $5`, f.After, f.Domain, f.Domains, q, f.Limit)
	if err != nil {
		return nil, translate(err, "list relocated")
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[Relocated])
	return out, translate(err, "list relocated")
}
