package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// ContentPolicy is a domain's content filter settings (domain_filters),
// with its own rules (filter_rules) in order. A domain without a row has
// DefaultContentPolicy's.
type ContentPolicy struct {
	Domain           string   `db:"domain"`
	BannedExtensions []string `db:"banned_extensions"` // nil: the built-in list
	BannedTypes      []string `db:"banned_types"`      // nil: the built-in list
	ScanZip          bool     `db:"scan_zip"`
	SpamPolicy       string   `db:"spam_policy"` // off, junk, reject
	JunkScore        float64  `db:"junk_score"`
	RejectScore      float64  `db:"reject_score"`
	VirusPolicy      string   `db:"virus_policy"` // reject, hold, off
	Rules            []FilterRule
	// Custom is set when the domain has a row of its own.
	Custom    bool      `db:"custom"`
	UpdatedAt time.Time `db:"updated_at"`
}

// FilterRule is one of a domain's rules.
type FilterRule struct {
	ID   int64  `db:"id"`
	Kind string `db:"kind"` // header, mime_header, body
	Rule string `db:"rule"` // /pattern/flags ACTION [text]
}

// DefaultContentPolicy is the settings of a domain without a row: the
// column defaults of domain_filters.
func DefaultContentPolicy(domain string) ContentPolicy {
	return ContentPolicy{Domain: domain, ScanZip: true, SpamPolicy: "junk", JunkScore: 6, RejectScore: 15,
		VirusPolicy: "reject"}
}

// ContentPolicies returns the content filter settings of the named domains
// (for the SMTP server's filter stage), defaults for those without a row
// and for names that are no domain here; two queries whatever the number
// of domains.
func (s *Store) ContentPolicies(ctx context.Context, domains []string) (map[string]ContentPolicy, error) {
	out := make(map[string]ContentPolicy, len(domains))
	for _, d := range domains {
		out[d] = DefaultContentPolicy(d)
	}
	rows, err := s.pool.Query(ctx, `
		SELECT d.name AS domain, f.banned_extensions, f.banned_types, f.scan_zip, f.spam_policy,
		       f.junk_score::float8 AS junk_score, f.reject_score::float8 AS reject_score, f.virus_policy,
		       true AS custom, f.updated_at
		FROM domain_filters f JOIN domains d ON d.id = f.domain_id
		WHERE d.name = ANY($1)`, domains)
	if err != nil {
		return nil, translate(err, "domain filters")
	}
	found, err := pgx.CollectRows(rows, pgx.RowToStructByNameLax[ContentPolicy])
	if err != nil {
		return nil, translate(err, "domain filters")
	}
	for _, f := range found {
		out[f.Domain] = f
	}
	rows, err = s.pool.Query(ctx, `
		SELECT d.name, r.id, r.kind, r.rule
		FROM filter_rules r JOIN domains d ON d.id = r.domain_id
		WHERE d.name = ANY($1) ORDER BY r.id`, domains)
	if err != nil {
		return nil, translate(err, "filter rules")
	}
	defer rows.Close()
	for rows.Next() {
		var d string
		var r FilterRule
		if err := rows.Scan(&d, &r.ID, &r.Kind, &r.Rule); err != nil {
			return nil, translate(err, "filter rules")
		}
		f := out[d]
		f.Rules = append(f.Rules, r)
		out[d] = f
	}
	return out, translate(rows.Err(), "filter rules")
}

// ContentPolicy returns a domain's content filter settings for the admin
// service (the defaults when it has no row), its rules in order; with
// lock, the domain_filters row is locked when there is one.
func (t *Tx) ContentPolicy(ctx context.Context, domainID int64, name string, lock bool) (ContentPolicy, error) {
	p := DefaultContentPolicy(name)
	sql := `SELECT $2::text AS domain, banned_extensions, banned_types, scan_zip, spam_policy,
		       junk_score::float8 AS junk_score, reject_score::float8 AS reject_score, virus_policy,
		       true AS custom, updated_at
		FROM domain_filters WHERE domain_id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	rows, err := t.q.Query(ctx, sql, domainID, name)
	if err != nil {
		return ContentPolicy{}, translate(err, "content policy")
	}
	found, err := pgx.CollectRows(rows, pgx.RowToStructByNameLax[ContentPolicy])
	if err != nil {
		return ContentPolicy{}, translate(err, "content policy")
	}
	if len(found) == 1 {
		p = found[0]
	}
	rows, err = t.q.Query(ctx, `SELECT id, kind, rule FROM filter_rules WHERE domain_id = $1 ORDER BY id`, domainID)
	if err != nil {
		return ContentPolicy{}, translate(err, "filter rules")
	}
	p.Rules, err = pgx.CollectRows(rows, pgx.RowToStructByName[FilterRule])
	return p, translate(err, "filter rules")
}

// SaveContentPolicy writes a domain's content filter settings and
// replaces its rules with p.Rules (in that order).
func (t *Tx) SaveContentPolicy(ctx context.Context, domainID int64, p ContentPolicy) error {
	_, err := t.q.Exec(ctx, `
		INSERT INTO domain_filters (domain_id, banned_extensions, banned_types, scan_zip, spam_policy,
		                            junk_score, reject_score, virus_policy)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (domain_id) DO UPDATE SET banned_extensions = $2, banned_types = $3, scan_zip = $4,
		    spam_policy = $5, junk_score = $6, reject_score = $7, virus_policy = $8, updated_at = now()`,
		domainID, p.BannedExtensions, p.BannedTypes, p.ScanZip, p.SpamPolicy, p.JunkScore, p.RejectScore, p.VirusPolicy)
	if err != nil {
		return translate(err, "save content policy")
	}
	if _, err := t.q.Exec(ctx, `DELETE FROM filter_rules WHERE domain_id = $1`, domainID); err != nil {
		return translate(err, "replace filter rules")
	}
	for _, r := range p.Rules {
		if _, err := t.q.Exec(ctx, `INSERT INTO filter_rules (domain_id, kind, rule) VALUES ($1, $2, $3)`,
			domainID, r.Kind, r.Rule); err != nil {
			return translate(err, "insert filter rule")
		}
	}
	return nil
}
