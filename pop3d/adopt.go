package pop3d

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"mailhost/store"
)

// maildrop reads the session's INBOX from the index, first indexing the
// files that appeared in new/ or cur/ without passing through it (another
// program, a delivery that crashed before its commit), as an IMAP SELECT
// does. The directories are only read when their mtimes changed since this
// node last found nothing to adopt there.
func (ss *session) maildrop(log *slog.Logger) (store.POP3Maildrop, error) {
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
		return store.POP3Maildrop{}, err
	}
	mt := dirTimes{newFI.ModTime(), curFI.ModTime()}
	if ss.srv.scanned.same(ss.folder.Path, mt) {
		return inbox, nil
	}
	n, err := ss.srv.files.Adopt(ss.ctx, ss.acct.MailboxID, inbox.FolderID, ss.folder)
	if err != nil {
		return store.POP3Maildrop{}, err
	}
	ss.srv.scanned.put(ss.folder.Path, mt)
	if n == 0 {
		return inbox, nil
	}
	log.Info("pop3 adopted files into the index", "count", n)
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
