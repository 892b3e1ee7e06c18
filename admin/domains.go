package admin

import (
	"context"
	"errors"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"mailhost/address"
	"mailhost/store"
)

// MaxQuota is the largest quota accepted, 1 PiB.
const MaxQuota = 1 << 50

// DomainInput is the body of a domain create (Name required) or update
// (only the fields given change; Name cannot change).
type DomainInput struct {
	Name          *string `json:"name"`
	Description   *string `json:"description"`
	Kind          *string `json:"kind"`
	RelayTo       *string `json:"relay_to"`
	MaxMailboxes  *int64  `json:"max_mailboxes"`
	MaxAliases    *int64  `json:"max_aliases"`
	MaxQuotaBytes *int64  `json:"max_quota_bytes"`
	QuotaBytes    *int64  `json:"quota_bytes"`
	Active        *bool   `json:"active"`
	// ACME asks for certificates of the domain's mail., autoconfig. and
	// mta-sts. names (acme.enabled); only a super-admin changes it.
	ACME *bool `json:"acme"`
}

// DomainView is a domain as the faces show it.
type DomainView struct {
	Name          string     `json:"name"`         // A-label
	UnicodeName   string     `json:"unicode_name"` // U-label
	Description   string     `json:"description"`
	Kind          string     `json:"kind"`
	RelayTo       string     `json:"relay_to"`
	MaxMailboxes  int32      `json:"max_mailboxes"`
	MaxAliases    int32      `json:"max_aliases"`
	MaxQuotaBytes int64      `json:"max_quota_bytes"`
	QuotaBytes    int64      `json:"quota_bytes"`
	Active        bool       `json:"active"`
	ACME          bool       `json:"acme"`
	Usage         *UsageView `json:"usage,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// UsageView is what a domain uses of its limits.
type UsageView struct {
	Mailboxes           int64 `json:"mailboxes"`
	Aliases             int64 `json:"aliases"`
	QuotaAllocatedBytes int64 `json:"quota_allocated_bytes"`
	QuotaUsedBytes      int64 `json:"quota_used_bytes"`
}

func domainView(d store.Domain, u *store.DomainUsage) DomainView {
	v := DomainView{
		Name: d.Name, UnicodeName: address.Unicode(d.Name), Description: d.Description, Kind: d.Kind,
		RelayTo: d.RelayTo, MaxMailboxes: d.MaxMailboxes, MaxAliases: d.MaxAliases,
		MaxQuotaBytes: d.MaxQuotaBytes, QuotaBytes: d.QuotaBytes, Active: d.Active, ACME: d.ACME,
		CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
	}
	if u != nil {
		v.Usage = &UsageView{Mailboxes: u.Mailboxes, Aliases: u.Aliases, QuotaAllocatedBytes: u.QuotaAllocated, QuotaUsedBytes: u.QuotaUsed}
	}
	return v
}

// ParseNextHop checks a relay next hop in Postfix notation ("[host]:port",
// "[host]", "host:port", "host"; host a domain name or, in brackets, an IP
// address) and returns it normalised.
func ParseNextHop(s string) (string, error) {
	host, port, bracket := s, "", false
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", errors.New("has no closing ]")
		}
		host, port, bracket = s[1:end], s[end+1:], true
		if port != "" && !strings.HasPrefix(port, ":") {
			return "", errors.New("unexpected text after ]")
		}
	} else if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i:]
	}
	if port != "" {
		n, err := strconv.Atoi(port[1:])
		if err != nil || n < 1 || n > 65535 || port[1:] != strconv.Itoa(n) {
			return "", errors.New("port must be a number from 1 to 65535")
		}
	}
	if bracket {
		if a, err := netip.ParseAddr(host); err == nil {
			if a.Zone() != "" {
				return "", errors.New("IP address with a zone")
			}
			return "[" + a.String() + "]" + port, nil
		}
	}
	d, err := address.Domain(host)
	if err != nil {
		return "", errors.New("host must be a domain name, or an IP address in brackets")
	}
	if bracket {
		return "[" + d + "]" + port, nil
	}
	return d + port, nil
}

// checkDomainFields validates the fields of in that are set, into d.
func checkDomainFields(f *fields, in DomainInput, d *store.Domain) {
	if in.Description != nil {
		if len(*in.Description) > 1000 {
			f.add("description", "is longer than 1000 characters")
		}
		d.Description = *in.Description
	}
	if in.Kind != nil {
		if *in.Kind != "local" && *in.Kind != "relay" {
			f.add("kind", `must be "local" or "relay"`)
		}
		d.Kind = *in.Kind
	}
	if in.RelayTo != nil {
		d.RelayTo = *in.RelayTo
		if *in.RelayTo != "" {
			if hop, err := ParseNextHop(*in.RelayTo); err != nil {
				f.add("relay_to", "%s: give [host]:port, host:port, [host] or host, or empty for MX lookup", err)
			} else {
				d.RelayTo = hop
			}
		}
	}
	count := func(name string, p *int64, dst *int32) {
		if p == nil {
			return
		}
		if *p < 0 || *p > math.MaxInt32 {
			f.add(name, "must be from 0 (unlimited) to %d", math.MaxInt32)
			return
		}
		*dst = int32(*p)
	}
	count("max_mailboxes", in.MaxMailboxes, &d.MaxMailboxes)
	count("max_aliases", in.MaxAliases, &d.MaxAliases)
	quota := func(name string, p *int64, dst *int64) {
		if p == nil {
			return
		}
		if *p < 0 || *p > MaxQuota {
			f.add(name, "must be from 0 (unlimited) to %d bytes", int64(MaxQuota))
			return
		}
		*dst = *p
	}
	quota("max_quota_bytes", in.MaxQuotaBytes, &d.MaxQuotaBytes)
	quota("quota_bytes", in.QuotaBytes, &d.QuotaBytes)
	if in.Active != nil {
		d.Active = *in.Active
	}
	if in.ACME != nil {
		d.ACME = *in.ACME
	}
	if d.Kind == "local" && d.RelayTo != "" && in.RelayTo != nil {
		f.add("relay_to", "only a relay domain has a next hop")
	}
	if d.MaxQuotaBytes > 0 && d.QuotaBytes > 0 && d.MaxQuotaBytes > d.QuotaBytes {
		f.add("max_quota_bytes", "is larger than the domain's total quota_bytes")
	}
}

// CreateDomain adds a domain. Only a super-admin may.
func (s *Service) CreateDomain(ctx context.Context, a Actor, in DomainInput) (DomainView, error) {
	if !a.Superadmin {
		return DomainView{}, newErr(Forbidden, "only a super-admin may create domains")
	}
	var f fields
	d := store.Domain{Kind: "local", Active: true}
	if in.Name == nil || *in.Name == "" {
		f.add("name", "is required")
	} else if n, err := address.Domain(*in.Name); err != nil {
		f.add("name", "%s", err.(*address.Error).Reason)
	} else {
		d.Name = n
	}
	checkDomainFields(&f, in, &d)
	if err := f.err(); err != nil {
		return DomainView{}, err
	}
	var keys []store.NewDKIMKey
	if d.Kind == "local" {
		// Made before the transaction: an RSA key takes a while.
		var err error
		if keys, err = newDKIMKeys(s.opts.Now(), "active", nil); err != nil {
			return DomainView{}, err
		}
	}
	var out store.Domain
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		var err error
		out, err = tx.InsertDomain(ctx, d)
		if err != nil {
			return conflict(err, "domain %s already exists (as a domain or an alias domain)", d.Name)
		}
		if err := s.addFirstDKIMKeys(ctx, tx, out, keys); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "create", "domain", out.Name, out.Name, nil, domainView(out, nil))
	})
	if err != nil {
		return DomainView{}, err
	}
	return domainView(out, &store.DomainUsage{}), nil
}

// normDomain normalises a domain name from a path; a name that cannot be
// one is simply not found.
func normDomain(name string) (string, error) {
	n, err := address.Domain(name)
	if err != nil {
		return "", newErr(NotFound, "no domain %s", name)
	}
	return n, nil
}

// domainFor returns the domain named name if the actor may manage it,
// NotFound otherwise (never telling another domain's existence).
func (s *Service) domainFor(ctx context.Context, tx *store.Tx, a Actor, name string, lock bool) (store.Domain, error) {
	n, err := normDomain(name)
	if err != nil {
		return store.Domain{}, err
	}
	d, err := tx.DomainByName(ctx, n, lock)
	if err == nil && !a.canDomain(d.ID) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Domain{}, notFound(err, "no domain %s", name)
	}
	return d, nil
}

// Domain returns one domain with its usage.
func (s *Service) Domain(ctx context.Context, a Actor, name string) (DomainView, error) {
	tx := s.st.Read()
	d, err := s.domainFor(ctx, tx, a, name, false)
	if err != nil {
		return DomainView{}, err
	}
	u, err := tx.DomainUsage(ctx, d.ID)
	if err != nil {
		return DomainView{}, err
	}
	return domainView(d, &u), nil
}

// Domains lists the domains the actor manages, with their usage.
func (s *Service) Domains(ctx context.Context, a Actor, p ListParams) (List[DomainView], error) {
	page, err := p.page()
	if err != nil {
		return List[DomainView]{}, err
	}
	filter := store.DomainFilter{Q: p.Q, Page: page}
	if !a.Superadmin {
		filter.IDs = append([]int64{}, a.DomainIDs...)
	}
	filter.Limit++
	rows, err := s.st.Read().ListDomains(ctx, filter)
	if err != nil {
		return List[DomainView]{}, err
	}
	return finish(rows, page.Limit, func(d store.DomainWithUsage) string { return d.Name },
		func(d store.DomainWithUsage) DomainView { return domainView(d.Domain, &d.Usage) }), nil
}

// UpdateDomain changes the given fields. A domain admin may change the
// description and lower limits; kind, next hop, active and higher limits
// take a super-admin.
func (s *Service) UpdateDomain(ctx context.Context, a Actor, name string, in DomainInput) (DomainView, error) {
	var out store.Domain
	var usage store.DomainUsage
	becameLocal := false
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		old, err := s.domainFor(ctx, tx, a, name, true)
		if err != nil {
			return err
		}
		var f fields
		if in.Name != nil {
			if n, err := address.Domain(*in.Name); err != nil || n != old.Name {
				f.add("name", "a domain cannot be renamed")
			}
		}
		d := old
		checkDomainFields(&f, in, &d)
		if d.Kind == "local" && in.Kind != nil && in.RelayTo == nil {
			d.RelayTo = ""
		}
		if err := f.err(); err != nil {
			return err
		}
		if !a.Superadmin {
			raised := func(old, new int64) bool { return new != old && (new == 0 || old != 0 && new > old) }
			switch {
			case d.Kind != old.Kind, d.RelayTo != old.RelayTo, d.Active != old.Active, d.ACME != old.ACME:
				return newErr(Forbidden, "only a super-admin may change a domain's kind, next hop, active flag or certificates")
			case raised(int64(old.MaxMailboxes), int64(d.MaxMailboxes)), raised(int64(old.MaxAliases), int64(d.MaxAliases)),
				raised(old.MaxQuotaBytes, d.MaxQuotaBytes), raised(old.QuotaBytes, d.QuotaBytes):
				return newErr(Forbidden, "only a super-admin may raise a domain's limits")
			}
		}
		usage, err = tx.DomainUsage(ctx, d.ID)
		if err != nil {
			return err
		}
		if d.Kind == "relay" && old.Kind == "local" && usage.Mailboxes > 0 {
			return newErr(Conflict, "domain %s has mailboxes; a relay domain cannot hold any", d.Name)
		}
		out, err = tx.UpdateDomain(ctx, d)
		if err != nil {
			return err
		}
		becameLocal = old.Kind != "local" && out.Kind == "local"
		return s.audit(ctx, tx, a, "update", "domain", out.Name, out.Name, domainView(old, nil), domainView(out, nil))
	})
	if err != nil {
		return DomainView{}, err
	}
	if becameLocal {
		// A relay domain turned local: its first DKIM keys.
		if _, err := s.ensureDKIMKeys(ctx, out); err != nil {
			return DomainView{}, err
		}
	}
	return domainView(out, &usage), nil
}

// DeleteDomain removes a domain. One with mailboxes or aliases is refused
// unless force, which retains its mailboxes' Maildirs (as DeleteMailbox
// does) and removes its aliases and alias domains. The recipient access
// rules and relocated entries of its addresses go with it. Only a
// super-admin may.
func (s *Service) DeleteDomain(ctx context.Context, a Actor, name string, force bool) error {
	var undo []func()
	var after []func()
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		d, err := s.domainFor(ctx, tx, a, name, true)
		if err != nil {
			return err
		}
		if !a.Superadmin {
			return newErr(Forbidden, "only a super-admin may delete domains")
		}
		u, err := tx.DomainUsage(ctx, d.ID)
		if err != nil {
			return err
		}
		if (u.Mailboxes > 0 || u.Aliases > 0) && !force {
			return newErr(Conflict, "domain %s still has %d mailboxes and %d aliases; delete them first or force", d.Name, u.Mailboxes, u.Aliases)
		}
		mboxes, err := tx.DomainMailboxes(ctx, d.ID)
		if err != nil {
			return err
		}
		for _, m := range mboxes {
			un, af, err := s.removeMailbox(ctx, tx, a, d, m, false)
			if un != nil {
				undo = append(undo, un)
			}
			if err != nil {
				return err
			}
			if af != nil {
				after = append(after, af)
			}
		}
		aliases, err := tx.DeleteDomainAliases(ctx, d.ID)
		if err != nil {
			return err
		}
		for _, al := range aliases {
			if err := s.audit(ctx, tx, a, "delete", "alias", al.Address, d.Name, aliasView(al), nil); err != nil {
				return err
			}
		}
		ads, err := tx.DeleteDomainAliasDomains(ctx, d.ID)
		if err != nil {
			return err
		}
		for _, ad := range ads {
			if err := s.audit(ctx, tx, a, "delete", "alias_domain", ad.AliasDomain, d.Name, aliasDomainView(ad), nil); err != nil {
				return err
			}
		}
		if err := s.deleteDomainPolicy(ctx, tx, a, d.Name); err != nil { // admin/access.go
			return err
		}
		if err := tx.DeleteDomain(ctx, d.ID); err != nil {
			return err
		}
		return s.audit(ctx, tx, a, "delete", "domain", d.Name, d.Name, domainView(d, &u), nil)
	})
	if err != nil {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		return err
	}
	for _, f := range after {
		f()
	}
	return nil
}
