package imapd

import (
	"slices"
	"strconv"

	"mailhost/imapwire"
	"mailhost/mailsort"
	"mailhost/store"
)

// Contexts (RFC 5267 section 4): SEARCH and SORT with RETURN (UPDATE)
// leave an update context behind, kept per selected folder, and the
// session tells the client how the result changes, in untagged ESEARCH
// responses with ADDTO and REMOVEFROM, whenever it reports the folder's
// changes (the poll after a command, NOOP, IDLE) and after its own STORE.
//
// Choices where the RFC leaves one:
//   - A session keeps at most maxContexts; the next UPDATE gets an
//     untagged NO [NOUPDATE "tag"] and its other return options are
//     answered (4.3.1).
//   - RETURN with only UPDATE and CONTEXT returns ALL, as RETURN () does
//     (the client needs the result the updates apply to).
//   - CONTEXT is accepted and ignored (4.2): every search is evaluated
//     afresh, which is what a cache would have to equal (4.5).
//   - Sequence sets and '$' in the criteria name the messages they named
//     when the context was made (a UID set ending in '*' does not grow).
//   - SEARCH contexts use position 0 with sets in mailbox order (4.3.3);
//     SORT contexts give positions in the sort order.
//   - Criteria that change with time alone (OLDER, YOUNGER) are
//     evaluated again only for messages that change.
//   - CANCELUPDATE of a tag without a context answers NO (the others
//     named are cancelled).

// maxContexts is how many update contexts a session keeps at once.
const maxContexts = 8

// contextCaps are the capabilities of this file.
const contextCaps = " CONTEXT=SEARCH CONTEXT=SORT"

// updateContext is a SEARCH or SORT whose result the client keeps.
type updateContext struct {
	tag  string
	uid  bool                 // results are UIDs, else sequence numbers
	keys []imapwire.SearchKey // the criteria, with sets resolved to UIDs
	sort []mailsort.Criterion // nil for a SEARCH context
	// results are the UIDs of the result as the client has it: in
	// mailbox order (SEARCH) or in the sort order (SORT).
	results []uint32
}

// checkReturn refuses RETURN options SEARCH and SORT do not know, and
// PARTIAL together with ALL (RFC 5267 4.4, RFC 9394 3.1).
func checkReturn(a *imapwire.SearchArgs) error {
	for _, o := range a.Return {
		switch o {
		case "MIN", "MAX", "ALL", "COUNT", "SAVE", "PARTIAL", "UPDATE", "CONTEXT":
		default:
			return imapErr("BAD", "", "Unknown RETURN option "+o)
		}
	}
	if imapwire.Has(a.Return, "PARTIAL") && imapwire.Has(a.Return, "ALL") {
		return imapErr("BAD", "", "PARTIAL and ALL cannot be used together")
	}
	return nil
}

// resultOptions are the RETURN options that ask for a result: with none
// (RETURN (), or only UPDATE and CONTEXT), ALL (RFC 4731 3.1).
func resultOptions(ret []string) []string {
	out := make([]string, 0, len(ret))
	for _, o := range ret {
		if o != "UPDATE" && o != "CONTEXT" {
			out = append(out, o)
		}
	}
	if len(out) == 0 {
		out = append(out, "ALL")
	}
	return out
}

// savedSet is what RETURN (SAVE ...) keeps for '$' (RFC 5182 2.1): with
// MIN or MAX and no other result option, only those messages, else every
// match; ordered is the result in the command's order (MIN its first).
// A saved result is a set: ascending UIDs.
func savedSet(ret []string, ordered []uint32) []uint32 {
	only := true
	for _, o := range ret {
		switch o {
		case "SAVE", "MIN", "MAX", "UPDATE", "CONTEXT":
		default:
			only = false
		}
	}
	var uids []uint32
	switch {
	case len(ordered) == 0:
	case only && (imapwire.Has(ret, "MIN") || imapwire.Has(ret, "MAX")):
		if imapwire.Has(ret, "MIN") {
			uids = append(uids, ordered[0])
		}
		if imapwire.Has(ret, "MAX") {
			uids = append(uids, ordered[len(ordered)-1])
		}
	default:
		uids = slices.Clone(ordered)
	}
	slices.Sort(uids)
	return slices.Compact(uids)
}

// writePartial writes the PARTIAL return data item: the range as asked
// and the results at those positions, or NIL (RFC 5267 4.4).
func writePartial(e *imapwire.Encoder, p *imapwire.PartialRange, nums []uint32) {
	e.Raw(" PARTIAL (").Raw(strconv.Itoa(int(p.First))).Raw(":").Raw(strconv.Itoa(int(p.Last))).SP()
	if part := partialOf(nums, p); len(part) > 0 {
		e.Raw(imapwire.SetOf(part).String())
	} else {
		e.Nil()
	}
	e.Raw(")")
}

// prepareUpdate decides on a searching command's UPDATE before it runs:
// false without UPDATE or when the session has no room for another
// context (answered with NOUPDATE, RFC 5267 4.3.1); BAD when the tag is
// that of a context still active (4.3).
func (s *session) prepareUpdate(a *imapwire.SearchArgs) (bool, error) {
	if !imapwire.Has(a.Return, "UPDATE") {
		return false, nil
	}
	for _, c := range s.sel.contexts {
		if c.tag == s.tag {
			return false, imapErr("BAD", "CLIENTBUG", "Tag reuse: an update context has this tag")
		}
	}
	if len(s.sel.contexts) >= maxContexts {
		s.enc.Raw(`* NO [NOUPDATE "`).Raw(s.tag).Raw(`"] Too many update contexts (at most ` +
			strconv.Itoa(maxContexts) + `)`).CRLF()
		return false, nil
	}
	return true, nil
}

// addContext keeps the result of the running SEARCH or SORT up to date.
func (s *session) addContext(uid bool, keys []imapwire.SearchKey, crit []mailsort.Criterion, results []uint32) {
	s.sel.contexts = append(s.sel.contexts, &updateContext{tag: s.tag, uid: uid, keys: keys, sort: crit,
		results: slices.Clone(results)})
}

func cmdCancelUpdate(s *session, cmd *imapwire.Command) error {
	sel := s.sel
	var unknown []string
	for _, t := range cmd.Args.([]string) {
		n := len(sel.contexts)
		sel.contexts = slices.DeleteFunc(sel.contexts, func(c *updateContext) bool { return c.tag == t })
		if len(sel.contexts) == n {
			unknown = append(unknown, t)
		}
	}
	if len(unknown) > 0 {
		return imapErr("NO", "", "No update context for tag "+strconv.Quote(unknown[0]))
	}
	return nil
}

// pair is a context position and the UIDs at it.
type pair struct {
	pos  int
	uids []uint32
}

// writeUpdate writes one ESEARCH response with the REMOVEFROM and ADDTO
// pairs of c, the UIDs as the client counts them; the client applies
// them in this order (RFC 5267 4.3.2).
func (s *session) writeUpdate(c *updateContext, removes, adds []pair) {
	if len(removes) == 0 && len(adds) == 0 {
		return
	}
	e := &s.enc
	e.Raw(`* ESEARCH (TAG "`).Raw(c.tag).Raw(`")`)
	if c.uid {
		e.Raw(" UID")
	}
	items := func(name string, pairs []pair) {
		if len(pairs) == 0 {
			return
		}
		e.SP().Raw(name).Raw(" (")
		for i, p := range pairs {
			if i > 0 {
				e.SP()
			}
			nums := p.uids
			if !c.uid {
				nums = make([]uint32, len(p.uids))
				for j, u := range p.uids {
					nums[j] = s.sel.seqOf(u)
				}
			}
			e.Number(uint64(p.pos)).SP().Raw(imapwire.SetOf(nums).String())
		}
		e.Byte(')')
	}
	items("REMOVEFROM", removes)
	items("ADDTO", adds)
	e.CRLF()
}

// diff returns the pairs that turn old into new. A SEARCH context's are
// one set each at position 0; a SORT context's are runs at positions
// (1-based): the removals from the first, each at its position once the
// earlier runs are gone, then the additions from the first, each at its
// position in new (RFC 5267 4.3.3, 4.3.4).
func (c *updateContext) diff(old, new []uint32) (removes, adds []pair) {
	inOld := make(map[uint32]struct{}, len(old))
	for _, u := range old {
		inOld[u] = struct{}{}
	}
	inNew := make(map[uint32]struct{}, len(new))
	for _, u := range new {
		inNew[u] = struct{}{}
	}
	has := func(m map[uint32]struct{}, u uint32) bool { _, ok := m[u]; return ok }
	if c.sort == nil {
		var gone, came []uint32
		for _, u := range old {
			if !has(inNew, u) {
				gone = append(gone, u)
			}
		}
		for _, u := range new {
			if !has(inOld, u) {
				came = append(came, u)
			}
		}
		if len(gone) > 0 {
			removes = []pair{{0, gone}}
		}
		if len(came) > 0 {
			adds = []pair{{0, came}}
		}
		return removes, adds
	}
	// The messages in both keep their relative order (sort keys do not
	// change); should they not, everything is sent again.
	var keptOld, keptNew []uint32
	for _, u := range old {
		if has(inNew, u) {
			keptOld = append(keptOld, u)
		}
	}
	for _, u := range new {
		if has(inOld, u) {
			keptNew = append(keptNew, u)
		}
	}
	if !slices.Equal(keptOld, keptNew) {
		inNew = map[uint32]struct{}{}
		inOld = map[uint32]struct{}{}
	}
	runs := func(list []uint32, in map[uint32]struct{}, shift bool) []pair {
		var out []pair
		pos := 0
		for i := 0; i < len(list); {
			if has(in, list[i]) {
				pos++
				i++
				continue
			}
			j := i
			for j < len(list) && !has(in, list[j]) {
				j++
			}
			out = append(out, pair{pos + 1, list[i:j]})
			if !shift { // an inserted run takes its positions
				pos += j - i
			}
			i = j
		}
		return out
	}
	return runs(old, inNew, true), runs(new, inOld, false)
}

// contextsExpunged tells the contexts of the messages gone (ascending,
// still in the view): REMOVEFROM before the EXPUNGE responses, while the
// sequence numbers hold (RFC 5267 4.3.4).
func (s *session) contextsExpunged(gone []uint32) {
	sel := s.sel
	for _, c := range sel.contexts {
		left := slices.DeleteFunc(slices.Clone(c.results), func(u uint32) bool {
			_, found := slices.BinarySearch(gone, u)
			return found
		})
		if len(left) == len(c.results) {
			continue
		}
		removes, _ := c.diff(c.results, left)
		s.writeUpdate(c, removes, nil)
		c.results = left
	}
}

// contextsStored tells the contexts of this session's own flag changes.
func (s *session) contextsStored(sel *selected, changes []store.FlagChange) {
	if sel != s.sel || len(sel.contexts) == 0 || len(changes) == 0 {
		return
	}
	uids := make([]uint32, len(changes))
	for i, c := range changes {
		uids[i] = c.UID
	}
	slices.Sort(uids)
	rows, err := s.srv.opts.Backend.IMAPMessages(s.ctx, sel.folder.ID, uids)
	if err != nil {
		s.logger().Warn("imap: update contexts after STORE", "err", err)
		return
	}
	s.contextsChanged(rows)
}

// contextsChanged evaluates the contexts' criteria on messages that
// arrived or changed (rows, after their EXISTS and FETCH were written)
// and writes what entered and left each result (RFC 5267 4.3.3).
func (s *session) contextsChanged(rows []store.IMAPMessage) {
	sel := s.sel
	if sel == nil || len(sel.contexts) == 0 || len(rows) == 0 {
		return
	}
	for _, c := range slices.Clone(sel.contexts) {
		in := map[uint32]bool{} // UID: matches now
		for i := range rows {
			m := &rows[i]
			seq := sel.seqOf(m.UID)
			if seq == 0 {
				continue
			}
			mt := &matcher{s: s, m: m, seq: seq, mf: &msgFile{dir: sel.dir, name: m.Filename}}
			in[m.UID] = mt.matchAll(c.keys)
			mt.mf.close()
		}
		members := make([]uint32, 0, len(c.results)+len(in))
		had := make(map[uint32]struct{}, len(c.results))
		changed := false
		for _, u := range c.results {
			had[u] = struct{}{}
			if match, seen := in[u]; seen && !match {
				changed = true
				continue
			}
			members = append(members, u)
		}
		for u, match := range in {
			if _, ok := had[u]; match && !ok {
				members = append(members, u)
				changed = true
			}
		}
		if !changed {
			continue
		}
		slices.Sort(members)
		if c.sort != nil {
			var err error
			if members, err = s.sortOrder(members, c.sort); err != nil {
				s.dropContext(c, err)
				continue
			}
		}
		removes, adds := c.diff(c.results, members)
		s.writeUpdate(c, removes, adds)
		c.results = members
	}
}

// sortOrder returns uids (ascending, in the view) in the order of crit.
func (s *session) sortOrder(uids []uint32, crit []mailsort.Criterion) ([]uint32, error) {
	if s.sel.summaries == nil {
		s.sel.summaries = summaries{}
	}
	msgs, err := s.sortMatchesCached([]imapwire.SearchKey{{Name: "UID", Set: imapwire.SetOf(uids)}})
	if err != nil {
		return nil, err
	}
	order := mailsort.Sort(msgs, crit, mailsort.UnicodeCasemap)
	out := make([]uint32, len(order))
	for i, j := range order {
		out[i] = msgs[j].UID
	}
	return out, nil
}

// dropContext ends a context the session could not keep up to date,
// telling the client so.
func (s *session) dropContext(c *updateContext, err error) {
	s.logger().Warn("imap: update context dropped", "tag", c.tag, "err", err)
	s.sel.contexts = slices.DeleteFunc(s.sel.contexts, func(x *updateContext) bool { return x == c })
	s.enc.Raw(`* NO [NOUPDATE "`).Raw(c.tag).Raw(`"] Update context ended, search again`).CRLF()
}
