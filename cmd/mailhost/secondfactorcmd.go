package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"mailhost/admin"
)

const appPasswordUsage = "mailhost app-password add ADDRESS --name NAME --protocol smtp,imap,pop3,managesieve | list ADDRESS | revoke ADDRESS ID"

// cmdAppPassword manages a mailbox's app passwords: the passwords a mail
// client uses instead of the mailbox's, each for some protocols.
func cmdAppPassword(ctx context.Context, args []string, sio stdio) error {
	p := newProvisioning("app-password", sio, map[string][]string{"add": {"name", "protocol"}, "list": nil, "revoke": nil})
	name := p.fs.String("name", "", "add: what uses it (a device or program), unique per mailbox")
	var protos listFlag
	p.fs.Var(&protos, "protocol", "add: protocols it opens, comma-separated or repeated: smtp, imap, pop3, managesieve")
	verb, pos, err := p.parse(args, appPasswordUsage)
	if err != nil {
		return err
	}
	want := map[string]int{"add": 1, "list": 1, "revoke": 2}[verb]
	if len(pos) != want || verb == "add" && (*name == "" || len(protos) == 0) {
		return fmt.Errorf("%w: %s", errUsage, appPasswordUsage)
	}
	if err := p.open(ctx); err != nil {
		return err
	}
	defer p.close(ctx)
	a := admin.CLI()
	switch verb {
	case "list":
		l, err := p.svc.AppPasswords(ctx, a, pos[0])
		if err != nil {
			return problemText(err)
		}
		if *p.json {
			return p.printJSON(l)
		}
		var rows [][]string
		for _, ap := range l.Items {
			used := "never"
			if ap.LastUsedAt != nil {
				used = ap.LastUsedAt.UTC().Format(time.RFC3339)
				if ap.LastUsedFrom != nil {
					used += " from " + *ap.LastUsedFrom
				}
			}
			rows = append(rows, []string{fmt.Sprint(ap.ID), ap.Name, strings.Join(ap.Protocols, ","),
				ap.CreatedAt.UTC().Format(time.RFC3339), used})
		}
		return p.table([]string{"ID", "NAME", "PROTOCOLS", "CREATED", "LAST USED"}, rows)
	case "revoke":
		return problemText(p.svc.RevokeAppPassword(ctx, a, pos[0], pos[1]))
	}
	var list []string
	for _, v := range protos {
		list = append(list, strings.Split(v, ",")...)
	}
	ap, err := p.svc.CreateAppPassword(ctx, a, pos[0], admin.AppPasswordInput{Name: name, Protocols: list})
	if err != nil {
		return problemText(err)
	}
	if *p.json {
		return p.printJSON(ap)
	}
	fmt.Fprintln(sio.out, ap.Password) // only the password, shown this once
	return nil
}

const secondFactorUsage = "mailhost totp reset USERNAME|ADDRESS | status USERNAME|ADDRESS | policy [--require-admins=true|false]"

// cmdTOTP shows and resets second factors and sets the policy: the way
// back in for a super-admin who lost the device and the recovery codes.
func cmdTOTP(ctx context.Context, args []string, sio stdio) error {
	p := newProvisioning("totp", sio, map[string][]string{"reset": nil, "status": nil, "policy": {"require-admins"}})
	require := p.fs.Bool("require-admins", false, "policy: send admins without a second factor to enrol one after their password")
	verb, pos, err := p.parse(args, secondFactorUsage)
	if err != nil {
		return err
	}
	if (verb == "policy") != (len(pos) == 0) || len(pos) > 1 {
		return fmt.Errorf("%w: %s", errUsage, secondFactorUsage)
	}
	if err := p.open(ctx); err != nil {
		return err
	}
	defer p.close(ctx)
	a := admin.CLI()
	switch verb {
	case "policy":
		var in admin.SecurityPolicyInput
		if p.set("require-admins") {
			in.RequireAdminTOTP = require
		}
		pol, err := p.svc.SetSecurityPolicy(ctx, a, in)
		if err != nil {
			return problemText(err)
		}
		return p.record(pol, [][2]string{{"require admins", yesNo(pol.RequireAdminTOTP)}})
	case "reset":
		if strings.Contains(pos[0], "@") {
			return problemText(p.svc.ResetMailboxTOTP(ctx, a, pos[0]))
		}
		return problemText(p.svc.ResetAdminTOTP(ctx, a, pos[0]))
	}
	var st admin.SecondFactorView
	if strings.Contains(pos[0], "@") {
		st, err = p.svc.MailboxSecondFactor(ctx, a, pos[0])
	} else {
		st, err = p.svc.AdminSecondFactor(ctx, a, pos[0])
	}
	if err != nil {
		return problemText(err)
	}
	return p.record(st, [][2]string{{"enabled", yesNo(st.Enabled)}, {"pending", yesNo(st.Pending)},
		{"recovery codes left", fmt.Sprint(st.RecoveryCodesLeft)}})
}
