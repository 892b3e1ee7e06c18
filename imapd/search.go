package imapd

import (
	"bytes"
	"io"
	"mime"
	"slices"
	"strings"
	"time"

	gomessage "github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // SEARCH decodes text in every charset go-message knows
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"mailhost/maildir"
	"mailhost/store"
)

func (s *session) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	sel := s.sel
	s.staticize(criteria)
	msgs, err := s.srv.opts.Backend.IMAPMessages(s.ctx, sel.folder.ID, nil)
	if err != nil {
		return nil, s.internal("search", err)
	}
	data := &imap.SearchData{}
	var seqs imap.SeqSet
	var uids imap.UIDSet
	var found []uint32
	for i := range msgs {
		m := &msgs[i]
		seq := sel.seqOf(m.UID)
		if seq == 0 {
			continue // arrived after the client's view; not reported yet
		}
		mt := &matcher{s: s, m: m, mf: &msgFile{dir: sel.dir, name: m.Filename}}
		ok := mt.match(criteria)
		mt.mf.close()
		if !ok {
			continue
		}
		num := seq
		if kind == imapserver.NumKindUID {
			num = m.UID
		}
		found = append(found, m.UID)
		if data.Min == 0 || num < data.Min {
			data.Min = num
		}
		data.Max = max(data.Max, num)
		data.Count++
		if kind == imapserver.NumKindUID {
			uids.AddNum(imap.UID(m.UID))
		} else {
			seqs.AddNum(seq)
		}
	}
	if kind == imapserver.NumKindUID {
		data.All = uids
	} else {
		data.All = seqs
	}
	if options != nil && options.ReturnSave {
		sel.searchRes = found
	}
	return data, nil
}

// staticize resolves every sequence set and UID set of the criteria ('*',
// '$') against the client's view, as UID sets.
func (s *session) staticize(c *imap.SearchCriteria) {
	var sets []imap.UIDSet
	for _, set := range c.SeqNum {
		sets = append(sets, uidSetOf(s.sel.resolve(set)))
	}
	for _, set := range c.UID {
		sets = append(sets, uidSetOf(s.sel.resolve(set)))
	}
	c.SeqNum, c.UID = nil, sets
	for i := range c.Not {
		s.staticize(&c.Not[i])
	}
	for i := range c.Or {
		s.staticize(&c.Or[i][0])
		s.staticize(&c.Or[i][1])
	}
}

func uidSetOf(uids []uint32) imap.UIDSet {
	set := imap.UIDSet{}
	for _, u := range uids {
		set.AddNum(imap.UID(u))
	}
	return set
}

// matcher evaluates criteria against one message, reading its file only
// when a criterion needs the header or the text.
type matcher struct {
	s      *session
	m      *store.IMAPMessage
	mf     *msgFile
	header *textproto.Header
}

func (mt *matcher) hdr() textproto.Header {
	if mt.header == nil {
		var h textproto.Header
		if r, err := mt.mf.reader(); err == nil {
			h = readHeader(r)
		}
		mt.header = &h
	}
	return *mt.header
}

func (mt *matcher) match(c *imap.SearchCriteria) bool {
	m := mt.m
	for _, set := range c.UID {
		if !set.Contains(imap.UID(m.UID)) {
			return false
		}
	}
	if !c.Since.IsZero() || !c.Before.IsZero() {
		d := dateOf(m.InternalDate)
		if !c.Since.IsZero() && d.Before(dateOf(c.Since)) || !c.Before.IsZero() && !d.Before(dateOf(c.Before)) {
			return false
		}
	}
	for _, f := range c.Flag {
		if !mt.hasFlag(f) {
			return false
		}
	}
	for _, f := range c.NotFlag {
		if mt.hasFlag(f) {
			return false
		}
	}
	if c.Larger > 0 || c.Smaller > 0 {
		size := m.Size
		if info, err := maildir.ParseName(m.Filename); err == nil && info.VSize >= 0 {
			size = info.VSize
		}
		if c.Larger > 0 && size <= c.Larger || c.Smaller > 0 && size >= c.Smaller {
			return false
		}
	}
	if c.ModSeq != nil && uint64(m.ModSeq) < c.ModSeq.ModSeq {
		return false
	}
	if !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		h := mt.hdr()
		mh := mail.Header{Header: gomessage.Header{Header: h}}
		t, err := mh.Date()
		if err != nil {
			return false
		}
		d := dateOf(t)
		if !c.SentSince.IsZero() && d.Before(dateOf(c.SentSince)) || !c.SentBefore.IsZero() && !d.Before(dateOf(c.SentBefore)) {
			return false
		}
	}
	for _, hf := range c.Header {
		if !mt.headerContains(hf.Key, hf.Value) {
			return false
		}
	}
	for _, t := range c.Body {
		if !mt.textContains(t, false) {
			return false
		}
	}
	for _, t := range c.Text {
		if !mt.textContains(t, true) {
			return false
		}
	}
	for i := range c.Not {
		if mt.match(&c.Not[i]) {
			return false
		}
	}
	for i := range c.Or {
		if !mt.match(&c.Or[i][0]) && !mt.match(&c.Or[i][1]) {
			return false
		}
	}
	return true
}

// dateOf is the calendar date of t, in t's own zone (RFC 3501 6.4.4
// compares dates, disregarding time and timezone).
func dateOf(t time.Time) time.Time {
	y, mo, d := t.Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
}

func (mt *matcher) hasFlag(f imap.Flag) bool {
	if strings.EqualFold(string(f), string(flagRecent)) {
		return mt.s.sel.isRecent(mt.m.UID)
	}
	eq := func(x string) bool { return strings.EqualFold(x, string(f)) }
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
		if strings.Contains(strings.ToLower(v), value) {
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
	if withHeader {
		h := mt.hdr()
		for f := h.Fields(); f.Next(); {
			v := f.Value()
			if dec, err := wordDecoder.DecodeHeader(v); err == nil {
				v = dec
			}
			if strings.Contains(strings.ToLower(f.Key()+": "+v), needle) {
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
		found = streamContains(part.Body, needle)
		return nil
	})
	return found
}

// streamContains reports whether the lower-cased text of r contains needle
// (already lower case), reading 32 KiB at a time.
func streamContains(r io.Reader, needle string) bool {
	nb := []byte(needle)
	buf := make([]byte, 32<<10)
	keep := 0
	for {
		n, err := r.Read(buf[keep:])
		if n > 0 {
			win := bytes.ToLower(buf[:keep+n])
			if bytes.Contains(win, nb) {
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
