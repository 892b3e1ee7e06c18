package imapd

import (
	"bytes"
	"cmp"
	"errors"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/emersion/go-message/textproto"

	"mailhost/imapwire"
	"mailhost/maildir"
	"mailhost/mailheader"
	"mailhost/store"
)

// fetchChunk is how many index rows a FETCH reads at a time.
const fetchChunk = 500

func cmdFetch(s *session, cmd *imapwire.Command) error {
	a := cmd.Args.(*imapwire.Fetch)
	items := &a.Items
	if cmd.UID {
		items.UID = true
	}
	uids, err := s.fetchSync(a, cmd.UID, s.sel.resolve(a.Set, cmd.UID))
	if err != nil {
		return err
	}
	return s.fetchUIDs(uids, items)
}

// flagsOnly reports whether a FETCH asks for nothing but UID and FLAGS.
func flagsOnly(it *imapwire.FetchItems) bool {
	return !(it.InternalDate || it.RFC822Size || it.Envelope || it.Body || it.BodyStructure || it.ModSeq ||
		it.Preview || it.SaveDate || it.EmailID || it.ThreadID || len(it.Sections) > 0 || len(it.BinarySize) > 0)
}

// fetchCachedFlags answers a FETCH of UID and FLAGS from the session's
// view of the flags, which the poll after each notice keeps current:
// no round trip to the index.
func (s *session) fetchCachedFlags(uids []uint32, it *imapwire.FetchItems) {
	sel := s.sel
	e := &s.enc
	var buf [len(flagBits)]string
	for _, uid := range uids {
		i, ok := slices.BinarySearch(sel.uids, uid)
		if !ok {
			continue
		}
		flags, keywords := sel.appendCachedFlags(buf[:0], i)
		if it.Flags {
			s.announce(keywords)
		}
		e.Raw("* ").Number(uint64(i + 1)).Raw(" FETCH (")
		if it.UID {
			e.Raw("UID ").Number(uint64(uid))
			if it.Flags {
				e.SP()
			}
		}
		if it.Flags {
			e.Raw("FLAGS ")
			s.writeMsgFlags(uid, flags, keywords)
		}
		e.Raw(")").CRLF()
	}
}

func (s *session) fetchUIDs(uids []uint32, items *imapwire.FetchItems) error {
	sel := s.sel
	// With CONDSTORE on, FLAGS come with MODSEQ (RFC 7162 3.1.4.1), which
	// the cache does not keep; CHANGEDSINCE filters by it.
	if flagsOnly(items) && !s.condstore && items.ChangedSince == 0 {
		// Bring the cache up to date first when a notice says something
		// changed (no EXPUNGE during FETCH: RFC 9051 7.5.1).
		s.pollIfChanged(false, false)
		s.fetchCachedFlags(uids, items)
		return nil
	}
	setSeen := false
	if !sel.readOnly {
		for _, b := range items.Sections {
			setSeen = setSeen || !b.Peek
		}
	}
	// Without MODSEQ to show, the rows come from the node's row cache and
	// the flags from the session's, brought up to date first as for FETCH
	// FLAGS; only the rows the cache lacks are read.
	fromCache := !s.condstore && items.ChangedSince == 0 && !items.ModSeq
	if fromCache {
		s.pollIfChanged(false, false)
	}
	for len(uids) > 0 {
		chunk := uids[:min(fetchChunk, len(uids))]
		uids = uids[len(chunk):]
		msgs, err := s.fetchRows(chunk, fromCache)
		if err != nil {
			return s.internal("fetch", err)
		}
		var seen map[uint32]store.FlagChange
		if setSeen {
			var unseen []uint32
			for _, m := range msgs {
				if !slices.Contains(m.Flags, `\Seen`) {
					unseen = append(unseen, m.UID)
				}
			}
			if len(unseen) > 0 {
				changes, err := s.storeFlags(sel, unseen, store.FlagsAdd, []string{`\Seen`})
				if err != nil {
					return err
				}
				seen = make(map[uint32]store.FlagChange, len(changes))
				for _, c := range changes {
					seen[c.UID] = c
				}
			}
		}
		for i := range msgs {
			m := &msgs[i]
			c, changed := seen[m.UID]
			if changed {
				m.Flags, m.Keywords, m.Filename, m.ModSeq = c.Flags, c.Keywords, c.NewName, c.ModSeq
			} else if !fromCache {
				sel.setFlags(m.UID, m.Flags, m.Keywords)
			}
			if err := s.fetchOne(m, items, changed); err != nil {
				return err
			}
		}
	}
	return nil
}

// fetchRows reads the index rows of uids (in UID order), through the
// node's row cache when fromCache.
func (s *session) fetchRows(uids []uint32, fromCache bool) ([]store.IMAPMessage, error) {
	b := s.srv.opts.Backend
	if !fromCache {
		msgs, err := b.IMAPMessages(s.ctx, s.sel.folder.ID, uids)
		if err == nil {
			s.rememberRows(msgs)
		}
		return msgs, err
	}
	msgs, missing := s.cachedRows(uids)
	if len(missing) == 0 {
		return msgs, nil
	}
	read, err := b.IMAPMessages(s.ctx, s.sel.folder.ID, missing)
	if err != nil {
		return nil, err
	}
	s.rememberRows(read)
	for i := range read { // the session's flags, as for the cached rows
		if j := int(s.sel.seqOf(read[i].UID)) - 1; j >= 0 {
			read[i].Flags, read[i].Keywords = s.sel.appendCachedFlags(nil, j)
		}
	}
	msgs = append(msgs, read...)
	slices.SortFunc(msgs, func(a, b store.IMAPMessage) int { return cmp.Compare(a.UID, b.UID) })
	return msgs, nil
}

// msgFile opens a message file lazily and re-reads it from the start for
// each item that needs its bytes.
type msgFile struct {
	dir  maildir.Folder
	name string
	f    *os.File
	hdr  *textproto.Header // parsed once per message, for ENVELOPE and header fields
	env  *imapwire.Envelope
	// caches hold what was parsed before, under ck (nil: none).
	caches *msgCaches
	ck     hdrKey
}

// newMsgFile returns the file of m in the selected folder, with the
// server's header cache.
func (s *session) newMsgFile(m *store.IMAPMessage) *msgFile {
	sel := s.sel
	return &msgFile{dir: sel.dir, name: m.Filename, caches: s.srv.caches,
		ck: hdrKey{folder: sel.folder.ID, uid: m.UID, key: m.Key}}
}

// cachedHeader reports whether the header cache has the message's header
// (and takes it).
func (mf *msgFile) cachedHeader() bool {
	if mf.hdr == nil && mf.caches != nil {
		mf.hdr, _ = mf.caches.hdrs.get(mf.ck)
	}
	return mf.hdr != nil
}

// structure returns the message's body structure, computed once.
func (mf *msgFile) structure() (*imapwire.BodyStructure, error) {
	if mf.caches != nil {
		if bs, ok := mf.caches.structs.get(mf.ck); ok {
			return bs, nil
		}
	}
	r, err := mf.reader()
	if err != nil {
		return nil, err
	}
	bs := bodyStructure(r)
	if mf.caches != nil {
		mf.caches.structs.put(mf.ck, bs, structCost(bs))
	}
	return bs, nil
}

// cachedFor reports whether the caches answer every item of it that
// needs the message's bytes: no file needs opening.
func (mf *msgFile) cachedFor(it *imapwire.FetchItems) bool {
	if len(it.BinarySize) > 0 || it.Preview || mf.caches == nil {
		return false
	}
	for i := range it.Sections {
		sec := &it.Sections[i]
		if sec.Binary || len(sec.Part) > 0 || (sec.Specifier != "HEADER.FIELDS" && sec.Specifier != "HEADER.FIELDS.NOT") {
			return false
		}
	}
	if len(it.Sections) > 0 && !mf.cachedHeader() {
		return false
	}
	if it.Envelope && !mf.cachedEnvelope() && !mf.cachedHeader() {
		return false
	}
	if it.Body || it.BodyStructure {
		if _, ok := mf.caches.structs.get(mf.ck); !ok {
			return false
		}
	}
	return true
}

// header returns the message's parsed top-level header.
func (mf *msgFile) header() (textproto.Header, error) {
	h, _, err := mf.headerCacheable()
	return h, err
}

// headerCacheable is header, and whether the header is whole (cached, or
// read without error): what is built from it may be cached too.
func (mf *msgFile) headerCacheable() (h textproto.Header, whole bool, err error) {
	if mf.cachedHeader() {
		return *mf.hdr, true, nil
	}
	r, err := mf.reader()
	if err != nil {
		return textproto.Header{}, false, err
	}
	mh := mailheader.Read(r)
	mf.hdr = &mh.Header
	if mh.Err == nil && mf.caches != nil {
		mf.caches.hdrs.put(mf.ck, mf.hdr, mh.Size)
	}
	return mh.Header, mh.Err == nil, nil
}

// cachedEnvelope reports whether the envelope cache has the message's
// envelope (and takes it).
func (mf *msgFile) cachedEnvelope() bool {
	if mf.env == nil && mf.caches != nil {
		mf.env, _ = mf.caches.envs.get(mf.ck)
	}
	return mf.env != nil
}

// envelope returns the message's ENVELOPE, built once from its header.
// A file that cannot be read has the envelope of an empty header, with
// the error.
func (mf *msgFile) envelope() (*imapwire.Envelope, error) {
	if mf.cachedEnvelope() {
		return mf.env, nil
	}
	h, whole, err := mf.headerCacheable()
	if err != nil {
		return envelopeOf(textproto.Header{}), err
	}
	mf.env = envelopeOf(h)
	if whole && mf.caches != nil {
		mf.caches.envs.put(mf.ck, mf.env, envCost(mf.env))
	}
	return mf.env, nil
}

func (mf *msgFile) reader() (io.Reader, error) {
	if mf.f == nil {
		f, err := mf.dir.Open(mf.name)
		if err != nil {
			return nil, err
		}
		mf.f = f
	} else if _, err := mf.f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return newCRLFReader(mf.f), nil
}

func (mf *msgFile) close() {
	if mf.f != nil {
		mf.f.Close()
	}
}

// vsize is the size of the message as served (CRLF line ends): the ",W="
// of its name, or counted.
func (mf *msgFile) vsize(m *store.IMAPMessage) (int64, error) {
	if info, err := maildir.ParseName(m.Filename); err == nil && info.VSize >= 0 {
		return info.VSize, nil
	}
	r, err := mf.reader()
	if err != nil {
		return 0, err
	}
	return io.Copy(io.Discard, r)
}

func (s *session) fetchOne(m *store.IMAPMessage, it *imapwire.FetchItems, flagsChanged bool) error {
	sel := s.sel
	seq := sel.seqOf(m.UID)
	if seq == 0 {
		return nil
	}
	// Open the file before writing anything, so a message whose file has
	// vanished is skipped rather than half written. Items answered from the
	// caches need no file (a file gone since means the message was
	// expunged meanwhile, and its data may still be sent: RFC 2180 4.1.2).
	mf := s.newMsgFile(m)
	defer mf.close()
	needsBytes := it.Envelope || it.Body || it.BodyStructure || len(it.Sections) > 0 || len(it.BinarySize) > 0 || it.Preview
	if needsBytes && mf.cachedFor(it) {
		needsBytes = false
	}
	var vsize int64
	if needsBytes || it.RFC822Size {
		var err error
		if vsize, err = mf.vsize(m); err == nil && mf.f == nil && needsBytes {
			_, err = mf.reader()
		}
		if errors.Is(err, fs.ErrNotExist) {
			s.logger().Warn("imap: message file missing", "folder", sel.folder.Name, "uid", m.UID, "file", m.Filename)
			return nil
		}
		if err != nil {
			return s.internal("fetch: open message", err)
		}
	}
	showFlags := it.Flags || flagsChanged
	if showFlags {
		s.announce(m.Keywords)
	}
	e := &s.enc
	e.Raw("* ").Number(uint64(seq)).Raw(" FETCH (")
	sp := false
	item := func(name string) *imapwire.Encoder {
		if sp {
			e.SP()
		}
		sp = true
		return e.Raw(name)
	}
	if it.UID {
		item("UID ").Number(uint64(m.UID))
	}
	if showFlags {
		item("FLAGS ")
		s.writeMsgFlags(m.UID, m.Flags, m.Keywords)
	}
	if it.InternalDate {
		item("INTERNALDATE ").DateTime(m.InternalDate)
	}
	if it.RFC822Size {
		item("RFC822.SIZE ").Number(uint64(vsize))
	}
	if it.ModSeq || (showFlags && s.condstore) { // RFC 7162 3.1.4.1
		item("MODSEQ (").Number(uint64(m.ModSeq)).Byte(')')
	}
	if it.EmailID {
		objectID(item("EMAILID "), m.EmailID)
	}
	if it.ThreadID {
		objectID(item("THREADID "), m.ThreadID)
	}
	if it.SaveDate {
		item("SAVEDATE ").DateTime(m.SaveDate)
	}
	var ferr error
	if it.Envelope {
		env, err := mf.envelope()
		item("ENVELOPE ").Envelope(env)
		ferr = errors.Join(ferr, err)
	}
	if it.Body || it.BodyStructure {
		bs, err := mf.structure()
		if err != nil {
			return s.internal("fetch: read message", err)
		}
		if it.BodyStructure {
			item("BODYSTRUCTURE ").BodyStructure(bs, true)
		}
		if it.Body {
			item("BODY ").BodyStructure(bs, false)
		}
	}
	if it.Preview {
		r, err := mf.reader()
		p := ""
		if err == nil {
			p = preview(r)
		}
		item("PREVIEW ").NString(p)
	}
	for i := range it.BinarySize {
		sec := &it.BinarySize[i]
		r, err := mf.reader()
		if err != nil {
			return s.internal("fetch: read message", err)
		}
		var n int64
		if src := binaryBody(r, sec.Part); src != nil {
			n, _ = io.Copy(io.Discard, src)
		}
		item("").BinarySizeName(sec).SP().Number(uint64(n))
	}
	for i := range it.Sections {
		sec := &it.Sections[i]
		item("").SectionName(sec).SP()
		if err := writeSection(e, mf, sec, vsize); err != nil {
			return err
		}
	}
	e.Raw(")").CRLF()
	if ferr != nil {
		s.logger().Warn("imap: fetch: read message", "uid", m.UID, "err", ferr)
	}
	return nil
}

// writeSection writes one BODY[...] or BINARY[...] item's data. The
// whole message, its top-level header and its top-level text are streamed
// from the file, and so are parts' bodies; header sections of parts are
// read into memory (bounded as headers are).
func writeSection(e *imapwire.Encoder, mf *msgFile, sec *imapwire.Section, vsize int64) error {
	lit := func(n int64) io.Writer {
		e.LiteralHeader(n, sec.Binary)
		return e.Writer()
	}
	if sec.Binary {
		return streamSection(mf, func(r io.Reader) io.Reader { return binaryBody(r, sec.Part) }, sec.Partial, lit)
	}
	fields := sec.Specifier == "HEADER.FIELDS" || sec.Specifier == "HEADER.FIELDS.NOT"
	if len(sec.Part) == 0 && fields {
		// HEADER.FIELDS (NOT) of the message: from the header parsed once.
		h, err := mf.header()
		if err != nil {
			return err
		}
		return writeHeaderFields(lit, h, sec)
	}
	r, err := mf.reader()
	if err != nil {
		return err
	}
	if len(sec.Part) > 0 {
		switch sec.Specifier {
		case "", "TEXT":
			// A part's body, or the text of an attached message: streamed.
			text := sec.Specifier == "TEXT"
			return streamSection(mf, func(r io.Reader) io.Reader { return partBody(r, sec.Part, text) }, sec.Partial, lit)
		}
		return writeBytes(lit, partHeader(r, sec), sec.Partial)
	}
	start, length := int64(0), vsize
	if sec.Specifier != "" {
		hl, err := headerLength(r)
		if err != nil {
			return err
		}
		if sec.Specifier == "HEADER" {
			length = hl
		} else {
			start, length = hl, vsize-hl
		}
		if r, err = mf.reader(); err != nil {
			return err
		}
	}
	if p := sec.Partial; p != nil {
		if p.Offset >= length {
			start, length = 0, 0
		} else {
			start += p.Offset
			length = min(length-p.Offset, p.Size)
		}
	}
	if length < 0 {
		length = 0
	}
	if _, err := io.CopyN(io.Discard, r, start); err != nil && length > 0 {
		return err
	}
	w := lit(length)
	if n, err := copyN(w, r, length); err != nil && n < length {
		// The file is shorter than its name says: pad, so the literal
		// keeps its announced length and the session stays in sync.
		if _, err := io.CopyN(w, padding{}, length-n); err != nil {
			return err
		}
	}
	return nil
}

// writeBytes writes b (its partial range) as the literal of a section.
func writeBytes(lit func(int64) io.Writer, b []byte, p *imapwire.Partial) error {
	if p != nil {
		b = b[min(int64(len(b)), p.Offset):min(int64(len(b)), p.Offset+p.Size)]
	}
	_, err := lit(int64(len(b))).Write(b)
	return err
}

// streamSection sends the bytes open finds in the message in two passes
// over the file, one to count them (the literal's size comes first) and one
// to send them, so memory does not grow with the section's size. A section
// that does not exist is sent empty.
func streamSection(mf *msgFile, open func(io.Reader) io.Reader, partial *imapwire.Partial,
	write func(size int64) io.Writer) error {
	r, err := mf.reader()
	if err != nil {
		return err
	}
	var total int64
	if src := open(r); src != nil {
		total, _ = io.Copy(io.Discard, src)
	}
	start, length := int64(0), total
	if partial != nil {
		if partial.Offset >= total {
			length = 0
		} else {
			start, length = partial.Offset, min(total-partial.Offset, partial.Size)
		}
	}
	wc := write(length)
	if length > 0 {
		if r, err = mf.reader(); err != nil {
			return err
		}
		src := open(r)
		if src == nil {
			src = bytes.NewReader(nil)
		}
		io.CopyN(io.Discard, src, start)
		if n, err := copyN(wc, src, length); err != nil && n < length {
			if _, err := io.CopyN(wc, padding{}, length-n); err != nil {
				return err
			}
		}
	}
	return nil
}

// copyBufs are the buffers of copyN: large reads from the file, whole
// writes to the connection past the response's buffer.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copyN copies n bytes of r to w through a pooled buffer (not through
// w's ReadFrom, which would read in the response buffer's small steps).
func copyN(w io.Writer, r io.Reader, n int64) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	written, err := io.CopyBuffer(struct{ io.Writer }{w}, io.LimitReader(r, n), *bp)
	if err == nil && written < n {
		err = io.EOF
	}
	return written, err
}

// padding reads spaces: it fills a literal whose source came up short
// (the file changed between the passes), so the session stays in sync.
type padding struct{}

func (padding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// headerFields serializes the fields of h named in the section's list
// (HEADER.FIELDS) or not in it (.NOT), then the blank line (RFC 3501
// 6.4.5).
//
// The fields are copied as read (textproto.WriteHeader's bytes), without
// copying the header to delete the others; h is not changed, so a header
// shared by sessions (hdrCache) can be used.
func headerFields(h textproto.Header, sec *imapwire.Section) []byte {
	var buf bytes.Buffer
	eachHeaderField(h, sec, func(raw []byte) { buf.Write(raw) })
	buf.WriteString("\r\n")
	return buf.Bytes()
}

// writeHeaderFields writes headerFields as a section's literal, without
// a buffer but for a partial fetch: the fields are sized, then written.
func writeHeaderFields(lit func(int64) io.Writer, h textproto.Header, sec *imapwire.Section) error {
	if sec.Partial != nil {
		return writeBytes(lit, headerFields(h, sec), sec.Partial)
	}
	n := int64(len("\r\n"))
	eachHeaderField(h, sec, func(raw []byte) { n += int64(len(raw)) })
	w := lit(n)
	var err error
	eachHeaderField(h, sec, func(raw []byte) {
		if err == nil {
			_, err = w.Write(raw)
		}
	})
	if err == nil {
		_, err = io.WriteString(w, "\r\n")
	}
	return err
}

// eachHeaderField calls fn with the raw bytes of each field of h that the
// section names (HEADER.FIELDS) or does not (.NOT), in order, stopping
// as WriteHeader does at a field it cannot write.
func eachHeaderField(h textproto.Header, sec *imapwire.Section, fn func(raw []byte)) {
	not := sec.Specifier == "HEADER.FIELDS.NOT"
	for f := h.Fields(); f.Next(); {
		k := f.Key()
		named := slices.ContainsFunc(sec.Fields, func(s string) bool { return strings.EqualFold(s, k) })
		if named == not {
			continue
		}
		raw, err := f.Raw()
		if err != nil {
			return
		}
		fn(raw)
	}
}

// partHeader returns a part's HEADER, HEADER.FIELDS (NOT) or MIME
// section: MIME is the part's own header; the others are the header of
// the message a message/rfc822 part holds.
func partHeader(r io.Reader, sec *imapwire.Section) []byte {
	h, body, mt, ok := findPart(r, sec.Part)
	if !ok {
		return nil
	}
	if sec.Specifier != "MIME" {
		if !isMessageType(mt) {
			return nil
		}
		h = readHeader(body)
	}
	switch sec.Specifier {
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		return headerFields(h, sec)
	}
	var buf bytes.Buffer
	textproto.WriteHeader(&buf, h)
	return buf.Bytes()
}
