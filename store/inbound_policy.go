package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// InboundPolicy is what the MX does with the sender authentication
// results of mail for a hosted domain (inbound_policies, migration 0011).
type InboundPolicy struct {
	// DMARC: "enforce" (a failing message gets what its author domain's
	// policy asks: reject, quarantine) or "mark" (a header only).
	DMARC string `db:"dmarc" json:"dmarc"`
	// SPFFail: "reject" or "mark" for an SPF fail of MAIL FROM.
	SPFFail string `db:"spf_fail" json:"spf_fail"`
	// RejectSpoofed refuses mail claiming to be from this domain that an
	// outside client sends without an aligned DKIM signature or SPF pass.
	RejectSpoofed bool `db:"reject_spoofed" json:"reject_spoofed"`
	// UpdatedAt is nil while the domain has the defaults.
	UpdatedAt *time.Time `db:"updated_at" json:"updated_at"`
}

// DefaultInboundPolicy is the policy of a domain that set none.
func DefaultInboundPolicy() InboundPolicy {
	return InboundPolicy{DMARC: "enforce", SPFFail: "mark", RejectSpoofed: true}
}

// HostedPolicy is a hosted domain's inbound policy as the MTA sees it.
type HostedPolicy struct {
	InboundPolicy
	Kind string `db:"kind"` // local or relay
}

// InboundPolicies returns, for each of names that is a domain hosted or
// relayed here or an alias domain of one (keyed by the name asked), its
// kind and inbound policy, the defaults where none is set. Names that are
// not ours are absent. One query.
func (s *Store) InboundPolicies(ctx context.Context, names []string) (map[string]HostedPolicy, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT n.name, d.kind,
		       coalesce(p.dmarc, 'enforce') AS dmarc, coalesce(p.spf_fail, 'mark') AS spf_fail,
		       coalesce(p.reject_spoofed, true) AS reject_spoofed, p.updated_at
		FROM unnest($1::text[]) AS n(name)
		JOIN LATERAL (
			SELECT dm.id, dm.kind FROM domains dm
			LEFT JOIN alias_domains ad ON ad.target_domain_id = dm.id AND ad.alias_domain = n.name
			WHERE dm.name = n.name OR ad.alias_domain = n.name
			LIMIT 1
		) d ON true
		LEFT JOIN inbound_policies p ON p.domain_id = d.id`, names)
	if err != nil {
		return nil, fmt.Errorf("store: inbound policies: %w", err)
	}
	out := map[string]HostedPolicy{}
	var name string
	var hp HostedPolicy
	_, err = pgx.ForEachRow(rows, []any{&name, &hp.Kind, &hp.DMARC, &hp.SPFFail, &hp.RejectSpoofed, &hp.UpdatedAt},
		func() error {
			out[name] = hp
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("store: inbound policies: %w", err)
	}
	return out, nil
}

// InboundPolicy returns a domain's inbound policy, the defaults when it
// set none.
func (t *Tx) InboundPolicy(ctx context.Context, domainID int64) (InboundPolicy, error) {
	rows, err := t.q.Query(ctx, `
		SELECT dmarc, spf_fail, reject_spoofed, updated_at FROM inbound_policies WHERE domain_id = $1`, domainID)
	if err != nil {
		return InboundPolicy{}, fmt.Errorf("store: inbound policy: %w", err)
	}
	p, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[InboundPolicy])
	if errors.Is(err, pgx.ErrNoRows) {
		return DefaultInboundPolicy(), nil
	}
	if err != nil {
		return InboundPolicy{}, fmt.Errorf("store: inbound policy: %w", err)
	}
	return p, nil
}

// SetInboundPolicy writes a domain's inbound policy.
func (t *Tx) SetInboundPolicy(ctx context.Context, domainID int64, p InboundPolicy) (InboundPolicy, error) {
	rows, err := t.q.Query(ctx, `
		INSERT INTO inbound_policies (domain_id, dmarc, spf_fail, reject_spoofed) VALUES ($1, $2, $3, $4)
		ON CONFLICT (domain_id) DO UPDATE SET dmarc = $2, spf_fail = $3, reject_spoofed = $4, updated_at = now()
		RETURNING dmarc, spf_fail, reject_spoofed, updated_at`, domainID, p.DMARC, p.SPFFail, p.RejectSpoofed)
	if err != nil {
		return InboundPolicy{}, translate(err, "set inbound policy")
	}
	out, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[InboundPolicy])
	if err != nil {
		return InboundPolicy{}, translate(err, "set inbound policy")
	}
	return out, nil
}
