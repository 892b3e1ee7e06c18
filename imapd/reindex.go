package imapd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"mailhost/maildir"
	"mailhost/reconcile"
	"mailhost/store"
)

// ReindexBackend is what Reindex needs of the index. store.Store satisfies it.
type ReindexBackend interface {
	IMAPFolders(ctx context.Context, mailboxID int64) ([]store.IMAPFolder, error)
	EnsureIMAPFolder(ctx context.Context, mailboxID int64, name, specialUse string) (store.IMAPFolder, bool, error)
	ReindexFolder(ctx context.Context, folderID int64, files []store.NewIMAPMessage) (store.ReindexStats, error)
	DeleteIMAPFolder(ctx context.Context, mailboxID int64, name string) (int64, error)
	FixMailboxUsage(ctx context.Context, mailboxID int64) (bytes, messages int64, err error)
	IMAPFolderFiles(ctx context.Context, folderID int64) (store.FolderFiles, error)
}

var _ ReindexBackend = (*store.Store)(nil)

// ReindexResult is what Reindex did to one mailbox.
type ReindexResult struct {
	Folders              int
	FoldersAdded         []string // directories that had no row
	FoldersRemoved       []string // rows that had no directory
	Kept, Added, Removed int      // messages
	Skipped              []maildir.Skipped
	UsedBytes, UsedMsgs  int64
}

// Reindex rebuilds a mailbox's index from its Maildir: a folder row per
// folder directory, a message row per file (UIDs kept where the index
// knows the key, flags from the file names, keywords kept), rows without
// files removed, and the usage counters recomputed. The journal of pending
// file operations is honoured first (files.Adopt): a removed message is
// unlinked, never indexed again, and a link still in flight is left out.
func Reindex(ctx context.Context, b ReindexBackend, files Files, root string, mb store.ReindexMailbox) (ReindexResult, error) {
	var res ReindexResult
	rel := filepath.Clean(mb.Maildir)
	if filepath.IsAbs(rel) || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return res, fmt.Errorf("reindex %s: bad maildir path %q", mb.Address, mb.Maildir)
	}
	box := maildir.Mailbox{Path: filepath.Join(root, rel), Sep: delim}
	names, err := box.ListFolders()
	if errors.Is(err, fs.ErrNotExist) {
		names = nil // no Maildir at all: every row goes
	} else if err != nil {
		return res, err
	}
	onDisk := map[string]bool{}
	for _, name := range names {
		if _, err := os.Stat(filepath.Join(box.Path, mustDir(name), "cur")); err != nil {
			continue // not a Maildir folder (no cur/)
		}
		onDisk[name] = true
		_, created, err := b.EnsureIMAPFolder(ctx, mb.ID, name, maildir.SpecialUse(name))
		if err != nil {
			return res, err
		}
		if created {
			res.FoldersAdded = append(res.FoldersAdded, name)
		}
	}
	folders, err := b.IMAPFolders(ctx, mb.ID)
	if err != nil {
		return res, err
	}
	for _, f := range folders {
		if !onDisk[f.Name] {
			if f.Name == "INBOX" {
				continue
			}
			if _, err := b.DeleteIMAPFolder(ctx, mb.ID, f.Name); err != nil && !errors.Is(err, store.ErrNotFound) {
				return res, err
			}
			res.FoldersRemoved = append(res.FoldersRemoved, f.Name)
			continue
		}
		res.Folders++
		dir, err := box.Folder(f.Name)
		if err != nil {
			return res, err
		}
		adopted, err := files.Adopt(ctx, mb.ID, f.ID, dir)
		if err != nil {
			return res, err
		}
		scan, err := dir.Scan()
		if err != nil {
			return res, err
		}
		ff, err := b.IMAPFolderFiles(ctx, f.ID)
		if err != nil {
			return res, err
		}
		res.Skipped = append(res.Skipped, scan.Skipped...)
		found := make([]store.NewIMAPMessage, 0, len(scan.Messages))
		for _, m := range scan.Messages {
			if _, pending := ff.Pending[m.Key]; pending {
				continue
			}
			found = append(found, store.NewIMAPMessage{Key: m.Key, Subdir: m.Sub, Filename: m.Name,
				Flags: reconcile.FlagsOf(m.Flags), Keywords: []string{}, Size: m.FileSize, InternalDate: m.ModTime})
		}
		st, err := b.ReindexFolder(ctx, f.ID, found)
		if err != nil {
			return res, err
		}
		st.Kept, st.Added = st.Kept-adopted, st.Added+adopted // Adopt's rows are added ones too
		res.Kept, res.Added, res.Removed = res.Kept+st.Kept, res.Added+st.Added, res.Removed+st.Removed
	}
	res.UsedBytes, res.UsedMsgs, err = b.FixMailboxUsage(ctx, mb.ID)
	return res, err
}

func mustDir(name string) string {
	d, _ := maildir.DirName(name, delim)
	return d
}
