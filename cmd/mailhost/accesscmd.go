package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"mailhost/admin"
)

const accessUsage = "mailhost access add KIND PATTERN ACTION [TEXT...] | list | delete KIND PATTERN | delete ID [flags]" +
	" (KIND: client, helo, sender, recipient; ACTION: OK, DUNNO, REJECT, DEFER, DISCARD, HOLD or a 4NN/5NN code, as in Postfix access(5))"

// cmdAccess manages the SMTP server's access rules (Postfix access(5)).
func cmdAccess(ctx context.Context, args []string, sio stdio) error {
	p := newProvisioning("access", sio, map[string][]string{"add": {"comment"}, "list": {"kind", "domain", "q", "limit"},
		"delete": nil, "del": nil})
	comment := p.fs.String("comment", "", "add: a note for the admins")
	kind := p.fs.String("kind", "", "list: only rules of this kind")
	domain := p.fs.String("domain", "", "list: only the recipient rules of this domain's addresses")
	q := p.fs.String("q", "", "list: only rules whose pattern contains this")
	limit := p.fs.Int("limit", 0, "list: at most this many (default all)")
	verb, pos, err := p.parse(args, accessUsage)
	if err != nil {
		return err
	}
	switch {
	case verb == "list" && len(pos) != 0,
		verb == "add" && len(pos) < 3,
		(verb == "delete" || verb == "del") && len(pos) != 1 && len(pos) != 2:
		return fmt.Errorf("%w: %s", errUsage, accessUsage)
	}
	if err := p.open(ctx); err != nil {
		return err
	}
	defer p.close(ctx)
	a := admin.CLI()
	switch verb {
	case "list":
		items, err := all(*limit, func(lp admin.ListParams) (admin.List[admin.AccessRuleView], error) {
			return p.svc.AccessRules(ctx, a, admin.AccessRuleParams{Kind: *kind, Domain: *domain, ListParams: lp})
		}, *q)
		if err != nil {
			return problemText(err)
		}
		if *p.json {
			return p.printJSON(admin.List[admin.AccessRuleView]{Items: nonNil(items)})
		}
		var rows [][]string
		for _, r := range items {
			rows = append(rows, []string{strconv.FormatInt(r.ID, 10), r.Kind, r.Pattern, r.Rule, r.Comment})
		}
		return p.table([]string{"ID", "KIND", "PATTERN", "ACTION", "COMMENT"}, rows)
	case "delete", "del":
		id := pos[0]
		if len(pos) == 2 {
			r, err := p.svc.FindAccessRule(ctx, a, pos[0], pos[1])
			if err != nil {
				return problemText(err)
			}
			id = strconv.FormatInt(r.ID, 10)
		}
		return problemText(p.svc.DeleteAccessRule(ctx, a, id))
	}
	in := admin.AccessRuleInput{Kind: &pos[0], Pattern: &pos[1], Comment: comment}
	if n, err := strconv.Atoi(pos[2]); err == nil {
		in.Code = &n // "550 text": a code says REJECT or DEFER, as in access(5)
	} else {
		in.Action = &pos[2]
	}
	if text := strings.Join(pos[3:], " "); text != "" {
		in.Text = &text
	}
	r, err := p.svc.CreateAccessRule(ctx, a, in)
	if err != nil {
		return problemText(err)
	}
	return p.record(r, [][2]string{{"id", strconv.FormatInt(r.ID, 10)}, {"kind", r.Kind}, {"pattern", r.Pattern},
		{"action", r.Rule}, {"comment", r.Comment}})
}

const relocatedUsage = "mailhost relocated add ADDRESS NEW_LOCATION... | list | delete ADDRESS [flags]" +
	" (ADDRESS: user@domain or @domain of a domain here; RCPT gets 551 5.1.6 User has moved to NEW_LOCATION, as with Postfix relocated(5))"

// cmdRelocated manages relocated addresses (Postfix relocated(5)).
func cmdRelocated(ctx context.Context, args []string, sio stdio) error {
	p := newProvisioning("relocated", sio, map[string][]string{"add": nil, "list": {"domain", "q", "limit"}, "delete": nil, "del": nil})
	domain := p.fs.String("domain", "", "list: only this domain's addresses")
	q := p.fs.String("q", "", "list: only entries whose address or new location contains this")
	limit := p.fs.Int("limit", 0, "list: at most this many (default all)")
	verb, pos, err := p.parse(args, relocatedUsage)
	if err != nil {
		return err
	}
	switch {
	case verb == "list" && len(pos) != 0,
		verb == "add" && len(pos) < 2,
		(verb == "delete" || verb == "del") && len(pos) != 1:
		return fmt.Errorf("%w: %s", errUsage, relocatedUsage)
	}
	if err := p.open(ctx); err != nil {
		return err
	}
	defer p.close(ctx)
	a := admin.CLI()
	switch verb {
	case "list":
		items, err := all(*limit, func(lp admin.ListParams) (admin.List[admin.RelocatedView], error) {
			return p.svc.RelocatedList(ctx, a, admin.RelocatedParams{Domain: *domain, ListParams: lp})
		}, *q)
		if err != nil {
			return problemText(err)
		}
		if *p.json {
			return p.printJSON(admin.List[admin.RelocatedView]{Items: nonNil(items)})
		}
		var rows [][]string
		for _, r := range items {
			rows = append(rows, []string{r.Address, r.NewLocation})
		}
		return p.table([]string{"ADDRESS", "NEW LOCATION"}, rows)
	case "delete", "del":
		return problemText(p.svc.DeleteRelocated(ctx, a, pos[0]))
	}
	loc := strings.Join(pos[1:], " ")
	r, err := p.svc.CreateRelocated(ctx, a, admin.RelocatedInput{Address: &pos[0], NewLocation: &loc})
	if err != nil {
		return problemText(err)
	}
	return p.record(r, [][2]string{{"address", r.Address}, {"new location", r.NewLocation}})
}
