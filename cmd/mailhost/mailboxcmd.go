package main

import (
	"context"
	"fmt"
	"strings"

	"mailhost/address"
	"mailhost/admin"
)

const mailboxUsage = "mailhost mailbox add|show|update|passwd|del ADDRESS | list DOMAIN | purge-retained [flags]"

func cmdMailbox(ctx context.Context, args []string, sio stdio) error {
	p := newProvisioning("mailbox", sio, map[string][]string{
		"add":    {"name", "quota", "password-stdin", "active"},
		"update": {"name", "quota", "active"},
		"passwd": {"password-stdin"},
		"list":   {"q", "limit"},
		"show":   nil, "del": {"purge"}, "purge-retained": nil,
	})
	name := p.fs.String("name", "", "display name")
	var quota sizeFlag
	p.fs.Var(&quota, "quota", "quota such as 2G (0: unlimited; default the domain's per-mailbox maximum)")
	var active boolFlag
	p.fs.Var(&active, "active", "active or not (--active=false disables logins and delivery)")
	pwStdin := p.fs.Bool("password-stdin", false, "read the password from the first line of stdin (else a prompt on a terminal; add generates one)")
	purge := p.fs.Bool("purge", false, "del: remove the Maildir at once instead of retaining it")
	q := p.fs.String("q", "", "list: only mailboxes whose address or name contains this")
	limit := p.fs.Int("limit", 0, "list: at most this many (default all)")
	verb, pos, err := p.parse(args, mailboxUsage)
	if err != nil {
		return err
	}
	if (verb == "purge-retained") != (len(pos) == 0) || len(pos) > 1 {
		return fmt.Errorf("%w: %s", errUsage, mailboxUsage)
	}
	// Read the password before opening the database (the prompt must not
	// wait on a connection, and a bad password should cost nothing).
	var pw string
	var havePW bool
	if verb == "add" || verb == "passwd" {
		pw, havePW, err = readSecret(sio, *pwStdin, "password for "+pos[0])
		if err != nil {
			return err
		}
		if !havePW && verb == "passwd" {
			return fmt.Errorf("%w: give the new password with --password-stdin or on a terminal", errUsage)
		}
	}
	if err := p.open(ctx); err != nil {
		return err
	}
	defer p.close(ctx)
	a := admin.CLI()
	switch verb {
	case "purge-retained":
		n, err := p.svc.PurgeRetained(ctx)
		if err != nil {
			return err
		}
		if *p.json {
			return p.printJSON(map[string]int{"purged": n})
		}
		fmt.Fprintf(sio.out, "purged %d retained Maildirs\n", n)
		return nil
	case "list":
		items, err := all(*limit, func(lp admin.ListParams) (admin.List[admin.MailboxView], error) {
			return p.svc.Mailboxes(ctx, a, pos[0], lp)
		}, *q)
		if err != nil {
			return problemText(err)
		}
		if *p.json {
			return p.printJSON(admin.List[admin.MailboxView]{Items: nonNil(items)})
		}
		var rows [][]string
		for _, m := range items {
			rows = append(rows, []string{m.Address, m.Name, human(m.QuotaBytes, "unlimited"), human(m.UsedBytes, ""),
				fmt.Sprint(m.UsedMessages), yesNo(m.Active)})
		}
		return p.table([]string{"ADDRESS", "NAME", "QUOTA", "USED", "MESSAGES", "ACTIVE"}, rows)
	case "show":
		m, err := p.svc.Mailbox(ctx, a, pos[0])
		if err != nil {
			return problemText(err)
		}
		return p.showMailbox(m)
	case "del":
		kept := "its Maildir is retained for mailbox.retention_days"
		if *purge {
			kept = "its Maildir is removed"
		}
		return p.done(p.svc.DeleteMailbox(ctx, a, pos[0], *purge), "deleted mailbox %s; %s", pos[0], kept)
	case "add":
		local, dom := address.Split(pos[0])
		if dom == "" || local == "" {
			return fmt.Errorf("%w: the mailbox is an address, local@domain", errUsage)
		}
		in := admin.MailboxInput{LocalPart: &local}
		if p.set("name") {
			in.Name = name
		}
		if quota.set {
			in.QuotaBytes = &quota.v
		}
		if active.set {
			in.Active = &active.v
		}
		if havePW {
			in.Password = &pw
		}
		m, err := p.svc.CreateMailbox(ctx, a, dom, in)
		if err != nil {
			return problemText(err)
		}
		return p.showMailbox(m)
	}
	in := admin.MailboxInput{}
	if verb == "passwd" {
		in.Password = &pw
	} else {
		if p.set("name") {
			in.Name = name
		}
		if quota.set {
			in.QuotaBytes = &quota.v
		}
		if active.set {
			in.Active = &active.v
		}
	}
	m, err := p.svc.UpdateMailbox(ctx, a, pos[0], in)
	if err != nil {
		return problemText(err)
	}
	if verb == "passwd" {
		return nil
	}
	return p.showMailbox(m)
}

func (p *provisioning) showMailbox(m admin.MailboxView) error {
	fields := [][2]string{
		{"address", m.Address}, {"name", m.Name}, {"quota", human(m.QuotaBytes, "unlimited")},
		{"used", fmt.Sprintf("%s in %d messages", human(m.UsedBytes, ""), m.UsedMessages)},
		{"active", yesNo(m.Active)}, {"created", m.CreatedAt.Format("2006-01-02 15:04:05 MST")},
	}
	if m.Password != "" {
		fields = append(fields, [2]string{"password", m.Password + "   (generated; shown only now)"})
	}
	return p.record(m, fields)
}

const aliasUsage = "mailhost alias add ADDRESS DESTINATION... | list DOMAIN | del ADDRESS [flags]"

func cmdAlias(ctx context.Context, args []string, sio stdio) error {
	p := newProvisioning("alias", sio, map[string][]string{"add": {"active"}, "list": {"q", "limit"}, "del": nil})
	var active boolFlag
	p.fs.Var(&active, "active", "add: active or not")
	q := p.fs.String("q", "", "list: only aliases whose address contains this")
	limit := p.fs.Int("limit", 0, "list: at most this many (default all)")
	verb, pos, err := p.parse(args, aliasUsage)
	if err != nil {
		return err
	}
	if len(pos) == 0 || (verb != "add" && len(pos) != 1) || (verb == "add" && len(pos) < 2) {
		return fmt.Errorf("%w: %s", errUsage, aliasUsage)
	}
	if err := p.open(ctx); err != nil {
		return err
	}
	defer p.close(ctx)
	a := admin.CLI()
	switch verb {
	case "list":
		items, err := all(*limit, func(lp admin.ListParams) (admin.List[admin.AliasView], error) {
			return p.svc.Aliases(ctx, a, pos[0], lp)
		}, *q)
		if err != nil {
			return problemText(err)
		}
		if *p.json {
			return p.printJSON(admin.List[admin.AliasView]{Items: nonNil(items)})
		}
		var rows [][]string
		for _, al := range items {
			rows = append(rows, []string{al.Address, strings.Join(al.Destinations, ", "), yesNo(al.Active)})
		}
		return p.table([]string{"ADDRESS", "DESTINATIONS", "ACTIVE"}, rows)
	case "del":
		return p.done(p.svc.DeleteAlias(ctx, a, pos[0]), "deleted alias %s", pos[0])
	}
	_, dom := address.Split(pos[0])
	dests := pos[1:]
	in := admin.AliasInput{Address: &pos[0], Destinations: &dests}
	if active.set {
		in.Active = &active.v
	}
	al, err := p.svc.CreateAlias(ctx, a, dom, in)
	if err != nil {
		return problemText(err)
	}
	return p.record(al, [][2]string{{"address", al.Address}, {"destinations", strings.Join(al.Destinations, ", ")}, {"active", yesNo(al.Active)}})
}
