package admin

import (
	"context"
	"errors"
	"net/netip"
	"strconv"

	"mailhost/auth"
)

// LoginGuard is the login throttle that every password and token check
// goes through, shared with SMTP, IMAP and POP3 (one policy: per client
// address and per account, counted before the check runs), and the
// node's bound on concurrent password hashes. *auth.Authenticator
// satisfies it.
type LoginGuard interface {
	Reserve(ctx context.Context, ip netip.Addr, account string) (*auth.Attempt, error)
}

var _ LoginGuard = (*auth.Authenticator)(nil)

// reserve takes a place in the throttle for a check of account (a
// normalised name, "" for a token) from remote. Without a guard it
// returns a nil Attempt, whose methods run unthrottled.
func (s *Service) reserve(ctx context.Context, remote, account string) (*auth.Attempt, error) {
	if s.opts.Logins == nil {
		return nil, nil
	}
	ip, _ := netip.ParseAddr(remote)
	at, err := s.opts.Logins.Reserve(ctx, ip.Unmap(), account)
	return at, loginError(err)
}

// loginError translates the throttle's and the hash bound's refusals.
func loginError(err error) error {
	var te *auth.ThrottledError
	switch {
	case errors.As(err, &te):
		return newErr(Throttled, "too many failed logins; try again in %s minutes", strconv.Itoa(int(te.RetryAfter.Minutes())+1))
	case errors.Is(err, auth.ErrBusy):
		return newErr(Unavailable, "the server is busy checking passwords; try again in a moment")
	}
	return err
}
