package pop3d

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"mailhost/maildir"
)

// maildrop reads the session's INBOX from the index, first indexing the
// files that appeared in new/ or cur/ without passing through it (another
// program, a delivery that crashed before its commit), as an IMAP SELECT
// does. The directories are only read when their mtimes changed since this
// node last found nothing to adopt there.
func (ss *session) maildrop(log *slog.Logger) (Inbox, error) {
	st := ss.srv.store
	inbox, err := st.POP3Inbox(ss.ctx, ss.acct.MailboxID)
	if err != nil || inbox.FolderID == 0 {
		return inbox, err // no INBOX row yet: delivery creates it
	}
	newFI, err1 := os.Stat(filepath.Join(ss.folder.Path, "new"))
	curFI, err2 := os.Stat(filepath.Join(ss.folder.Path, "cur"))
	if err := errors.Join(err1, err2); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return inbox, nil // no Maildir yet: nothing to adopt
		}
		return Inbox{}, err
	}
	mt := dirTimes{newFI.ModTime(), curFI.ModTime()}
	if ss.srv.scanned.same(ss.folder.Path, mt) {
		return inbox, nil
	}
	res, err := ss.folder.Scan()
	if err != nil {
		return Inbox{}, err
	}
	known := make(map[string]bool, len(inbox.Messages))
	for _, m := range inbox.Messages {
		known[m.Key] = true
	}
	var add []NewFile
	for _, m := range res.Messages {
		if known[m.Key] {
			continue
		}
		f := NewFile{Key: m.Key, Subdir: m.Sub, Filename: m.Name, Flags: []string{}, Size: m.FileSize, InternalDate: m.ModTime}
		for i := 0; i < len(m.Flags); i++ {
			if fl := maildir.IMAPFlag(m.Flags[i]); fl != "" {
				f.Flags = append(f.Flags, fl)
			}
		}
		slices.SortFunc(f.Flags, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
		add = append(add, f)
	}
	if len(add) == 0 {
		ss.srv.scanned.put(ss.folder.Path, mt)
		return inbox, nil
	}
	n, err := st.POP3Adopt(ss.ctx, ss.acct.MailboxID, inbox.FolderID, add)
	if err != nil {
		return Inbox{}, err
	}
	log.Info("pop3 adopted files into the index", "count", n)
	ss.srv.scanned.put(ss.folder.Path, mt)
	return st.POP3Inbox(ss.ctx, ss.acct.MailboxID)
}

// dirTimes are the mtimes of a folder's new/ and cur/.
type dirTimes struct{ new, cur time.Time }

// scanCache remembers, per folder, the directory mtimes at which a scan
// found every file indexed. Bounded; losing an entry costs one scan.
type scanCache struct {
	mu  sync.Mutex
	max int
	m   map[string]dirTimes
}

func newScanCache(max int) *scanCache { return &scanCache{max: max, m: map[string]dirTimes{}} }

func (c *scanCache) same(path string, t dirTimes) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.m[path]
	return ok && old.new.Equal(t.new) && old.cur.Equal(t.cur)
}

func (c *scanCache) put(path string, t dirTimes) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[path] = t
}
