package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"mailhost/store"
	"mailhost/testdb"
)

// TestIndexLockOrder runs deliveries, STORE, EXPUNGE, MOVE, adoption and
// folder deletes on one mailbox at once: every call succeeds, PostgreSQL
// detects no deadlock (pg_stat_database.deadlocks stays put, so the retry
// in the store was never needed), and the usage counters equal the index.
func TestIndexLockOrder(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	mustExec(t, s, `INSERT INTO domains (name) VALUES ('example.test');
		INSERT INTO mailboxes (domain_id, local_part, address, password, maildir)
		SELECT id, 'a', 'a@example.test', 'x', 'example.test/a/' FROM domains`)
	var mbox int64
	if err := s.Pool().QueryRow(ctx, `SELECT id FROM mailboxes`).Scan(&mbox); err != nil {
		t.Fatal(err)
	}
	inbox, _, err := s.EnsureIMAPFolder(ctx, mbox, "INBOX", "")
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := s.EnsureIMAPFolder(ctx, mbox, "Other", "")
	if err != nil {
		t.Fatal(err)
	}
	deadlocks := func() int64 {
		var n int64
		if err := s.Pool().QueryRow(ctx, `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := deadlocks()
	const rounds = 40
	var seq sync.Mutex
	n := 0
	key := func() string {
		seq.Lock()
		defer seq.Unlock()
		n++
		return fmt.Sprintf("1700000000.M%dP1Q1.test,S=10", n)
	}
	msg := func(k string) store.NewIMAPMessage {
		return store.NewIMAPMessage{Key: k, Subdir: "cur", Filename: k + ":2,", Flags: []string{}, Keywords: []string{},
			Size: 10, InternalDate: time.Now()}
	}
	var g errgroup.Group
	for range 4 { // deliveries
		g.Go(func() error {
			for range rounds {
				_, err := s.CommitDelivery(ctx, store.Delivery{Entries: []store.IndexEntry{
					{MailboxID: mbox, Folder: "INBOX", FolderID: inbox.ID, Key: key(), Size: 10, InternalDate: time.Now()},
					{MailboxID: mbox, Folder: "Other", FolderID: other.ID, Key: key(), Size: 10, InternalDate: time.Now()}}})
				if err != nil {
					return fmt.Errorf("deliver: %w", err)
				}
			}
			return nil
		})
	}
	for _, f := range []int64{inbox.ID, other.ID} { // STORE \Deleted then EXPUNGE
		g.Go(func() error {
			for range rounds {
				uids, err := s.IMAPUIDs(ctx, f)
				if err != nil {
					return err
				}
				if _, err := s.IMAPStoreFlags(ctx, f, uids, store.FlagsAdd, []string{`\Deleted`}, nil,
					func(old, _ string, _ []string) string { return old }); err != nil {
					return fmt.Errorf("store flags: %w", err)
				}
				if _, err := s.IMAPExpunge(ctx, mbox, f, nil); err != nil {
					return fmt.Errorf("expunge: %w", err)
				}
			}
			return nil
		})
	}
	for _, dir := range [][2]int64{{inbox.ID, other.ID}, {other.ID, inbox.ID}} { // MOVE both ways
		g.Go(func() error {
			for range rounds {
				uids, err := s.IMAPUIDs(ctx, dir[0])
				if err != nil {
					return err
				}
				if len(uids) > 3 {
					uids = uids[:3]
				}
				var rows []store.NewIMAPMessage
				for range uids {
					rows = append(rows, msg(key()))
				}
				if _, _, _, err := s.IMAPMove(ctx, mbox, dir[0], dir[1], uids, rows); err != nil {
					return fmt.Errorf("move: %w", err)
				}
			}
			return nil
		})
	}
	g.Go(func() error { // adoption and appends
		for range rounds {
			if _, err := s.IMAPAdopt(ctx, mbox, other.ID, []store.NewIMAPMessage{msg(key())}); err != nil {
				return fmt.Errorf("adopt: %w", err)
			}
			if _, _, err := s.IMAPAppend(ctx, mbox, inbox.ID, []store.NewIMAPMessage{msg(key())}); err != nil {
				return fmt.Errorf("append: %w", err)
			}
		}
		return nil
	})
	g.Go(func() error { // folders created and deleted with messages in them
		for i := range rounds {
			name := fmt.Sprintf("Tmp%d", i)
			f, err := s.CreateIMAPFolder(ctx, mbox, name, "")
			if err != nil {
				return err
			}
			if _, _, err := s.IMAPAppend(ctx, mbox, f.ID, []store.NewIMAPMessage{msg(key())}); err != nil {
				return err
			}
			if _, err := s.DeleteIMAPFolder(ctx, mbox, name); err != nil {
				return fmt.Errorf("delete folder: %w", err)
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if d := deadlocks() - before; d != 0 {
		t.Errorf("PostgreSQL detected %d deadlocks", d)
	}
	used, indexed, err := s.MailboxUsage(ctx, mbox)
	if err != nil {
		t.Fatal(err)
	}
	if used != indexed {
		t.Errorf("usage %+v, index holds %+v", used, indexed)
	}
}
