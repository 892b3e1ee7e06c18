package imapd

import (
	"mailhost/imapwire"
	"mailhost/mailsort"
)

// sortCaps are the capabilities of this file: SORT and THREAD (RFC 5256),
// SORT=DISPLAY (RFC 5957), ESORT (RFC 5267 section 3), and those of
// context.go, CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 section 4).
const sortCaps = "SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT THREAD=REFERENCES ESORT" + contextCaps

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
	if err := checkReturn(&a.Search); err != nil {
		return err
	}
	update, err := s.prepareUpdate(&a.Search)
	if err != nil {
		return err
	}
	var keys []imapwire.SearchKey // a context's criteria, resolved before a SAVE changes '$'
	if update {
		keys = s.staticize(a.Search.Keys)
	}
	msgs, err := s.sortMatches(&a.Search)
	if err != nil {
		return err
	}
	order := mailsort.Sort(msgs, crit, mailsort.UnicodeCasemap)
	nums := make([]uint32, len(order))
	uids := make([]uint32, len(order))
	for i, j := range order {
		nums[i] = number(&msgs[j], cmd.UID)
		uids[i] = msgs[j].UID
	}
	if imapwire.Has(a.Search.Return, "SAVE") {
		s.sel.searchRes = savedSet(a.Search.Return, uids)
	}
	if update {
		s.addContext(cmd.UID, keys, crit, uids)
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
	ret := resultOptions(a.Search.Return)
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
			writePartial(e, a.Search.Partial, nums)
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
