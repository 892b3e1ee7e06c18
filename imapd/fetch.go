package imapd

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/emersion/go-message/textproto"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"mailhost/maildir"
	"mailhost/store"
)

// fetchChunk is how many index rows a FETCH reads at a time.
const fetchChunk = 500

func (s *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	return s.fetchUIDs(w, s.sel.resolve(numSet), options)
}

func (s *session) fetchUIDs(w *imapserver.FetchWriter, uids []uint32, options *imap.FetchOptions) error {
	sel := s.sel
	setSeen := false
	if !sel.readOnly {
		for _, b := range options.BodySection {
			setSeen = setSeen || !b.Peek
		}
		for _, b := range options.BinarySection {
			setSeen = setSeen || !b.Peek
		}
	}
	for len(uids) > 0 {
		chunk := uids[:min(fetchChunk, len(uids))]
		uids = uids[len(chunk):]
		msgs, err := s.srv.opts.Backend.IMAPMessages(s.ctx, sel.folder.ID, chunk)
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
				changes, err := s.storeFlags(sel, unseen, store.FlagsAdd, []imap.Flag{imap.FlagSeen})
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
				m.Flags, m.Keywords, m.Filename = c.Flags, c.Keywords, c.NewName
			}
			if err := s.fetchOne(w, m, options, changed); err != nil {
				return err
			}
		}
	}
	return nil
}

// msgFile opens a message file lazily and re-reads it from the start for
// each item that needs its bytes.
type msgFile struct {
	dir  maildir.Folder
	name string
	f    *os.File
	hdr  *textproto.Header // parsed once per message, for ENVELOPE and header fields
}

// header returns the message's parsed top-level header.
func (mf *msgFile) header() (textproto.Header, error) {
	if mf.hdr != nil {
		return *mf.hdr, nil
	}
	r, err := mf.reader()
	if err != nil {
		return textproto.Header{}, err
	}
	h := readHeader(r)
	mf.hdr = &h
	return h, nil
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

func (s *session) fetchOne(w *imapserver.FetchWriter, m *store.IMAPMessage, options *imap.FetchOptions, flagsChanged bool) error {
	sel := s.sel
	seq := sel.seqOf(m.UID)
	if seq == 0 {
		return nil
	}
	mf := &msgFile{dir: sel.dir, name: m.Filename}
	defer mf.close()
	// Open the file before writing anything, so a message whose file has
	// vanished is skipped rather than half written.
	needsFile := options.Envelope || options.BodyStructure != nil || len(options.BodySection) > 0 ||
		len(options.BinarySection) > 0 || len(options.BinarySectionSize) > 0 || options.RFC822Size
	var vsize int64
	if needsFile {
		var err error
		if vsize, err = mf.vsize(m); err == nil && mf.f == nil && (options.Envelope || options.BodyStructure != nil ||
			len(options.BodySection) > 0 || len(options.BinarySection) > 0 || len(options.BinarySectionSize) > 0) {
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
	rw := w.CreateMessage(seq)
	if options.UID {
		rw.WriteUID(imap.UID(m.UID))
	}
	if options.Flags || flagsChanged {
		rw.WriteFlags(sel.imapFlags(m.UID, m.Flags, m.Keywords))
	}
	if options.InternalDate {
		rw.WriteInternalDate(m.InternalDate)
	}
	if options.RFC822Size {
		rw.WriteRFC822Size(vsize)
	}
	var ferr error
	if options.Envelope {
		h, err := mf.header()
		if err == nil {
			rw.WriteEnvelope(imapserver.ExtractEnvelope(h))
		}
		ferr = errors.Join(ferr, err)
	}
	if options.BodyStructure != nil {
		r, err := mf.reader()
		if err == nil {
			rw.WriteBodyStructure(bodyStructure(r))
		}
		ferr = errors.Join(ferr, err)
	}
	for _, sec := range options.BodySection {
		if err := writeSection(rw, mf, sec, vsize); err != nil {
			rw.Close()
			return err
		}
	}
	for _, sec := range options.BinarySection {
		var err error
		if len(sec.Part) == 0 {
			var r io.Reader
			if r, err = mf.reader(); err == nil {
				b := imapserver.ExtractBinarySection(r, sec)
				wc := rw.WriteBinarySection(sec, int64(len(b)))
				wc.Write(b)
				err = wc.Close()
			}
		} else {
			err = streamSection(mf, func(r io.Reader) io.Reader { return binaryBody(r, sec.Part) }, sec.Partial,
				func(n int64) io.WriteCloser { return rw.WriteBinarySection(sec, n) })
		}
		if err != nil {
			rw.Close()
			return err
		}
	}
	for _, sec := range options.BinarySectionSize {
		r, err := mf.reader()
		if err != nil {
			ferr = errors.Join(ferr, err)
			continue
		}
		var n int64
		if src := binaryBody(r, sec.Part); len(sec.Part) > 0 && src != nil {
			n, _ = io.Copy(io.Discard, src)
		} else if len(sec.Part) == 0 {
			n = int64(imapserver.ExtractBinarySectionSize(r, sec))
		}
		rw.WriteBinarySectionSize(sec, uint32(n))
	}
	if ferr != nil {
		s.logger().Warn("imap: fetch: read message", "uid", m.UID, "err", ferr)
	}
	return rw.Close()
}

// writeSection writes one BODY[...] item. The whole message, its top-level
// header and its top-level text are streamed from the file; other sections
// (parts, header field lists) go through go-imap's section extraction.
func writeSection(rw *imapserver.FetchResponseWriter, mf *msgFile, sec *imap.FetchItemBodySection, vsize int64) error {
	if len(sec.Part) == 0 && sec.Specifier == imap.PartSpecifierHeader && (len(sec.HeaderFields) > 0 || len(sec.HeaderFieldsNot) > 0) {
		// HEADER.FIELDS (NOT) of the message: from the header parsed once.
		h, err := mf.header()
		if err != nil {
			return err
		}
		b := headerFields(h, sec.HeaderFields, sec.HeaderFieldsNot)
		if p := sec.Partial; p != nil {
			b = b[min(int64(len(b)), p.Offset):min(int64(len(b)), p.Offset+p.Size)]
		}
		wc := rw.WriteBodySection(sec, int64(len(b)))
		wc.Write(b)
		return wc.Close()
	}
	r, err := mf.reader()
	if err != nil {
		return err
	}
	streamed := len(sec.Part) == 0 && len(sec.HeaderFields) == 0 && len(sec.HeaderFieldsNot) == 0 &&
		(sec.Specifier == imap.PartSpecifierNone || sec.Specifier == imap.PartSpecifierText ||
			sec.Specifier == imap.PartSpecifierHeader)
	if !streamed && len(sec.HeaderFields) == 0 && len(sec.HeaderFieldsNot) == 0 &&
		(sec.Specifier == imap.PartSpecifierNone || sec.Specifier == imap.PartSpecifierText) {
		// A part's body, or the text of an attached message: streamed too.
		text := sec.Specifier == imap.PartSpecifierText
		return streamSection(mf, func(r io.Reader) io.Reader { return partBody(r, sec.Part, text) }, sec.Partial,
			func(n int64) io.WriteCloser { return rw.WriteBodySection(sec, n) })
	}
	if !streamed { // headers: bounded by mailheader.MaxSize-ish sizes
		b := imapserver.ExtractBodySection(r, sec)
		wc := rw.WriteBodySection(sec, int64(len(b)))
		wc.Write(b)
		return wc.Close()
	}
	start, length := int64(0), vsize
	if sec.Specifier != imap.PartSpecifierNone {
		hl, err := headerLength(r)
		if err != nil {
			return err
		}
		if sec.Specifier == imap.PartSpecifierHeader {
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
	wc := rw.WriteBodySection(sec, length)
	if n, err := io.CopyN(wc, r, length); err != nil && n < length {
		// The file is shorter than its name says: pad, so the literal
		// keeps its announced length and the session stays in sync.
		if _, err := io.CopyN(wc, padding{}, length-n); err != nil {
			return err
		}
	}
	return wc.Close()
}

// streamSection sends the bytes open finds in the message in two passes
// over the file, one to count them (the literal's size comes first) and one
// to send them, so memory does not grow with the section's size. A section
// that does not exist is sent empty.
func streamSection(mf *msgFile, open func(io.Reader) io.Reader, partial *imap.SectionPartial,
	write func(size int64) io.WriteCloser) error {
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
		if n, err := io.CopyN(wc, src, length); err != nil && n < length {
			if _, err := io.CopyN(wc, padding{}, length-n); err != nil {
				return err
			}
		}
	}
	return wc.Close()
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

// headerFields serializes the fields of h named in keep (all when keep is
// empty) and not in drop, then the blank line (RFC 3501 6.4.5).
func headerFields(h textproto.Header, keep, drop []string) []byte {
	h = h.Copy()
	for f := h.Fields(); f.Next(); {
		k := f.Key()
		eq := func(s string) bool { return strings.EqualFold(s, k) }
		if len(keep) > 0 && !slices.ContainsFunc(keep, eq) || slices.ContainsFunc(drop, eq) {
			f.Del()
		}
	}
	var buf bytes.Buffer
	textproto.WriteHeader(&buf, h)
	return buf.Bytes()
}
