package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// AliasDomain is a row of alias_domains with its target's name.
type AliasDomain struct {
	ID             int64
	AliasDomain    string
	TargetDomainID int64
	TargetDomain   string
	Active         bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

const aliasDomainSelect = `SELECT ad.id, ad.alias_domain, ad.target_domain_id, d.name AS target_domain, ad.active,
	ad.created_at, ad.updated_at FROM alias_domains ad JOIN domains d ON d.id = ad.target_domain_id`

// InsertAliasDomain stores a new alias domain.
func (t *Tx) InsertAliasDomain(ctx context.Context, a AliasDomain) (AliasDomain, error) {
	var id int64
	err := t.q.QueryRow(ctx, `INSERT INTO alias_domains (alias_domain, target_domain_id, active) VALUES ($1, $2, $3) RETURNING id`,
		a.AliasDomain, a.TargetDomainID, a.Active).Scan(&id)
	if err != nil {
		return AliasDomain{}, translate(err, "insert alias domain")
	}
	return t.aliasDomain(ctx, `WHERE ad.id = $1`, id)
}

// AliasDomainByName returns the alias domain with that name.
func (t *Tx) AliasDomainByName(ctx context.Context, name string) (AliasDomain, error) {
	return t.aliasDomain(ctx, `WHERE ad.alias_domain = $1`, name)
}

func (t *Tx) aliasDomain(ctx context.Context, where string, arg any) (AliasDomain, error) {
	rows, err := t.q.Query(ctx, aliasDomainSelect+` `+where, arg)
	if err != nil {
		return AliasDomain{}, translate(err, "alias domain")
	}
	a, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[AliasDomain])
	return a, translate(err, "alias domain")
}

// DeleteAliasDomain removes an alias domain.
func (t *Tx) DeleteAliasDomain(ctx context.Context, id int64) error {
	tag, err := t.q.Exec(ctx, `DELETE FROM alias_domains WHERE id = $1`, id)
	if err != nil {
		return translate(err, "delete alias domain")
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// AliasDomainFilter selects alias domains for ListAliasDomains.
type AliasDomainFilter struct {
	TargetIDs []int64 // only those pointing at these domains; nil means all
	Q         string
	Page
}

// ListAliasDomains returns a page of alias domains sorted by name.
func (t *Tx) ListAliasDomains(ctx context.Context, f AliasDomainFilter) ([]AliasDomain, error) {
	var ids any
	if f.TargetIDs != nil {
		ids = f.TargetIDs
	}
	rows, err := t.q.Query(ctx, aliasDomainSelect+`
		WHERE ($1::bigint[] IS NULL OR ad.target_domain_id = ANY ($1))
		  AND ($2 = '' OR ad.alias_domain LIKE $3 OR d.name LIKE $3) AND ad.alias_domain > $4
		ORDER BY ad.alias_domain LIMIT $5`, customPlan, ids, f.Q, likePattern(f.Q), f.After, f.Limit)
	if err != nil {
		return nil, translate(err, "list alias domains")
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[AliasDomain])
	return out, translate(err, "list alias domains")
}

// DeleteDomainAliasDomains removes every alias domain pointing at a domain
// and returns them.
func (t *Tx) DeleteDomainAliasDomains(ctx context.Context, domainID int64) ([]AliasDomain, error) {
	rows, err := t.q.Query(ctx, aliasDomainSelect+` WHERE ad.target_domain_id = $1 ORDER BY ad.alias_domain`, domainID)
	if err != nil {
		return nil, translate(err, "domain alias domains")
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[AliasDomain])
	if err != nil {
		return nil, translate(err, "domain alias domains")
	}
	_, err = t.q.Exec(ctx, `DELETE FROM alias_domains WHERE target_domain_id = $1`, domainID)
	return out, translate(err, "delete domain alias domains")
}
