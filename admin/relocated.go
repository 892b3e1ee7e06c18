package admin

import (
	"context"
	"errors"
	"strings"
	"time"

	"mailhost/address"
	"mailhost/store"
)

// Relocated entries are Postfix relocated(5) entries: mail to an address
// (or to every address of a domain, "@domain") of a domain hosted here is
// refused at RCPT with "551 5.1.6 ... User has moved to NEW LOCATION". A
// super-admin manages all; a domain admin those of its domains.

// MaxNewLocation bounds the new location: it is part of an SMTP reply.
const MaxNewLocation = 200

// RelocatedInput is the body of a relocated create (both required) or
// update (NewLocation; Address cannot change).
type RelocatedInput struct {
	Address     *string `json:"address"`      // user@domain, or @domain for the whole domain
	NewLocation *string `json:"new_location"` // an address, or any text ("call +1 555 0100")
}

// RelocatedView is a relocated entry as the faces show it.
type RelocatedView struct {
	Address     string    `json:"address"`
	Domain      string    `json:"domain"`
	WholeDomain bool      `json:"whole_domain"` // "@domain": every address of the domain
	NewLocation string    `json:"new_location"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func relocatedView(r store.Relocated) RelocatedView {
	local, dom := address.Split(r.Address)
	return RelocatedView{Address: r.Address, Domain: dom, WholeDomain: local == "", NewLocation: r.NewAddress,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// checkNewLocation validates the new location: an address (normalised) or
// a line of printable ASCII text.
func checkNewLocation(f *fields, in *string, self string) string {
	if in == nil || strings.TrimSpace(*in) == "" {
		f.add("new_location", "is required")
		return ""
	}
	v := strings.TrimSpace(*in)
	if strings.Contains(v, "@") && !strings.ContainsAny(v, " \t") {
		a, err := address.Normalize(v)
		if err != nil {
			f.add("new_location", "%s", reason(err))
			return ""
		}
		if a == self {
			f.add("new_location", "is the address itself")
		}
		return a
	}
	if len(v) > MaxNewLocation {
		f.add("new_location", "is longer than %d characters", MaxNewLocation)
	}
	for _, r := range v {
		if r < 0x20 || r > 0x7e {
			f.add("new_location", "must be an address or printable ASCII text: it is sent in an SMTP reply")
			break
		}
	}
	return v
}

// relocatedDomain returns the domain of a relocated address, locked, if a
// may manage its entries.
func relocatedDomain(ctx context.Context, tx *store.Tx, a Actor, addr string, lock bool) (store.Domain, bool, error) {
	_, dom := address.Split(addr)
	d, err := tx.DomainByName(ctx, dom, lock)
	if errors.Is(err, store.ErrNotFound) {
		return store.Domain{}, false, nil
	}
	if err != nil {
		return store.Domain{}, false, err
	}
	return d, a.canDomain(d.ID), nil
}

// CreateRelocated adds a relocated entry for an address of a domain hosted
// (or relayed) here.
func (s *Service) CreateRelocated(ctx context.Context, a Actor, in RelocatedInput) (RelocatedView, error) {
	var f fields
	addr := ""
	if in.Address == nil || strings.TrimSpace(*in.Address) == "" {
		f.add("address", "is required")
	} else if n, err := normAliasAddress(strings.TrimSpace(*in.Address)); err != nil {
		f.add("address", "%s", reason(err))
	} else {
		addr = n
	}
	loc := checkNewLocation(&f, in.NewLocation, addr)
	if err := f.err(); err != nil {
		return RelocatedView{}, err
	}
	var out store.Relocated
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		d, ok, err := relocatedDomain(ctx, tx, a, addr, true)
		if err != nil {
			return err
		}
		if !ok {
			_, dom := address.Split(addr)
			if a.Superadmin {
				return invalid("address", "%s is not a domain of this server", dom)
			}
			return invalid("address", "%s is not a domain you manage", dom)
		}
		out, err = tx.InsertRelocated(ctx, store.Relocated{Address: addr, NewAddress: loc})
		if err != nil {
			return conflict(err, "%s already has a relocated entry", addr)
		}
		return s.audit(ctx, tx, a, "create", "relocated", addr, d.Name, nil, relocatedView(out))
	})
	if err != nil {
		return RelocatedView{}, err
	}
	return relocatedView(out), nil
}

func (s *Service) relocatedFor(ctx context.Context, tx *store.Tx, a Actor, addr string, lock bool) (store.Relocated, error) {
	n, err := normAliasAddress(strings.TrimSpace(addr))
	if err != nil {
		return store.Relocated{}, newErr(NotFound, "no relocated entry for %s", addr)
	}
	r, err := tx.RelocatedByAddress(ctx, n, lock)
	if err != nil {
		return store.Relocated{}, notFound(err, "no relocated entry for %s", addr)
	}
	if !a.Superadmin {
		_, ok, err := relocatedDomain(ctx, tx, a, n, false)
		if err != nil {
			return store.Relocated{}, err
		}
		if !ok {
			return store.Relocated{}, newErr(NotFound, "no relocated entry for %s", addr)
		}
	}
	return r, nil
}

// Relocated returns the relocated entry of an address.
func (s *Service) Relocated(ctx context.Context, a Actor, addr string) (RelocatedView, error) {
	r, err := s.relocatedFor(ctx, s.st.Read(), a, addr, false)
	if err != nil {
		return RelocatedView{}, err
	}
	return relocatedView(r), nil
}

// RelocatedParams filter the list of relocated entries.
type RelocatedParams struct {
	Domain string // only this domain's addresses
	ListParams
}

// RelocatedList lists relocated entries by address: all for a super-admin,
// those of its domains for a domain admin. Q filters on the address and
// the new location.
func (s *Service) RelocatedList(ctx context.Context, a Actor, p RelocatedParams) (List[RelocatedView], error) {
	page, err := p.page()
	if err != nil {
		return List[RelocatedView]{}, err
	}
	dom := strings.TrimSpace(p.Domain)
	if dom != "" {
		if dom, err = address.Domain(dom); err != nil {
			return List[RelocatedView]{}, invalid("domain", "%s", reason(err))
		}
	}
	tx := s.st.Read()
	filter := store.RelocatedFilter{Q: p.Q, Domain: dom, Page: page}
	if !a.Superadmin {
		names, err := tx.DomainNames(ctx, a.DomainIDs)
		if err != nil {
			return List[RelocatedView]{}, err
		}
		filter.Domains = append([]string{}, names...)
	}
	filter.Limit++
	rows, err := tx.ListRelocated(ctx, filter)
	if err != nil {
		return List[RelocatedView]{}, err
	}
	return finish(rows, page.Limit, func(r store.Relocated) string { return r.Address }, relocatedView), nil
}

// UpdateRelocated changes where an address's user has moved to.
func (s *Service) UpdateRelocated(ctx context.Context, a Actor, addr string, in RelocatedInput) (RelocatedView, error) {
	var out store.Relocated
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		r, err := s.relocatedFor(ctx, tx, a, addr, true)
		if err != nil {
			return err
		}
		var f fields
		if in.Address != nil {
			if n, err := normAliasAddress(strings.TrimSpace(*in.Address)); err != nil || n != r.Address {
				f.add("address", "cannot be changed: delete the entry and create another")
			}
		}
		old := r
		if in.NewLocation != nil {
			r.NewAddress = checkNewLocation(&f, in.NewLocation, r.Address)
		}
		if err := f.err(); err != nil {
			return err
		}
		if out, err = tx.UpdateRelocated(ctx, r); err != nil {
			return err
		}
		v := relocatedView(out)
		return s.audit(ctx, tx, a, "update", "relocated", r.Address, v.Domain, relocatedView(old), v)
	})
	if err != nil {
		return RelocatedView{}, err
	}
	return relocatedView(out), nil
}

// DeleteRelocated removes an address's relocated entry: its mail is
// accepted again (when the address exists).
func (s *Service) DeleteRelocated(ctx context.Context, a Actor, addr string) error {
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		r, err := s.relocatedFor(ctx, tx, a, addr, true)
		if err != nil {
			return err
		}
		if err := tx.DeleteRelocated(ctx, r.ID); err != nil {
			return err
		}
		v := relocatedView(r)
		return s.audit(ctx, tx, a, "delete", "relocated", r.Address, v.Domain, v, nil)
	})
}
