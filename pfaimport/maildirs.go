package pfaimport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sync/errgroup"

	"mailhost/maildir"
	"mailhost/store"
)

const (
	// importBatch is how many messages one index transaction takes.
	importBatch = 5000
	// copyWorkers is how many files --copy writes and fsyncs at once.
	copyWorkers = 16
)

// findMaildir finds a mailbox's Maildir under root: mailbox.maildir as
// Postfix Admin stores it ("example.org/alice/"), else the usual
// <domain>/<local part>; in either, the Maildir itself or its Maildir/
// subdirectory (Dovecot's mail_location = maildir:~/Maildir). home is the
// Dovecot home, where Sieve scripts live.
func findMaildir(root, pfaPath, domain, local string) (dir, home string, err error) {
	var tried []string
	for _, rel := range []string{pfaPath, filepath.Join(domain, local)} {
		clean := filepath.Clean("/" + rel)[1:] // inside root whatever the row says
		if rel == "" || clean == "" {
			continue
		}
		h := filepath.Join(root, clean)
		if slices.Contains(tried, h) {
			continue
		}
		for _, d := range []string{h, filepath.Join(h, "Maildir")} {
			if fi, err := os.Stat(filepath.Join(d, "cur")); err == nil && fi.IsDir() {
				return d, h, nil
			}
			tried = append(tried, d)
		}
	}
	return "", "", fmt.Errorf("no Maildir (tried %s; Dovecot makes it at the first delivery): imported without mail", strings.Join(tried, ", "))
}

// importMaildir takes the folders of one Dovecot Maildir (src) into the
// index of mailbox id, the files staying in place (dst == src) or copied
// to dst.
func (im *importer) importMaildir(ctx context.Context, id int64, addr, src, dst string) error {
	folders, other, err := folderDirs(src)
	if err != nil {
		return err
	}
	for _, o := range other {
		im.rep.skip(o.What, "%s", o.Why)
	}
	names := make([]string, 0, len(folders))
	for n := range folders {
		names = append(names, n)
	}
	slices.Sort(names) // INBOX before its children, parents before theirs
	created := false
	for _, name := range names {
		c, err := im.importFolder(ctx, id, addr, name, folders[name], dst)
		if err != nil {
			return fmt.Errorf("folder %s: %w", name, err)
		}
		created = created || c
	}
	subs, err := readSubscriptions(src, '.')
	if err != nil {
		im.rep.skip(addr+" subscriptions", "%v", err)
	}
	if !created {
		subs = nil // taken by the run that made the folders; the user's own since are left alone
	}
	if !im.DryRun {
		for _, s := range subs {
			if err := im.Store.SetIMAPSubscribed(ctx, id, s, true); err != nil {
				return err
			}
		}
		if err := chownTree(dst, im.Owner); err != nil {
			return err
		}
	}
	return nil
}

// importFolder takes one folder: its UIDVALIDITY and UIDs from
// dovecot-uidlist, flags from the file names, keywords through
// dovecot-keywords, POP3 UIDLs for INBOX.
// It tells whether it created the folder's row.
func (im *importer) importFolder(ctx context.Context, id int64, addr, name, dir, dstRoot string) (bool, error) {
	ul, err := readUIDList(dir)
	if err != nil {
		im.rep.skip(dir, "%v: new UIDs (clients will download the folder again)", err)
		ul = nil
	}
	if ul == nil {
		ul = &uidList{}
	}
	kw, err := readKeywords(dir)
	if err != nil {
		return false, err
	}
	scan, err := maildir.Folder{Path: dir}.Scan()
	if err != nil {
		return false, err
	}
	for _, s := range scan.Skipped {
		im.rep.skip(s.Path, "%v", s.Err)
	}
	msgs := make([]store.ImportedMessage, 0, len(scan.Messages))
	for _, m := range scan.Messages {
		e := ul.Entries[m.Key]
		flags, kws := messageFlags(m.Flags, kw)
		msgs = append(msgs, store.ImportedMessage{Key: m.Key, Subdir: m.Sub, Filename: m.Name, Flags: flags,
			Keywords: kws, Size: m.FileSize, InternalDate: m.ModTime, UID: e.UID})
	}
	if name == "INBOX" {
		im.setUIDLs(msgs, ul)
	}
	if im.DryRun {
		im.dryRunFolder(ctx, id, name, msgs)
		return false, nil
	}
	f, created, err := im.Store.ImportFolder(ctx, id, name, maildir.SpecialUse(name), ul.UIDValidity)
	if err != nil {
		return false, err
	}
	count(&im.rep.Folders, created)
	if !created && ul.UIDValidity != 0 && f.UIDValidity != ul.UIDValidity {
		im.rep.differ("%s %s: UIDVALIDITY here %d, Dovecot %d: its new messages take new UIDs", addr, name, f.UIDValidity, ul.UIDValidity)
		for i := range msgs {
			msgs[i].UID = 0
		}
	}
	have, err := im.Store.FolderKeys(ctx, f.ID)
	if err != nil {
		return false, err
	}
	todo := msgs[:0]
	for _, m := range msgs {
		uid, ok := have[m.Key]
		if !ok {
			todo = append(todo, m)
			continue
		}
		im.rep.MessagesExisting++
		if m.UID != 0 && uid != m.UID {
			im.rep.differ("%s %s: message %s has UID %d here, %d in Dovecot", addr, name, m.Key, uid, m.UID)
		}
	}
	if im.Copy {
		rel, _ := maildir.DirName(name, '/')
		if err := copyFolder(dir, filepath.Join(dstRoot, rel), name != "INBOX", todo); err != nil {
			return false, err
		}
	}
	// At least once: an empty folder takes Dovecot's next UID too, so no
	// UID a client saw is given again.
	for first := true; first || len(todo) > 0; first = false {
		n := min(len(todo), importBatch)
		res, err := im.Store.ImportMessages(ctx, id, f.ID, todo[:n], ul.NextUID)
		if err != nil {
			return false, err
		}
		im.rep.Messages += int64(res.Added)
		im.rep.Bytes += res.Bytes
		for _, k := range res.Refused {
			im.rep.differ("%s %s: message %s not indexed: its UID is another message's here", addr, name, k)
		}
		todo = todo[n:]
	}
	return created, nil
}

// setUIDLs gives INBOX's messages the POP3 UIDLs Dovecot showed: the one
// it saved in dovecot-uidlist (P field), else pop3_uidl_format applied to
// the Dovecot UID. A message Dovecot had not numbered keeps mailhost's own.
func (im *importer) setUIDLs(msgs []store.ImportedMessage, ul *uidList) {
	for i := range msgs {
		m := &msgs[i]
		u := ul.Entries[m.Key].UIDL
		if u == "" && m.UID != 0 {
			u = im.uidl.format(m.UID, ul.UIDValidity, m.Key)
		}
		if validUIDL(u) {
			m.POP3UIDL = u
		}
	}
}

// dryRunFolder counts what a run would add to a folder.
func (im *importer) dryRunFolder(ctx context.Context, id int64, name string, msgs []store.ImportedMessage) {
	var have map[string]uint32
	if id != 0 {
		if f, err := im.Store.IMAPFolder(ctx, id, name); err == nil {
			have, _ = im.Store.FolderKeys(ctx, f.ID)
		}
	}
	count(&im.rep.Folders, have == nil)
	for _, m := range msgs {
		if _, ok := have[m.Key]; ok {
			im.rep.MessagesExisting++
			continue
		}
		im.rep.Messages++
		im.rep.Bytes += m.Size
	}
}

func count(c *Count, created bool) {
	if created {
		c.Created++
	} else {
		c.Existing++
	}
}

// copyFolder copies message files into dst (cur/, new/, tmp/ made as
// needed), each durably: written under tmp/, fsynced, renamed into place,
// the directories fsynced at the end. A file already there with the same
// size (an interrupted run) is kept.
func copyFolder(src, dst string, sub bool, msgs []store.ImportedMessage) error {
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dst, sub), maildir.DirMode); err != nil {
			return fmt.Errorf("pfaimport: %w", err)
		}
	}
	if sub { // Maildir++'s marker of a folder
		if err := os.WriteFile(filepath.Join(dst, "maildirfolder"), nil, maildir.FileMode); err != nil {
			return fmt.Errorf("pfaimport: %w", err)
		}
	}
	// fsync waits on the disk, not the CPU: several copies at once.
	var g errgroup.Group
	g.SetLimit(copyWorkers)
	for _, m := range msgs {
		g.Go(func() error {
			to := filepath.Join(dst, m.Subdir, m.Filename)
			if fi, err := os.Stat(to); err == nil && fi.Size() == m.Size {
				return nil
			}
			return copyFile(filepath.Join(src, m.Subdir, m.Filename), filepath.Join(dst, "tmp", m.Filename), to)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, sub := range []string{"cur", "new"} {
		if err := syncDir(filepath.Join(dst, sub)); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, tmp, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("pfaimport: %w", err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return fmt.Errorf("pfaimport: %w", err)
	}
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, maildir.FileMode)
	if err != nil {
		return fmt.Errorf("pfaimport: %w", err)
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chtimes(tmp, fi.ModTime(), fi.ModTime()) // the internal date
	}
	if err == nil {
		err = os.Rename(tmp, to)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("pfaimport: copy %s: %w", from, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("pfaimport: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("pfaimport: fsync %s: %w", dir, err)
	}
	return nil
}

// mkdirOwned makes the directories of rel under root that are missing,
// owned by o (when running as root), so a server running as vmail can
// reach the Maildir at its end.
func mkdirOwned(root, rel string, o maildir.Owner) error {
	if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
		return fmt.Errorf("pfaimport: %w", err)
	}
	dir := ""
	for _, part := range append([]string{root}, strings.Split(filepath.Clean(rel), string(filepath.Separator))...) {
		dir = filepath.Join(dir, part)
		err := os.Mkdir(dir, maildir.DirMode)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("pfaimport: %w", err)
		}
		if os.Geteuid() == 0 {
			if err := os.Lchown(dir, o.UID, o.GID); err != nil {
				return fmt.Errorf("pfaimport: %w", err)
			}
		}
	}
	return nil
}

// chownTree gives a Maildir tree to vmail, when running as root and not
// already so (Dovecot's vmail may have another uid).
func chownTree(root string, o maildir.Owner) error {
	if os.Geteuid() != 0 {
		return nil
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if fi, err := d.Info(); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == o.UID && int(st.Gid) == o.GID {
				return nil
			}
		}
		if err := os.Lchown(p, o.UID, o.GID); err != nil {
			return fmt.Errorf("pfaimport: chown %s: %w", p, err)
		}
		return nil
	})
}
