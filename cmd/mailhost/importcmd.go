package main

import (
	"context"
	"fmt"
	"io"

	"mailhost/maildir"
	"mailhost/pfaimport"
)

const importUsage = "mailhost import postfixadmin --from DSN --maildir-root DIR [--copy] [--dry-run] [--domain D]... " +
	"[--passwords auto|cleartext|md5] [--pop3-uidl-format FMT] [--quota-multiplier N] [--table-prefix P]"

// cmdImport moves a Postfix Admin + Dovecot installation in
// (pfaimport): the database through the admin service, the Maildirs in
// place or copied, with their IMAP UIDs and POP3 UIDLs.
func cmdImport(ctx context.Context, args []string, sio stdio) error {
	fs, g := newFlagSet("import", sio)
	from := fs.String("from", "", "the Postfix Admin database: postgres://USER:PASS@HOST/DB, mysql://USER:PASS@HOST:PORT/DB (?socket=PATH) or mysql:<go-sql-driver DSN>")
	root := fs.String("maildir-root", "", "where Dovecot keeps the Maildirs (Postfix Admin's mailbox.maildir is relative to it), e.g. /var/vmail")
	copyMail := fs.Bool("copy", false, "copy the Maildirs into maildir_root (each file fsynced) instead of taking them in place (then --maildir-root must be maildir_root)")
	dry := fs.Bool("dry-run", false, "read everything, change nothing, print what would be imported")
	var domains listFlag
	fs.Var(&domains, "domain", "import only this domain and what belongs to it (repeat for several)")
	passwords := fs.String("passwords", pfaimport.PasswordsAuto, "stored passwords in no recognisable scheme: auto (mailbox gets a random password, reported), cleartext or md5 (Postfix Admin's encrypt setting)")
	uidl := fs.String("pop3-uidl-format", pfaimport.DefaultUIDLFormat, "Dovecot's pop3_uidl_format (%u, %v, %f with 0, width and X)")
	mult := fs.Int64("quota-multiplier", 1024000, "Postfix Admin's quota_multiplier: bytes per unit of a domain's maxquota and quota")
	prefix := fs.String("table-prefix", "", "Postfix Admin's database_prefix")
	pos, err := parse(fs, g, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "postfixadmin" || *from == "" || *root == "" {
		return fmt.Errorf("%w: %s", errUsage, importUsage)
	}
	cfg, err := g.load()
	if err != nil {
		return err
	}
	log := newLogger(cfg, io.Discard)
	db, err := openDatabase(ctx, cfg, log, false)
	if err != nil {
		return err
	}
	defer db.close(ctx)
	src, err := pfaimport.OpenSource(ctx, *from, *prefix)
	if err != nil {
		return err
	}
	defer src.Close()
	svc := newAdminService(cfg, db.Store, nil, log)
	rep, err := pfaimport.Run(ctx, pfaimport.Options{
		Source: src, Admin: svc, Store: db.Store, Hasher: hasher(cfg), Log: log, Sieve: pfaimport.AdminSieve{Admin: svc},
		Domains: domains, MaildirRoot: *root, DestRoot: cfg.MaildirRoot, Copy: *copyMail, DryRun: *dry,
		Owner: maildir.Owner{UID: cfg.Vmail.UID, GID: cfg.Vmail.GID}, Passwords: *passwords, UIDLFormat: *uidl,
		QuotaMultiplier: *mult,
	})
	if rep != nil {
		rep.WriteTo(sio.out)
	}
	return err
}
