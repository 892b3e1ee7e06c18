package main

import (
	"context"
	"errors"
	"fmt"

	"mailhost/imapd"
	"mailhost/store"
)

// cmdReindex rebuilds the message index of one mailbox (or all) from the
// Maildir files, like doveadm force-resync.
func cmdReindex(ctx context.Context, args []string, sio stdio) error {
	fs, g := newFlagSet("reindex", sio)
	m, err := openMaildirCommand(ctx, fs, g, args, "mailhost reindex [ADDRESS]")
	if err != nil {
		return err
	}
	defer m.db.close(ctx)
	cfg, db, log, addr := m.cfg, m.db, m.log, m.addr
	boxes, err := db.ReindexMailboxes(ctx, addr)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no mailbox %q", addr)
	}
	if err != nil {
		return err
	}
	files, err := newReconciler(cfg, db.Store, log)
	if err != nil {
		return err
	}
	for _, mb := range boxes {
		res, err := imapd.Reindex(ctx, db.Store, files, cfg.MaildirRoot, mb)
		if err != nil {
			return fmt.Errorf("%s: %w", mb.Address, err)
		}
		fmt.Fprintf(sio.out, "%s: %d folders (+%d -%d), messages kept %d, added %d, removed %d; usage %d bytes, %d messages\n",
			mb.Address, res.Folders, len(res.FoldersAdded), len(res.FoldersRemoved), res.Kept, res.Added, res.Removed,
			res.UsedBytes, res.UsedMsgs)
		for _, s := range res.Skipped {
			fmt.Fprintf(sio.out, "  skipped %s: %v\n", s.Path, s.Err)
		}
	}
	return nil
}
