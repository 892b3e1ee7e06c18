package pfaimport

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"mailhost/admin"
	"mailhost/auth"
)

// gotoList splits an alias's goto (comma-separated, maybe with white
// space and line breaks) into destinations, dropping the vacation
// address Postfix Admin adds while a reply is on (local part
// "user#domain", on its autoreply domain) and duplicates.
func gotoList(addr, g string) []string {
	vacation := strings.Replace(addr, "@", "#", 1) + "@"
	var out []string
	for _, d := range strings.FieldsFunc(g, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		d = strings.ToLower(d)
		if strings.HasPrefix(d, vacation) || slices.Contains(out, d) {
			continue
		}
		out = append(out, d)
	}
	return out
}

// importAliases takes Postfix Admin's aliases: those of a mailbox's own
// address become the mailbox's forwarding (keeping a copy when the
// mailbox is among the destinations), or nothing when the mailbox is the
// only one (the self-alias Postfix Admin makes for every mailbox); the
// others, catch-alls "@domain" among them, become aliases.
func (im *importer) importAliases(ctx context.Context) error {
	rows, err := im.Source.aliases(ctx)
	if err != nil {
		return err
	}
	for _, a := range rows {
		dom, ok := im.wanted(a.Domain)
		if !ok {
			continue
		}
		addr := strings.ToLower(a.Address)
		what := "alias " + a.Address
		if !im.domains[dom] {
			im.rep.skip(what, "%s", im.notImported(dom))
			continue
		}
		dests := gotoList(addr, a.Goto)
		if im.boxes[addr] {
			if err := im.forwarding(ctx, addr, dests, a.Active); err != nil {
				return err
			}
			continue
		}
		if i := slices.Index(dests, addr); i >= 0 {
			dests = slices.Delete(dests, i, i+1)
		}
		if len(dests) == 0 {
			im.rep.skip(what, "no destination (besides itself or a vacation reply)")
			continue
		}
		if err := im.alias(ctx, dom, addr, dests, a.Active); err != nil {
			return err
		}
	}
	return nil
}

func (im *importer) alias(ctx context.Context, dom, addr string, dests []string, active bool) error {
	cur, err := im.Admin.Alias(ctx, admin.CLI(), addr)
	found, err := exists(err)
	if err != nil {
		return err
	}
	if found {
		im.rep.Aliases.Existing++
		if !sameSet(cur.Destinations, dests) {
			im.rep.differ("alias %s: here → %s; Postfix Admin → %s", addr, strings.Join(cur.Destinations, ","), strings.Join(dests, ","))
		}
		return nil
	}
	im.rep.Aliases.Created++
	if im.DryRun {
		return nil
	}
	_, err = im.Admin.CreateAlias(ctx, admin.CLI(), dom, admin.AliasInput{Address: &addr, Destinations: &dests, Active: &active})
	return im.refused(err, &im.rep.Aliases, "alias "+addr)
}

func (im *importer) forwarding(ctx context.Context, addr string, dests []string, active bool) error {
	keep := slices.Contains(dests, addr)
	if i := slices.Index(dests, addr); i >= 0 {
		dests = slices.Delete(dests, i, i+1)
	}
	if len(dests) == 0 {
		im.rep.SelfAliases++
		return nil
	}
	cur, err := im.Admin.Forwarding(ctx, admin.CLI(), addr)
	found, err := exists(err)
	if err != nil {
		return err
	}
	if found && len(cur.Destinations) > 0 {
		im.rep.Forwardings.Existing++
		if !sameSet(cur.Destinations, dests) || cur.KeepCopy != keep {
			im.rep.differ("forwarding of %s: here → %s (keep copy %v); Postfix Admin → %s (keep copy %v)",
				addr, strings.Join(cur.Destinations, ","), cur.KeepCopy, strings.Join(dests, ","), keep)
		}
		return nil
	}
	im.rep.Forwardings.Created++
	if im.DryRun {
		return nil
	}
	_, err = im.Admin.SetForwarding(ctx, admin.CLI(), addr, admin.ForwardingInput{Destinations: &dests, KeepCopy: &keep, Active: &active})
	return im.refused(err, &im.rep.Forwardings, "forwarding of "+addr)
}

// refused reports an object the admin service refused (bad input in the
// source, a limit) and goes on; an internal failure stops the import.
func (im *importer) refused(err error, c *Count, what string) error {
	if err == nil {
		return nil
	}
	if admin.KindOf(err) == 0 {
		var v *admin.ValidationError
		if !errors.As(err, &v) {
			return fmt.Errorf("pfaimport: %s: %w", what, err)
		}
	}
	c.Created--
	im.rep.skip(what, "%v", err)
	return nil
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// importVacations takes the vacation replies of the imported mailboxes.
// Postfix Admin's dates are kept when they make a period (it stores
// placeholders such as 2000-01-01 for none); an interval of 0 (reply
// once) becomes mailhost's default interval.
func (im *importer) importVacations(ctx context.Context) error {
	rows, err := im.Source.vacations(ctx)
	if err != nil {
		im.rep.skip("vacation", "%v", err)
		return nil
	}
	for _, v := range rows {
		addr := strings.ToLower(v.Email)
		if _, ok := im.wanted(domainOf(addr)); !ok {
			continue
		}
		what := "vacation reply of " + addr
		if !im.boxes[addr] {
			im.rep.skip(what, "its mailbox is not imported")
			continue
		}
		_, err := im.Admin.Vacation(ctx, admin.CLI(), addr)
		found, err := exists(err)
		if err != nil {
			return err
		}
		if found {
			im.rep.Vacations.Existing++
			continue
		}
		in := admin.VacationInput{Subject: &v.Subject, Body: &v.Body, Active: &v.Active}
		if v.From != nil && v.Until != nil && v.Until.After(*v.From) && v.Until.After(time.Now()) {
			in.ActiveFrom, in.ActiveUntil = v.From, v.Until
		}
		if v.Interval > 0 {
			in.IntervalSeconds = &v.Interval
		}
		im.rep.Vacations.Created++
		if im.DryRun {
			continue
		}
		_, err = im.Admin.SetVacation(ctx, admin.CLI(), addr, in)
		if err := im.refused(err, &im.rep.Vacations, what); err != nil {
			return err
		}
	}
	return nil
}

// importAdmins takes the admins: super-admins (the superadmin flag, or
// the pseudo-domain ALL of older versions) when every domain is imported,
// domain admins with the imported domains they administer.
func (im *importer) importAdmins(ctx context.Context) error {
	rows, err := im.Source.admins(ctx)
	if err != nil {
		return err
	}
	das, err := im.Source.domainAdmins(ctx)
	if err != nil {
		return err
	}
	doms := map[string][]string{}
	for _, da := range das {
		u := strings.ToLower(da.Username)
		if strings.EqualFold(da.Domain, "ALL") {
			doms[u] = append(doms[u], "ALL")
			continue
		}
		if n, ok := im.wanted(da.Domain); ok && im.domains[n] {
			doms[u] = append(doms[u], n)
		}
	}
	for _, a := range rows {
		u := strings.ToLower(a.Username)
		super := a.Superadmin || slices.Contains(doms[u], "ALL")
		domains := slices.DeleteFunc(doms[u], func(d string) bool { return d == "ALL" })
		what := "admin " + a.Username
		if super && len(im.only) > 0 {
			im.rep.skip(what, "a super-admin: imported only when every domain is")
			continue
		}
		if !super && len(domains) == 0 {
			if len(im.only) == 0 {
				im.rep.skip(what, "administers no imported domain")
			}
			continue
		}
		_, err := im.Admin.Admin(ctx, admin.CLI(), u)
		found, err := exists(err)
		if err != nil {
			return err
		}
		if found {
			im.rep.Admins.Existing++
			continue
		}
		if auth.Scheme(a.Password) == "" {
			im.rep.skip(what, "the stored password is in no scheme mailhost verifies; create the admin anew")
			continue
		}
		im.rep.Admins.Created++
		if im.DryRun {
			continue
		}
		_, err = im.Admin.ImportAdmin(ctx, admin.CLI(), admin.ImportedAdmin{Username: u, PasswordHash: a.Password,
			Superadmin: super, Domains: domains, Active: a.Active})
		if err := im.refused(err, &im.rep.Admins, what); err != nil {
			return err
		}
	}
	return nil
}
