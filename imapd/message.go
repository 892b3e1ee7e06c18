package imapd

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime/quotedprintable"
	"strings"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"mailhost/mailheader"
)

// crlfReader turns every bare LF into CRLF, so a Maildir file written with
// Unix line ends is served as RFC 5322 requires. Sizes (RFC822.SIZE, the
// ",W=" of the file name) count the converted bytes.
type crlfReader struct {
	r         io.Reader
	lastCR    bool
	pendingLF bool
	one       [1]byte
}

func newCRLFReader(r io.Reader) *crlfReader { return &crlfReader{r: r} }

func (c *crlfReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n := 0
	if c.pendingLF {
		p[0] = '\n'
		c.pendingLF, c.lastCR = false, false
		n = 1
		if len(p) == 1 {
			return 1, nil
		}
	}
	room := len(p) - n
	m := room / 2
	if m == 0 { // one byte of room
		k, err := c.r.Read(c.one[:])
		if k == 0 {
			return n, err
		}
		b := c.one[0]
		if b == '\n' && !c.lastCR {
			p[n] = '\r'
			c.pendingLF = true
			return n + 1, nil
		}
		p[n] = b
		c.lastCR = b == '\r'
		return n + 1, err
	}
	k, err := c.r.Read(p[n : n+m])
	if k == 0 {
		return n, err
	}
	src := p[n : n+k]
	bare := 0
	prevCR := c.lastCR
	for i, b := range src {
		if b == '\n' && !(i == 0 && prevCR || i > 0 && src[i-1] == '\r') {
			bare++
		}
	}
	c.lastCR = src[k-1] == '\r'
	if bare == 0 {
		return n + k, err
	}
	// Expand from the back; k+bare <= 2m <= room.
	j := n + k + bare
	for i := k - 1; i >= 0; i-- {
		b := src[i]
		j--
		p[j] = b
		if b == '\n' && !(i == 0 && prevCR || i > 0 && src[i-1] == '\r') {
			j--
			p[j] = '\r'
		}
	}
	return n + k + bare, err
}

// headerLength returns the length of the header in r (CRLF form),
// including the blank line that ends it, or the whole length when there is
// no body.
func headerLength(r io.Reader) (int64, error) {
	br := bufio.NewReaderSize(r, 4096)
	var n int64
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			n += int64(len(line))
			continue
		}
		n += int64(len(line))
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if len(line) == 2 && line[0] == '\r' || len(line) == 1 {
			return n, nil
		}
	}
}

// readHeader parses the top-level header of a message (ENVELOPE, header
// fields, SEARCH) through mailheader, the reader every package shares:
// at most mailheader.MaxSize bytes, the fields before a malformed line.
func readHeader(r io.Reader) textproto.Header {
	return mailheader.Read(r).Header
}

// countWriter counts bytes and lines written to it.
type countWriter struct{ n, lines int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	c.lines += int64(bytes.Count(p, []byte{'\n'}))
	return len(p), nil
}

// bodyStructure computes BODYSTRUCTURE while streaming the message: part
// sizes and line counts are counted, never held in memory.
func bodyStructure(r io.Reader) imap.BodyStructure {
	br := bufio.NewReader(r)
	h, _ := textproto.ReadHeader(br)
	return partStructure(h, br, "")
}

func partStructure(raw textproto.Header, body io.Reader, parentType string) imap.BodyStructure {
	h := gomessage.Header{Header: raw}
	mediaType, params, err := h.ContentType()
	if err != nil || mediaType == "" || !raw.Has("Content-Type") {
		if parentType == "multipart/digest" {
			mediaType, params = "message/rfc822", nil
		} else {
			mediaType, params = "text/plain", map[string]string{"charset": "us-ascii"}
		}
	}
	typ, sub, _ := strings.Cut(mediaType, "/")
	disp := disposition(h)
	var lang []string
	if v := h.Get("Content-Language"); v != "" {
		for _, l := range strings.Split(v, ",") {
			if l = strings.TrimSpace(l); l != "" {
				lang = append(lang, l)
			}
		}
	}
	if typ == "multipart" {
		mp := &imap.BodyStructureMultiPart{Subtype: sub}
		mr := textproto.NewMultipartReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil || p == nil {
				break
			}
			mp.Children = append(mp.Children, partStructure(p.Header, p, mediaType))
		}
		io.Copy(io.Discard, body) // the epilogue
		mp.Extended = &imap.BodyStructureMultiPartExt{Params: params, Disposition: disp, Language: lang,
			Location: h.Get("Content-Location")}
		return mp
	}
	enc := h.Get("Content-Transfer-Encoding")
	if enc == "" {
		enc = "7BIT"
	}
	sp := &imap.BodyStructureSinglePart{Type: typ, Subtype: sub, Params: params,
		ID: h.Get("Content-Id"), Description: h.Get("Content-Description"), Encoding: strings.ToUpper(enc)}
	cw := &countWriter{}
	if mediaType == "message/rfc822" || mediaType == "message/global" {
		tr := io.TeeReader(body, cw)
		inner := bufio.NewReader(tr)
		ih, _ := textproto.ReadHeader(inner)
		sp.MessageRFC822 = &imap.BodyStructureMessageRFC822{
			Envelope:      imapserver.ExtractEnvelope(ih),
			BodyStructure: partStructure(ih, inner, ""),
		}
		io.Copy(io.Discard, inner)
		sp.MessageRFC822.NumLines = cw.lines
	} else {
		io.Copy(cw, body)
	}
	sp.Size = uint32(cw.n)
	if typ == "text" {
		sp.Text = &imap.BodyStructureText{NumLines: cw.lines}
	}
	sp.Extended = &imap.BodyStructureSinglePartExt{Disposition: disp, Language: lang, Location: h.Get("Content-Location")}
	return sp
}

func disposition(h gomessage.Header) *imap.BodyStructureDisposition {
	d, params, err := h.ContentDisposition()
	if err != nil || d == "" {
		return nil
	}
	return &imap.BodyStructureDisposition{Value: d, Params: params}
}

// findPart walks to the body part named by path (RFC 3501 6.4.5) in the
// message r (CRLF form), streaming: it returns the part's header and a
// reader positioned at its body, or ok false when there is no such part.
func findPart(r io.Reader, path []int) (textproto.Header, io.Reader, bool) {
	br := bufio.NewReader(r)
	h, err := textproto.ReadHeader(br)
	if err != nil && len(h.Map()) == 0 {
		return h, nil, false
	}
	var body io.Reader = br
	for i, n := range path {
		if i > 0 && isMessage(h) { // a number below message/rfc822 names a part of the inner message
			inner := bufio.NewReader(body)
			h, _ = textproto.ReadHeader(inner)
			body = inner
		}
		gh := gomessage.Header{Header: h}
		mt, params, _ := gh.ContentType()
		if !strings.HasPrefix(mt, "multipart/") {
			if n != 1 {
				return h, nil, false
			}
			continue // part 1 of a single-part entity is its body
		}
		mr := textproto.NewMultipartReader(body, params["boundary"])
		var p *textproto.Part
		for j := 1; j <= n; j++ {
			if p, err = mr.NextPart(); err != nil {
				return h, nil, false
			}
		}
		h, body = p.Header, p
	}
	return h, body, true
}

func isMessage(h textproto.Header) bool {
	gh := gomessage.Header{Header: h}
	mt, _, _ := gh.ContentType()
	return mt == "message/rfc822" || mt == "message/global"
}

// partBody returns a reader of what BODY[<path>] (text false) or
// BODY[<path>.TEXT] (text true) names, or nil.
func partBody(r io.Reader, path []int, text bool) io.Reader {
	h, body, ok := findPart(r, path)
	if !ok {
		return nil
	}
	if !text {
		return body
	}
	if !isMessage(h) {
		return nil
	}
	inner := bufio.NewReader(body)
	if _, err := textproto.ReadHeader(inner); err != nil {
		return nil
	}
	return inner
}

// binaryBody returns the content of part path with its transfer encoding
// undone (RFC 3516), or nil.
func binaryBody(r io.Reader, path []int) io.Reader {
	h, body, ok := findPart(r, path)
	if !ok {
		return nil
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, body)
	case "quoted-printable":
		return quotedprintable.NewReader(body)
	}
	return body
}
