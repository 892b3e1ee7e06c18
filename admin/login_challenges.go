package admin

import (
	"context"
	"errors"
	"time"

	"mailhost/store"
)

// The panel's login in two steps: after the password, a login challenge
// waits (in the database, like sessions, so any node can finish it) for
// the second factor. The security policy says whether admins must have
// one.

// LoginChallenge is a panel login whose password was right, waiting for
// its second factor. IDHash is the SHA-256 of the random id in its cookie.
type LoginChallenge struct {
	IDHash     []byte
	Account    Account
	Next       string // where the login was going
	RemoteAddr string
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// CreateLoginChallenge stores c (and sweeps expired ones).
func (s *Service) CreateLoginChallenge(ctx context.Context, c LoginChallenge) error {
	if !c.Account.valid() {
		return newErr(NotFound, "no such account")
	}
	row := store.LoginChallenge{IDHash: c.IDHash, Next: c.Next, RemoteAddr: c.RemoteAddr,
		CreatedAt: c.CreatedAt, ExpiresAt: c.ExpiresAt}
	if c.Account.AdminID != 0 {
		row.AdminID = &c.Account.AdminID
	} else {
		row.MailboxID = &c.Account.MailboxID
	}
	return s.st.CreateLoginChallenge(ctx, row)
}

// LoginChallengeByHash returns the challenge with that hash while it is
// valid at now; NotFound otherwise.
func (s *Service) LoginChallengeByHash(ctx context.Context, hash []byte, now time.Time) (LoginChallenge, error) {
	row, err := s.st.LoginChallengeByHash(ctx, hash, now)
	if errors.Is(err, store.ErrNotFound) {
		return LoginChallenge{}, newErr(NotFound, "no such login; log in again")
	}
	if err != nil {
		return LoginChallenge{}, err
	}
	p := row.Principal()
	return LoginChallenge{IDHash: row.IDHash, Account: Account{AdminID: p.AdminID, MailboxID: p.MailboxID},
		Next: row.Next, RemoteAddr: row.RemoteAddr, CreatedAt: row.CreatedAt, ExpiresAt: row.ExpiresAt}, nil
}

// FinishLoginChallenge removes a challenge whose second factor passed; it
// is NotFound when another request finished (or a change ended) it first.
func (s *Service) FinishLoginChallenge(ctx context.Context, hash []byte) error {
	ok, err := s.st.DeleteLoginChallenge(ctx, hash)
	if err == nil && !ok {
		err = newErr(NotFound, "no such login; log in again")
	}
	return err
}

// SecurityPolicyView is the run-time security policy.
type SecurityPolicyView struct {
	// RequireAdminTOTP: admins without a second factor are sent to enrol
	// one after their password, before any other page.
	RequireAdminTOTP bool      `json:"require_admin_totp"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// SecurityPolicyInput changes the security policy.
type SecurityPolicyInput struct {
	RequireAdminTOTP *bool `json:"require_admin_totp"`
}

// SecurityPolicy returns the security policy (super-admin).
func (s *Service) SecurityPolicy(ctx context.Context, a Actor) (SecurityPolicyView, error) {
	if !a.Superadmin {
		return SecurityPolicyView{}, newErr(Forbidden, "only a super-admin may see the security policy")
	}
	p, err := s.st.Read().SecurityPolicy(ctx)
	return SecurityPolicyView(p), err
}

// SetSecurityPolicy changes the security policy (super-admin).
func (s *Service) SetSecurityPolicy(ctx context.Context, a Actor, in SecurityPolicyInput) (SecurityPolicyView, error) {
	if !a.Superadmin {
		return SecurityPolicyView{}, newErr(Forbidden, "only a super-admin may change the security policy")
	}
	var out store.SecurityPolicy
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		old, err := tx.SecurityPolicy(ctx)
		if err != nil {
			return err
		}
		p := old
		if in.RequireAdminTOTP != nil {
			p.RequireAdminTOTP = *in.RequireAdminTOTP
		}
		if out, err = tx.SetSecurityPolicy(ctx, p); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "update", "security_policy", "security_policy", "", SecurityPolicyView(old), SecurityPolicyView(out))
	})
	return SecurityPolicyView(out), err
}

// SecondFactorDue reports whether an admin must enrol a second factor
// before anything else: the policy requires one and it has none yet.
func (s *Service) SecondFactorDue(ctx context.Context, a Actor) (bool, error) {
	if a.Kind != "admin" || a.AdminID == 0 {
		return false, nil
	}
	tx := s.st.Read()
	p, err := tx.SecurityPolicy(ctx)
	if err != nil || !p.RequireAdminTOTP {
		return false, err
	}
	t, err := tx.TOTPOf(ctx, store.Principal{AdminID: a.AdminID})
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	return err == nil && t.ConfirmedAt == nil, err
}
