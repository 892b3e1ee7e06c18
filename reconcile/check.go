package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mailhost/maildir"
	"mailhost/store"
)

// TmpMaxAge is how long a file may stay in a Maildir's tmp/ before it is
// taken as debris of a writer that died (the Maildir convention: 36 hours).
const TmpMaxAge = 36 * time.Hour

// CheckIndex is what a whole-mailbox check needs of the index.
// *store.Store satisfies it.
type CheckIndex interface {
	Index
	ReindexMailboxes(ctx context.Context, address string) ([]store.ReindexMailbox, error)
	IMAPFolders(ctx context.Context, mailboxID int64) ([]store.IMAPFolder, error)
	EnsureIMAPFolder(ctx context.Context, mailboxID int64, name, specialUse string) (store.IMAPFolder, bool, error)
	MailboxUsage(ctx context.Context, mailboxID int64) (used, indexed store.Usage, err error)
	FixMailboxUsage(ctx context.Context, mailboxID int64) (bytes, messages int64, err error)
	DropMissing(ctx context.Context, mailboxID, folderID int64, keys []string) (int, error)
	PendingFolderDeletes(ctx context.Context, address string) ([]store.PendingFolderDelete, error)
	FinishFolderDelete(ctx context.Context, mailboxID int64, name string) error
}

var _ CheckIndex = (*store.Store)(nil)

// Difference is one disagreement between a mailbox's index and its
// Maildir.
type Difference struct {
	Mailbox string
	Folder  string
	What    string // what is wrong, in words
	Name    string // the file, key or directory concerned, if any
	Fixed   bool   // repaired (Checker.Repair)
}

func (d Difference) String() string {
	s := d.Mailbox
	if d.Folder != "" {
		s += " " + d.Folder
	}
	s += ": " + d.What
	if d.Name != "" {
		s += ": " + d.Name
	}
	if d.Fixed {
		s += " (repaired)"
	}
	return s
}

// Checker compares whole mailboxes with their index (mailhost check) and,
// with Repair, fixes what it finds, as doveadm force-resync does: pending
// removals and dead links are finished, files left without a row adopted,
// rows without a file dropped, folder directories and rows matched, debris
// in tmp/ removed, usage counters recomputed. Files of operations in
// flight are not differences.
type Checker struct {
	Files  *Reconciler
	Index  CheckIndex
	Root   string // the Maildir root
	Owner  maildir.Owner
	Repair bool
	// Since, when set, limits the check to folders whose new/, cur/ or
	// tmp/ changed since then or that have pending operations (the
	// reconciliation after an unclean stop).
	Since time.Time
}

// Run checks the mailbox with that address, or every mailbox when address
// is "", and calls report for each difference. It returns how many it
// found.
func (c *Checker) Run(ctx context.Context, address string, report func(Difference)) (int, error) {
	boxes, err := c.Index.ReindexMailboxes(ctx, address)
	if err != nil {
		return 0, err
	}
	pending, err := c.Index.PendingFolderDeletes(ctx, address)
	if err != nil {
		return 0, err
	}
	deleted := map[int64]map[string]bool{}
	for _, p := range pending {
		if deleted[p.MailboxID] == nil {
			deleted[p.MailboxID] = map[string]bool{}
		}
		deleted[p.MailboxID][p.Name] = true
	}
	n := 0
	count := func(d Difference) { n++; report(d) }
	for _, mb := range boxes {
		if err := c.mailbox(ctx, mb, deleted[mb.ID], count); err != nil {
			return n, fmt.Errorf("check %s: %w", mb.Address, err)
		}
	}
	return n, nil
}

func (c *Checker) mailbox(ctx context.Context, mb store.ReindexMailbox, deleted map[string]bool, report func(Difference)) error {
	rel := filepath.Clean(mb.Maildir)
	if filepath.IsAbs(rel) || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("bad maildir path %q", mb.Maildir)
	}
	box := maildir.Mailbox{Path: filepath.Join(c.Root, rel), Sep: '/', Owner: c.Owner}
	if _, err := os.Stat(box.Path); errors.Is(err, fs.ErrNotExist) {
		return c.usage(ctx, mb, report) // no mail yet: nothing on disk to compare
	}
	diff := func(folder, what, name string, fix func() error) error {
		d := Difference{Mailbox: mb.Address, Folder: folder, What: what, Name: name}
		if c.Repair && fix != nil {
			if err := fix(); err != nil {
				return err
			}
			d.Fixed = true
		}
		report(d)
		return nil
	}
	if err := c.folderDirs(ctx, mb, box, deleted, diff); err != nil {
		return err
	}
	folders, err := c.Index.IMAPFolders(ctx, mb.ID)
	if err != nil {
		return err
	}
	for _, f := range folders {
		if err := c.folder(ctx, mb, box, f, diff); err != nil {
			return err
		}
	}
	return c.usage(ctx, mb, report) // (the mailbox's own tmp/ is INBOX's)
}

type diffFunc func(folder, what, name string, fix func() error) error

// folderDirs matches folder directories with folder rows: a directory
// whose folder was deleted goes; another without a row gets one.
func (c *Checker) folderDirs(ctx context.Context, mb store.ReindexMailbox, box maildir.Mailbox, deleted map[string]bool, diff diffFunc) error {
	names, err := box.ListFolders()
	if err != nil {
		return err
	}
	rows, err := c.Index.IMAPFolders(ctx, mb.ID)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, f := range rows {
		have[f.Name] = true
	}
	for _, name := range names {
		if have[name] {
			continue
		}
		if deleted[name] {
			err = diff(name, "deleted folder still on disk", "", func() error {
				if err := box.DeleteFolder(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
				return c.Index.FinishFolderDelete(ctx, mb.ID, name)
			})
		} else {
			err = diff(name, "folder directory without index row", "", func() error {
				_, _, err := c.Index.EnsureIMAPFolder(ctx, mb.ID, name, maildir.SpecialUse(name))
				return err
			})
		}
		if err != nil {
			return err
		}
		delete(deleted, name)
	}
	for name := range deleted { // journal rows whose directory is gone already
		if err := c.Index.FinishFolderDelete(ctx, mb.ID, name); err != nil {
			return err
		}
	}
	return nil
}

// folder compares one folder's files with its rows and journal.
func (c *Checker) folder(ctx context.Context, mb store.ReindexMailbox, box maildir.Mailbox, f store.IMAPFolder, diff diffFunc) error {
	dir, err := box.Folder(f.Name)
	if errors.Is(err, fs.ErrNotExist) {
		return diff(f.Name, "folder without directory", "", func() error {
			if err := box.CreateFolder(f.Name); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			return nil // its rows have no files now: the next check drops them
		})
	}
	if err != nil {
		return err
	}
	if !c.Since.IsZero() && !changedSince(dir.Path, c.Since) {
		ff, err := c.Index.IMAPFolderFiles(ctx, f.ID)
		if err != nil || len(ff.Pending) == 0 {
			return err
		}
	}
	scan, err := dir.Scan()
	if err != nil {
		return err
	}
	ff, err := c.Index.IMAPFolderFiles(ctx, f.ID)
	if err != nil {
		return err
	}
	st := c.Files.sort(scan, ff)
	onDisk := st.onDisk
	for _, u := range st.unlink {
		c.note(f.Name, u.why, u.file.Name, diff)
	}
	for _, m := range st.adopt {
		c.note(f.Name, "file without index row", m.Name, diff)
	}
	for _, key := range st.finished {
		c.note(f.Name, "journal row of a finished file operation", key, diff)
	}
	// Reconciler.Adopt repairs all of these.
	adopt := len(st.unlink)+len(st.adopt)+len(st.finished) > 0
	if adopt && c.Repair {
		if _, err := c.Files.Adopt(ctx, mb.ID, f.ID, dir); err != nil {
			return err
		}
	}
	var missing []string
	for key := range ff.Indexed {
		if onDisk[key] {
			continue
		}
		if _, err := dir.Find(key); errors.Is(err, fs.ErrNotExist) { // not just renamed meanwhile
			missing = append(missing, key)
		}
	}
	for i, key := range missing {
		fix := func() error { return nil }
		if i == len(missing)-1 {
			fix = func() error { _, err := c.Index.DropMissing(ctx, mb.ID, f.ID, missing); return err }
		}
		if err := diff(f.Name, "index row without file", key, fix); err != nil {
			return err
		}
	}
	return c.tmp(dir.Path, f.Name, diff)
}

// note reports a difference that Reconciler.Adopt repairs (its fix is
// that call, made once for the folder, so the one passed here does
// nothing and cannot fail).
func (c *Checker) note(folder, what, name string, diff diffFunc) {
	_ = diff(folder, what, name, func() error { return nil })
}

// tmp reports (and removes) entries of a folder's tmp/ older than
// TmpMaxAge.
func (c *Checker) tmp(folderPath, folder string, diff diffFunc) error {
	dir := filepath.Join(folderPath, "tmp")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || time.Since(fi.ModTime()) < TmpMaxAge {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if err := diff(folder, "stale file in tmp/", e.Name(), func() error { return os.RemoveAll(path) }); err != nil {
			return err
		}
	}
	return nil
}

// usage compares the mailbox's usage counters with its index.
func (c *Checker) usage(ctx context.Context, mb store.ReindexMailbox, report func(Difference)) error {
	used, indexed, err := c.Index.MailboxUsage(ctx, mb.ID)
	if err != nil || used == indexed {
		return err
	}
	d := Difference{Mailbox: mb.Address, What: fmt.Sprintf("usage counters say %d messages, %d bytes; the index holds %d, %d",
		used.Messages, used.Bytes, indexed.Messages, indexed.Bytes)}
	if c.Repair {
		if _, _, err := c.Index.FixMailboxUsage(ctx, mb.ID); err != nil {
			return err
		}
		d.Fixed = true
	}
	report(d)
	return nil
}

// changedSince reports whether new/, cur/ or tmp/ of a folder changed
// since t.
func changedSince(path string, t time.Time) bool {
	for _, sub := range []string{"new", "cur", "tmp"} {
		fi, err := os.Stat(filepath.Join(path, sub))
		if err != nil || !fi.ModTime().Before(t) {
			return true
		}
	}
	return false
}
