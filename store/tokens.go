package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Token is a row of api_tokens with its admin's user name.
type Token struct {
	ID           int64
	AdminID      int64
	Admin        string
	Name         string
	Prefix       string
	Scope        string
	CreatedAt    time.Time
	ExpiresAt    *time.Time
	LastUsedAt   *time.Time
	LastUsedFrom *string
	RevokedAt    *time.Time
}

const tokenSelect = `SELECT t.id, t.admin_id, a.username AS admin, t.name, t.prefix, t.scope, t.created_at, t.expires_at,
	t.last_used_at, t.last_used_from, t.revoked_at FROM api_tokens t JOIN admins a ON a.id = t.admin_id`

// InsertToken stores a new token by the SHA-256 of its secret.
func (t *Tx) InsertToken(ctx context.Context, adminID int64, name, prefix string, hash []byte) (Token, error) {
	var id int64
	err := t.q.QueryRow(ctx, `INSERT INTO api_tokens (admin_id, name, token_hash, prefix) VALUES ($1, $2, $3, $4) RETURNING id`,
		adminID, name, hash, prefix).Scan(&id)
	if err != nil {
		return Token{}, translate(err, "insert token")
	}
	return t.TokenByID(ctx, id)
}

// TokenByID returns a token.
func (t *Tx) TokenByID(ctx context.Context, id int64) (Token, error) {
	rows, err := t.q.Query(ctx, tokenSelect+` WHERE t.id = $1`, id)
	if err != nil {
		return Token{}, translate(err, "token")
	}
	tok, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Token])
	return tok, translate(err, "token")
}

// TokenByHash returns the token with that SHA-256 and its admin.
func (t *Tx) TokenByHash(ctx context.Context, hash []byte) (Token, Admin, error) {
	rows, err := t.q.Query(ctx, tokenSelect+` WHERE t.token_hash = $1`, hash)
	if err != nil {
		return Token{}, Admin{}, translate(err, "token by hash")
	}
	tok, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Token])
	if err != nil {
		return Token{}, Admin{}, translate(err, "token by hash")
	}
	a, err := t.AdminByID(ctx, tok.AdminID)
	return tok, a, err
}

// RevokeToken marks a token revoked (it stays listed).
func (t *Tx) RevokeToken(ctx context.Context, id int64) (Token, error) {
	if _, err := t.q.Exec(ctx, `UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1`, id); err != nil {
		return Token{}, translate(err, "revoke token")
	}
	return t.TokenByID(ctx, id)
}

// TouchToken records a use of a token, at most one write a minute.
func (t *Tx) TouchToken(ctx context.Context, id int64, from string) error {
	_, err := t.q.Exec(ctx, `UPDATE api_tokens SET last_used_at = now(), last_used_from = $2
		WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`, id, from)
	return translate(err, "touch token")
}

// TokenFilter selects tokens for ListTokens.
type TokenFilter struct {
	AdminID int64 // 0 means every admin's
	After   int64 // last id of the previous page
	Limit   int
}

// ListTokens returns a page of tokens sorted by id.
func (t *Tx) ListTokens(ctx context.Context, f TokenFilter) ([]Token, error) {
	rows, err := t.q.Query(ctx, tokenSelect+` WHERE ($1 = 0 OR t.admin_id = $1) AND t.id > $2 ORDER BY t.id LIMIT $3`,
		f.AdminID, f.After, f.Limit)
	if err != nil {
		return nil, translate(err, "list tokens")
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[Token])
	return out, translate(err, "list tokens")
}
