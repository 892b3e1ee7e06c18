package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"mailhost/admin"
)

const (
	dkimUsage = "mailhost dkim list DOMAIN | rotate DOMAIN | check"
	dnsUsage  = "mailhost dns DOMAIN [--check]"
)

// cmdDKIM lists a domain's DKIM keys with their TXT records, starts a
// rotation, or runs the rotation check (as serve does every
// dkim.check_interval) at once.
func cmdDKIM(ctx context.Context, args []string, sio stdio) error {
	p := newProvisioning("dkim", sio, map[string][]string{"list": nil, "rotate": nil, "check": nil})
	verb, pos, err := p.parse(args, dkimUsage)
	if err != nil {
		return err
	}
	if (verb == "check") != (len(pos) == 0) || len(pos) > 1 {
		return fmt.Errorf("%w: %s", errUsage, dkimUsage)
	}
	if err := p.open(ctx); err != nil {
		return err
	}
	defer p.close(ctx)
	a := admin.CLI()
	var keys []admin.DKIMKeyView
	switch verb {
	case "check":
		activated, retired, err := p.svc.CheckDKIMRotations(ctx)
		for _, k := range activated {
			fmt.Fprintf(p.sio.out, "signing with %s\n", k)
		}
		for _, k := range retired {
			fmt.Fprintf(p.sio.out, "retired %s (its TXT record may be removed)\n", k)
		}
		return err
	case "list":
		keys, err = p.svc.DKIMKeys(ctx, a, pos[0])
	case "rotate":
		keys, err = p.svc.RotateDKIM(ctx, a, pos[0])
	}
	if err != nil {
		return problemText(err)
	}
	if *p.json {
		return p.printJSON(nonNil(keys))
	}
	for _, k := range keys {
		state := k.State
		switch {
		case k.RetireAt != nil:
			state += " until " + k.RetireAt.UTC().Format(time.RFC3339)
		case k.State == "pending":
			state += ": signs once this record is in DNS"
		}
		fmt.Fprintf(p.sio.out, "; %s %s, %s\n%s\n", k.Selector, k.Algorithm, state, admin.ZoneLine(k.Name, "TXT", k.Record))
	}
	return nil
}

// cmdDNS prints the records a domain needs as zone-file lines and, with
// --check, what DNS answers for each; it then fails when one is not as
// expected.
func cmdDNS(ctx context.Context, args []string, sio stdio) error {
	p := newProvisioning("dns", sio, nil)
	check := p.fs.Bool("check", false, "look every record up in DNS and show the verdict: ok, missing, wrong or error")
	pos, err := parse(p.fs, p.g, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: %s", errUsage, dnsUsage)
	}
	if err := p.open(ctx); err != nil {
		return err
	}
	defer p.close(ctx)
	page, err := p.svc.DomainDNS(ctx, admin.CLI(), pos[0], *check)
	if err != nil {
		return problemText(err)
	}
	if *p.json {
		return p.printJSON(page)
	}
	bad := 0
	for _, r := range page.Records {
		fmt.Fprintf(p.sio.out, "; %s", r.Purpose)
		if c := r.Check; c != nil {
			fmt.Fprintf(p.sio.out, ": %s", c.Verdict)
			if c.Verdict != admin.VerdictOK {
				bad++
				if len(c.Found) > 0 {
					fmt.Fprintf(p.sio.out, " (found %s)", strings.Join(c.Found, " | "))
				}
			}
		}
		fmt.Fprintf(p.sio.out, "\n%s\n", r.Zone)
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d records are not as expected", bad, len(page.Records))
	}
	return nil
}
