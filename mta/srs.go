package mta

import (
	"context"
	"errors"
	"strings"
	"time"

	"mailhost/address"
	smtp "mailhost/smtpd"
	"mailhost/srs"
	"mailhost/store"
)

// HostedDomains tells the domains whose mail is ours to send: SRS leaves
// their senders as they are, and reverses SRS addresses in them.
// *store.Store satisfies it.
type HostedDomains interface {
	HostedDomain(ctx context.Context, name string) (bool, error)
}

var _ HostedDomains = (*store.Store)(nil)

// SRS applies the Sender Rewriting Scheme (package srs) to mail forwarded
// to addresses elsewhere, and reverses it for mail to SRS addresses of
// ours. One SRS serves the MX, submission and the queue workers (and
// Sieve's redirect); nil means forwarding keeps the sender.
type SRS struct {
	Rewriter *srs.Rewriter
	Domains  HostedDomains
	Now      func() time.Time // nil: time.Now
}

func (f *SRS) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// ForwardSender returns the envelope sender for a copy of a message from
// sender forwarded to an address elsewhere: the SRS address when the
// sender's domain is not hosted here (so the next hop's SPF check sees our
// domain), else sender itself; the null sender stays null. A nil f
// returns sender.
func (f *SRS) ForwardSender(ctx context.Context, sender string) (string, error) {
	if f == nil || sender == "" {
		return sender, nil
	}
	_, dom := address.Split(sender)
	if d, err := address.Domain(dom); err == nil {
		dom = d
	}
	dom = strings.ToLower(dom)
	if dom == f.Rewriter.Domain() {
		return sender, nil
	}
	hosted, err := f.Domains.HostedDomain(ctx, dom)
	if err != nil {
		return "", err
	}
	if hosted {
		return sender, nil
	}
	return f.Rewriter.Forward(sender, f.now())
}

// reverse returns the address an SRS address of ours stands for. ours is
// false when addr is not in the SRS form or its domain is neither the SRS
// domain nor hosted here (it is then an ordinary address); with ours set,
// a non-nil err is a forged, altered or expired address (srs.Err*), or a
// failed lookup.
func (f *SRS) reverse(ctx context.Context, addr string) (orig string, ours bool, err error) {
	if f == nil || !srs.IsSRS(addr) {
		return "", false, nil
	}
	_, dom := address.Split(addr)
	d, err := address.Domain(dom)
	if err != nil {
		return "", false, nil
	}
	if d != f.Rewriter.Domain() {
		hosted, err := f.Domains.HostedDomain(ctx, d)
		if err != nil {
			return "", true, err
		}
		if !hosted {
			return "", false, nil
		}
	}
	orig, err = f.Rewriter.Reverse(addr, f.now())
	return orig, true, err
}

// forwardSender is the sender of the transaction's forwarded copies
// (plan), asked of the database only when some recipient is forwarded.
func (s *session) forwardSender() (string, error) {
	for _, rc := range s.rcpts {
		for _, t := range rc.res.Remote {
			if !t.Relay {
				return s.srv.cfg.SRS.ForwardSender(s.ctx, s.from)
			}
		}
	}
	return s.from, nil
}

// errForgedSRS refuses an SRS address of ours whose hash or age does not
// check out: a bounce to it did not come from mail we forwarded, and
// relaying it would make an open forwarder.
func errForgedSRS(to string) *smtp.SMTPError {
	return smtpErr(550, smtp.EnhancedCode{5, 1, 1},
		"<%s>: Recipient address rejected: User unknown (invalid or expired SRS address)", to)
}

// srsRecipient resolves RCPT TO an SRS address of ours (usually a bounce
// of mail we forwarded) to the original sender: hosted here, it resolves
// as any address; elsewhere, it is relayed there (origin forward). handled
// is false for an address that is not an SRS address of ours; an err is
// the RCPT's reply. The recipient access rules apply as to any address.
func (s *session) srsRecipient(to string) (res store.Resolution, addr string, handled bool, err error) {
	orig, ours, rerr := s.srv.cfg.SRS.reverse(s.ctx, to)
	if !ours {
		return res, "", false, nil
	}
	local, dom := address.Split(to)
	addr = local + "@" + strings.ToLower(dom)
	switch {
	case errors.Is(rerr, srs.ErrNotSRS), errors.Is(rerr, srs.ErrMalformed), errors.Is(rerr, srs.ErrBadHash),
		errors.Is(rerr, srs.ErrExpired):
		return res, addr, true, s.reject("RCPT", "srs_invalid", errForgedSRS(to), "to", addr, "why", rerr.Error())
	case rerr != nil:
		return res, addr, true, s.temp("RCPT", rerr, "to", addr)
	}
	if _, err := s.recipientRule(s.ctx, to, addr); err != nil { // policy.go
		return res, addr, true, err
	}
	olocal, odom := address.Split(orig)
	d, derr := address.Domain(odom)
	if derr != nil {
		return res, addr, true, s.reject("RCPT", "srs_invalid", errForgedSRS(to), "to", addr, "why", "bad domain "+odom)
	}
	if n, nerr := address.Normalize(orig); nerr == nil {
		res, err = s.srv.store.Resolve(s.ctx, n, s.srv.cfg.RecipientDelimiter)
		switch {
		case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrDisabled):
			return res, addr, true, s.reject("RCPT", "unknown_user", errForgedSRS(to), "to", addr, "srs_to", n)
		case err != nil:
			return res, addr, true, s.temp("RCPT", err, "to", addr)
		case !res.Foreign:
			res.Address = addr
			return res, addr, true, nil
		}
	}
	// The original sender is elsewhere: relay to it as a forward would
	// (the Resolver's relay check does not apply; the hash did).
	target := olocal + "@" + d
	s.log.Info("srs reversed", "to", addr, "original", target)
	return store.Resolution{Address: addr, Remote: []store.RemoteTarget{{Address: target, Domain: d}}}, addr, true, nil
}

// noticeRecipient is where the queue's notices (bounce, delay warning,
// report of success) about a message from sender go: for a copy we
// forwarded, sender is an SRS address of ours, and a notice to it would
// only come back here (to our own hostname, a mail loop), so it goes to
// the original sender straight away. An SRS address that does not
// reverse (expired) is left as it is.
func (o *Outbound) noticeRecipient(sender string) string {
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	orig, ours, err := o.cfg.SRS.reverse(ctx, sender)
	if !ours || err != nil {
		if ours {
			o.log.Warn("queue: notice to an SRS address that does not reverse", "to", sender, "err", err)
		}
		return sender
	}
	return orig
}
