package main

import (
	"context"
	"fmt"

	"mailhost/admin"
)

const domainUsage = "mailhost domain add|list|show|update|del DOMAIN [flags]"

// domainFlags are the fields of a domain as flags.
type domainFlags struct {
	description, kind, relayTo *string
	maxMailboxes, maxAliases   intFlag
	maxQuota, quota            sizeFlag
	active, acme               boolFlag
	force                      *bool
	q                          *string
	limit                      *int
}

func cmdDomain(ctx context.Context, args []string, sio stdio) error {
	fields := []string{"description", "kind", "relay-to", "max-mailboxes", "max-aliases", "max-quota", "quota", "active", "acme"}
	p := newProvisioning("domain", sio, map[string][]string{
		"add": fields, "update": fields, "list": {"q", "limit"}, "show": nil, "del": {"force"},
	})
	var f domainFlags
	f.description = p.fs.String("description", "", "free text")
	f.kind = p.fs.String("kind", "", "local (hosted mailboxes, the default) or relay (backup MX / relay domain)")
	f.relayTo = p.fs.String("relay-to", "", "next hop of a relay domain: [host]:port, host:port, or empty for MX lookup")
	p.fs.Var(&f.maxMailboxes, "max-mailboxes", "most mailboxes (0: unlimited)")
	p.fs.Var(&f.maxAliases, "max-aliases", "most aliases (0: unlimited)")
	p.fs.Var(&f.maxQuota, "max-quota", "largest quota of one mailbox, such as 2G (0: unlimited)")
	p.fs.Var(&f.quota, "quota", "total quota of the domain's mailboxes, such as 100G (0: unlimited)")
	p.fs.Var(&f.active, "active", "active or not (--active=false deactivates)")
	p.fs.Var(&f.acme, "acme", "order certificates for mail., autoconfig. and mta-sts.DOMAIN by ACME (acme.enabled)")
	f.force = p.fs.Bool("force", false, "del: also delete the domain's mailboxes (Maildirs retained), aliases and alias domains")
	f.q = p.fs.String("q", "", "list: only domains whose name contains this")
	f.limit = p.fs.Int("limit", 0, "list: at most this many (default all)")
	verb, pos, err := p.parse(args, domainUsage)
	if err != nil {
		return err
	}
	if (verb == "list") != (len(pos) == 0) || len(pos) > 1 {
		return fmt.Errorf("%w: %s", errUsage, domainUsage)
	}
	if err := p.open(ctx); err != nil {
		return err
	}
	defer p.close(ctx)
	a := admin.CLI()
	switch verb {
	case "list":
		items, err := all(*f.limit, func(lp admin.ListParams) (admin.List[admin.DomainView], error) { return p.svc.Domains(ctx, a, lp) }, *f.q)
		if err != nil {
			return problemText(err)
		}
		if *p.json {
			return p.printJSON(admin.List[admin.DomainView]{Items: nonNil(items)})
		}
		var rows [][]string
		for _, d := range items {
			rows = append(rows, []string{d.UnicodeName, d.Kind, limitText(d.Usage.Mailboxes, d.MaxMailboxes), limitText(d.Usage.Aliases, d.MaxAliases),
				human(d.Usage.QuotaAllocatedBytes, "") + "/" + human(d.QuotaBytes, "unlimited"), human(d.Usage.QuotaUsedBytes, ""), yesNo(d.Active)})
		}
		return p.table([]string{"DOMAIN", "KIND", "MAILBOXES", "ALIASES", "QUOTA ALLOCATED", "USED", "ACTIVE"}, rows)
	case "show":
		d, err := p.svc.Domain(ctx, a, pos[0])
		if err != nil {
			return problemText(err)
		}
		return p.showDomain(d)
	case "del":
		return p.done(p.svc.DeleteDomain(ctx, a, pos[0], *f.force), "deleted domain %s", pos[0])
	}
	in := admin.DomainInput{}
	if verb == "add" {
		in.Name = &pos[0]
	}
	str := func(name string, v *string) *string {
		if p.set(name) {
			return v
		}
		return nil
	}
	in.Description, in.Kind, in.RelayTo = str("description", f.description), str("kind", f.kind), str("relay-to", f.relayTo)
	if f.maxMailboxes.set {
		in.MaxMailboxes = &f.maxMailboxes.v
	}
	if f.maxAliases.set {
		in.MaxAliases = &f.maxAliases.v
	}
	if f.maxQuota.set {
		in.MaxQuotaBytes = &f.maxQuota.v
	}
	if f.quota.set {
		in.QuotaBytes = &f.quota.v
	}
	if f.active.set {
		in.Active = &f.active.v
	}
	if f.acme.set {
		in.ACME = &f.acme.v
	}
	var d admin.DomainView
	if verb == "add" {
		d, err = p.svc.CreateDomain(ctx, a, in)
	} else {
		d, err = p.svc.UpdateDomain(ctx, a, pos[0], in)
	}
	if err != nil {
		return problemText(err)
	}
	return p.showDomain(d)
}

func (p *provisioning) showDomain(d admin.DomainView) error {
	fields := [][2]string{{"name", d.Name}, {"unicode name", d.UnicodeName}, {"description", d.Description}, {"kind", d.Kind}}
	if d.Kind == "relay" {
		next := d.RelayTo
		if next == "" {
			next = "(MX lookup)"
		}
		fields = append(fields, [2]string{"relay to", next})
	}
	fields = append(fields,
		[2]string{"max mailboxes", limitText(domainUse(d).Mailboxes, d.MaxMailboxes)},
		[2]string{"max aliases", limitText(domainUse(d).Aliases, d.MaxAliases)},
		[2]string{"max quota per mailbox", human(d.MaxQuotaBytes, "unlimited")},
		[2]string{"domain quota", human(d.QuotaBytes, "unlimited")},
		[2]string{"quota allocated", human(domainUse(d).QuotaAllocatedBytes, "")},
		[2]string{"quota used", human(domainUse(d).QuotaUsedBytes, "")},
		[2]string{"active", yesNo(d.Active)},
		[2]string{"acme certificates", yesNo(d.ACME)},
		[2]string{"created", d.CreatedAt.Format("2006-01-02 15:04:05 MST")},
	)
	return p.record(d, fields)
}

func domainUse(d admin.DomainView) admin.UsageView {
	if d.Usage == nil {
		return admin.UsageView{}
	}
	return *d.Usage
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
