package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// STSPolicy is a cached MTA-STS policy of a destination domain
// (migration 0012).
type STSPolicy struct {
	Domain    string    `db:"domain"`
	ID        string    `db:"policy_id"` // the id of the TXT record it was fetched for
	Mode      string    `db:"mode"`      // enforce, testing, none
	MaxAge    int       `db:"max_age"`   // seconds
	MX        []string  `db:"mx"`        // patterns
	Policy    string    `db:"policy"`    // the file as served
	FetchedAt time.Time `db:"fetched_at"`
	ExpiresAt time.Time `db:"expires_at"`
	RefreshAt time.Time `db:"refresh_at"`
	// Expired, RefreshDue and RetryWait (a fetch failed, the next waits)
	// are computed by the database's clock, the one every node shares.
	Expired    bool `db:"expired"`
	RefreshDue bool `db:"refresh_due"`
	RetryWait  bool `db:"retry_wait"`
}

// STSPolicy returns the cached policy of domain, also an expired one, or
// ErrNotFound.
func (s *Store) STSPolicy(ctx context.Context, domain string) (STSPolicy, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT domain, policy_id, mode, max_age, mx, policy, fetched_at, expires_at, refresh_at,
		       expires_at <= now() AS expired, refresh_at <= now() AS refresh_due,
		       coalesce(retry_at > now(), false) AS retry_wait
		FROM mta_sts_policies WHERE domain = $1`, domain)
	p, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[STSPolicy])
	if errors.Is(err, pgx.ErrNoRows) {
		return STSPolicy{}, ErrNotFound
	}
	if err != nil {
		return STSPolicy{}, fmt.Errorf("store: mta-sts policy of %q: %w", domain, err)
	}
	return p, nil
}

// SaveSTSPolicy stores a policy just fetched (Domain, ID, Mode, MaxAge,
// MX, Policy): it expires MaxAge seconds from now and is due for a
// refresh after refresh.
func (s *Store) SaveSTSPolicy(ctx context.Context, p STSPolicy, refresh time.Duration) error {
	if p.MX == nil {
		p.MX = []string{}
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO mta_sts_policies (domain, policy_id, mode, max_age, mx, policy, fetched_at, expires_at, refresh_at)
		VALUES ($1, $2, $3, $4, $5, $6, now(), now() + $4::integer * interval '1 second', now() + $7 * interval '1 second')
		ON CONFLICT (domain) DO UPDATE SET policy_id = $2, mode = $3, max_age = $4, mx = $5, policy = $6,
			fetched_at = now(), expires_at = now() + $4::integer * interval '1 second', refresh_at = now() + $7 * interval '1 second',
			retry_at = NULL`,
		p.Domain, p.ID, p.Mode, p.MaxAge, p.MX, p.Policy, refresh.Seconds())
	if err != nil {
		return fmt.Errorf("store: save mta-sts policy of %q: %w", p.Domain, err)
	}
	return nil
}

// DeferSTSFetch records that fetching domain's policy failed: the next
// fetch waits for wait (the cached policy stays in force until it
// expires).
func (s *Store) DeferSTSFetch(ctx context.Context, domain string, wait time.Duration) error {
	_, err := s.pool.Exec(ctx, `UPDATE mta_sts_policies SET retry_at = now() + make_interval(secs => $2) WHERE domain = $1`,
		domain, wait.Seconds())
	if err != nil {
		return fmt.Errorf("store: defer mta-sts fetch of %q: %w", domain, err)
	}
	return nil
}
