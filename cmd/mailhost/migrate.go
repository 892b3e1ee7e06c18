package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

func cmdMigrate(ctx context.Context, args []string, sio stdio) error {
	fs, g := newFlagSet("migrate", sio)
	status := fs.Bool("status", false, "list the migrations and when each was applied; apply nothing")
	if _, err := parse(fs, g, args); err != nil {
		return err
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
	if !*status {
		applied, err := db.Migrate(ctx)
		if err != nil {
			return err
		}
		for _, m := range applied {
			fmt.Fprintf(sio.out, "applied %04d_%s\n", m.Version, m.Name)
		}
		if len(applied) == 0 {
			fmt.Fprintln(sio.out, "database is up to date")
		}
		// SQL cannot make keys: the local domains without DKIM keys
		// (made before migration 0010) get theirs here.
		made, err := newAdminService(cfg, db.Store, nil, log).EnsureDKIMKeys(ctx)
		for _, d := range made {
			fmt.Fprintf(sio.out, "made DKIM keys for %s\n", d)
		}
		return err
	}
	st, err := db.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(sio.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tAPPLIED")
	for _, m := range st {
		at := "pending"
		if m.AppliedAt != nil {
			at = m.AppliedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%04d\t%s\t%s\n", m.Version, m.Name, at)
	}
	return tw.Flush()
}
