package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ACMECertificate is a certificate from an ACME authority for one name.
type ACMECertificate struct {
	Name      string
	ChainPEM  []byte // the leaf first, then the intermediates
	KeyPEM    []byte
	NotAfter  time.Time
	UpdatedAt time.Time
}

// ACMEAccountKey returns the PEM account key for the directory.
func (s *Store) ACMEAccountKey(ctx context.Context, directory string) ([]byte, error) {
	var key []byte
	err := s.pool.QueryRow(ctx, `SELECT key_pem FROM acme_accounts WHERE directory = $1`, directory).Scan(&key)
	return key, translate(err, "acme account")
}

// SaveACMEAccountKey stores the directory's account key, unless one is
// there already; it returns the key stored.
func (s *Store) SaveACMEAccountKey(ctx context.Context, directory string, key []byte) ([]byte, error) {
	var stored []byte
	err := s.pool.QueryRow(ctx, `
		INSERT INTO acme_accounts (directory, key_pem) VALUES ($1, $2)
		ON CONFLICT (directory) DO UPDATE SET directory = EXCLUDED.directory
		RETURNING key_pem`, directory, key).Scan(&stored)
	return stored, translate(err, "save acme account")
}

// ACMECertificates returns every stored certificate.
func (s *Store) ACMECertificates(ctx context.Context) ([]ACMECertificate, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, chain_pem, key_pem, not_after, updated_at FROM acme_certificates ORDER BY name`)
	if err != nil {
		return nil, translate(err, "acme certificates")
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ACMECertificate])
	return out, translate(err, "acme certificates")
}

// SaveACMECertificate stores (or replaces) the certificate of c.Name.
func (s *Store) SaveACMECertificate(ctx context.Context, c ACMECertificate) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO acme_certificates (name, chain_pem, key_pem, not_after) VALUES ($1, $2, $3, $4)
		ON CONFLICT (name) DO UPDATE SET chain_pem = EXCLUDED.chain_pem, key_pem = EXCLUDED.key_pem,
			not_after = EXCLUDED.not_after, updated_at = now()`, c.Name, c.ChainPEM, c.KeyPEM, c.NotAfter)
	return translate(err, "save acme certificate")
}

// SetACMEChallenge stores the response to an HTTP-01 challenge token
// until expires (an empty response deletes it).
func (s *Store) SetACMEChallenge(ctx context.Context, token, response string, expires time.Time) error {
	var err error
	if response == "" {
		_, err = s.pool.Exec(ctx, `DELETE FROM acme_challenges WHERE token = $1 OR expires_at < now()`, token)
	} else {
		_, err = s.pool.Exec(ctx, `
			INSERT INTO acme_challenges (token, response, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (token) DO UPDATE SET response = EXCLUDED.response, expires_at = EXCLUDED.expires_at`,
			token, response, expires)
	}
	return translate(err, "acme challenge")
}

// ACMEChallenge returns the response to an HTTP-01 token not yet expired.
func (s *Store) ACMEChallenge(ctx context.Context, token string) (string, error) {
	var resp string
	err := s.pool.QueryRow(ctx, `SELECT response FROM acme_challenges WHERE token = $1 AND expires_at > now()`, token).Scan(&resp)
	return resp, translate(err, "acme challenge")
}

// ACMEDomains lists the active local domains that opted in for
// certificates of their mail., autoconfig. and mta-sts. names.
func (s *Store) ACMEDomains(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT name FROM domains WHERE acme AND active AND kind = 'local' ORDER BY name`)
	if err != nil {
		return nil, translate(err, "acme domains")
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, translate(err, "acme domains")
}

// acmeLockKey is the advisory lock of ACME ordering (any constant unique
// among this schema's advisory locks).
const acmeLockKey = 0x6d68_6163_6d65 // "mhacme"

// WithACMELock runs fn while this session holds the cluster-wide ACME
// ordering lock, so that one node at a time orders certificates. It
// reports false without running fn when another node holds it.
func (s *Store) WithACMELock(ctx context.Context, fn func(context.Context) error) (bool, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("store: acme lock: %w", err)
	}
	defer conn.Release()
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(acmeLockKey)).Scan(&got); err != nil {
		return false, fmt.Errorf("store: acme lock: %w", err)
	}
	if !got {
		return false, nil
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(acmeLockKey)) //nolint:errcheck // released with the session anyway
	return true, fn(ctx)
}
