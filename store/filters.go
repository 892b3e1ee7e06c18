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
