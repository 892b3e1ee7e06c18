package imapd

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"mailhost/imapwire"
	"mailhost/maildir"
	"mailhost/store"
)

// selected is the state of the selected folder: the UIDs the client knows,
// in sequence number order, and the modseq up to which it has seen changes.
type selected struct {
	folder   store.IMAPFolder
	dir      maildir.Folder
	readOnly bool
	uids     []uint32 // ascending; sequence number i+1 is uids[i]
	modseq   int64    // the client has seen every change up to here
	recent   []uint32 // UIDs \Recent in this session, ascending
	dirty    bool     // an expunge could not be reported yet
	sub      *store.FolderSub

	searchRes     []uint32            // SEARCHRES: the last SEARCH RETURN (SAVE)
	summaries     summaries           // SORT and THREAD's header summaries (sort.go)
	keywords      map[string]struct{} // those the client was told of (FLAGS)
	newMT, curMT  time.Time
	lastScanCheck time.Time
}

func (sel *selected) close() {
	if sel.sub != nil {
		sel.sub.Close()
		sel.sub = nil
	}
}

// seqOf returns the sequence number of uid, 0 if the client does not know it.
func (sel *selected) seqOf(uid uint32) uint32 {
	i, ok := slices.BinarySearch(sel.uids, uid)
	if !ok {
		return 0
	}
	return uint32(i + 1)
}

func (sel *selected) isRecent(uid uint32) bool {
	_, ok := slices.BinarySearch(sel.recent, uid)
	return ok
}

// resolve turns a sequence set (uid false) or UID set (with '*' and
// '$') into the UIDs it names among those the client knows, ascending.
func (sel *selected) resolve(set imapwire.NumSet, uid bool) []uint32 {
	if set.SearchRes {
		return slices.Clone(sel.searchRes)
	}
	var out []uint32
	if !uid {
		n := uint32(len(sel.uids))
		for _, r := range set.Ranges {
			lo, hi := r.Start, r.Stop
			if lo == 0 {
				lo = n
			}
			if hi == 0 {
				hi = n
			}
			if lo > hi {
				lo, hi = hi, lo
			}
			for seq := max(lo, 1); seq <= min(hi, n); seq++ {
				out = append(out, sel.uids[seq-1])
			}
		}
	} else {
		var last uint32
		if len(sel.uids) > 0 {
			last = sel.uids[len(sel.uids)-1]
		}
		for _, r := range set.Ranges {
			lo, hi := r.Start, r.Stop
			if lo == 0 {
				lo = last
			}
			if hi == 0 {
				hi = last
			}
			if lo > hi {
				lo, hi = hi, lo
			}
			i, _ := slices.BinarySearch(sel.uids, lo)
			for ; i < len(sel.uids) && sel.uids[i] <= hi; i++ {
				out = append(out, sel.uids[i])
			}
		}
	}
	if !slices.IsSorted(out) {
		slices.Sort(out)
	}
	return slices.Compact(out)
}

var systemFlags = []string{`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`}

func cmdSelect(s *session, cmd *imapwire.Command) error {
	a := cmd.Args.(*imapwire.SelectArgs)
	if s.sel != nil {
		s.sel.close()
		s.sel = nil
		s.state = stateAuth
		s.enc.Status("*", "OK", "CLOSED", "Previous mailbox closed")
	}
	name, err := s.mailboxName(a.Mailbox)
	if err != nil {
		return err
	}
	return s.selectFolder(name, cmd.Name == "EXAMINE")
}

func (s *session) selectFolder(name string, readOnly bool) error {
	f, err := s.folder(name)
	if err != nil {
		return err
	}
	dir, err := s.mbox.Folder(f.Name)
	if errors.Is(err, fs.ErrNotExist) {
		if f.Name == "INBOX" {
			return s.internal("select", err)
		}
		if err := s.mbox.CreateFolder(f.Name); err != nil && !errors.Is(err, fs.ErrExist) {
			return s.internal("select: recreate folder directory", err)
		}
		dir, err = s.mbox.Folder(f.Name)
	}
	if err != nil {
		return s.internal("select", err)
	}
	sel := &selected{folder: f, dir: dir, readOnly: readOnly}
	if err := s.adopt(sel, true); err != nil {
		return s.internal("select: adopt new files", err)
	}
	b := s.srv.opts.Backend
	sel.sub = s.srv.opts.Notices.Subscribe(f.ID)
	fail := func(err error) error {
		sel.close()
		return s.internal("select", err)
	}
	// The folder row first, then the messages: a change between the two
	// is reported again by the next poll, never lost.
	if f, err = b.IMAPFolderByID(s.ctx, f.ID); err != nil {
		return fail(err)
	}
	sel.folder, sel.modseq = f, f.HighestModSeq
	msgs, err := b.IMAPMessages(s.ctx, f.ID, nil)
	if err != nil {
		return fail(err)
	}
	sel.uids = make([]uint32, len(msgs))
	var firstUnseen uint32
	var newUIDs []uint32
	sel.keywords = map[string]struct{}{}
	for i, m := range msgs {
		sel.uids[i] = m.UID
		if firstUnseen == 0 && !slices.Contains(m.Flags, `\Seen`) {
			firstUnseen = uint32(i + 1)
		}
		if m.Subdir == "new" {
			newUIDs = append(newUIDs, m.UID)
		}
		for _, k := range m.Keywords {
			sel.keywords[k] = struct{}{}
		}
	}
	msgs = nil
	sel.recent = newUIDs
	if !sel.readOnly && len(newUIDs) > 0 {
		// This session claims them: \Recent here, moved to cur/ for all
		// others. The claim locks the rows, so of two sessions selecting at
		// once only one gets each message.
		changes, err := s.storeFlags(sel, newUIDs, store.FlagsAdd, nil)
		if err != nil {
			s.logger().Warn("imap: move new messages to cur/", "err", err)
		}
		sel.recent = sel.recent[:0]
		for _, c := range changes {
			sel.recent = append(sel.recent, c.UID)
		}
	}
	if s.rev2 {
		sel.recent = nil // IMAP4rev2 has no \Recent (RFC 9051 appendix E)
	}
	s.writeFlags(sel)
	e := &s.enc
	e.Raw("* ").Number(uint64(len(sel.uids))).Raw(" EXISTS").CRLF()
	if !s.rev2 {
		e.Raw("* ").Number(uint64(len(sel.recent))).Raw(" RECENT").CRLF()
		if firstUnseen > 0 {
			e.Raw("* OK [UNSEEN ").Number(uint64(firstUnseen)).Raw("] First unseen").CRLF()
		}
	}
	e.Raw("* OK [UIDVALIDITY ").Number(uint64(f.UIDValidity)).Raw("] UIDs valid").CRLF()
	e.Raw("* OK [UIDNEXT ").Number(uint64(f.UIDNext)).Raw("] Predicted next UID").CRLF()
	if s.rev2 {
		e.Raw(`* LIST () "/" `).Mailbox(f.Name).CRLF()
	}
	s.sel = sel
	s.state = stateSelected
	s.okCode = "READ-WRITE"
	if readOnly {
		s.okCode = "READ-ONLY"
	}
	return nil
}

// writeFlags writes FLAGS and PERMANENTFLAGS: the system flags and the
// keywords the folder's messages use.
func (s *session) writeFlags(sel *selected) {
	kws := make([]string, 0, len(sel.keywords))
	for k := range sel.keywords {
		kws = append(kws, k)
	}
	slices.Sort(kws)
	e := &s.enc
	e.Raw("* FLAGS (")
	for i, f := range systemFlags {
		if i > 0 {
			e.SP()
		}
		e.Raw(f)
	}
	for _, k := range kws {
		e.SP().Raw(k)
	}
	e.Raw(")").CRLF()
	if sel.readOnly {
		e.Raw("* OK [PERMANENTFLAGS ()] Read-only mailbox").CRLF()
		return
	}
	e.Raw("* OK [PERMANENTFLAGS (")
	for _, f := range systemFlags {
		e.Raw(f).SP()
	}
	for _, k := range kws {
		e.Raw(k).SP()
	}
	e.Raw(`\*)] Flags permitted`).CRLF()
}

// announce writes FLAGS and PERMANENTFLAGS again when keywords holds one
// the client has not been told of, before a FETCH shows it.
func (s *session) announce(keywords []string) {
	sel := s.sel
	fresh := false
	for _, k := range keywords {
		if _, ok := sel.keywords[k]; !ok {
			sel.keywords[k] = struct{}{}
			fresh = true
		}
	}
	if fresh {
		s.writeFlags(sel)
	}
}

func cmdUnselect(s *session, cmd *imapwire.Command) error {
	if cmd.Name == "CLOSE" && !s.sel.readOnly {
		if _, err := s.expunge(nil, true); err != nil {
			return err
		}
	}
	s.sel.close()
	s.sel = nil
	s.state = stateAuth
	return nil
}

// adopt indexes files that appeared in new/ or cur/ without passing through
// the index (another program, a crashed delivery). The check is cheap: the
// directories' mtimes against those of the last scan; force scans anyway.
func (s *session) adopt(sel *selected, force bool) error {
	newFI, err1 := os.Stat(filepath.Join(sel.dir.Path, "new"))
	curFI, err2 := os.Stat(filepath.Join(sel.dir.Path, "cur"))
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	if !force && newFI.ModTime().Equal(sel.newMT) && curFI.ModTime().Equal(sel.curMT) {
		return nil
	}
	b := s.srv.opts.Backend
	if !force {
		// Renames for flag changes touch cur/ too: count the files before
		// paying for a full scan; no more files than rows, nothing to adopt.
		n, err := countFiles(sel.dir.Path)
		if err != nil {
			return err
		}
		st, err := b.IMAPStatus(s.ctx, sel.folder.ID)
		if err != nil {
			return err
		}
		if n <= int(st.Messages) {
			sel.newMT, sel.curMT = newFI.ModTime(), curFI.ModTime()
			return nil
		}
	}
	sel.newMT, sel.curMT = newFI.ModTime(), curFI.ModTime()
	_, err := s.srv.opts.Files.Adopt(s.ctx, s.acct.MailboxID, sel.folder.ID, sel.dir)
	return err
}

// lettersOf maps IMAP system flags to Maildir info letters.
func lettersOf(flags []string) maildir.Flags {
	var b []byte
	for _, f := range flags {
		if c := maildir.FlagLetter(f); c != 0 {
			b = append(b, c)
		}
	}
	slices.Sort(b)
	return maildir.Flags(b)
}

// pollIfChanged polls when the folder may have changed (a notice came)
// or force; a poll that owes EXPUNGEs runs again when they are allowed.
func (s *session) pollIfChanged(force, allowExpunge bool) {
	sel := s.sel
	select {
	case <-sel.sub.C:
		force = true
	default:
	}
	if !force && !(sel.dirty && allowExpunge) {
		return
	}
	c := s.cc.Command()
	s.ctx = c.Context()
	if err := s.poll(allowExpunge); err != nil {
		s.logger().Warn("imap: poll", "err", err)
	}
	c.End()
	s.ctx = s.cc.Context()
}

// poll brings the client up to date with the index: EXPUNGE for messages
// gone (when allowed), EXISTS for new ones, FETCH FLAGS for changed flags.
func (s *session) poll(allowExpunge bool) error {
	sel := s.sel
	b := s.srv.opts.Backend
	if time.Since(sel.lastScanCheck) > time.Second {
		sel.lastScanCheck = time.Now()
		if err := s.adopt(sel, false); err != nil {
			s.logger().Warn("imap: adopt new files", "folder", sel.folder.Name, "err", err)
		}
	}
	f, err := b.IMAPFolderByID(s.ctx, sel.folder.ID)
	if errors.Is(err, store.ErrNotFound) { // deleted by another session
		if allowExpunge {
			for i := len(sel.uids); i > 0; i-- {
				s.enc.Raw("* ").Number(uint64(i)).Raw(" EXPUNGE").CRLF()
			}
			sel.uids = nil
		}
		return nil
	}
	if err != nil {
		return s.internal("poll", err)
	}
	if f.HighestModSeq == sel.modseq && !(sel.dirty && allowExpunge) {
		return nil
	}
	changed, err := b.IMAPChangedSince(s.ctx, sel.folder.ID, sel.modseq)
	if err != nil {
		return s.internal("poll", err)
	}
	if allowExpunge {
		now, err := b.IMAPUIDs(s.ctx, sel.folder.ID)
		if err != nil {
			return s.internal("poll", err)
		}
		for i := len(sel.uids) - 1; i >= 0; i-- {
			if _, ok := slices.BinarySearch(now, sel.uids[i]); ok {
				continue
			}
			s.enc.Raw("* ").Number(uint64(i + 1)).Raw(" EXPUNGE").CRLF()
			sel.uids = slices.Delete(sel.uids, i, i+1)
		}
		sel.dirty = false
	} else {
		sel.dirty = true
	}
	var last uint32
	if len(sel.uids) > 0 {
		last = sel.uids[len(sel.uids)-1]
	}
	added := 0
	var flagged []store.IMAPMessage
	for _, m := range changed {
		switch {
		case m.UID > last:
			sel.uids = append(sel.uids, m.UID)
			last = m.UID
			added++
		case sel.seqOf(m.UID) != 0:
			flagged = append(flagged, m)
		}
	}
	if added > 0 {
		s.enc.Raw("* ").Number(uint64(len(sel.uids))).Raw(" EXISTS").CRLF()
	}
	for _, m := range flagged {
		s.announce(m.Keywords)
		s.enc.Raw("* ").Number(uint64(sel.seqOf(m.UID))).Raw(" FETCH (UID ").Number(uint64(m.UID)).Raw(" FLAGS ")
		s.writeMsgFlags(m.UID, m.Flags, m.Keywords)
		s.enc.Raw(")").CRLF()
	}
	sel.modseq = f.HighestModSeq
	sel.folder.UIDNext = f.UIDNext
	return nil
}

// writeMsgFlags writes the FLAGS of a message as this session shows it.
func (s *session) writeMsgFlags(uid uint32, flags, keywords []string) {
	e := &s.enc
	e.Byte('(')
	n := 0
	for _, f := range flags {
		if n > 0 {
			e.SP()
		}
		e.Raw(f)
		n++
	}
	for _, k := range keywords {
		if n > 0 {
			e.SP()
		}
		e.Raw(k)
		n++
	}
	if s.sel.isRecent(uid) {
		if n > 0 {
			e.SP()
		}
		e.Raw(flagRecent)
	}
	e.Byte(')')
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
