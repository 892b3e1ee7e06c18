package imapd

import (
	"errors"
	"io/fs"
	"slices"

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
	// expModseq is the modseq up to which removals were reported; below
	// modseq while an expunge waits for a command that may report it.
	expModseq    int64
	recent       []uint32            // UIDs \Recent in this session, ascending
	recentRanges []imapwire.NumRange // the UIDs this session claimed (or peeked at) as recent
	dirty        bool                // an expunge could not be reported yet
	sub          *store.FolderSub

	searchRes []uint32            // SEARCHRES: the last SEARCH RETURN (SAVE)
	contexts  []*updateContext    // RFC 5267 update contexts (context.go)
	summaries summaries           // SORT and THREAD's header summaries (sort.go)
	keywords  map[string]struct{} // those the client was told of (FLAGS)
	// The flags of the messages as last read from the index: system flags
	// as bits (flagBits), parallel to uids, and the keywords of those that
	// have some. A FETCH of flags alone is answered from here.
	msgFlags []uint8
	msgKw    map[uint32][]string
}

// flagBits are the system flags the cache holds, one bit each.
var flagBits = [...]string{`\Seen`, `\Answered`, `\Flagged`, `\Deleted`, `\Draft`}

func bitsOf(flags []string) uint8 {
	var b uint8
	for _, f := range flags {
		for i, s := range flagBits {
			if f == s {
				b |= 1 << i
			}
		}
	}
	return b
}

// push adds a message after the last one the client knows.
func (sel *selected) push(uid uint32, flags, keywords []string) {
	sel.uids = append(sel.uids, uid)
	sel.msgFlags = append(sel.msgFlags, bitsOf(flags))
	sel.setKeywords(uid, keywords)
}

func (sel *selected) setKeywords(uid uint32, keywords []string) {
	if len(keywords) == 0 {
		delete(sel.msgKw, uid)
		return
	}
	if sel.msgKw == nil {
		sel.msgKw = map[uint32][]string{}
	}
	sel.msgKw[uid] = keywords
}

// drop removes the UIDs of gone (ascending) from the view: the UID list,
// the cached flags and keywords, and \Recent.
func (sel *selected) drop(gone []uint32) {
	in := func(u uint32) bool { _, found := slices.BinarySearch(gone, u); return found }
	keep := 0
	for i, u := range sel.uids {
		if in(u) {
			delete(sel.msgKw, u)
			continue
		}
		sel.uids[keep], sel.msgFlags[keep] = u, sel.msgFlags[i]
		keep++
	}
	sel.uids, sel.msgFlags = sel.uids[:keep], sel.msgFlags[:keep]
	sel.recent = slices.DeleteFunc(sel.recent, in)
}

// setFlags records the flags the index has for uid.
func (sel *selected) setFlags(uid uint32, flags, keywords []string) {
	i, ok := slices.BinarySearch(sel.uids, uid)
	if !ok {
		return
	}
	sel.msgFlags[i] = bitsOf(flags)
	sel.setKeywords(uid, keywords)
}

// appendCachedFlags returns the flags of the message at index i as the
// cache has them, the system flags appended to dst (a caller's buffer:
// FETCH FLAGS and SEARCH of flags run through every message).
func (sel *selected) appendCachedFlags(dst []string, i int) (flags, keywords []string) {
	b := sel.msgFlags[i]
	for k, f := range flagBits {
		if b&(1<<k) != 0 {
			dst = append(dst, f)
		}
	}
	return dst, sel.msgKw[sel.uids[i]]
}

// flagsPresumablySet reports whether the cache says a STORE of op with
// system flags (canonical spelling) changes none of uids: a hint only, for
// +FLAGS and -FLAGS of system flags; keywords and FLAGS (replace) are
// never presumed unchanged.
func (sel *selected) flagsPresumablySet(uids []uint32, op store.FlagOp, system, keywords []string) bool {
	if len(keywords) > 0 || op == store.FlagsSet {
		return false
	}
	want := bitsOf(system)
	for _, uid := range uids {
		i, ok := slices.BinarySearch(sel.uids, uid)
		if !ok {
			return false
		}
		have := sel.msgFlags[i] & want
		if (op == store.FlagsAdd && have != want) || (op == store.FlagsDel && have != 0) {
			return false
		}
	}
	return true
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
	if a.CondStore {
		s.condstore = true
	}
	if a.QResync != nil && !s.qresync {
		return imapErr("BAD", "CLIENTBUG", "QRESYNC parameter without ENABLE QRESYNC")
	}
	return s.selectFolder(name, cmd.Name == "EXAMINE", a.QResync)
}

func (s *session) selectFolder(name string, readOnly bool, qr *imapwire.QResync) error {
	f, err := s.folder(name)
	if err != nil {
		return err
	}
	if qr != nil && qr.UIDValidity != f.UIDValidity {
		qr = nil // the client's cache is void: a plain SELECT (RFC 7162 3.2.5)
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
	// QRESYNC reads the changes since the client's modseq with the
	// folder, in one snapshot, then the messages: a change between the two
	// is reported again by the next poll, never lost. Otherwise the
	// folder, its \Recent mark and the messages come in one snapshot, from
	// which the session claims its \Recent.
	var sync store.IMAPSync
	var msgs []store.IMAPMessageFlags
	var seen *store.IMAPSync
	if qr != nil {
		if sync, err = b.IMAPSyncSince(s.ctx, f.ID, modseqArg(qr.ModSeq)); err != nil {
			return fail(err)
		}
		f = sync.Folder
		if msgs, err = b.IMAPFolderFlags(s.ctx, f.ID); err != nil {
			return fail(err)
		}
	} else {
		sn, err := b.IMAPSelect(s.ctx, f.ID)
		if err != nil {
			return fail(err)
		}
		f, msgs = sn.Folder, sn.Messages
		seen = &store.IMAPSync{Folder: sn.Folder, RecentUID: sn.RecentUID}
	}
	sel.folder, sel.modseq, sel.expModseq = f, f.HighestModSeq, f.HighestModSeq
	sel.uids = make([]uint32, 0, len(msgs))
	sel.msgFlags = make([]uint8, 0, len(msgs))
	var firstUnseen uint32
	var newUIDs []uint32
	sel.keywords = map[string]struct{}{}
	for i, m := range msgs {
		sel.push(m.UID, m.Flags, m.Keywords)
		if firstUnseen == 0 && !slices.Contains(m.Flags, `\Seen`) {
			firstUnseen = uint32(i + 1)
		}
		if m.New {
			newUIDs = append(newUIDs, m.UID)
		}
		for _, k := range m.Keywords {
			sel.keywords[k] = struct{}{}
		}
	}
	msgs = nil
	var moved []store.FlagChange
	if !sel.readOnly && len(newUIDs) > 0 {
		// Seen by a client now: moved from new/ to cur/ (the Maildir rule).
		moved, err = s.storeFlags(sel, newUIDs, store.FlagsAdd, nil)
		if err != nil {
			s.logger().Warn("imap: move new messages to cur/", "err", err)
		}
	}
	// \Recent: this session's claim (IMAP4rev2 has none, RFC 9051
	// appendix E).
	if err := s.claimRecent(sel, seen); err != nil {
		return fail(err)
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
	e.Raw("* OK [HIGHESTMODSEQ ").Number(uint64(sel.modseq)).Raw("] Highest").CRLF()
	e.Raw("* OK [MAILBOXID (").Raw(f.ObjectID).Raw(")] Ok").CRLF()
	if s.rev2 {
		e.Raw(`* LIST () "/" `).Mailbox(f.Name).CRLF()
	}
	s.sel = sel
	if qr != nil {
		s.resync(sel, qr, &sync, moved)
	}
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
		n, err := s.expunge(nil, true)
		if err != nil {
			return err
		}
		if n > 0 {
			s.expungedModSeq(true)
		}
	}
	s.sel.close()
	s.sel = nil
	s.state = stateAuth
	return nil
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
// It runs in the running command's context, else in one of its own.
func (s *session) pollIfChanged(force, allowExpunge bool) {
	sel := s.sel
	noticed := false
	select {
	case <-sel.sub.C:
		noticed = true
	default:
	}
	if !noticed && !force && !(sel.dirty && allowExpunge) {
		return
	}
	if s.ctx == s.cc.Context() { // not within a command: a context of its own
		c := s.cc.Command()
		s.ctx = c.Context()
		defer func() {
			c.End()
			s.ctx = s.cc.Context()
		}()
	}
	// NOOP and CHECK read the index as it is, whatever notices came.
	if err := s.poll(allowExpunge, noticed, noticed && !force); err != nil {
		s.logger().Warn("imap: poll", "err", err)
	}
}

// poll brings the client up to date with the index: EXPUNGE (or VANISHED)
// for messages gone (when allowed), EXISTS (and RECENT) for new ones, FETCH
// FLAGS for changed flags. It reads the changes since the session's modseq
// in one snapshot (store.IMAPSyncSince); removals come from the folder's
// tombstones, and only when those do not reach back far enough from the
// folder's whole UID list. Without a notice (noticed false) it first
// reads the folder's HIGHESTMODSEQ alone, which usually says nothing
// changed; after one, it reads the changes at once, or takes them from a
// snapshot another session of the node read after the notice when shared
// (store.FolderSub.SyncSince).
func (s *session) poll(allowExpunge, noticed, shared bool) error {
	sel := s.sel
	b := s.srv.opts.Backend
	if err := s.adopt(sel, false); err != nil {
		s.logger().Warn("imap: adopt new files", "folder", sel.folder.Name, "err", err)
	}
	deleted := func() error { // by another session
		if allowExpunge {
			s.reportExpunged(slices.Clone(sel.uids))
		}
		return nil
	}
	if !noticed {
		m, err := b.IMAPHighestModSeq(s.ctx, sel.folder.ID)
		if errors.Is(err, store.ErrNotFound) {
			return deleted()
		}
		if err != nil {
			return s.internal("poll", err)
		}
		if m == sel.modseq && !(sel.dirty && allowExpunge) {
			return nil
		}
	}
	since := sel.modseq
	if allowExpunge {
		since = min(since, sel.expModseq)
	}
	var sy store.IMAPSync
	var err error
	if shared {
		sy, err = sel.sub.SyncSince(s.ctx, since)
	}
	// (A snapshot shared from before the session's SELECT may be older
	// than what the session has seen: read its own then.)
	if !shared || err == nil && sy.Folder.HighestModSeq < sel.modseq {
		sy, err = b.IMAPSyncSince(s.ctx, sel.folder.ID, since)
	}
	if errors.Is(err, store.ErrNotFound) {
		return deleted()
	}
	if err != nil {
		return s.internal("poll", err)
	}
	if sy.Folder.HighestModSeq == sel.modseq && !(sel.dirty && allowExpunge) {
		return nil
	}
	var gone []uint32
	if sy.Complete {
		for _, u := range sy.Vanished {
			if sel.seqOf(u) != 0 {
				gone = append(gone, u)
			}
		}
	} else if allowExpunge {
		now, err := b.IMAPUIDs(s.ctx, sel.folder.ID)
		if err != nil {
			return s.internal("poll", err)
		}
		for _, u := range sel.uids {
			if _, ok := slices.BinarySearch(now, u); !ok && u < sy.Folder.UIDNext {
				gone = append(gone, u)
			}
		}
	}
	switch {
	case !sy.Complete && !allowExpunge:
		sel.dirty = true
	case allowExpunge:
		s.reportExpunged(gone)
		sel.dirty = false
		sel.expModseq = sy.Folder.HighestModSeq
	case len(gone) > 0:
		sel.dirty = true
	case !sel.dirty:
		sel.expModseq = sy.Folder.HighestModSeq
	}
	last := sel.lastUID()
	var added []uint32
	var flagged []store.IMAPMessage
	for _, m := range sy.Changed {
		switch {
		case m.UID > last:
			sel.push(m.UID, m.Flags, m.Keywords)
			added = append(added, m.UID)
			last = m.UID
		case sel.seqOf(m.UID) != 0:
			sel.setFlags(m.UID, m.Flags, m.Keywords)
			flagged = append(flagged, m)
		}
	}
	if len(added) > 0 {
		s.enc.Raw("* ").Number(uint64(len(sel.uids))).Raw(" EXISTS").CRLF()
		if !s.rev2 {
			if err := s.claimRecent(sel, &sy); err != nil {
				s.logger().Warn("imap: claim recent", "folder", sel.folder.Name, "err", err)
			}
			sel.recentOnArrival(added)
			s.enc.Raw("* ").Number(uint64(len(sel.recent))).Raw(" RECENT").CRLF()
		}
	}
	for i := range flagged {
		s.writeFlagUpdate(&flagged[i])
	}
	s.contextsChanged(sy.Changed)
	s.rememberRows(sy.Changed) // new rows, and the names flag changes gave
	sel.modseq = sy.Folder.HighestModSeq
	sel.folder.UIDNext = sy.Folder.UIDNext
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
