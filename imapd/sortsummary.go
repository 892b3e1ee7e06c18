package imapd

import (
	"cmp"
	"runtime"
	"slices"
	"sync"

	"github.com/emersion/go-message/textproto"

	"mailhost/imapwire"
	"mailhost/maildir"
	"mailhost/mailsort"
	"mailhost/store"
)

// maxSummaries bounds the summaries a session keeps for repeated SORT and
// THREAD commands (about 0.5 KB each: 5 MB for a 10,000-message folder);
// beyond it, headers are read again each time.
const maxSummaries = 50_000

// summaries caches, per selected folder, what SORT and THREAD read from a
// message's header, by UID (a UID's message never changes; Seq is filled
// per command). A phone re-sorts often: the second SORT reads no file and,
// for criteria the session can answer alone, asks the index only for the
// messages it has not seen yet.
type summaries map[uint32]mailsort.Message

// pendingSummary is a message whose summary is still to be read into
// out[index].
type pendingSummary struct {
	index int
	m     *store.IMAPMessage
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
	var out []mailsort.Message
	var err error
	if needsIndex(keys) {
		out, err = s.sortMatchesIndexed(keys)
	} else {
		out, err = s.sortMatchesCached(keys)
	}
	s.pruneSummaries()
	return out, err
}

// sortMatchesIndexed evaluates criteria on the index's rows (and the
// files, for criteria on the header or text).
func (s *session) sortMatchesIndexed(keys []imapwire.SearchKey) ([]mailsort.Message, error) {
	sel := s.sel
	rows, err := s.srv.opts.Backend.IMAPMessages(s.ctx, sel.folder.ID, nil)
	if err != nil {
		return nil, s.internal("sort", err)
	}
	out := make([]mailsort.Message, 0, len(rows))
	var pending []pendingSummary
	for i := range rows {
		m := &rows[i]
		seq := sel.seqOf(m.UID)
		if seq == 0 {
			continue // arrived after the client's view; not reported yet
		}
		mt := &matcher{s: s, m: m, seq: seq, mf: &msgFile{dir: sel.dir, name: m.Filename}}
		if mt.matchAll(keys) {
			if sum, ok := sel.summaries[m.UID]; ok {
				sum.Seq = seq
				out = append(out, sum)
			} else if mt.hasHeader {
				// The criteria read the header already.
				out = append(out, s.remember(summarize(m, &mt.header), seq))
			} else {
				out = append(out, mailsort.Message{})
				pending = append(pending, pendingSummary{len(out) - 1, m})
			}
		}
		mt.mf.close()
	}
	if err := s.readSummaries(out, pending, func(i int) uint32 { return sel.seqOf(out[i].UID) }); err != nil {
		return nil, err
	}
	return out, nil
}

// sortMatchesCached answers criteria that need nothing of the index
// (needsIndex) from the client's view and the cache, asking the index
// only for the messages the cache lacks.
func (s *session) sortMatchesCached(keys []imapwire.SearchKey) ([]mailsort.Message, error) {
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
	var rows []store.IMAPMessage
	if len(missing) > 0 {
		var err error
		if rows, err = s.srv.opts.Backend.IMAPMessages(s.ctx, sel.folder.ID, missing); err != nil {
			return nil, s.internal("sort", err)
		}
	}
	out := make([]mailsort.Message, 0, len(hits))
	var pending []pendingSummary
	for _, uid := range hits {
		if sum, ok := sel.summaries[uid]; ok {
			sum.Seq = sel.seqOf(uid)
			out = append(out, sum)
			continue
		}
		i, ok := slices.BinarySearchFunc(rows, uid, func(m store.IMAPMessage, uid uint32) int { return cmp.Compare(m.UID, uid) })
		if !ok {
			continue // expunged by another session since the view was taken: no header to read
		}
		out = append(out, mailsort.Message{})
		pending = append(pending, pendingSummary{len(out) - 1, &rows[i]})
	}
	if err := s.readSummaries(out, pending, func(i int) uint32 { return sel.seqOf(out[i].UID) }); err != nil {
		return nil, err
	}
	return out, nil
}

// readSummaries reads the headers of the pending messages into out, a few
// files at a time (opening and reading the files is what a first SORT
// waits for), and remembers those it could read; seq gives out[i]'s
// sequence number. It stops when the command's context ends (the client
// left, the command timed out).
func (s *session) readSummaries(out []mailsort.Message, pending []pendingSummary, seq func(i int) uint32) error {
	if len(pending) == 0 {
		return nil
	}
	workers := min(4, runtime.GOMAXPROCS(0)*2, (len(pending)+63)/64)
	read := make([]bool, len(pending))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := w; j < len(pending) && s.ctx.Err() == nil; j += workers {
				p := pending[j]
				mf := &msgFile{dir: s.sel.dir, name: p.m.Filename}
				var h textproto.Header
				if r, err := mf.reader(); err == nil {
					h, read[j] = readHeader(r), true
				}
				mf.close()
				out[p.index] = summarize(p.m, &h)
			}
		}()
	}
	wg.Wait()
	if err := s.ctx.Err(); err != nil {
		return s.internal("sort: read headers", err)
	}
	for j, p := range pending {
		if read[j] {
			out[p.index] = s.remember(out[p.index], seq(p.index))
		} else {
			out[p.index].Seq = seq(p.index) // sorted as if empty, read again next time
		}
	}
	return nil
}

// summarize is what SORT and THREAD know of m: its header's fields, its
// INTERNALDATE, and RFC822.SIZE (the size with CRLF line ends).
func summarize(m *store.IMAPMessage, h mailsort.Header) mailsort.Message {
	size := m.Size
	if info, err := maildir.ParseName(m.Filename); err == nil && info.VSize >= 0 {
		size = info.VSize
	}
	return mailsort.Summarize(h, 0, m.UID, m.InternalDate, size)
}

// remember caches sum (while the cache has room) and returns it with Seq
// set.
func (s *session) remember(sum mailsort.Message, seq uint32) mailsort.Message {
	if len(s.sel.summaries) < maxSummaries {
		s.sel.summaries[sum.UID] = sum
	}
	sum.Seq = seq
	return sum
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
