package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"mailhost/address"
)

// Credential is what a login needs to know about a mailbox.
type Credential struct {
	MailboxID int64
	Address   string // the mailbox's own address (the target of an alias domain)
	Maildir   string // relative to the Maildir root
	Password  string // stored hash, {SCHEME} prefix
	// Active is true when the mailbox, its domain and (when the login came
	// through one) the alias domain are all active.
	Active bool
	// SecondFactor is true when the mailbox's owner has a confirmed TOTP
	// secret: the mail protocols then take app passwords only.
	SecondFactor bool
}

// credentialsSQL finds the mailbox answering to local part $1 at domain
// $2, the domain itself or an alias domain of it (a name is one or the
// other, never both, so at most one row comes back). Active means the
// mailbox, its domain and the alias domain used are all active.
const credentialsSQL = `
WITH target AS (
	SELECT id AS domain_id, true AS via_active FROM domains WHERE name = $2
	UNION ALL
	SELECT target_domain_id, active FROM alias_domains WHERE alias_domain = $2
)
SELECT m.id, m.address, m.maildir, m.password, m.active AND d.active AND t.via_active,
	EXISTS (SELECT 1 FROM totp_secrets s WHERE s.mailbox_id = m.id AND s.confirmed_at IS NOT NULL)
FROM target t
JOIN domains d ON d.id = t.domain_id
JOIN mailboxes m ON m.domain_id = d.id AND m.local_part = $1
LIMIT 1`

// MailboxCredentials returns what a login needs about the mailbox answering
// to addr (normalised), directly or through an alias domain. Not found is
// an error matching ErrNotFound.
func (s *Store) MailboxCredentials(ctx context.Context, addr string) (Credential, error) {
	local, domain := address.Split(addr)
	var c Credential
	b := &pgx.Batch{}
	queueGenericPlans(b)
	b.Queue(credentialsSQL, local, domain).QueryRow(func(row pgx.Row) error {
		return row.Scan(&c.MailboxID, &c.Address, &c.Maildir, &c.Password, &c.Active, &c.SecondFactor)
	})
	err := s.pool.SendBatch(ctx, b).Close()
	if errors.Is(err, pgx.ErrNoRows) {
		return Credential{}, fmt.Errorf("store: credentials of %q: %w", addr, ErrNotFound)
	}
	if err != nil {
		return Credential{}, translate(err, "credentials of "+addr)
	}
	return c, nil
}

// RehashPassword replaces a mailbox's stored hash old by new, only while
// it is still old: a password changed since the login is kept. A hash that
// changed meanwhile is not an error.
func (s *Store) RehashPassword(ctx context.Context, mailboxID int64, old, new string) error {
	_, err := s.pool.Exec(ctx, `UPDATE mailboxes SET password = $3 WHERE id = $1 AND password = $2`,
		mailboxID, old, new)
	return translate(err, "rehash password")
}
