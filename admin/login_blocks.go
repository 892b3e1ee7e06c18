package admin

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"mailhost/auth"
	"mailhost/store"
)

// Login blocks: the client addresses and accounts the login throttle
// (auth) blocked after too many failed logins, shared by every node in
// PostgreSQL. Only super-admins see or lift them: an address block shows
// who tried which accounts, and lifting one gives an attacker its
// guesses back.

// LoginBlockView is a running block.
type LoginBlockView struct {
	Kind    string    `json:"kind"`    // "address" (an IPv4 address or an IPv6 /64) or "account"
	Subject string    `json:"subject"` // the address, /64 or user name
	Until   time.Time `json:"until"`
}

func loginBlockView(r store.ThrottleRecord) LoginBlockView {
	v := LoginBlockView{Kind: "account", Subject: strings.TrimPrefix(r.Key, auth.AccountKeyPrefix), Until: r.BlockedUntil}
	if s, ok := strings.CutPrefix(r.Key, auth.IPKeyPrefix); ok {
		v.Kind, v.Subject = "address", s
	}
	return v
}

// UnblockInput names what to unblock: a client address (an IPv6 address
// stands for its /64, which may also be given as such) or an account.
type UnblockInput struct {
	Target string `json:"target"`
}

func loginBlocksAllowed(a Actor) error {
	if !a.Superadmin {
		return newErr(Forbidden, "only a super-admin may see or lift login blocks")
	}
	return nil
}

// LoginBlocks lists the blocks running now, ending soonest first.
func (s *Service) LoginBlocks(ctx context.Context, a Actor) ([]LoginBlockView, error) {
	if err := loginBlocksAllowed(a); err != nil {
		return nil, err
	}
	rows, err := s.st.LoginBlocks(ctx, s.opts.Now())
	if err != nil {
		return nil, err
	}
	out := make([]LoginBlockView, len(rows))
	for i, r := range rows {
		out[i] = loginBlockView(r)
	}
	return out, nil
}

// unblockKey is the throttle key of an unblock target.
func unblockKey(target string) (string, bool) {
	target = strings.TrimSpace(target)
	if ip, err := netip.ParseAddr(target); err == nil {
		return auth.ClientKey(ip.Unmap()), true
	}
	if p, err := netip.ParsePrefix(target); err == nil {
		if p.Addr().Is6() && !p.Addr().Is4In6() && p.Bits() == 64 || p.Addr().Is4() && p.Bits() == 32 {
			return auth.ClientKey(p.Addr()), true
		}
		return "", false
	}
	if target == "" || strings.ContainsAny(target, " \t\r\n\x00") || len(target) > 320 {
		return "", false
	}
	return auth.AccountKey(target), true
}

// Unblock lifts the block of a client address or an account and forgets
// its failures; it returns the block it lifted. Neither blocked nor with
// failures is NotFound.
func (s *Service) Unblock(ctx context.Context, a Actor, in UnblockInput) (LoginBlockView, error) {
	if err := loginBlocksAllowed(a); err != nil {
		return LoginBlockView{}, err
	}
	key, ok := unblockKey(in.Target)
	if !ok {
		var f fields
		f.add("target", "must be an IP address, an IPv6 /64 or a user name")
		return LoginBlockView{}, f.err()
	}
	now := s.opts.Now()
	gone, err := s.st.DeleteLoginThrottle(ctx, []string{key}, now)
	if err != nil {
		return LoginBlockView{}, err
	}
	if len(gone) == 0 {
		return LoginBlockView{}, newErr(NotFound, "%s is not blocked", strings.TrimSpace(in.Target))
	}
	v := loginBlockView(gone[0])
	if !gone[0].BlockedUntil.After(now) {
		v.Until = time.Time{} // only failures were forgotten
	}
	err = s.st.Tx(ctx, func(tx *store.Tx) error {
		return s.audit(ctx, tx, a, "unblock", "login_block", v.Kind+" "+v.Subject, "", v, nil)
	})
	if err != nil {
		s.log.Error("audit: unblock", "target", v.Subject, "err", err)
	}
	return v, nil
}
