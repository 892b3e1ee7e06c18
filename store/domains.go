package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Domain is a row of domains.
type Domain struct {
	ID            int64
	Name          string // lower-case A-label
	Description   string
	Kind          string // "local" or "relay"
	RelayTo       string
	Transport     string
	MaxMailboxes  int32
	MaxAliases    int32
	MaxQuotaBytes int64
	QuotaBytes    int64
	Active        bool
	ACME          bool // certificates for its mail., autoconfig. and mta-sts. names
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// DomainUsage is what a domain's mailboxes and aliases take of its limits.
type DomainUsage struct {
	Mailboxes      int64
	Aliases        int64
	QuotaAllocated int64 // sum of the mailboxes' quotas
	QuotaUsed      int64 // sum of the mailboxes' used bytes
}

// DomainWithUsage is a domain with its usage, as the lists show it.
type DomainWithUsage struct {
	Domain
	Usage DomainUsage
}

const domainCols = `id, name, description, kind, relay_to, transport, max_mailboxes, max_aliases,
	max_quota_bytes, quota_bytes, active, acme, created_at, updated_at`

func collectDomain(rows pgx.Rows, err error, what string) (Domain, error) {
	if err != nil {
		return Domain{}, translate(err, what)
	}
	d, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Domain])
	return d, translate(err, what)
}

// InsertDomain stores a new domain and returns it as stored.
func (t *Tx) InsertDomain(ctx context.Context, d Domain) (Domain, error) {
	rows, err := t.q.Query(ctx, `
		INSERT INTO domains (name, description, kind, relay_to, max_mailboxes, max_aliases, max_quota_bytes, quota_bytes, active, acme)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		RETURNING `+domainCols,
		d.Name, d.Description, d.Kind, d.RelayTo, d.MaxMailboxes, d.MaxAliases, d.MaxQuotaBytes, d.QuotaBytes, d.Active, d.ACME)
	return collectDomain(rows, err, "insert domain")
}

// DomainByName returns the domain; with lock it is locked FOR UPDATE until
// the transaction ends, which serialises limit checks on it.
func (t *Tx) DomainByName(ctx context.Context, name string, lock bool) (Domain, error) {
	sql := `SELECT ` + domainCols + ` FROM domains WHERE name = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	rows, err := t.q.Query(ctx, sql, name)
	return collectDomain(rows, err, "domain by name")
}

// DomainByID returns the domain with that id.
func (t *Tx) DomainByID(ctx context.Context, id int64, lock bool) (Domain, error) {
	sql := `SELECT ` + domainCols + ` FROM domains WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	rows, err := t.q.Query(ctx, sql, id)
	return collectDomain(rows, err, "domain by id")
}

// UpdateDomain writes every mutable field of d.
func (t *Tx) UpdateDomain(ctx context.Context, d Domain) (Domain, error) {
	rows, err := t.q.Query(ctx, `
		UPDATE domains SET description = $2, kind = $3, relay_to = $4, max_mailboxes = $5, max_aliases = $6,
			max_quota_bytes = $7, quota_bytes = $8, active = $9, acme = $10, updated_at = now()
		WHERE id = $1
		RETURNING `+domainCols,
		d.ID, d.Description, d.Kind, d.RelayTo, d.MaxMailboxes, d.MaxAliases, d.MaxQuotaBytes, d.QuotaBytes, d.Active, d.ACME)
	return collectDomain(rows, err, "update domain")
}

// DeleteDomain removes a domain; its mailboxes and aliases must be gone.
func (t *Tx) DeleteDomain(ctx context.Context, id int64) error {
	tag, err := t.q.Exec(ctx, `DELETE FROM domains WHERE id = $1`, id)
	if err != nil {
		return translate(err, "delete domain")
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// DomainFilter selects domains for ListDomains.
type DomainFilter struct {
	IDs []int64 // only these; nil means all
	Q   string  // substring of the name
	Page
}

// ListDomains returns a page of domains sorted by name, each with its usage,
// in one query (the usage is aggregated for the page's domains only).
func (t *Tx) ListDomains(ctx context.Context, f DomainFilter) ([]DomainWithUsage, error) {
	var ids any
	if f.IDs != nil {
		ids = f.IDs
	}
	rows, err := t.q.Query(ctx, `
		WITH page AS (
			SELECT `+domainCols+` FROM domains
			WHERE ($1::bigint[] IS NULL OR id = ANY ($1))
			  AND ($2 = '' OR name LIKE $3)
			  AND name > $4
			ORDER BY name LIMIT $5
		), m AS (
			SELECT domain_id, count(*) AS n, coalesce(sum(quota_bytes), 0) AS alloc, coalesce(sum(used_bytes), 0) AS used
			FROM mailboxes WHERE domain_id IN (SELECT id FROM page) GROUP BY domain_id
		), a AS (
			SELECT domain_id, count(*) AS n FROM aliases WHERE domain_id IN (SELECT id FROM page) GROUP BY domain_id
		)
		SELECT p.id, p.name, p.description, p.kind, p.relay_to, p.transport, p.max_mailboxes, p.max_aliases,
			p.max_quota_bytes, p.quota_bytes, p.active, p.created_at, p.updated_at,
			coalesce(m.n, 0), coalesce(a.n, 0), coalesce(m.alloc, 0)::bigint, coalesce(m.used, 0)::bigint
		FROM page p LEFT JOIN m ON m.domain_id = p.id LEFT JOIN a ON a.domain_id = p.id
		ORDER BY p.name`, customPlan,
		ids, f.Q, likePattern(f.Q), f.After, f.Limit)
	if err != nil {
		return nil, translate(err, "list domains")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DomainWithUsage, error) {
		var d DomainWithUsage
		err := r.Scan(&d.ID, &d.Name, &d.Description, &d.Kind, &d.RelayTo, &d.Transport, &d.MaxMailboxes, &d.MaxAliases,
			&d.MaxQuotaBytes, &d.QuotaBytes, &d.Active, &d.CreatedAt, &d.UpdatedAt,
			&d.Usage.Mailboxes, &d.Usage.Aliases, &d.Usage.QuotaAllocated, &d.Usage.QuotaUsed)
		return d, err
	})
	return out, translate(err, "list domains")
}

// DomainUsage counts one domain's mailboxes and aliases and sums its quotas.
func (t *Tx) DomainUsage(ctx context.Context, id int64) (DomainUsage, error) {
	var u DomainUsage
	err := t.q.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM mailboxes WHERE domain_id = $1),
		       (SELECT count(*) FROM aliases WHERE domain_id = $1),
		       (SELECT coalesce(sum(quota_bytes), 0)::bigint FROM mailboxes WHERE domain_id = $1),
		       (SELECT coalesce(sum(used_bytes), 0)::bigint FROM mailboxes WHERE domain_id = $1)`, id).
		Scan(&u.Mailboxes, &u.Aliases, &u.QuotaAllocated, &u.QuotaUsed)
	return u, translate(err, "domain usage")
}

// DomainNames returns the names of the domains with these ids, sorted.
func (t *Tx) DomainNames(ctx context.Context, ids []int64) ([]string, error) {
	rows, err := t.q.Query(ctx, `SELECT name FROM domains WHERE id = ANY ($1) ORDER BY name`, ids)
	if err != nil {
		return nil, translate(err, "domain names")
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, translate(err, "domain names")
}
