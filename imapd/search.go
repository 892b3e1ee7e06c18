package imapd

import (
	"bytes"
	"io"
	"mime"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	gomessage "github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // SEARCH decodes text in every charset go-message knows
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"mailhost/imapwire"
	"mailhost/maildir"
	"mailhost/store"
)

// knownCharset reports whether SEARCH can decode charset (RFC 3501
// 6.4.4: US-ASCII and UTF-8 at least; text is decoded to UTF-8).
func knownCharset(cs string) bool {
	switch strings.ToUpper(cs) {
	case "", "US-ASCII", "UTF-8":
		return true
	}
	return false
}

func cmdSearch(s *session, cmd *imapwire.Command) error {
	a := cmd.Args.(*imapwire.SearchArgs)
	sel := s.sel
	if !knownCharset(a.Charset) {
		return imapErr("NO", "BADCHARSET (US-ASCII UTF-8)", "Unsupported charset")
	}
	if err := checkReturn(a); err != nil {
		return err
	}
	update, err := s.prepareUpdate(a)
	if err != nil {
		return err
	}
	keys := s.staticize(a.Keys)
	var found []uint32 // UIDs
	var highest int64  // of the messages found, for a MODSEQ search (RFC 7162 3.1.5)
	withModSeq := usesModSeq(a.Keys)
	if withModSeq {
		s.condstore = true
	}
	var nums []uint32 // what the client asked for: UIDs or sequence numbers
	// One matcher and one message file, reused for every message.
	text := &textScan{}
	var mf msgFile
	mt := &matcher{}
	try := func(m *store.IMAPMessage, seq uint32) {
		mf = msgFile{dir: sel.dir, name: m.Filename, caches: s.srv.caches,
			ck: hdrKey{folder: sel.folder.ID, uid: m.UID, key: m.Key}}
		*mt = matcher{s: s, m: m, seq: seq, mf: &mf, text: text}
		ok := mt.matchAll(keys)
		mf.close()
		if !ok {
			return
		}
		found = append(found, m.UID)
		highest = max(highest, m.ModSeq)
		if cmd.UID {
			nums = append(nums, m.UID)
		} else {
			nums = append(nums, seq)
		}
	}
	if flagKeysOnly(keys) {
		// The session's flags, brought up to date first when a notice
		// says something changed (no EXPUNGE during SEARCH: RFC 9051
		// 7.5.1), answer it without reading the folder.
		s.pollIfChanged(false, false)
		var m store.IMAPMessage
		var flags [len(flagBits)]string
		for i, uid := range sel.uids {
			m.UID = uid
			m.Flags, m.Keywords = sel.appendCachedFlags(flags[:0], i)
			try(&m, uint32(i+1))
		}
	} else {
		msgs, err := s.srv.opts.Backend.IMAPMessages(s.ctx, sel.folder.ID, nil)
		if err != nil {
			return s.internal("search", err)
		}
		for i := range msgs {
			// A message that arrived after the client's view is not
			// reported yet.
			if seq := sel.seqOf(msgs[i].UID); seq != 0 {
				try(&msgs[i], seq)
			}
		}
	}
	if imapwire.Has(a.Return, "SAVE") {
		sel.searchRes = savedSet(a.Return, found)
	}
	if update {
		s.addContext(cmd.UID, keys, nil, found)
	}
	e := &s.enc
	if !a.HasReturn && s.rev2 { // IMAP4rev2 has no SEARCH response (RFC 9051 7.3.4)
		a.HasReturn = true
	}
	if !a.HasReturn {
		e.Raw("* SEARCH")
		for _, n := range nums {
			e.SP().Number(uint64(n))
		}
		if withModSeq && len(nums) > 0 {
			e.Raw(" (MODSEQ ").Number(uint64(highest)).Byte(')')
		}
		e.CRLF()
		return nil
	}
	ret := resultOptions(a.Return)
	if len(ret) == 1 && ret[0] == "SAVE" {
		return nil // SAVE alone: no ESEARCH (RFC 5182 2.1)
	}
	e.Raw(`* ESEARCH (TAG "`).Raw(s.tag).Raw(`")`)
	if cmd.UID {
		e.Raw(" UID")
	}
	for _, o := range ret {
		switch {
		case o == "MIN" && len(nums) > 0:
			e.Raw(" MIN ").Number(uint64(slices.Min(nums)))
		case o == "MAX" && len(nums) > 0:
			e.Raw(" MAX ").Number(uint64(slices.Max(nums)))
		case o == "ALL" && len(nums) > 0:
			e.Raw(" ALL ").Raw(imapwire.SetOf(nums).String())
		case o == "COUNT":
			e.Raw(" COUNT ").Number(uint64(len(nums)))
		case o == "PARTIAL":
			writePartial(e, a.Partial, nums)
		}
	}
	if withModSeq && len(nums) > 0 {
		e.Raw(" MODSEQ ").Number(uint64(highest))
	}
	e.CRLF()
	return nil
}

// flagKeysOnly reports whether the keys need nothing of a message but its
// UID, sequence number and flags: the session's flag cache answers them.
func flagKeysOnly(keys []imapwire.SearchKey) bool {
	for _, k := range keys {
		switch k.Name {
		case "ALL", "UID", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "SEEN", "RECENT", "UNANSWERED",
			"UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN", "NEW", "OLD", "KEYWORD", "UNKEYWORD":
		case "AND", "NOT", "OR":
			if !flagKeysOnly(k.Sub) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// staticize resolves every sequence set and UID set of the keys ('*',
// '$') against the client's view, as UID lists in Value-less keys.
func (s *session) staticize(keys []imapwire.SearchKey) []imapwire.SearchKey {
	out := make([]imapwire.SearchKey, len(keys))
	for i, k := range keys {
		switch k.Name {
		case "SEQSET", "UID":
			k.Set = imapwire.SetOf(s.sel.resolve(k.Set, k.Name == "UID"))
			k.Name = "UID"
		case "AND", "OR", "NOT":
			k.Sub = s.staticize(k.Sub)
		}
		out[i] = k
	}
	return out
}

// matcher evaluates criteria against one message, reading its file only
// when a criterion needs the header or the text.
type matcher struct {
	s      *session
	m      *store.IMAPMessage
	seq    uint32
	mf     *msgFile
	header textproto.Header
	// hasHeader: header is read (empty when the file is gone)
	hasHeader bool
	text      *textScan // shared by the matchers of one command; nil: one of its own
}

func (mt *matcher) hdr() textproto.Header {
	if !mt.hasHeader {
		mt.header, _ = mt.mf.header() // none when the file is gone
		mt.hasHeader = true
	}
	return mt.header
}

// scan returns the matcher's text buffers.
func (mt *matcher) scan() *textScan {
	if mt.text == nil {
		mt.text = &textScan{}
	}
	return mt.text
}

func (mt *matcher) matchAll(keys []imapwire.SearchKey) bool {
	for i := range keys {
		if !mt.match(&keys[i]) {
			return false
		}
	}
	return true
}

func (mt *matcher) match(k *imapwire.SearchKey) bool {
	m := mt.m
	switch k.Name {
	case "ALL":
		return true
	case "AND":
		return mt.matchAll(k.Sub)
	case "NOT":
		return !mt.match(&k.Sub[0])
	case "OR":
		return mt.match(&k.Sub[0]) || mt.match(&k.Sub[1])
	case "UID":
		return inSet(k.Set, m.UID)
	case "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "SEEN", "RECENT":
		return mt.hasFlag(`\` + k.Name)
	case "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN":
		return !mt.hasFlag(`\` + k.Name[2:])
	case "NEW":
		return mt.hasFlag(flagRecent) && !mt.hasFlag(`\Seen`)
	case "OLD":
		return !mt.hasFlag(flagRecent)
	case "KEYWORD":
		return mt.hasFlag(k.Value)
	case "UNKEYWORD":
		return !mt.hasFlag(k.Value)
	case "BEFORE":
		return dateOf(m.InternalDate).Before(dateOf(k.Date))
	case "ON":
		return dateOf(m.InternalDate).Equal(dateOf(k.Date))
	case "SINCE":
		return !dateOf(m.InternalDate).Before(dateOf(k.Date))
	case "OLDER":
		return time.Since(m.InternalDate) >= time.Duration(k.Num)*time.Second
	case "YOUNGER":
		return time.Since(m.InternalDate) <= time.Duration(k.Num)*time.Second
	case "LARGER", "SMALLER":
		size := m.Size
		if info, err := maildir.ParseName(m.Filename); err == nil && info.VSize >= 0 {
			size = info.VSize
		}
		if k.Name == "LARGER" {
			return size > int64(k.Num)
		}
		return size < int64(k.Num)
	case "MODSEQ":
		return uint64(m.ModSeq) >= k.Num
	case "SAVEDBEFORE": // RFC 8514 4.3
		return dateOf(m.SaveDate).Before(dateOf(k.Date))
	case "SAVEDON":
		return dateOf(m.SaveDate).Equal(dateOf(k.Date))
	case "SAVEDSINCE":
		return !dateOf(m.SaveDate).Before(dateOf(k.Date))
	case "SAVEDATESUPPORTED":
		return true // every folder keeps save dates
	case "EMAILID": // RFC 8474 6
		return m.EmailID == k.Value
	case "THREADID":
		return m.ThreadID != "" && m.ThreadID == k.Value
	case "SENTBEFORE", "SENTON", "SENTSINCE":
		h := mt.hdr()
		mh := mail.Header{Header: gomessage.Header{Header: h}}
		t, err := mh.Date()
		if err != nil {
			return false
		}
		d, want := dateOf(t), dateOf(k.Date)
		switch k.Name {
		case "SENTBEFORE":
			return d.Before(want)
		case "SENTON":
			return d.Equal(want)
		}
		return !d.Before(want)
	case "FROM", "TO", "CC", "BCC":
		return mt.addressContains(k.Name, k.Value)
	case "SUBJECT":
		return mt.headerContains("Subject", k.Value)
	case "HEADER":
		return mt.headerContains(k.Field, k.Value)
	case "BODY":
		return mt.textContains(k.Value, false)
	case "TEXT":
		return mt.textContains(k.Value, true)
	}
	return false
}

func inSet(set imapwire.NumSet, n uint32) bool {
	for _, r := range set.Ranges {
		if r.Start <= n && n <= r.Stop {
			return true
		}
	}
	return false
}

// addressContains matches an address field: its text, and its addresses
// written "Name <mailbox@host>" with comments and routes dropped and
// encoded words decoded. A field that occurs once is read from the
// message's envelope (parsed once, cached), the same parse of the same
// text; several are parsed one by one.
func (mt *matcher) addressContains(field, value string) bool {
	if mt.headerContains(field, value) {
		return true
	}
	h := mt.hdr()
	needle := strings.ToLower(value)
	n, first := 0, ""
	for f := h.FieldsByKey(field); f.Next(); n++ {
		first = unfold(f.Value())
	}
	if n == 1 && strings.TrimSpace(first) == first { // as envelopeOf reads it
		if env, err := mt.mf.envelope(); err == nil {
			return mt.addressesContain(envelopeList(env, field), needle)
		}
	}
	for f := h.FieldsByKey(field); f.Next(); {
		if mt.addressesContain(parseAddrs(unfold(f.Value())), needle) {
			return true
		}
	}
	return false
}

// envelopeList is the envelope's list of an address field SEARCH matches.
func envelopeList(env *imapwire.Envelope, field string) []imapwire.Address {
	switch strings.ToUpper(field) {
	case "FROM":
		return env.From
	case "TO":
		return env.To
	case "CC":
		return env.Cc
	}
	return env.Bcc
}

// addressesContain reports whether the text of an address of l, with its
// name's encoded words decoded, contains needle (lower case). l is not
// changed: it may be a cached envelope's.
func (mt *matcher) addressesContain(l []imapwire.Address, needle string) bool {
	ts := mt.scan()
	for _, a := range l {
		if dec, err := wordDecoder.DecodeHeader(a.Name); err == nil {
			a.Name = dec // a is a copy
		}
		ts.lower = appendAddressText(ts.lower[:0], a)
		if ts.lowerContains(needle) {
			return true
		}
	}
	return false
}

// dateOf is the calendar date of t, in t's own zone (RFC 3501 6.4.4
// compares dates, disregarding time and timezone).
func dateOf(t time.Time) time.Time {
	y, mo, d := t.Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
}

func (mt *matcher) hasFlag(f string) bool {
	if strings.EqualFold(f, flagRecent) {
		return mt.s.sel.isRecent(mt.m.UID)
	}
	eq := func(x string) bool { return strings.EqualFold(x, f) }
	return slices.ContainsFunc(mt.m.Flags, eq) || slices.ContainsFunc(mt.m.Keywords, eq)
}

var wordDecoder = &mime.WordDecoder{CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
	return gomessage.CharsetReader(charset, input)
}}

func (mt *matcher) headerContains(key, value string) bool {
	h := mt.hdr()
	value = strings.ToLower(value)
	for f := h.FieldsByKey(key); f.Next(); {
		if value == "" {
			return true
		}
		v := f.Value()
		if dec, err := wordDecoder.DecodeHeader(v); err == nil {
			v = dec
		}
		ts := mt.scan()
		ts.lower = append(ts.lower[:0], v...)
		if ts.lowerContains(value) {
			return true
		}
	}
	return false
}

// textContains looks for needle, case-insensitively, in the decoded text
// parts of the message (and its header fields with withHeader), streaming
// with a bounded buffer.
func (mt *matcher) textContains(needle string, withHeader bool) bool {
	needle = strings.ToLower(needle)
	if needle == "" {
		return true
	}
	if mt.rawExcludes(needle) {
		return false
	}
	if withHeader {
		h := mt.hdr()
		for f := h.Fields(); f.Next(); {
			v := f.Value()
			if dec, err := wordDecoder.DecodeHeader(v); err == nil {
				v = dec
			}
			ts := mt.scan()
			ts.lower = append(append(append(ts.lower[:0], f.Key()...), ": "...), v...)
			if ts.lowerContains(needle) {
				return true
			}
		}
	}
	r, err := mt.mf.reader()
	if err != nil {
		return false
	}
	e, err := gomessage.Read(r)
	if e == nil {
		return false
	}
	_ = err // an unknown charset or encoding: search the raw bytes
	found := false
	e.Walk(func(_ []int, part *gomessage.Entity, err error) error {
		if found || part == nil {
			return nil
		}
		t, _, _ := part.Header.ContentType()
		if t != "" && !strings.HasPrefix(t, "text/") && !strings.HasPrefix(t, "message/") {
			return nil
		}
		if strings.HasPrefix(t, "multipart/") {
			return nil
		}
		found = mt.scan().streamContains(part.Body, needle)
		return nil
	})
	return found
}

// textScan holds the buffers of streamContains, reused for every part
// and message of one SEARCH instead of 64 KiB of garbage per part.
type textScan struct {
	buf, lower []byte
}

// buffer returns the read buffer of a scan that keeps up to tail bytes
// of one read for the next: 32 KiB, or twice tail when that is more (a
// needle as long as a search string may be, 64 KiB, would otherwise fill
// the buffer with its kept tail and leave the next read no room: a read
// of nothing, forever).
func (ts *textScan) buffer(tail int) []byte {
	if n := max(32<<10, 2*tail); len(ts.buf) < n {
		ts.buf = make([]byte, n)
	}
	return ts.buf
}

// streamContains reports whether the lower-cased text of r contains needle
// (already lower case), reading 32 KiB at a time.
func (ts *textScan) streamContains(r io.Reader, needle string) bool {
	buf, nb := ts.buffer(len(needle)+8), []byte(needle)
	keep := 0
	for {
		n, err := r.Read(buf[keep:])
		if n > 0 {
			ts.lower = appendLower(ts.lower[:0], buf[:keep+n])
			if bytes.Contains(ts.lower, nb) {
				return true
			}
			// Keep the tail that could start a match across chunks.
			tail := min(len(nb)-1+8, keep+n)
			copy(buf, buf[keep+n-tail:keep+n])
			keep = tail
		}
		if err != nil {
			return false
		}
	}
}

// appendLower appends bytes.ToLower(b) to dst, without allocating when b
// is ASCII and dst has room.
func appendLower(dst, b []byte) []byte {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return append(dst, bytes.ToLower(b)...)
		}
	}
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}
