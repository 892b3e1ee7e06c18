package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Principal names who a second factor, a login challenge or a panel
// session belongs to: an admin or a mailbox (its owner). Exactly one of
// the two ids is set.
type Principal struct {
	AdminID   int64
	MailboxID int64
}

// where returns the column that names p and its id.
func (p Principal) where() (string, int64) {
	if p.AdminID != 0 {
		return "admin_id", p.AdminID
	}
	return "mailbox_id", p.MailboxID
}

// TOTP is a row of totp_secrets: a TOTP secret (base32) of an admin or a
// mailbox owner. ConfirmedAt is nil while the enrolment is in progress.
type TOTP struct {
	ID          int64
	AdminID     *int64
	MailboxID   *int64
	Secret      string
	ConfirmedAt *time.Time
	LastStep    int64
	CreatedAt   time.Time
}

const totpCols = `id, admin_id, mailbox_id, secret, confirmed_at, last_step, created_at`

// TOTPOf returns p's TOTP secret, confirmed or in enrolment.
func (t *Tx) TOTPOf(ctx context.Context, p Principal) (TOTP, error) {
	col, id := p.where()
	rows, err := t.q.Query(ctx, `SELECT `+totpCols+` FROM totp_secrets WHERE `+col+` = $1`, id)
	if err != nil {
		return TOTP{}, translate(err, "totp secret")
	}
	s, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[TOTP])
	return s, translate(err, "totp secret")
}

// BeginTOTP stores secret as p's enrolment in progress, replacing an
// earlier one. When p has a confirmed secret it is kept and the answer is
// ErrConflict.
func (t *Tx) BeginTOTP(ctx context.Context, p Principal, secret string) (TOTP, error) {
	col, id := p.where()
	rows, err := t.q.Query(ctx, `
		INSERT INTO totp_secrets (`+col+`, secret) VALUES ($1, $2)
		ON CONFLICT (`+col+`) DO UPDATE SET secret = EXCLUDED.secret, created_at = now(), last_step = 0
		WHERE totp_secrets.confirmed_at IS NULL
		RETURNING `+totpCols, id, secret)
	if err != nil {
		return TOTP{}, translate(err, "begin totp")
	}
	s, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[TOTP])
	if errors.Is(err, pgx.ErrNoRows) {
		return TOTP{}, ErrConflict
	}
	return s, translate(err, "begin totp")
}

// ConfirmTOTP makes the enrolment id take effect, with step as its last
// used step and codes (SHA-256 hashes) as its recovery codes. An id that
// is unknown or already confirmed is ErrNotFound.
func (t *Tx) ConfirmTOTP(ctx context.Context, id, step int64, codes [][]byte) error {
	tag, err := t.q.Exec(ctx, `UPDATE totp_secrets SET confirmed_at = now(), last_step = $2
		WHERE id = $1 AND confirmed_at IS NULL`, id, step)
	if err != nil {
		return translate(err, "confirm totp")
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return t.ReplaceRecoveryCodes(ctx, id, codes)
}

// ReplaceRecoveryCodes replaces the recovery codes of the secret id.
func (t *Tx) ReplaceRecoveryCodes(ctx context.Context, id int64, codes [][]byte) error {
	if _, err := t.q.Exec(ctx, `DELETE FROM recovery_codes WHERE totp_id = $1`, id); err != nil {
		return translate(err, "delete recovery codes")
	}
	_, err := t.q.Exec(ctx, `INSERT INTO recovery_codes (totp_id, code_hash) SELECT $1, unnest($2::bytea[])`, id, codes)
	return translate(err, "insert recovery codes")
}

// AcceptTOTPStep records step as the last used step of the confirmed
// secret id, if it is later than the last one; it reports whether it was.
// Two logins racing with the same code: one wins.
func (t *Tx) AcceptTOTPStep(ctx context.Context, id, step int64) (bool, error) {
	tag, err := t.q.Exec(ctx, `UPDATE totp_secrets SET last_step = $2
		WHERE id = $1 AND last_step < $2 AND confirmed_at IS NOT NULL`, id, step)
	if err != nil {
		return false, translate(err, "accept totp step")
	}
	return tag.RowsAffected() == 1, nil
}

// UseRecoveryCode marks the unused recovery code with that hash of the
// secret id used and reports whether there was one.
func (t *Tx) UseRecoveryCode(ctx context.Context, id int64, hash []byte) (bool, error) {
	tag, err := t.q.Exec(ctx, `UPDATE recovery_codes SET used_at = now()
		WHERE totp_id = $1 AND code_hash = $2 AND used_at IS NULL`, id, hash)
	if err != nil {
		return false, translate(err, "use recovery code")
	}
	return tag.RowsAffected() == 1, nil
}

// RecoveryCodesLeft counts the unused recovery codes of the secret id.
func (t *Tx) RecoveryCodesLeft(ctx context.Context, id int64) (int, error) {
	var n int
	err := t.q.QueryRow(ctx, `SELECT count(*) FROM recovery_codes WHERE totp_id = $1 AND used_at IS NULL`, id).Scan(&n)
	return n, translate(err, "count recovery codes")
}

// DeleteTOTP removes p's secret, confirmed or not, with its recovery
// codes; it reports whether there was one.
func (t *Tx) DeleteTOTP(ctx context.Context, p Principal) (bool, error) {
	col, id := p.where()
	tag, err := t.q.Exec(ctx, `DELETE FROM totp_secrets WHERE `+col+` = $1`, id)
	if err != nil {
		return false, translate(err, "delete totp")
	}
	return tag.RowsAffected() == 1, nil
}

// EndWebSessions ends every panel session and pending login of p (after a
// change of its password or second factor) and returns how many sessions
// it ended.
func (t *Tx) EndWebSessions(ctx context.Context, p Principal) (int64, error) {
	col, id := p.where()
	if _, err := t.q.Exec(ctx, `DELETE FROM login_challenges WHERE `+col+` = $1`, id); err != nil {
		return 0, translate(err, "end login challenges")
	}
	tag, err := t.q.Exec(ctx, `DELETE FROM web_sessions WHERE `+col+` = $1`, id)
	if err != nil {
		return 0, translate(err, "end web sessions")
	}
	return tag.RowsAffected(), nil
}

// SecurityPolicy is the row of security_policy.
type SecurityPolicy struct {
	RequireAdminTOTP bool
	UpdatedAt        time.Time
}

// SecurityPolicy returns the run-time security settings.
func (t *Tx) SecurityPolicy(ctx context.Context) (SecurityPolicy, error) {
	var p SecurityPolicy
	err := t.q.QueryRow(ctx, `SELECT require_admin_totp, updated_at FROM security_policy`).
		Scan(&p.RequireAdminTOTP, &p.UpdatedAt)
	return p, translate(err, "security policy")
}

// SetSecurityPolicy changes the run-time security settings.
func (t *Tx) SetSecurityPolicy(ctx context.Context, p SecurityPolicy) (SecurityPolicy, error) {
	var out SecurityPolicy
	err := t.q.QueryRow(ctx, `UPDATE security_policy SET require_admin_totp = $1, updated_at = now()
		RETURNING require_admin_totp, updated_at`, p.RequireAdminTOTP).Scan(&out.RequireAdminTOTP, &out.UpdatedAt)
	return out, translate(err, "set security policy")
}

// LoginChallenge is a row of login_challenges: a panel login whose
// password was right, waiting for its second factor.
type LoginChallenge struct {
	IDHash     []byte
	AdminID    *int64
	MailboxID  *int64
	Next       string
	RemoteAddr string
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// Principal is whose login c is.
func (c LoginChallenge) Principal() Principal {
	if c.AdminID != nil {
		return Principal{AdminID: *c.AdminID}
	}
	return Principal{MailboxID: *c.MailboxID}
}

// CreateLoginChallenge stores c and removes the challenges expired at
// c.CreatedAt.
func (s *Store) CreateLoginChallenge(ctx context.Context, c LoginChallenge) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM login_challenges WHERE expires_at <= $1`, c.CreatedAt); err != nil {
		return translate(err, "sweep login challenges")
	}
	var admin, mailbox *int64
	if p := c.Principal(); p.AdminID != 0 {
		admin = &p.AdminID
	} else {
		mailbox = &p.MailboxID
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO login_challenges (id_hash, admin_id, mailbox_id, next, remote_addr, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, c.IDHash, admin, mailbox, c.Next, c.RemoteAddr, c.CreatedAt, c.ExpiresAt)
	return translate(err, "create login challenge")
}

// LoginChallengeByHash returns the challenge with that hash if it is still
// valid at now; else ErrNotFound.
func (s *Store) LoginChallengeByHash(ctx context.Context, hash []byte, now time.Time) (LoginChallenge, error) {
	rows, err := s.pool.Query(ctx, `SELECT id_hash, admin_id, mailbox_id, next, remote_addr, created_at, expires_at
		FROM login_challenges WHERE id_hash = $1 AND expires_at > $2`, hash, now)
	if err != nil {
		return LoginChallenge{}, translate(err, "login challenge")
	}
	c, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[LoginChallenge])
	return c, translate(err, "login challenge")
}

// DeleteLoginChallenge removes a challenge and reports whether it was
// there: of two requests finishing the same login, one gets true.
func (s *Store) DeleteLoginChallenge(ctx context.Context, hash []byte) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM login_challenges WHERE id_hash = $1`, hash)
	if err != nil {
		return false, translate(err, "delete login challenge")
	}
	return tag.RowsAffected() == 1, nil
}
