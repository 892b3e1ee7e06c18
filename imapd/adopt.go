package imapd

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// adoptInterval is how often a poll looks for files to adopt in a folder,
// on a node: the sessions that have the folder selected share the look.
const adoptInterval = time.Second

// adoptChecks is a node's record of its last look at each folder's
// Maildir for files to adopt (files another program put there, or a
// crash left): the mtimes of new/ and cur/ then, and when. Shared by the
// node's sessions, so that a folder twenty sessions have selected is
// looked at once a second, not twenty times, and a SELECT scans only a
// folder whose directories changed since the last look.
type adoptChecks struct {
	mu sync.Mutex
	m  map[int64]*adoptCheck
}

type adoptCheck struct {
	busy         bool // a session is looking
	at           time.Time
	newMT, curMT time.Time
	// writing counts the files this node's sessions are adding to the
	// folder before their rows, or removing after them (see writing).
	writing int
}

// adoptChecksMax bounds the record; past it, looks older than a minute
// are forgotten (a forgotten folder is looked at again, nothing more).
const adoptChecksMax = 4096

// begin claims the look at a folder and returns the last one's record.
// ok is false when another session is looking, or, for a poll (not
// selecting), when the last look is less than adoptInterval old. A
// SELECT always looks: it compares the directories with the last record.
func (a *adoptChecks) begin(folderID int64, selecting bool, now time.Time) (last adoptCheck, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.entryLocked(folderID)
	if !selecting && (c.busy || now.Sub(c.at) < adoptInterval) {
		return adoptCheck{}, false
	}
	last = *c
	c.busy = true
	return last, true
}

// end records a look: when it was (looked false: the look failed, record
// nothing) and the mtimes of the directories it found in agreement with
// the index (zero: not known to agree; the next look counts again).
func (a *adoptChecks) end(folderID int64, looked bool, newMT, curMT, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.m[folderID]
	if c == nil {
		return
	}
	c.busy = false
	if looked {
		c.at, c.newMT, c.curMT = now, newMT, curMT
	}
	if len(a.m) > adoptChecksMax {
		for id, o := range a.m {
			if !o.busy && o.writing == 0 && now.Sub(o.at) > time.Minute {
				delete(a.m, id)
			}
		}
	}
}

// writing records that a session adds up to files files to a folder's
// directories before their index rows (APPEND, COPY, MOVE), or removes
// them after their rows (EXPUNGE, MOVE's source), until done is called:
// a look that finds no more surplus files than those adopts nothing (the
// surplus is a moment of this node's own writes, and adopting would scan
// the folder to find nothing). The count only spares scans: a file
// adopted meanwhile by a look that ran anyway is handled by the journal
// as before.
func (a *adoptChecks) writing(folderID int64, files int) (done func()) {
	a.add(folderID, files)
	return func() { a.add(folderID, -files) }
}

func (a *adoptChecks) add(folderID int64, files int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entryLocked(folderID).writing += files
}

// entryLocked returns the folder's record, made if there is none.
func (a *adoptChecks) entryLocked(folderID int64) *adoptCheck {
	if a.m == nil {
		a.m = map[int64]*adoptCheck{}
	}
	c := a.m[folderID]
	if c == nil {
		c = &adoptCheck{}
		a.m[folderID] = c
	}
	return c
}

// inFlight returns the files being written to a folder (see writing).
func (a *adoptChecks) inFlight(folderID int64) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c := a.m[folderID]; c != nil {
		return c.writing
	}
	return 0
}

// adopt indexes files that appeared in new/ or cur/ without passing
// through the index (another program, a crashed delivery). The check is
// cheap: the directories' mtimes against those of the node's last look at
// the folder; when they changed, the files are counted before paying for
// a full scan (renames for flag changes touch cur/ too; no more files than
// rows, nothing to adopt; no more than rows and the files this node's
// sessions are writing, nothing to adopt now). A poll looks at most once
// per adoptInterval per folder and node (see adoptChecks); selecting
// always looks.
func (s *session) adopt(sel *selected, selecting bool) error {
	checks := &s.srv.adoptChecks
	now := time.Now()
	last, ok := checks.begin(sel.folder.ID, selecting, now)
	if !ok {
		return nil
	}
	looked := false
	var newMT, curMT time.Time // recorded when the directories agree with the index
	defer func() { checks.end(sel.folder.ID, looked, newMT, curMT, now) }()
	newFI, err1 := os.Stat(filepath.Join(sel.dir.Path, "new"))
	curFI, err2 := os.Stat(filepath.Join(sel.dir.Path, "cur"))
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	if newFI.ModTime().Equal(last.newMT) && curFI.ModTime().Equal(last.curMT) {
		looked, newMT, curMT = true, last.newMT, last.curMT
		return nil
	}
	n, err := countFiles(sel.dir.Path)
	if err != nil {
		return err
	}
	rows, err := s.srv.opts.Backend.IMAPMessageCount(s.ctx, sel.folder.ID)
	if err != nil {
		return err
	}
	if n > rows {
		if w := checks.inFlight(sel.folder.ID); w > 0 && n <= rows+w {
			looked = true // agreement not known: the next look counts again
			return nil
		}
		if _, err := s.srv.opts.Files.Adopt(s.ctx, s.acct.MailboxID, sel.folder.ID, sel.dir); err != nil {
			return err
		}
	}
	looked, newMT, curMT = true, newFI.ModTime(), curFI.ModTime()
	return nil
}

// countFiles counts the entries of new/ and cur/ that are not dot-files,
// without stat-ing them.
func countFiles(dir string) (int, error) {
	n := 0
	for _, sub := range []string{"new", "cur"} {
		d, err := os.Open(filepath.Join(dir, sub))
		if err != nil {
			return 0, err
		}
		for {
			names, err := d.Readdirnames(1024)
			for _, name := range names {
				if !strings.HasPrefix(name, ".") {
					n++
				}
			}
			if err != nil {
				break
			}
		}
		d.Close()
	}
	return n, nil
}
