package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// DKIMKey is a row of dkim_keys without its private key: what listings,
// the DNS page and the rotation see.
type DKIMKey struct {
	ID          int64
	DomainID    int64
	Domain      string // the domain's name
	Selector    string
	Algorithm   string // "rsa" or "ed25519"
	PublicKey   string // the p= value of the TXT record
	State       string // "pending", "active" or "retiring"
	CreatedAt   time.Time
	ActivatedAt *time.Time
	RetireAt    *time.Time
}

// DKIMSigningKey is an active key with its private key (PKCS #8 DER), for
// the signer alone.
type DKIMSigningKey struct {
	Domain     string
	Selector   string
	Algorithm  string
	PrivateKey []byte
}

// NewDKIMKey is a key to store.
type NewDKIMKey struct {
	Selector   string
	Algorithm  string
	PrivateKey []byte
	PublicKey  string
	State      string // "pending" or "active"
}

const dkimKeySelect = `SELECT k.id, k.domain_id, d.name AS domain, k.selector, k.algorithm, k.public_key,
	k.state, k.created_at, k.activated_at, k.retire_at FROM dkim_keys k JOIN domains d ON d.id = k.domain_id`

func collectDKIMKeys(rows pgx.Rows, err error, what string) ([]DKIMKey, error) {
	if err != nil {
		return nil, translate(err, what)
	}
	ks, err := pgx.CollectRows(rows, pgx.RowToStructByName[DKIMKey])
	return ks, translate(err, what)
}

// InsertDKIMKeys stores keys of a domain. A selector the domain already
// has, or a second active or pending key of one algorithm, is ErrConflict.
func (t *Tx) InsertDKIMKeys(ctx context.Context, domainID int64, keys ...NewDKIMKey) error {
	for _, k := range keys {
		_, err := t.q.Exec(ctx, `INSERT INTO dkim_keys (domain_id, selector, algorithm, private_key, public_key, state, activated_at)
			VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $6 = 'active' THEN now() END)`,
			domainID, k.Selector, k.Algorithm, k.PrivateKey, k.PublicKey, k.State)
		if err != nil {
			return translate(err, "insert dkim key")
		}
	}
	return nil
}

// DKIMKeys lists a domain's keys, oldest first (RSA before Ed25519 for
// keys of one day).
func (t *Tx) DKIMKeys(ctx context.Context, domainID int64) ([]DKIMKey, error) {
	rows, err := t.q.Query(ctx, dkimKeySelect+` WHERE k.domain_id = $1 ORDER BY k.created_at, k.algorithm DESC, k.id`, domainID)
	return collectDKIMKeys(rows, err, "dkim keys")
}

// DKIMPendingKeys lists every domain's pending keys, by domain.
func (t *Tx) DKIMPendingKeys(ctx context.Context) ([]DKIMKey, error) {
	rows, err := t.q.Query(ctx, dkimKeySelect+` WHERE k.state = 'pending' ORDER BY k.domain_id, k.id`)
	return collectDKIMKeys(rows, err, "pending dkim keys")
}

// ActivateDKIMKeys makes a domain's pending keys sign: in one
// transaction, each active key of the same algorithm becomes retiring
// until retireAt, and the pending ones active. Keys no longer pending
// (another node got there first) are left alone; it returns how many it
// activated.
func (s *Store) ActivateDKIMKeys(ctx context.Context, domainID int64, ids []int64, retireAt time.Time) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// The domain row first: two nodes activating the same keys queue
		// up here, and the second finds nothing pending.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM domains WHERE id = $1 FOR UPDATE`, domainID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE dkim_keys SET state = 'retiring', retire_at = $3
			WHERE domain_id = $1 AND state = 'active' AND algorithm IN
				(SELECT algorithm FROM dkim_keys WHERE id = ANY($2) AND domain_id = $1 AND state = 'pending')`,
			domainID, ids, retireAt); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE dkim_keys SET state = 'active', activated_at = now()
			WHERE id = ANY($2) AND domain_id = $1 AND state = 'pending'`, domainID, ids)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, translate(err, "activate dkim keys")
	}
	return n, nil
}

// DeleteRetiredDKIMKeys deletes the retiring keys whose grace period
// ended by now and returns them.
func (s *Store) DeleteRetiredDKIMKeys(ctx context.Context, now time.Time) ([]DKIMKey, error) {
	rows, err := s.pool.Query(ctx, `WITH k AS (DELETE FROM dkim_keys WHERE state = 'retiring' AND retire_at <= $1
		RETURNING id, domain_id, selector, algorithm, public_key, state, created_at, activated_at, retire_at)
		SELECT k.id, k.domain_id, d.name AS domain, k.selector, k.algorithm, k.public_key,
			k.state, k.created_at, k.activated_at, k.retire_at FROM k JOIN domains d ON d.id = k.domain_id`, now)
	return collectDKIMKeys(rows, err, "delete retired dkim keys")
}

// DomainsWithoutDKIM lists the local domains that have no active key:
// those made before migration 0010, or turned from relay into local.
func (t *Tx) DomainsWithoutDKIM(ctx context.Context) ([]Domain, error) {
	rows, err := t.q.Query(ctx, `SELECT `+domainCols+` FROM domains d WHERE kind = 'local'
		AND NOT EXISTS (SELECT 1 FROM dkim_keys k WHERE k.domain_id = d.id AND k.state = 'active') ORDER BY name`)
	if err != nil {
		return nil, translate(err, "domains without dkim keys")
	}
	ds, err := pgx.CollectRows(rows, pgx.RowToStructByName[Domain])
	return ds, translate(err, "domains without dkim keys")
}

// DKIMSigningKeys returns the active keys of the local domains named (a
// sender's domain and its parents), the longest name first.
func (s *Store) DKIMSigningKeys(ctx context.Context, names []string) ([]DKIMSigningKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT d.name AS domain, k.selector, k.algorithm, k.private_key
		FROM dkim_keys k JOIN domains d ON d.id = k.domain_id
		WHERE d.name = ANY($1) AND d.kind = 'local' AND d.active AND k.state = 'active'
		ORDER BY length(d.name) DESC, k.algorithm DESC`, names)
	if err != nil {
		return nil, translate(err, "dkim signing keys")
	}
	ks, err := pgx.CollectRows(rows, pgx.RowToStructByName[DKIMSigningKey])
	return ks, translate(err, "dkim signing keys")
}
