package admin

import (
	"context"
	"errors"
	"time"

	"mailhost/address"
	"mailhost/store"
)

// ForwardingInput is the body of a forwarding PUT.
type ForwardingInput struct {
	Destinations *[]string `json:"destinations"`
	KeepCopy     *bool     `json:"keep_copy"`
	Active       *bool     `json:"active"`
}

// ForwardingView is a mailbox's forwarding.
type ForwardingView struct {
	Address      string    `json:"address"`
	Destinations []string  `json:"destinations"`
	KeepCopy     bool      `json:"keep_copy"`
	Active       bool      `json:"active"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func forwardingView(addr string, f store.Forwarding) ForwardingView {
	return ForwardingView{Address: addr, Destinations: f.Destinations, KeepCopy: f.KeepCopy, Active: f.Active,
		CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt}
}

// Forwarding returns a mailbox's forwarding.
func (s *Service) Forwarding(ctx context.Context, a Actor, addr string) (ForwardingView, error) {
	tx := s.st.Read()
	m, err := s.mailboxFor(ctx, tx, a, addr, false)
	if err != nil {
		return ForwardingView{}, err
	}
	f, err := tx.ForwardingOf(ctx, m.ID)
	if err != nil {
		return ForwardingView{}, notFound(err, "mailbox %s has no forwarding", m.Address)
	}
	return forwardingView(m.Address, f), nil
}

// SetForwarding creates or replaces a mailbox's forwarding. keep_copy
// defaults to true (a copy stays in the mailbox).
func (s *Service) SetForwarding(ctx context.Context, a Actor, addr string, in ForwardingInput) (ForwardingView, error) {
	var out store.Forwarding
	var maddr string
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		m, err := s.mailboxFor(ctx, tx, a, addr, true)
		if err != nil {
			return err
		}
		maddr = m.Address
		var f fields
		var dests []string
		if in.Destinations == nil {
			f.add("destinations", "is required")
		} else {
			dests = checkDestinations(&f, "destinations", *in.Destinations, m.Address)
		}
		if err := f.err(); err != nil {
			return err
		}
		if err := checkLoop(ctx, tx, "destinations", m.Address, dests); err != nil {
			return err
		}
		fw := store.Forwarding{MailboxID: m.ID, Destinations: dests, KeepCopy: true, Active: true}
		if in.KeepCopy != nil {
			fw.KeepCopy = *in.KeepCopy
		}
		if in.Active != nil {
			fw.Active = *in.Active
		}
		var before any
		if old, err := tx.ForwardingOf(ctx, m.ID); err == nil {
			before = forwardingView(m.Address, old)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		out, err = tx.PutForwarding(ctx, fw)
		if err != nil {
			return err
		}
		_, dom := address.Split(m.Address)
		return s.audit(ctx, tx, a, "set", "forwarding", m.Address, dom, before, forwardingView(m.Address, out))
	})
	if err != nil {
		return ForwardingView{}, err
	}
	return forwardingView(maddr, out), nil
}

// DeleteForwarding stops a mailbox's forwarding.
func (s *Service) DeleteForwarding(ctx context.Context, a Actor, addr string) error {
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		m, err := s.mailboxFor(ctx, tx, a, addr, true)
		if err != nil {
			return err
		}
		old, err := tx.ForwardingOf(ctx, m.ID)
		if err != nil {
			return notFound(err, "mailbox %s has no forwarding", m.Address)
		}
		if err := tx.DeleteForwarding(ctx, m.ID); err != nil {
			return err
		}
		_, dom := address.Split(m.Address)
		return s.audit(ctx, tx, a, "delete", "forwarding", m.Address, dom, forwardingView(m.Address, old), nil)
	})
}

// VacationInput is the body of a vacation PUT.
type VacationInput struct {
	Subject         *string    `json:"subject"`
	Body            *string    `json:"body"`
	ActiveFrom      *time.Time `json:"active_from"`
	ActiveUntil     *time.Time `json:"active_until"`
	IntervalSeconds *int64     `json:"interval_seconds"`
	Active          *bool      `json:"active"`
}

// VacationView is a mailbox's vacation reply.
type VacationView struct {
	Address         string     `json:"address"`
	Subject         string     `json:"subject"`
	Body            string     `json:"body"`
	ActiveFrom      *time.Time `json:"active_from"`
	ActiveUntil     *time.Time `json:"active_until"`
	IntervalSeconds int32      `json:"interval_seconds"`
	Active          bool       `json:"active"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
}

func vacationView(addr string, v store.Vacation) VacationView {
	return VacationView{Address: addr, Subject: v.Subject, Body: v.Body, ActiveFrom: v.ActiveFrom, ActiveUntil: v.ActiveUntil,
		IntervalSeconds: v.IntervalSeconds, Active: v.Active, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
}

// Vacation limits.
const (
	MaxVacationSubject  = 998      // one header line (RFC 5322 2.1.1)
	MaxVacationBody     = 64 << 10 // 64 KiB
	MaxVacationInterval = 365 * 86400
	DefaultVacationWait = 7 * 86400 // one reply per sender a week, as vacation(1)
)

// Vacation returns a mailbox's vacation reply.
func (s *Service) Vacation(ctx context.Context, a Actor, addr string) (VacationView, error) {
	tx := s.st.Read()
	m, err := s.mailboxFor(ctx, tx, a, addr, false)
	if err != nil {
		return VacationView{}, err
	}
	v, err := tx.VacationOf(ctx, m.ID)
	if err != nil {
		return VacationView{}, notFound(err, "mailbox %s has no vacation reply", m.Address)
	}
	return vacationView(m.Address, v), nil
}

// SetVacation creates or replaces a mailbox's vacation reply.
func (s *Service) SetVacation(ctx context.Context, a Actor, addr string, in VacationInput) (VacationView, error) {
	var f fields
	v := store.Vacation{IntervalSeconds: DefaultVacationWait, Active: true, ActiveFrom: in.ActiveFrom, ActiveUntil: in.ActiveUntil}
	switch {
	case in.Subject == nil || *in.Subject == "":
		f.add("subject", "is required")
	case len(*in.Subject) > MaxVacationSubject:
		f.add("subject", "is longer than %d characters", MaxVacationSubject)
	default:
		for _, r := range *in.Subject {
			if r < 0x20 || r == 0x7f {
				f.add("subject", "must be one line without control characters")
				break
			}
		}
		v.Subject = *in.Subject
	}
	if in.Body != nil {
		if len(*in.Body) > MaxVacationBody {
			f.add("body", "is longer than %d bytes", MaxVacationBody)
		}
		v.Body = *in.Body
	}
	if in.IntervalSeconds != nil {
		if *in.IntervalSeconds < 0 || *in.IntervalSeconds > MaxVacationInterval {
			f.add("interval_seconds", "must be from 0 to %d (a year)", MaxVacationInterval)
		} else {
			v.IntervalSeconds = int32(*in.IntervalSeconds)
		}
	}
	if in.ActiveFrom != nil && in.ActiveUntil != nil && !in.ActiveUntil.After(*in.ActiveFrom) {
		f.add("active_until", "must be after active_from")
	}
	if in.Active != nil {
		v.Active = *in.Active
	}
	if err := f.err(); err != nil {
		return VacationView{}, err
	}
	var out store.Vacation
	var maddr string
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		m, err := s.mailboxFor(ctx, tx, a, addr, true)
		if err != nil {
			return err
		}
		maddr = m.Address
		v.MailboxID = m.ID
		var before any
		if old, err := tx.VacationOf(ctx, m.ID); err == nil {
			before = vacationView(m.Address, old)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		out, err = tx.PutVacation(ctx, v)
		if err != nil {
			return err
		}
		_, dom := address.Split(m.Address)
		return s.audit(ctx, tx, a, "set", "vacation", m.Address, dom, before, vacationView(m.Address, out))
	})
	if err != nil {
		return VacationView{}, err
	}
	return vacationView(maddr, out), nil
}

// DeleteVacation removes a mailbox's vacation reply.
func (s *Service) DeleteVacation(ctx context.Context, a Actor, addr string) error {
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		m, err := s.mailboxFor(ctx, tx, a, addr, true)
		if err != nil {
			return err
		}
		old, err := tx.VacationOf(ctx, m.ID)
		if err != nil {
			return notFound(err, "mailbox %s has no vacation reply", m.Address)
		}
		if err := tx.DeleteVacation(ctx, m.ID); err != nil {
			return err
		}
		_, dom := address.Split(m.Address)
		return s.audit(ctx, tx, a, "delete", "vacation", m.Address, dom, vacationView(m.Address, old), nil)
	})
}
