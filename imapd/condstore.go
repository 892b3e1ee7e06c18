package imapd

import (
	"context"
	"slices"
	"strconv"

	"mailhost/imapwire"
	"mailhost/store"
)

// CONDSTORE and QRESYNC (RFC 7162), OBJECTID (RFC 8474) and SAVEDATE
// (RFC 8514): what the index keeps (store/imap_condstore.go) as the
// client sees it.

// syncCaps are the capabilities this file completes.
const syncCaps = " CONDSTORE QRESYNC OBJECTID SAVEDATE"

// SyncBackend is what CONDSTORE, QRESYNC, \Recent and subscriptions need
// of the index, beyond Backend. store.Store satisfies it.
type SyncBackend interface {
	IMAPStoreFlagsUnchangedSince(ctx context.Context, folderID int64, uids []uint32, unchangedSince int64,
		op store.FlagOp, flags, keywords []string,
		rename func(oldName, key string, flags []string) string) ([]store.FlagChange, []uint32, error)
	IMAPVanishedSince(ctx context.Context, folderID, modseq int64) ([]uint32, int64, error)
	IMAPSyncSince(ctx context.Context, folderID, since int64) (store.IMAPSync, error)
	IMAPHighestModSeq(ctx context.Context, folderID int64) (int64, error)
	IMAPClaimRecent(ctx context.Context, folderID int64) (uint32, uint32, error)
	IMAPClaimRecentSeen(ctx context.Context, folderID int64, recentUID, uidNext uint32) (uint32, uint32, error)
	IMAPPeekRecent(ctx context.Context, folderID int64) (uint32, uint32, error)
	IMAPSubscriptions(ctx context.Context, mailboxID int64) ([]string, error)
}

var _ SyncBackend = (*store.Store)(nil)

// modseqArg bounds a client's mod-sequence (RFC 7162: 63 bits) to what
// the index compares with.
func modseqArg(n uint64) int64 {
	if n > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(n)
}

// enableSync answers ENABLE CONDSTORE and ENABLE QRESYNC (which implies
// CONDSTORE, RFC 7162 3.2.3); it returns the name to list in ENABLED, ""
// when c is not one of them or was enabled already.
func (s *session) enableSync(c string) string {
	switch c {
	case "CONDSTORE":
		if !s.condstore {
			s.condstore = true
			return "CONDSTORE"
		}
	case "QRESYNC":
		if !s.qresync {
			s.qresync, s.condstore = true, true
			return "QRESYNC"
		}
	}
	return ""
}

// reportExpunged tells the client that the messages uids (among those it
// knows; any order) are gone: EXPUNGE responses, or one VANISHED once
// QRESYNC is enabled (RFC 7162 3.2.10), and drops them from the view.
func (s *session) reportExpunged(uids []uint32) {
	sel := s.sel
	gone := make([]uint32, 0, len(uids))
	for _, u := range uids {
		if sel.seqOf(u) != 0 {
			gone = append(gone, u)
		}
	}
	if len(gone) == 0 {
		return
	}
	slices.Sort(gone)
	gone = slices.Compact(gone)
	s.contextsExpunged(gone)
	if s.qresync {
		s.enc.Raw("* VANISHED ").Raw(imapwire.SetOf(gone).String()).CRLF()
	} else {
		for i := len(gone) - 1; i >= 0; i-- {
			s.enc.Raw("* ").Number(uint64(sel.seqOf(gone[i]))).Raw(" EXPUNGE").CRLF()
		}
	}
	sel.drop(gone)
}

// missing returns the UIDs of set, up to last, that the session's view does
// not hold, as ranges: the fallback of VANISHED (EARLIER) when the
// tombstones do not reach back far enough (RFC 7162 3.2.5.1, 3.2.6).
// '*' in set stands for last.
func (sel *selected) missing(set imapwire.NumSet, last uint32) imapwire.NumSet {
	var out imapwire.NumSet
	add := func(lo, hi uint32) {
		if k := len(out.Ranges); k > 0 && out.Ranges[k-1].Stop+1 >= lo {
			out.Ranges[k-1].Stop = max(out.Ranges[k-1].Stop, hi)
			return
		}
		out.Ranges = append(out.Ranges, imapwire.NumRange{Start: lo, Stop: hi})
	}
	ranges := normalize(set, last)
	for _, r := range ranges {
		lo := r.Start
		i, _ := slices.BinarySearch(sel.uids, lo)
		for ; lo <= r.Stop; i++ {
			if i >= len(sel.uids) || sel.uids[i] > r.Stop {
				add(lo, r.Stop)
				break
			}
			if sel.uids[i] > lo {
				add(lo, sel.uids[i]-1)
			}
			lo = sel.uids[i] + 1
			if lo == 0 { // wrapped past the largest UID
				break
			}
		}
	}
	return out
}

// normalize turns a UID set into ascending, merged ranges with '*' as last,
// cut at last.
func normalize(set imapwire.NumSet, last uint32) []imapwire.NumRange {
	var rs []imapwire.NumRange
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
		lo, hi = max(lo, 1), min(hi, last)
		if lo <= hi {
			rs = append(rs, imapwire.NumRange{Start: lo, Stop: hi})
		}
	}
	slices.SortFunc(rs, func(a, b imapwire.NumRange) int { return int(int64(a.Start) - int64(b.Start)) })
	var out []imapwire.NumRange
	for _, r := range rs {
		if k := len(out); k > 0 && out[k-1].Stop+1 >= r.Start && out[k-1].Stop != 1<<32-1 {
			out[k-1].Stop = max(out[k-1].Stop, r.Stop)
			continue
		}
		out = append(out, r)
	}
	return out
}

// inRanges reports whether n is in the normalized ranges rs.
func inRanges(rs []imapwire.NumRange, n uint32) bool {
	for _, r := range rs {
		if r.Start <= n && n <= r.Stop {
			return true
		}
	}
	return false
}

// vanishedEarlier writes VANISHED (EARLIER) for the UIDs of set removed
// after since (RFC 7162 3.2.5, 3.2.6): from the tombstones when they reach
// back to since, else every UID of set up to last that the view does not
// hold. UIDs still in the view (removed, but not yet reported by EXPUNGE
// or VANISHED) are left to the next poll.
func (s *session) vanishedEarlier(tombstones []uint32, complete bool, set imapwire.NumSet, last uint32) {
	sel := s.sel
	var out imapwire.NumSet
	if complete {
		rs := normalize(set, max(last, sel.folder.UIDNext-1))
		var uids []uint32
		for _, u := range tombstones {
			if inRanges(rs, u) && sel.seqOf(u) == 0 {
				uids = append(uids, u)
			}
		}
		out = imapwire.SetOf(uids)
	} else {
		out = sel.missing(set, last)
	}
	if len(out.Ranges) > 0 {
		s.enc.Raw("* VANISHED (EARLIER) ").Raw(out.String()).CRLF()
	}
}

// lastUID is the largest UID the session knows, 0 for none.
func (sel *selected) lastUID() uint32 {
	if len(sel.uids) == 0 {
		return 0
	}
	return sel.uids[len(sel.uids)-1]
}

// fetchSync applies FETCH's CONDSTORE and QRESYNC parts (RFC 7162 3.1.4,
// 3.2.6) to uids: CHANGEDSINCE keeps the messages changed after it and
// implies MODSEQ; VANISHED (UID FETCH only, QRESYNC enabled) first writes
// the UIDs of the set removed after CHANGEDSINCE.
func (s *session) fetchSync(a *imapwire.Fetch, uid bool, uids []uint32) ([]uint32, error) {
	it := &a.Items
	since := it.ChangedSince
	if since == 1<<63 { // the parser's spelling of CHANGEDSINCE 0
		since = 0
	}
	if it.Vanished && (!uid || !s.qresync || it.ChangedSince == 0) {
		return nil, imapErr("BAD", "", "VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC")
	}
	if it.ModSeq || it.ChangedSince != 0 {
		s.condstore = true
	}
	if it.ChangedSince == 0 {
		return uids, nil
	}
	it.ModSeq = true
	b := s.srv.opts.Backend
	sel := s.sel
	if it.Vanished {
		gone, floor, err := b.IMAPVanishedSince(s.ctx, sel.folder.ID, modseqArg(since))
		if err != nil {
			return nil, s.internal("fetch: vanished", err)
		}
		s.vanishedEarlier(gone, modseqArg(since) >= floor, a.Set, sel.lastUID())
	}
	if len(uids) == 0 {
		return nil, nil
	}
	changed, err := b.IMAPChangedSince(s.ctx, sel.folder.ID, modseqArg(since))
	if err != nil {
		return nil, s.internal("fetch: changed since", err)
	}
	out := uids[:0]
	for _, m := range changed { // by UID, as uids
		if _, ok := slices.BinarySearch(uids, m.UID); ok {
			out = append(out, m.UID)
		}
	}
	return out, nil
}

// storeSync is STORE with CONDSTORE (RFC 7162 3.1.3): the UNCHANGEDSINCE
// test, [MODIFIED set] for the messages that failed it, and MODSEQ in the
// FETCH responses; with .SILENT, FETCH (MODSEQ) for the messages changed.
func (s *session) storeSync(a *imapwire.StoreArgs, uid bool, uids []uint32, op store.FlagOp) error {
	sel := s.sel
	since := int64(-1)
	if a.HasUnchanged {
		s.condstore = true
		since = modseqArg(a.UnchangedSince)
	}
	changes, modified, err := s.storeFlagsIf(sel, uids, since, op, a.Flags)
	if err != nil {
		return err
	}
	if len(modified) > 0 {
		nums := modified
		if !uid {
			nums = make([]uint32, 0, len(modified))
			for _, u := range modified {
				if seq := sel.seqOf(u); seq != 0 {
					nums = append(nums, seq)
				}
			}
		}
		s.okCode = "MODIFIED " + imapwire.SetOf(nums).String()
		uids = slices.DeleteFunc(slices.Clone(uids), func(u uint32) bool {
			_, found := slices.BinarySearch(modified, u)
			return found
		})
	}
	if a.Silent {
		if s.condstore {
			for _, c := range changes {
				s.enc.Raw("* ").Number(uint64(sel.seqOf(c.UID))).Raw(" FETCH (")
				if uid {
					s.enc.Raw("UID ").Number(uint64(c.UID)).SP()
				}
				s.enc.Raw("MODSEQ (").Number(uint64(c.ModSeq)).Raw("))").CRLF()
			}
		}
		return nil
	}
	if len(uids) == 0 {
		return nil
	}
	return s.fetchUIDs(uids, &imapwire.FetchItems{Flags: true, UID: uid, ModSeq: s.condstore})
}

// usesModSeq reports whether search keys hold MODSEQ (a CONDSTORE
// enabling search, whose result carries the highest modseq found).
func usesModSeq(keys []imapwire.SearchKey) bool {
	for _, k := range keys {
		if k.Name == "MODSEQ" || usesModSeq(k.Sub) {
			return true
		}
	}
	return false
}

// objectID writes an OBJECTID value: "(id)", NIL for none (RFC 8474).
func objectID(e *imapwire.Encoder, id string) {
	if id == "" {
		e.Nil()
		return
	}
	e.Byte('(').Raw(id).Byte(')')
}

// writeFlagUpdate writes the unsolicited FETCH of a message whose flags
// another session changed: with MODSEQ once CONDSTORE is enabled.
func (s *session) writeFlagUpdate(m *store.IMAPMessage) {
	s.announce(m.Keywords)
	s.enc.Raw("* ").Number(uint64(s.sel.seqOf(m.UID))).Raw(" FETCH (UID ").Number(uint64(m.UID)).Raw(" FLAGS ")
	s.writeMsgFlags(m.UID, m.Flags, m.Keywords)
	if s.condstore {
		s.enc.Raw(" MODSEQ (").Number(uint64(m.ModSeq)).Byte(')')
	}
	s.enc.Raw(")").CRLF()
}

// claimRecent takes the \Recent messages of the selected folder for an
// IMAP4rev1 session (RFC 3501 2.3.2): claimed by a read-write session, only
// peeked at by EXAMINE. The range is remembered: a message of it that the
// view does not hold yet is recent here when a poll brings it. A poll
// passes its snapshot (sy), which has looked already: a claim without
// another read, and none when every UID is claimed; so does a SELECT
// (store.IMAPSelect's), a QRESYNC SELECT passes nil.
func (s *session) claimRecent(sel *selected, sy *store.IMAPSync) error {
	if s.rev2 {
		return nil
	}
	b := s.srv.opts.Backend
	var from, to uint32
	var err error
	switch {
	case sy != nil && sel.readOnly:
		if sy.RecentUID+1 < sy.Folder.UIDNext {
			from, to = sy.RecentUID+1, sy.Folder.UIDNext-1
		}
	case sy != nil:
		from, to, err = s.srv.recentClaims.claim(sel.folder.ID, sy.Folder.UIDNext-1, func() (uint32, uint32, error) {
			return b.IMAPClaimRecentSeen(s.ctx, sel.folder.ID, sy.RecentUID, sy.Folder.UIDNext)
		})
	case sel.readOnly:
		from, to, err = b.IMAPPeekRecent(s.ctx, sel.folder.ID)
	default: // (a claim looks first too: one read when there is nothing to claim)
		from, to, err = b.IMAPClaimRecent(s.ctx, sel.folder.ID)
	}
	if err != nil || from == 0 {
		return err
	}
	if k := len(sel.recentRanges); k > 0 && sel.recentRanges[k-1].Stop+1 >= from && sel.recentRanges[k-1].Start <= from {
		sel.recentRanges[k-1].Stop = max(sel.recentRanges[k-1].Stop, to) // a peek again, or the next claim
	} else {
		sel.recentRanges = append(sel.recentRanges, imapwire.NumRange{Start: from, Stop: to})
	}
	i, _ := slices.BinarySearch(sel.uids, from)
	for ; i < len(sel.uids) && sel.uids[i] <= to; i++ {
		if !sel.isRecent(sel.uids[i]) {
			sel.recent = append(sel.recent, sel.uids[i])
		}
	}
	slices.Sort(sel.recent)
	return nil
}

// recentOnArrival marks the new UIDs (ascending, at the end of the view)
// recent when a claim of this session covers them.
func (sel *selected) recentOnArrival(uids []uint32) {
	for _, u := range uids {
		if inRanges(sel.recentRanges, u) && !sel.isRecent(u) {
			sel.recent = append(sel.recent, u)
		}
	}
}

// expungedModSeq puts HIGHESTMODSEQ in the tagged OK of an EXPUNGE that
// removed messages, once QRESYNC is enabled (RFC 7162 3.2.10: removed
// messages have no FETCH to carry the new modseq). EXPUNGE brings the
// session up to date first, so the value covers everything it reported;
// CLOSE reports it only when nothing but its own expunge happened since
// the client's view.
func (s *session) expungedModSeq(closing bool) {
	sel := s.sel
	if !s.qresync || sel == nil {
		return
	}
	if closing {
		f, err := s.srv.opts.Backend.IMAPFolderByID(s.ctx, sel.folder.ID)
		if err == nil && f.HighestModSeq == sel.modseq+1 {
			s.okCode = "HIGHESTMODSEQ " + strconv.FormatInt(f.HighestModSeq, 10)
		}
		return
	}
	if err := s.poll(true, true, true); err != nil {
		return
	}
	s.okCode = "HIGHESTMODSEQ " + strconv.FormatInt(sel.modseq, 10)
}
