package main

import (
	"context"
	"fmt"

	"mailhost/admin"
)

const authUsage = "mailhost auth blocks | unblock ADDRESS|ACCOUNT"

// cmdAuth is the login throttle's tools: list the running blocks, lift
// one. The throttle's state is in PostgreSQL, shared by every serve node,
// so these work on the database directly and every node sees the change
// at the next login.
func cmdAuth(ctx context.Context, args []string, sio stdio) error {
	p := newProvisioning("auth", sio, map[string][]string{"blocks": nil, "unblock": nil})
	verb, pos, err := p.parse(args, authUsage)
	if err != nil {
		return err
	}
	if verb == "blocks" && len(pos) != 0 || verb == "unblock" && len(pos) != 1 {
		return fmt.Errorf("%w: %s", errUsage, authUsage)
	}
	if err := p.open(ctx); err != nil {
		return err
	}
	defer p.close(ctx)
	a := admin.CLI()
	switch verb {
	case "blocks":
		list, err := p.svc.LoginBlocks(ctx, a)
		if err != nil {
			return problemText(err)
		}
		if *p.json {
			return p.printJSON(list)
		}
		rows := make([][]string, len(list))
		for i, b := range list {
			rows[i] = []string{b.Kind, b.Subject, b.Until.UTC().Format("2006-01-02 15:04:05 UTC")}
		}
		return p.table([]string{"KIND", "BLOCKED", "UNTIL"}, rows)
	default: // unblock
		v, err := p.svc.Unblock(ctx, a, admin.UnblockInput{Target: pos[0]})
		if err != nil {
			return problemText(err)
		}
		if *p.json {
			return p.printJSON(v)
		}
		if v.Until.IsZero() {
			fmt.Fprintf(sio.out, "%s %s was not blocked; its failed logins are forgotten\n", v.Kind, v.Subject)
			return nil
		}
		fmt.Fprintf(sio.out, "unblocked %s %s\n", v.Kind, v.Subject)
		return nil
	}
}
