package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Admin is a row of admins with the ids of the domains it administers.
type Admin struct {
	ID         int64
	Username   string
	Password   string
	Superadmin bool
	Active     bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
	DomainIDs  []int64 // from domain_admins
	Domains    []string
}

const adminSelect = `SELECT a.id, a.username, a.password, a.superadmin, a.active, a.created_at, a.updated_at,
	coalesce(array_agg(d.id ORDER BY d.name) FILTER (WHERE d.id IS NOT NULL), '{}') AS domain_ids,
	coalesce(array_agg(d.name ORDER BY d.name) FILTER (WHERE d.id IS NOT NULL), '{}') AS domains
	FROM admins a LEFT JOIN domain_admins da ON da.admin_id = a.id LEFT JOIN domains d ON d.id = da.domain_id`

func (t *Tx) admin(ctx context.Context, where string, args ...any) (Admin, error) {
	rows, err := t.q.Query(ctx, adminSelect+` `+where+` GROUP BY a.id`, args...)
	if err != nil {
		return Admin{}, translate(err, "admin")
	}
	a, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Admin])
	return a, translate(err, "admin")
}

// InsertAdmin stores a new admin and its domains.
func (t *Tx) InsertAdmin(ctx context.Context, a Admin) (Admin, error) {
	var id int64
	err := t.q.QueryRow(ctx, `INSERT INTO admins (username, password, superadmin, active) VALUES ($1, $2, $3, $4) RETURNING id`,
		a.Username, a.Password, a.Superadmin, a.Active).Scan(&id)
	if err != nil {
		return Admin{}, translate(err, "insert admin")
	}
	if err := t.SetAdminDomains(ctx, id, a.DomainIDs); err != nil {
		return Admin{}, err
	}
	return t.AdminByID(ctx, id)
}

// AdminByUsername returns the admin with that user name.
func (t *Tx) AdminByUsername(ctx context.Context, username string) (Admin, error) {
	return t.admin(ctx, `WHERE a.username = $1`, username)
}

// AdminByID returns the admin with that id.
func (t *Tx) AdminByID(ctx context.Context, id int64) (Admin, error) {
	return t.admin(ctx, `WHERE a.id = $1`, id)
}

// UpdateAdmin writes password, superadmin, active and the domains of a.
func (t *Tx) UpdateAdmin(ctx context.Context, a Admin) (Admin, error) {
	tag, err := t.q.Exec(ctx, `UPDATE admins SET password = $2, superadmin = $3, active = $4, updated_at = now() WHERE id = $1`,
		a.ID, a.Password, a.Superadmin, a.Active)
	if err != nil {
		return Admin{}, translate(err, "update admin")
	}
	if tag.RowsAffected() == 0 {
		return Admin{}, ErrNotFound
	}
	if err := t.SetAdminDomains(ctx, a.ID, a.DomainIDs); err != nil {
		return Admin{}, err
	}
	return t.AdminByID(ctx, a.ID)
}

// SetAdminDomains replaces the domains an admin administers.
func (t *Tx) SetAdminDomains(ctx context.Context, adminID int64, domainIDs []int64) error {
	if _, err := t.q.Exec(ctx, `DELETE FROM domain_admins WHERE admin_id = $1`, adminID); err != nil {
		return translate(err, "set admin domains")
	}
	if len(domainIDs) == 0 {
		return nil
	}
	_, err := t.q.Exec(ctx, `INSERT INTO domain_admins (admin_id, domain_id) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING`,
		adminID, domainIDs)
	return translate(err, "set admin domains")
}

// DeleteAdmin removes an admin (its tokens and domain links go with it).
func (t *Tx) DeleteAdmin(ctx context.Context, id int64) error {
	tag, err := t.q.Exec(ctx, `DELETE FROM admins WHERE id = $1`, id)
	if err != nil {
		return translate(err, "delete admin")
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// CountActiveSuperadmins counts active super-admins, locking them, so the
// last one cannot be removed by two concurrent requests.
func (t *Tx) CountActiveSuperadmins(ctx context.Context) (int, error) {
	rows, err := t.q.Query(ctx, `SELECT id FROM admins WHERE superadmin AND active FOR UPDATE`)
	if err != nil {
		return 0, translate(err, "count superadmins")
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	return len(ids), translate(err, "count superadmins")
}

// AdminFilter selects admins for ListAdmins.
type AdminFilter struct {
	Q string
	Page
}

// ListAdmins returns a page of admins sorted by user name.
func (t *Tx) ListAdmins(ctx context.Context, f AdminFilter) ([]Admin, error) {
	rows, err := t.q.Query(ctx, adminSelect+`
		WHERE ($1 = '' OR a.username LIKE $2) AND a.username > $3
		GROUP BY a.id ORDER BY a.username LIMIT $4`, customPlan, f.Q, likePattern(f.Q), f.After, f.Limit)
	if err != nil {
		return nil, translate(err, "list admins")
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[Admin])
	return out, translate(err, "list admins")
}
