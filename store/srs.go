package store

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// srsSecretLen is the size of a generated SRS secret (HMAC-SHA1 keys gain
// nothing beyond the 64-byte block; 32 random bytes are plenty).
const srsSecretLen = 32

// SRSSecrets returns the installation's SRS secrets, the signing one
// (highest generation) first. When there is none yet it generates one;
// nodes starting together agree on a single first secret.
func (s *Store) SRSSecrets(ctx context.Context) ([][]byte, error) {
	fresh := make([]byte, srsSecretLen)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("store: srs secret: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO srs_secrets (generation, secret)
		SELECT 1, $1 WHERE NOT EXISTS (SELECT 1 FROM srs_secrets)
		ON CONFLICT (generation) DO NOTHING`, fresh); err != nil {
		return nil, fmt.Errorf("store: srs secret: %w", err)
	}
	rows, _ := s.pool.Query(ctx, `SELECT secret FROM srs_secrets ORDER BY generation DESC`)
	secrets, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("store: srs secrets: %w", err)
	}
	return secrets, nil
}

// HostedDomain reports whether name is a local domain of ours or an alias
// domain of one, active or not: mail from it is ours to send, so
// forwarding leaves its senders unrewritten, and SRS addresses in it are
// ours to reverse.
func (s *Store) HostedDomain(ctx context.Context, name string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM domains WHERE name = $1 AND kind = 'local')
		OR EXISTS (SELECT 1 FROM alias_domains ad JOIN domains d ON d.id = ad.target_domain_id
			WHERE ad.alias_domain = $1 AND d.kind = 'local')`, name).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("store: hosted domain %q: %w", name, err)
	}
	return ok, nil
}
