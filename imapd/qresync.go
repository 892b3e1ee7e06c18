package imapd

import (
	"slices"

	"mailhost/imapwire"
	"mailhost/store"
)

// resync writes what a SELECT ... (QRESYNC (uidvalidity modseq
// [known-uids])) owes the client after the usual responses (RFC 7162
// 3.2.5): VANISHED (EARLIER) for the known UIDs removed since modseq, then
// FETCH (UID FLAGS MODSEQ) for the messages changed since. sy is the
// snapshot the selection was made at; moved are the messages the SELECT
// itself moved from new/ to cur/ (their modseq is newer than sy's).
// The optional sequence match data only narrows what a server must
// report; every removal is reported, so it is not needed.
func (s *session) resync(sel *selected, qr *imapwire.QResync, sy *store.IMAPSync, moved []store.FlagChange) {
	known := qr.KnownUIDs
	if len(known.Ranges) == 0 {
		known = imapwire.NumSet{Ranges: []imapwire.NumRange{{Start: 1, Stop: 0}}}
	}
	s.vanishedEarlier(sy.Vanished, sy.Complete, known, max(sel.lastUID(), sy.Folder.UIDNext-1))
	changed := sy.Changed
	for _, c := range moved {
		i, found := slices.BinarySearchFunc(changed, c.UID, func(m store.IMAPMessage, u uint32) int {
			return int(int64(m.UID) - int64(u))
		})
		m := store.IMAPMessage{UID: c.UID, ModSeq: c.ModSeq, Flags: c.Flags, Keywords: c.Keywords}
		if found {
			changed[i] = m
		} else {
			changed = slices.Insert(changed, i, m)
		}
	}
	for i := range changed {
		if sel.seqOf(changed[i].UID) != 0 {
			s.writeFlagUpdate(&changed[i])
		}
	}
}
