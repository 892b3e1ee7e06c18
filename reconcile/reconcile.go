// Package reconcile keeps a Maildir and its index in agreement: it adopts
// message files that appeared without passing through the index, finishes
// the file operations a crash interrupted (the store's journal of pending
// removals and links), and checks or repairs a whole mailbox (mailhost
// check). The invariants it keeps are those of ARCHITECTURE.md:
//
//   - every index row has its file;
//   - every file in new/ or cur/ has a row, except while the operation that
//     made it is in flight;
//   - a message removed from the index (EXPUNGE, MOVE's source, POP3 QUIT)
//     never comes back: its file is unlinked, never adopted.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"mailhost/maildir"
	"mailhost/store"
)

// Index is what reconciliation needs of the index. *store.Store satisfies
// it.
type Index interface {
	IMAPFolderFiles(ctx context.Context, folderID int64) (store.FolderFiles, error)
	IMAPAdopt(ctx context.Context, mailboxID, folderID int64, msgs []store.NewIMAPMessage) (int, error)
	FinishPending(ctx context.Context, folderID int64, keys []string) error
}

var _ Index = (*store.Store)(nil)

// DefaultGrace is how long a file made by another process may stay without
// its index row before it is taken as left behind: longer than any
// operation between publishing a file and committing its row (a delivery's
// or an APPEND's commit, a MOVE's), which the per-command deadlines bound.
const DefaultGrace = 2 * time.Minute

// Reconciler adopts and removes files for the servers of one node. Safe
// for concurrent use.
type Reconciler struct {
	Index Index
	// Grace: a file changed (ctime) less than Grace ago by another process
	// may belong to an operation in flight, and is left alone; 0 takes
	// every file at once (tests that drop files by hand).
	Grace time.Duration
	// Host is this node's host as its Maildir file names carry it
	// (maildir.Generator.Host). A file of this host whose process is gone
	// is not in flight, whatever its age.
	Host string
	Log  *slog.Logger
}

// Adopt indexes the files of a folder that the index does not know and
// that are not in flight, and finishes the folder's pending operations
// left by a crash (removals: the file is unlinked; links that never got
// their row: the file is unlinked). It returns how many files it adopted.
func (r *Reconciler) Adopt(ctx context.Context, mailboxID, folderID int64, dir maildir.Folder) (int, error) {
	scan, err := dir.Scan()
	if err != nil {
		return 0, err
	}
	ff, err := r.Index.IMAPFolderFiles(ctx, folderID) // after the scan: see sort
	if err != nil {
		return 0, err
	}
	st := r.sort(scan, ff)
	finish := st.finished
	for _, u := range st.unlink {
		if err := removeFile(u.file.Path); err != nil {
			r.log().Warn("reconcile: remove file of a pending operation", "path", u.file.Path, "err", err)
			continue
		}
		finish = append(finish, u.file.Key)
	}
	add := make([]store.NewIMAPMessage, 0, len(st.adopt))
	for _, m := range st.adopt {
		add = append(add, store.NewIMAPMessage{Key: m.Key, Subdir: m.Sub, Filename: m.Name,
			Flags: FlagsOf(m.Flags), Keywords: []string{}, Size: m.FileSize, InternalDate: m.ModTime})
	}
	if len(finish) > 0 {
		if err := r.Index.FinishPending(ctx, folderID, finish); err != nil {
			return 0, err
		}
		r.log().Info("reconcile: finished pending file operations", "folder", dir.Path, "count", len(finish))
	}
	if len(add) == 0 {
		return 0, nil
	}
	n, err := r.Index.IMAPAdopt(ctx, mailboxID, folderID, add)
	if err != nil {
		return 0, fmt.Errorf("reconcile: adopt: %w", err)
	}
	if n > 0 {
		r.log().Info("reconcile: adopted files into the index", "folder", dir.Path, "count", n)
	}
	return n, nil
}

// sorted is what a folder's files are against its index.
type sorted struct {
	onDisk   map[string]bool   // every key scanned
	adopt    []maildir.Message // without a row, journal entry or operation in flight
	unlink   []unlinkFile      // journaled as removed, or links of a dead MOVE or COPY
	finished []string          // journal rows whose file is gone already
}

// unlinkFile is a file to unlink, and why (for check's report).
type unlinkFile struct {
	file maildir.Message
	why  string
}

// sort sorts scanned files against the index read after the scan: a
// removal committed before the scan shows as its journal row; one
// finished (file unlinked, row dropped) after the scan is caught by the
// stat of each candidate for adoption.
func (r *Reconciler) sort(scan maildir.ScanResult, ff store.FolderFiles) sorted {
	st := sorted{onDisk: make(map[string]bool, len(scan.Messages))}
	for _, m := range scan.Messages {
		st.onDisk[m.Key] = true
		if _, ok := ff.Indexed[m.Key]; ok {
			continue
		}
		if p, ok := ff.Pending[m.Key]; ok {
			switch {
			case p.Op == store.PendingRemove:
				st.unlink = append(st.unlink, unlinkFile{m, "removed message still on disk"})
			case r.dead(p.Key, p.Created):
				st.unlink = append(st.unlink, unlinkFile{m, "link of an unfinished MOVE or COPY"})
			}
			continue
		}
		fi, err := os.Stat(m.Path)
		if err != nil || !r.dead(m.Key, ctime(fi)) {
			continue // gone meanwhile (expunged, moved), or in flight: its own operation decides
		}
		st.adopt = append(st.adopt, m)
	}
	for key, p := range ff.Pending {
		if !st.onDisk[key] && (p.Op == store.PendingRemove || r.dead(key, p.Created)) {
			st.finished = append(st.finished, key) // the crash came after the unlink
		}
	}
	return st
}

// Remove unlinks the files of messages whose rows a removal committed
// (store.IMAPExpunge, IMAPMove, POP3Expunge), then drops their journal
// rows. A file that cannot be unlinked keeps its journal row, so it is
// never adopted; the next reconciliation tries again.
func (r *Reconciler) Remove(ctx context.Context, folderID int64, dir maildir.Folder, names []string) error {
	keys := make([]string, 0, len(names))
	var errs []error
	for _, name := range names {
		err := dir.Remove(name)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		if info, err := maildir.ParseName(name); err == nil {
			keys = append(keys, info.Key)
		}
	}
	if err := r.Index.FinishPending(ctx, folderID, keys); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// CancelAdds unlinks files linked for an operation that failed before its
// commit (MOVE, COPY) and drops their journal rows.
func (r *Reconciler) CancelAdds(ctx context.Context, folderID int64, dir maildir.Folder, keys []string) error {
	var errs []error
	done := keys[:0:0]
	for _, k := range keys {
		m, err := dir.Find(k)
		if err == nil {
			err = removeFile(m.Path)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		done = append(done, k)
	}
	if err := r.Index.FinishPending(ctx, folderID, done); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// dead reports whether the operation that made key (a Maildir key, whose
// name carries its maker's host and pid) at changed can no longer be in
// flight: older than the grace period, or made by a process of this host
// that has exited.
func (r *Reconciler) dead(key string, changed time.Time) bool {
	if time.Since(changed) >= r.Grace {
		return true
	}
	host, pid, ok := maildir.Maker(key)
	if !ok || r.Host == "" || host != r.Host || pid == os.Getpid() {
		return false
	}
	return syscall.Kill(pid, 0) == syscall.ESRCH
}

func (r *Reconciler) log() *slog.Logger {
	if r.Log == nil {
		return slog.Default()
	}
	return r.Log
}

func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// ctime is the inode change time: set by the link or rename that made the
// file visible in its directory, which mtime (the IMAP internal date) is
// not.
func ctime(fi fs.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Ctim.Sec, st.Ctim.Nsec)
	}
	return fi.ModTime()
}

// FlagsOf maps Maildir info letters to IMAP system flags, sorted as the
// index stores them.
func FlagsOf(f maildir.Flags) []string {
	out := []string{}
	for i := 0; i < len(f); i++ {
		if fl := maildir.IMAPFlag(f[i]); fl != "" {
			out = append(out, fl)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	return out
}
