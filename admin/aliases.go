package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"mailhost/address"
	"mailhost/store"
)

// MaxDestinations caps the destinations of an alias or a forwarding.
const MaxDestinations = 1000

// AliasInput is the body of an alias create (Address and Destinations
// required) or update (Destinations, Active).
type AliasInput struct {
	Address      *string   `json:"address"`
	Destinations *[]string `json:"destinations"`
	Active       *bool     `json:"active"`
}

// AliasView is an alias as the faces show it.
type AliasView struct {
	Address      string    `json:"address"`
	Domain       string    `json:"domain"`
	CatchAll     bool      `json:"catch_all"`
	Destinations []string  `json:"destinations"`
	Active       bool      `json:"active"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func aliasView(a store.Alias) AliasView {
	local, dom := address.Split(a.Address)
	return AliasView{Address: a.Address, Domain: dom, CatchAll: local == "", Destinations: a.Destinations,
		Active: a.Active, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

// normAliasAddress normalises "local@domain" or the catch-all "@domain".
func normAliasAddress(in string) (string, error) {
	if strings.HasPrefix(in, "@") {
		d, err := address.Domain(in[1:])
		if err != nil {
			return "", err
		}
		return "@" + d, nil
	}
	return address.Normalize(in)
}

func reason(err error) string {
	if e, ok := err.(*address.Error); ok {
		return e.Reason
	}
	return err.Error()
}

// checkDestinations normalises a list of destination addresses, without
// duplicates, none equal to self.
func checkDestinations(f *fields, field string, dests []string, self string) []string {
	if len(dests) == 0 {
		f.add(field, "needs at least one address")
		return nil
	}
	if len(dests) > MaxDestinations {
		f.add(field, "has more than %d addresses", MaxDestinations)
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for i, d := range dests {
		n, err := address.Normalize(d)
		name := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case err != nil:
			f.add(name, "%s", reason(err))
		case n == self:
			f.add(name, "points to the address itself")
		case !seen[n]:
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// checkLoop follows what the destinations lead to (aliases, forwardings,
// alias domains, catch-alls) and reports a path back to start, where the
// new destinations of start are given (start is an address or "@domain").
func checkLoop(ctx context.Context, tx *store.Tx, field, start string, dests []string) error {
	startLocal, startDom := address.Split(start)
	seen := map[string]bool{}
	queue := append([]string{}, dests...)
	for len(queue) > 0 && len(seen) < 1000 {
		addr := queue[0]
		queue = queue[1:]
		if seen[addr] {
			continue
		}
		seen[addr] = true
		if addr == start {
			return invalid(field, "forms a loop back to %s", start)
		}
		local, dom := address.Split(addr)
		t, err := tx.AddressTargets(ctx, addr, dom)
		if err != nil {
			return err
		}
		switch {
		case t.TargetDomain != "":
			queue = append(queue, local+"@"+t.TargetDomain)
		case t.Alias != nil:
			queue = append(queue, t.Alias...)
		case t.Mailbox:
			queue = append(queue, t.Forward...)
		case startLocal == "" && dom == startDom:
			// Nothing answers at addr: the catch-all being set would.
			return invalid(field, "forms a loop: %s would reach the catch-all %s again", addr, start)
		case t.CatchAll != nil:
			queue = append(queue, t.CatchAll...)
		}
	}
	return nil
}

// CreateAlias adds an alias (or a catch-all "@domain") to domain.
func (s *Service) CreateAlias(ctx context.Context, a Actor, domain string, in AliasInput) (AliasView, error) {
	var f fields
	addr := ""
	if in.Address == nil || *in.Address == "" {
		f.add("address", "is required")
	} else if n, err := normAliasAddress(*in.Address); err != nil {
		f.add("address", "%s", reason(err))
	} else {
		addr = n
	}
	var dests []string
	if in.Destinations == nil {
		f.add("destinations", "is required")
	} else {
		dests = checkDestinations(&f, "destinations", *in.Destinations, addr)
	}
	if err := f.err(); err != nil {
		return AliasView{}, err
	}
	var out store.Alias
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		d, err := s.domainFor(ctx, tx, a, domain, true)
		if err != nil {
			return err
		}
		if _, dom := address.Split(addr); dom != d.Name {
			return invalid("address", "must be an address of %s", d.Name)
		}
		if err := checkLoop(ctx, tx, "destinations", addr, dests); err != nil {
			return err
		}
		u, err := tx.DomainUsage(ctx, d.ID)
		if err != nil {
			return err
		}
		if d.MaxAliases > 0 && u.Aliases >= int64(d.MaxAliases) {
			return newErr(LimitReached, "domain %s has reached its limit of %d aliases", d.Name, d.MaxAliases)
		}
		al := store.Alias{DomainID: d.ID, Address: addr, Destinations: dests, Active: true}
		if in.Active != nil {
			al.Active = *in.Active
		}
		out, err = tx.InsertAlias(ctx, al)
		if err != nil {
			return conflict(err, "address %s is already taken by a mailbox or an alias", addr)
		}
		return s.audit(ctx, tx, a, "create", "alias", addr, d.Name, nil, aliasView(out))
	})
	if err != nil {
		return AliasView{}, err
	}
	return aliasView(out), nil
}

func (s *Service) aliasFor(ctx context.Context, tx *store.Tx, a Actor, addr string, lock bool) (store.Alias, error) {
	n, err := normAliasAddress(addr)
	if err != nil {
		return store.Alias{}, newErr(NotFound, "no alias %s", addr)
	}
	al, err := tx.AliasByAddress(ctx, n, lock)
	if err == nil && !a.canDomain(al.DomainID) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Alias{}, notFound(err, "no alias %s", addr)
	}
	return al, nil
}

// Alias returns one alias.
func (s *Service) Alias(ctx context.Context, a Actor, addr string) (AliasView, error) {
	al, err := s.aliasFor(ctx, s.st.Read(), a, addr, false)
	if err != nil {
		return AliasView{}, err
	}
	return aliasView(al), nil
}

// Aliases lists a domain's aliases, filtered by q on the address.
func (s *Service) Aliases(ctx context.Context, a Actor, domain string, p ListParams) (List[AliasView], error) {
	page, err := p.page()
	if err != nil {
		return List[AliasView]{}, err
	}
	tx := s.st.Read()
	d, err := s.domainFor(ctx, tx, a, domain, false)
	if err != nil {
		return List[AliasView]{}, err
	}
	page.Limit++
	rows, err := tx.ListAliases(ctx, store.AliasFilter{DomainID: d.ID, Q: p.Q, Page: page})
	if err != nil {
		return List[AliasView]{}, err
	}
	return finish(rows, page.Limit-1, func(al store.Alias) string { return al.Address }, aliasView), nil
}

// UpdateAlias changes destinations or active.
func (s *Service) UpdateAlias(ctx context.Context, a Actor, addr string, in AliasInput) (AliasView, error) {
	var out store.Alias
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		al, err := s.aliasFor(ctx, tx, a, addr, true)
		if err != nil {
			return err
		}
		var f fields
		if in.Address != nil {
			if n, err := normAliasAddress(*in.Address); err != nil || n != al.Address {
				f.add("address", "an alias cannot be renamed")
			}
		}
		old := al
		if in.Destinations != nil {
			al.Destinations = checkDestinations(&f, "destinations", *in.Destinations, al.Address)
		}
		if err := f.err(); err != nil {
			return err
		}
		if in.Destinations != nil {
			if err := checkLoop(ctx, tx, "destinations", al.Address, al.Destinations); err != nil {
				return err
			}
		}
		if in.Active != nil {
			al.Active = *in.Active
		}
		out, err = tx.UpdateAlias(ctx, al)
		if err != nil {
			return err
		}
		_, dom := address.Split(al.Address)
		return s.audit(ctx, tx, a, "update", "alias", al.Address, dom, aliasView(old), aliasView(out))
	})
	if err != nil {
		return AliasView{}, err
	}
	return aliasView(out), nil
}

// DeleteAlias removes an alias.
func (s *Service) DeleteAlias(ctx context.Context, a Actor, addr string) error {
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		al, err := s.aliasFor(ctx, tx, a, addr, true)
		if err != nil {
			return err
		}
		if err := tx.DeleteAlias(ctx, al.ID); err != nil {
			return err
		}
		_, dom := address.Split(al.Address)
		return s.audit(ctx, tx, a, "delete", "alias", al.Address, dom, aliasView(al), nil)
	})
}

// AliasDomainInput is the body of an alias domain create.
type AliasDomainInput struct {
	AliasDomain  *string `json:"alias_domain"`
	TargetDomain *string `json:"target_domain"`
	Active       *bool   `json:"active"`
}

// AliasDomainView is an alias domain as the faces show it.
type AliasDomainView struct {
	AliasDomain        string    `json:"alias_domain"`
	UnicodeAliasDomain string    `json:"unicode_alias_domain"`
	TargetDomain       string    `json:"target_domain"`
	Active             bool      `json:"active"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
}

func aliasDomainView(a store.AliasDomain) AliasDomainView {
	return AliasDomainView{AliasDomain: a.AliasDomain, UnicodeAliasDomain: address.Unicode(a.AliasDomain),
		TargetDomain: a.TargetDomain, Active: a.Active, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

// CreateAliasDomain makes every address of the target domain answer at the
// alias domain too. Only a super-admin may (it claims a domain name).
func (s *Service) CreateAliasDomain(ctx context.Context, a Actor, in AliasDomainInput) (AliasDomainView, error) {
	if !a.Superadmin {
		return AliasDomainView{}, newErr(Forbidden, "only a super-admin may create alias domains")
	}
	var f fields
	var alias, target string
	for _, x := range []struct {
		field string
		in    *string
		out   *string
	}{{"alias_domain", in.AliasDomain, &alias}, {"target_domain", in.TargetDomain, &target}} {
		if x.in == nil || *x.in == "" {
			f.add(x.field, "is required")
		} else if n, err := address.Domain(*x.in); err != nil {
			f.add(x.field, "%s", reason(err))
		} else {
			*x.out = n
		}
	}
	if alias != "" && alias == target {
		f.add("alias_domain", "must differ from target_domain")
	}
	if err := f.err(); err != nil {
		return AliasDomainView{}, err
	}
	var out store.AliasDomain
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		d, err := tx.DomainByName(ctx, target, true)
		if err != nil {
			return notFoundField(err, "target_domain", "is not a domain")
		}
		if d.Kind != "local" {
			return invalid("target_domain", "is a relay domain; only a local domain can be aliased")
		}
		ad := store.AliasDomain{AliasDomain: alias, TargetDomainID: d.ID, Active: true}
		if in.Active != nil {
			ad.Active = *in.Active
		}
		out, err = tx.InsertAliasDomain(ctx, ad)
		if err != nil {
			return conflict(err, "%s is already a domain or an alias domain", alias)
		}
		return s.audit(ctx, tx, a, "create", "alias_domain", alias, d.Name, nil, aliasDomainView(out))
	})
	if err != nil {
		return AliasDomainView{}, err
	}
	return aliasDomainView(out), nil
}

func notFoundField(err error, field, detail string) error {
	if errors.Is(err, store.ErrNotFound) {
		return invalid(field, "%s", detail)
	}
	return err
}

func (s *Service) aliasDomainFor(ctx context.Context, tx *store.Tx, a Actor, name string) (store.AliasDomain, error) {
	n, err := address.Domain(name)
	if err != nil {
		return store.AliasDomain{}, newErr(NotFound, "no alias domain %s", name)
	}
	ad, err := tx.AliasDomainByName(ctx, n)
	if err == nil && !a.canDomain(ad.TargetDomainID) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.AliasDomain{}, notFound(err, "no alias domain %s", name)
	}
	return ad, nil
}

// AliasDomain returns one alias domain.
func (s *Service) AliasDomain(ctx context.Context, a Actor, name string) (AliasDomainView, error) {
	ad, err := s.aliasDomainFor(ctx, s.st.Read(), a, name)
	if err != nil {
		return AliasDomainView{}, err
	}
	return aliasDomainView(ad), nil
}

// AliasDomains lists alias domains (for a domain admin, those pointing at
// its domains).
func (s *Service) AliasDomains(ctx context.Context, a Actor, p ListParams) (List[AliasDomainView], error) {
	page, err := p.page()
	if err != nil {
		return List[AliasDomainView]{}, err
	}
	filter := store.AliasDomainFilter{Q: p.Q, Page: page}
	if !a.Superadmin {
		filter.TargetIDs = append([]int64{}, a.DomainIDs...)
	}
	filter.Limit++
	rows, err := s.st.Read().ListAliasDomains(ctx, filter)
	if err != nil {
		return List[AliasDomainView]{}, err
	}
	return finish(rows, page.Limit, func(ad store.AliasDomain) string { return ad.AliasDomain }, aliasDomainView), nil
}

// DeleteAliasDomain removes an alias domain. Only a super-admin may.
func (s *Service) DeleteAliasDomain(ctx context.Context, a Actor, name string) error {
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		ad, err := s.aliasDomainFor(ctx, tx, a, name)
		if err != nil {
			return err
		}
		if !a.Superadmin {
			return newErr(Forbidden, "only a super-admin may delete alias domains")
		}
		if err := tx.DeleteAliasDomain(ctx, ad.ID); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "delete", "alias_domain", ad.AliasDomain, ad.TargetDomain, aliasDomainView(ad), nil)
	})
}
