package imapd

import (
	"slices"
	"strconv"

	"mailhost/imapwire"
	"mailhost/maildir"
	"mailhost/mailsort"
	"mailhost/store"
)

// sortCaps are the capabilities of this file: SORT and THREAD (RFC 5256),
// SORT=DISPLAY (RFC 5957), ESORT (RFC 5267 section 3). CONTEXT=SEARCH and
// CONTEXT=SORT (ADDTO/REMOVETO updates) are not served.
const sortCaps = "SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT THREAD=REFERENCES ESORT"

// maxSummaries bounds the summaries a session keeps for repeated SORT and
// THREAD commands; beyond it, headers are read again each time.
const maxSummaries = 100_000

// summaries caches, per selected folder, what SORT and THREAD read from a
// message's header, by UID (a UID's message never changes; Seq is filled
// per command). A phone re-sorts often: the second SORT reads no file and,
// for criteria the session can answer alone, asks the index only for the
// messages it has not seen yet.
type summaries map[uint32]mailsort.Message

func cmdSort(s *session, cmd *imapwire.Command) error {
	a := cmd.Args.(*imapwire.SortArgs)
	crit := make([]mailsort.Criterion, 0, len(a.Criteria))
	for _, c := range a.Criteria {
		k, ok := mailsort.ParseKey(c.Key)
		if !ok {
			return imapErr("BAD", "", "Unknown sort key "+c.Key)
		}
		crit = append(crit, mailsort.Criterion{Key: k, Reverse: c.Reverse})
	}
	for _, o := range a.Search.Return {
		switch o {
		case "MIN", "MAX", "ALL", "COUNT", "SAVE", "PARTIAL":
		default:
			return imapErr("BAD", "", "Unknown RETURN option "+o)
		}
	}
	msgs, err := s.sortMatches(&a.Search)
	if err != nil {
		return err
	}
	order := mailsort.Sort(msgs, crit, mailsort.UnicodeCasemap)
	nums := make([]uint32, len(order))
	for i, j := range order {
		nums[i] = number(&msgs[j], cmd.UID)
	}
	if imapwire.Has(a.Search.Return, "SAVE") {
		// SEARCHRES keeps a set: the order does not matter (RFC 5182 2.4).
		found := make([]uint32, len(msgs))
		for i := range msgs {
			found[i] = msgs[i].UID
		}
		s.sel.searchRes = found
	}
	e := &s.enc
	if !a.Search.HasReturn {
		e.Raw("* SORT")
		for _, n := range nums {
			e.SP().Number(uint64(n))
		}
		e.CRLF()
		return nil
	}
	s.writeESort(cmd.UID, a, nums)
	return nil
}

// writeESort answers SORT RETURN (RFC 5267 section 3.2): an ESEARCH
// response whose MIN and MAX are the first and the last message in the
// sort order and whose ALL and PARTIAL keep that order (only ascending
// runs are joined into ranges).
func (s *session) writeESort(uid bool, a *imapwire.SortArgs, nums []uint32) {
	ret := a.Search.Return
	if len(ret) == 0 {
		ret = []string{"ALL"}
	}
	if len(ret) == 1 && ret[0] == "SAVE" {
		return // SAVE alone: no ESEARCH (RFC 5182 2.1)
	}
	e := &s.enc
	e.Raw(`* ESEARCH (TAG "`).Raw(s.tag).Raw(`")`)
	if uid {
		e.Raw(" UID")
	}
	for _, o := range ret {
		switch {
		case o == "MIN" && len(nums) > 0:
			e.Raw(" MIN ").Number(uint64(nums[0]))
		case o == "MAX" && len(nums) > 0:
			e.Raw(" MAX ").Number(uint64(nums[len(nums)-1]))
		case o == "ALL" && len(nums) > 0:
			e.Raw(" ALL ").Raw(imapwire.SetOf(nums).String())
		case o == "COUNT":
			e.Raw(" COUNT ").Number(uint64(len(nums)))
		case o == "PARTIAL":
			p := a.Partial
			e.Raw(" PARTIAL (").Raw(strconv.Itoa(int(p.First))).Raw(":").Raw(strconv.Itoa(int(p.Last))).SP()
			if part := partialOf(nums, p); len(part) > 0 {
				e.Raw(imapwire.SetOf(part).String())
			} else {
				e.Nil()
			}
			e.Raw(")")
		}
	}
	e.CRLF()
}

// partialOf returns the part of nums a PARTIAL range names: positions
// First..Last counted from 1, or from -1 at the end (RFC 9394 3.1).
func partialOf(nums []uint32, p *imapwire.PartialRange) []uint32 {
	n := int64(len(nums))
	lo, hi := int64(p.First)-1, int64(p.Last) // [lo, hi)
	if p.First < 0 {
		lo, hi = n+int64(p.Last), n+int64(p.First)+1
	}
	lo, hi = max(lo, 0), min(hi, n)
	if lo >= hi {
		return nil
	}
	return nums[lo:hi]
}

func cmdThread(s *session, cmd *imapwire.Command) error {
	a := cmd.Args.(*imapwire.ThreadArgs)
	alg, ok := mailsort.ParseAlgorithm(a.Algorithm)
	if !ok {
		return imapErr("BAD", "", "Unknown threading algorithm "+a.Algorithm)
	}
	msgs, err := s.sortMatches(&a.Search)
	if err != nil {
		return err
	}
	threads := mailsort.Thread(msgs, alg, mailsort.UnicodeCasemap)
	e := &s.enc
	e.Raw("* THREAD")
	if len(threads) > 0 {
		line := mailsort.AppendThreads([]byte{' '}, threads, func(i int) uint32 { return number(&msgs[i], cmd.UID) })
		e.Raw(string(line))
	}
	e.CRLF()
	return nil
}

// number is what a SORT or THREAD response prints for m.
func number(m *mailsort.Message, uid bool) uint32 {
	if uid {
		return m.UID
	}
	return m.Seq
}

// sortMatches returns the summaries of the messages of the client's view
// that match the search criteria, in mailbox order: the SEARCH of SORT
// and THREAD, evaluated as SEARCH does (matcher).
func (s *session) sortMatches(a *imapwire.SearchArgs) ([]mailsort.Message, error) {
	if !knownCharset(a.Charset) {
		return nil, imapErr("NO", "BADCHARSET (US-ASCII UTF-8)", "Unsupported charset")
	}
	sel := s.sel
	if sel.summaries == nil {
		sel.summaries = summaries{}
	}
	keys := s.staticize(a.Keys)
	if !needsIndex(keys) {
		if msgs, ok, err := s.sortMatchesCached(keys); ok || err != nil {
			return msgs, err
		}
	}
	rows, err := s.srv.opts.Backend.IMAPMessages(s.ctx, sel.folder.ID, nil)
	if err != nil {
		return nil, s.internal("sort", err)
	}
	out := make([]mailsort.Message, 0, len(rows))
	for i := range rows {
		m := &rows[i]
		seq := sel.seqOf(m.UID)
		if seq == 0 {
			continue // arrived after the client's view; not reported yet
		}
		mt := &matcher{s: s, m: m, seq: seq, mf: &msgFile{dir: sel.dir, name: m.Filename}}
		if mt.matchAll(keys) {
			out = append(out, s.summary(mt, seq))
		}
		mt.mf.close()
	}
	s.pruneSummaries()
	return out, nil
}

// sortMatchesCached answers criteria that need nothing of the index
// (needsIndex) from the client's view and the cache, asking the index
// only for the messages the cache lacks. ok is false when it could not.
func (s *session) sortMatchesCached(keys []imapwire.SearchKey) ([]mailsort.Message, bool, error) {
	sel := s.sel
	var hits, missing []uint32
	for _, uid := range sel.uids {
		mt := &matcher{s: s, m: &store.IMAPMessage{UID: uid}}
		if !mt.matchAll(keys) {
			continue
		}
		hits = append(hits, uid)
		if _, ok := sel.summaries[uid]; !ok {
			missing = append(missing, uid)
		}
	}
	if len(missing) > 0 {
		rows, err := s.srv.opts.Backend.IMAPMessages(s.ctx, sel.folder.ID, missing)
		if err != nil {
			return nil, false, s.internal("sort", err)
		}
		for i := range rows {
			m := &rows[i]
			mt := &matcher{s: s, m: m, mf: &msgFile{dir: sel.dir, name: m.Filename}}
			s.summary(mt, 0)
			mt.mf.close()
		}
	}
	out := make([]mailsort.Message, 0, len(hits))
	for _, uid := range hits {
		sum, ok := sel.summaries[uid]
		if !ok {
			// Expunged by another session since the view was taken, or
			// the cache is full: the full path reads what it needs.
			return nil, false, nil
		}
		sum.Seq = sel.seqOf(uid)
		out = append(out, sum)
	}
	s.pruneSummaries()
	return out, true, nil
}

// needsIndex reports whether evaluating keys needs the index's rows
// (flags, dates, sizes) or the message files, rather than only UIDs.
func needsIndex(keys []imapwire.SearchKey) bool {
	for i := range keys {
		switch k := &keys[i]; k.Name {
		case "ALL", "UID":
		case "AND", "NOT", "OR":
			if needsIndex(k.Sub) {
				return true
			}
		default:
			return true
		}
	}
	return false
}

// summary returns the message's summary, from the cache or read from its
// header (which the matcher may have parsed already), with Seq set.
func (s *session) summary(mt *matcher, seq uint32) mailsort.Message {
	sel := s.sel
	m := mt.m
	if sum, ok := sel.summaries[m.UID]; ok {
		sum.Seq = seq
		return sum
	}
	h := mt.hdr()
	size := m.Size
	if info, err := maildir.ParseName(m.Filename); err == nil && info.VSize >= 0 {
		size = info.VSize // RFC822.SIZE: the size with CRLF line ends
	}
	sum := mailsort.Summarize(&h, 0, m.UID, m.InternalDate, size)
	if len(sel.summaries) < maxSummaries {
		sel.summaries[m.UID] = sum
	}
	sum.Seq = seq
	return sum
}

// pruneSummaries drops the summaries of messages no longer in the view
// once the cache holds a quarter more than the view.
func (s *session) pruneSummaries() {
	sel := s.sel
	if len(sel.summaries) <= len(sel.uids)+len(sel.uids)/4 {
		return
	}
	for uid := range sel.summaries {
		if _, ok := slices.BinarySearch(sel.uids, uid); !ok {
			delete(sel.summaries, uid)
		}
	}
}
