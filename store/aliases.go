package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Alias is a row of aliases: an address or "@domain" catch-all and its
// destinations.
type Alias struct {
	ID           int64
	DomainID     int64
	Address      string
	Destinations []string
	Active       bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

const aliasCols = `id, domain_id, address, destinations, active, created_at, updated_at`

func collectAlias(rows pgx.Rows, err error, what string) (Alias, error) {
	if err != nil {
		return Alias{}, translate(err, what)
	}
	a, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Alias])
	return a, translate(err, what)
}

// InsertAlias stores a new alias.
func (t *Tx) InsertAlias(ctx context.Context, a Alias) (Alias, error) {
	rows, err := t.q.Query(ctx, `
		INSERT INTO aliases (domain_id, address, destinations, active) VALUES ($1, $2, $3, $4)
		RETURNING `+aliasCols, a.DomainID, a.Address, a.Destinations, a.Active)
	return collectAlias(rows, err, "insert alias")
}

// AliasByAddress returns the alias with that address ("@domain" for a catch-all).
func (t *Tx) AliasByAddress(ctx context.Context, addr string, lock bool) (Alias, error) {
	sql := `SELECT ` + aliasCols + ` FROM aliases WHERE address = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	rows, err := t.q.Query(ctx, sql, addr)
	return collectAlias(rows, err, "alias by address")
}

// UpdateAlias writes destinations and active of a.
func (t *Tx) UpdateAlias(ctx context.Context, a Alias) (Alias, error) {
	rows, err := t.q.Query(ctx, `
		UPDATE aliases SET destinations = $2, active = $3, updated_at = now() WHERE id = $1
		RETURNING `+aliasCols, a.ID, a.Destinations, a.Active)
	return collectAlias(rows, err, "update alias")
}

// DeleteAlias removes an alias.
func (t *Tx) DeleteAlias(ctx context.Context, id int64) error {
	tag, err := t.q.Exec(ctx, `DELETE FROM aliases WHERE id = $1`, id)
	if err != nil {
		return translate(err, "delete alias")
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteDomainAliases removes every alias of a domain and returns them.
func (t *Tx) DeleteDomainAliases(ctx context.Context, domainID int64) ([]Alias, error) {
	rows, err := t.q.Query(ctx, `DELETE FROM aliases WHERE domain_id = $1 RETURNING `+aliasCols, domainID)
	if err != nil {
		return nil, translate(err, "delete domain aliases")
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[Alias])
	return out, translate(err, "delete domain aliases")
}

// AliasFilter selects a domain's aliases for ListAliases.
type AliasFilter struct {
	DomainID int64
	Q        string // substring of the address
	Page
}

// ListAliases returns a page of a domain's aliases sorted by address.
func (t *Tx) ListAliases(ctx context.Context, f AliasFilter) ([]Alias, error) {
	sql := `SELECT ` + aliasCols + ` FROM aliases WHERE domain_id = $1 AND address > $2`
	args := []any{f.DomainID, f.After, f.Limit}
	if f.Q != "" {
		sql += ` AND address LIKE $4`
		args = append(args, likePattern(f.Q))
		args = append([]any{customPlan}, args...) // planned for this search: the trigram index
	}
	sql += ` ORDER BY address LIMIT $3`
	rows, err := t.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(err, "list aliases")
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[Alias])
	return out, translate(err, "list aliases")
}

// Targets is what an address leads to, for loop checks: the destinations
// of its alias and of its mailbox's forwarding, whether it is a mailbox,
// the catch-all of its domain, and its domain's alias-domain target.
type Targets struct {
	Alias        []string // nil when no alias
	Forward      []string // nil when no active forwarding
	Mailbox      bool
	CatchAll     []string // destinations of @domain, nil when none
	TargetDomain string   // when the address's domain is an alias domain
}

// AddressTargets looks up what addr (local@domain) leads to.
func (t *Tx) AddressTargets(ctx context.Context, addr, domain string) (Targets, error) {
	var out Targets
	err := t.q.QueryRow(ctx, `
		SELECT (SELECT destinations FROM aliases WHERE address = $1 AND active),
		       (SELECT f.destinations FROM forwardings f JOIN mailboxes m ON m.id = f.mailbox_id WHERE m.address = $1 AND f.active),
		       EXISTS (SELECT 1 FROM mailboxes WHERE address = $1),
		       (SELECT destinations FROM aliases WHERE address = '@' || $2 AND active),
		       coalesce((SELECT d.name FROM alias_domains ad JOIN domains d ON d.id = ad.target_domain_id
		                 WHERE ad.alias_domain = $2 AND ad.active), '')`, addr, domain).
		Scan(&out.Alias, &out.Forward, &out.Mailbox, &out.CatchAll, &out.TargetDomain)
	return out, translate(err, "address targets")
}
