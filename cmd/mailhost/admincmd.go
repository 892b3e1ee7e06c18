package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"mailhost/admin"
)

const adminUsage = "mailhost admin add USERNAME [--super] [--domain DOMAIN]... [--password-stdin] | list | del USERNAME"

func cmdAdmin(ctx context.Context, args []string, sio stdio) error {
	p := newProvisioning("admin", sio, map[string][]string{"add": {"super", "domain", "password-stdin"}, "list": {"q", "limit"}, "del": nil})
	super := p.fs.Bool("super", false, "add: a super-admin (every domain, admins, tokens)")
	var domains listFlag
	p.fs.Var(&domains, "domain", "add: a domain the admin manages (repeat for several)")
	pwStdin := p.fs.Bool("password-stdin", false, "read the password from the first line of stdin (else a prompt on a terminal)")
	q := p.fs.String("q", "", "list: only admins whose user name contains this")
	limit := p.fs.Int("limit", 0, "list: at most this many (default all)")
	verb, pos, err := p.parse(args, adminUsage)
	if err != nil {
		return err
	}
	if (verb == "list") != (len(pos) == 0) || len(pos) > 1 {
		return fmt.Errorf("%w: %s", errUsage, adminUsage)
	}
	var pw string
	if verb == "add" {
		var ok bool
		if pw, ok, err = readSecret(sio, *pwStdin, "password for "+pos[0]); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: give the password with --password-stdin or on a terminal", errUsage)
		}
	}
	if err := p.open(ctx); err != nil {
		return err
	}
	defer p.close(ctx)
	a := admin.CLI()
	switch verb {
	case "list":
		items, err := all(*limit, func(lp admin.ListParams) (admin.List[admin.AdminView], error) { return p.svc.Admins(ctx, a, lp) }, *q)
		if err != nil {
			return problemText(err)
		}
		if *p.json {
			return p.printJSON(admin.List[admin.AdminView]{Items: nonNil(items)})
		}
		var rows [][]string
		for _, ad := range items {
			doms := strings.Join(ad.Domains, ", ")
			if ad.Superadmin {
				doms = "(all)"
			}
			rows = append(rows, []string{ad.Username, yesNo(ad.Superadmin), doms, yesNo(ad.Active)})
		}
		return p.table([]string{"USERNAME", "SUPER", "DOMAINS", "ACTIVE"}, rows)
	case "del":
		return p.done(p.svc.DeleteAdmin(ctx, a, pos[0]), "deleted admin %s", pos[0])
	}
	doms := []string(domains)
	if doms == nil {
		doms = []string{}
	}
	ad, err := p.svc.CreateAdmin(ctx, a, admin.AdminInput{Username: &pos[0], Password: &pw, Superadmin: super, Domains: &doms})
	if err != nil {
		return problemText(err)
	}
	return p.record(ad, [][2]string{{"username", ad.Username}, {"superadmin", yesNo(ad.Superadmin)},
		{"domains", strings.Join(ad.Domains, ", ")}, {"active", yesNo(ad.Active)}})
}

const tokenUsage = "mailhost token create ADMIN --name NAME | list [ADMIN] | revoke ID"

func cmdToken(ctx context.Context, args []string, sio stdio) error {
	p := newProvisioning("token", sio, map[string][]string{"create": {"name"}, "list": nil, "revoke": nil})
	name := p.fs.String("name", "", "create: what the token is for (shown in token lists)")
	verb, pos, err := p.parse(args, tokenUsage)
	if err != nil {
		return err
	}
	switch {
	case verb == "create" && (len(pos) != 1 || *name == ""),
		verb == "list" && len(pos) > 1,
		verb == "revoke" && len(pos) != 1:
		return fmt.Errorf("%w: %s", errUsage, tokenUsage)
	}
	if err := p.open(ctx); err != nil {
		return err
	}
	defer p.close(ctx)
	switch verb {
	case "list":
		return tokenList(ctx, p, pos)
	case "revoke":
		return p.done(p.svc.RevokeToken(ctx, admin.CLI(), pos[0]), "revoked token %s", pos[0])
	}
	t, err := p.svc.CreateToken(ctx, admin.CLI(), admin.TokenInput{Name: name, Admin: &pos[0]})
	if err != nil {
		return problemText(err)
	}
	if *p.json {
		return p.printJSON(t)
	}
	fmt.Fprintln(sio.out, t.Token) // only the token, for $(mailhost token create ...)
	return nil
}

// tokenList prints the API tokens (of one admin with an argument): never
// the secrets, which are not stored, only their first characters.
func tokenList(ctx context.Context, p *provisioning, pos []string) error {
	items, err := all(0, func(lp admin.ListParams) (admin.List[admin.TokenView], error) {
		return p.svc.Tokens(ctx, admin.CLI(), lp)
	}, "")
	if err != nil {
		return problemText(err)
	}
	var shown []admin.TokenView
	for _, t := range items {
		if len(pos) == 0 || t.Admin == pos[0] {
			shown = append(shown, t)
		}
	}
	if *p.json {
		return p.printJSON(admin.List[admin.TokenView]{Items: nonNil(shown)})
	}
	stamp := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	var rows [][]string
	for _, t := range shown {
		state := "active"
		if t.RevokedAt != nil {
			state = "revoked " + stamp(t.RevokedAt)
		}
		from := "-"
		if t.LastUsedFrom != nil {
			from = *t.LastUsedFrom
		}
		rows = append(rows, []string{fmt.Sprint(t.ID), t.Name, t.Admin, t.Prefix + "…", stamp(&t.CreatedAt), stamp(t.LastUsedAt), from, state})
	}
	return p.table([]string{"ID", "NAME", "ADMIN", "PREFIX", "CREATED", "LAST USED", "FROM", "STATE"}, rows)
}
