package imapd

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime/quotedprintable"
	"slices"
	"strings"

	gomessage "github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"

	"mailhost/imapwire"
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
	for i := 0; ; {
		j := bytes.IndexByte(src[i:], '\n') // not a loop over every byte: the common case has few line ends to look at
		if j < 0 {
			break
		}
		i += j
		if !(i == 0 && prevCR || i > 0 && src[i-1] == '\r') {
			bare++
		}
		i++
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
func bodyStructure(r io.Reader) *imapwire.BodyStructure {
	br := bufio.NewReader(r)
	h, _ := textproto.ReadHeader(br)
	return partStructure(h, br, "", make([]byte, 4096))
}

// mediaType is a part's type (RFC 2045 5.2: text/plain by default,
// message/rfc822 inside multipart/digest, RFC 2046 5.1.5).
func mediaType(raw textproto.Header, parentType string) (string, map[string]string) {
	h := gomessage.Header{Header: raw}
	mt, params, err := h.ContentType()
	if err != nil || mt == "" || !raw.Has("Content-Type") {
		if parentType == "multipart/digest" {
			return "message/rfc822", nil
		}
		return "text/plain", map[string]string{"charset": "us-ascii"}
	}
	return mt, params
}

func sortedParams(p map[string]string) []string {
	if len(p) == 0 {
		return nil
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		out = append(out, k, p[k])
	}
	return out
}

// partStructure is the structure of one part; buf is the walk's one
// buffer for counting the bytes of parts.
func partStructure(raw textproto.Header, body io.Reader, parentType string, buf []byte) *imapwire.BodyStructure {
	h := gomessage.Header{Header: raw}
	mt, params := mediaType(raw, parentType)
	typ, sub, _ := strings.Cut(mt, "/")
	bs := &imapwire.BodyStructure{Type: typ, Subtype: sub, Params: sortedParams(params),
		Location: h.Get("Content-Location")}
	if d, dp, err := h.ContentDisposition(); err == nil && d != "" {
		bs.Disposition, bs.DispositionParams = d, sortedParams(dp)
	}
	if v := h.Get("Content-Language"); v != "" {
		for _, l := range strings.Split(v, ",") {
			if l = strings.TrimSpace(l); l != "" {
				bs.Language = append(bs.Language, l)
			}
		}
	}
	if typ == "multipart" {
		mr := textproto.NewMultipartReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err != nil || p == nil {
				break
			}
			bs.Children = append(bs.Children, partStructure(p.Header, p, mt, buf))
		}
		io.Copy(io.Discard, body)  // the epilogue
		if len(bs.Children) == 0 { // RFC 3501 needs one: an empty text part
			bs.Children = []*imapwire.BodyStructure{{Type: "text", Subtype: "plain", Params: []string{"charset", "us-ascii"}, Encoding: "7BIT"}}
		}
		return bs
	}
	enc := h.Get("Content-Transfer-Encoding")
	if enc == "" {
		enc = "7BIT"
	}
	bs.ID, bs.Description, bs.Encoding = h.Get("Content-Id"), h.Get("Content-Description"), strings.ToUpper(enc)
	bs.MD5 = h.Get("Content-Md5")
	cw := &countWriter{}
	if mt == "message/rfc822" || mt == "message/global" {
		tr := io.TeeReader(body, cw)
		inner := bufio.NewReader(tr)
		ih, _ := textproto.ReadHeader(inner)
		bs.Envelope = envelopeOf(ih)
		bs.Inner = partStructure(ih, inner, "", buf)
		io.Copy(io.Discard, inner)
		bs.Lines = cw.lines
	} else {
		io.CopyBuffer(cw, body, buf)
	}
	bs.Size = cw.n
	if typ == "text" {
		bs.Lines = cw.lines
	}
	return bs
}

// findPart walks to the body part named by path (RFC 3501 6.4.5) in the
// message r (CRLF form), streaming: it returns the part's header, a
// reader positioned at its body and its media type, or ok false when
// there is no such part.
func findPart(r io.Reader, path []int) (h textproto.Header, body io.Reader, mt string, ok bool) {
	br := bufio.NewReader(r)
	h, err := textproto.ReadHeader(br)
	if err != nil && len(h.Map()) == 0 {
		return h, nil, "", false
	}
	body = br
	mt, params := mediaType(h, "")
	for i, n := range path {
		if i > 0 && isMessageType(mt) { // a number below message/rfc822 names a part of the inner message
			inner := bufio.NewReader(body)
			h, _ = textproto.ReadHeader(inner)
			body = inner
			mt, params = mediaType(h, "")
		}
		if !strings.HasPrefix(mt, "multipart/") {
			if n != 1 {
				return h, nil, "", false
			}
			continue // part 1 of a single-part entity is its body
		}
		mr := textproto.NewMultipartReader(body, params["boundary"])
		var p *textproto.Part
		for j := 1; j <= n; j++ {
			if p, err = mr.NextPart(); err != nil {
				return h, nil, "", false
			}
		}
		parent := mt
		h, body = p.Header, p
		mt, params = mediaType(h, parent)
	}
	return h, body, mt, true
}

func isMessageType(mt string) bool { return mt == "message/rfc822" || mt == "message/global" }

// isMessage reports whether a part of this header is a message (outside
// multipart/digest, where that is the default).
func isMessage(h textproto.Header) bool {
	mt, _ := mediaType(h, "")
	return isMessageType(mt)
}

// partBody returns a reader of what BODY[<path>] (text false) or
// BODY[<path>.TEXT] (text true) names, or nil.
func partBody(r io.Reader, path []int, text bool) io.Reader {
	_, body, mt, ok := findPart(r, path)
	if !ok {
		return nil
	}
	if !text {
		return body
	}
	if !isMessageType(mt) {
		return nil
	}
	inner := bufio.NewReader(body)
	if _, err := textproto.ReadHeader(inner); err != nil {
		return nil
	}
	return inner
}

// binaryBody returns the content of part path with its transfer encoding
// undone (RFC 3516), or nil; for the whole message (no path), its header
// and its decoded body when it is not multipart.
func binaryBody(r io.Reader, path []int) io.Reader {
	if len(path) == 0 {
		br := bufio.NewReader(r)
		var hdr bytes.Buffer
		for {
			line, err := br.ReadSlice('\n')
			hdr.Write(line)
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil || len(line) <= 2 && strings.TrimRight(string(line), "\r\n") == "" {
				break
			}
		}
		h, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(hdr.Bytes())))
		if mt, _ := mediaType(h, ""); strings.HasPrefix(mt, "multipart/") {
			return io.MultiReader(&hdr, br)
		}
		return io.MultiReader(&hdr, decodeCTE(h, br))
	}
	h, body, _, ok := findPart(r, path)
	if !ok {
		return nil
	}
	return decodeCTE(h, body)
}

// decodeCTE undoes a part's Content-Transfer-Encoding; base64 may hold
// line ends and other white space (RFC 2045 6.8).
func decodeCTE(h textproto.Header, body io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding"))) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &b64Filter{r: body})
	case "quoted-printable":
		return quotedprintable.NewReader(body)
	}
	return body
}

// b64Filter drops the spaces and tabs that base64 text may hold (the
// decoder itself skips line ends).
type b64Filter struct{ r io.Reader }

func (f *b64Filter) Read(p []byte) (int, error) {
	for {
		n, err := f.r.Read(p)
		q := p[:n]
		if bytes.IndexByte(q, ' ') >= 0 || bytes.IndexByte(q, '\t') >= 0 {
			k := 0
			for _, c := range q {
				if c != ' ' && c != '\t' {
					p[k] = c
					k++
				}
			}
			n = k
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// preview is the PREVIEW of a message (RFC 8970): the start of its first
// text part, white space folded, at most 200 characters.
func preview(r io.Reader) string {
	e, err := gomessage.Read(r)
	if e == nil {
		return ""
	}
	_ = err
	out := ""
	e.Walk(func(_ []int, part *gomessage.Entity, err error) error {
		if out != "" || part == nil {
			return nil
		}
		t, _, _ := part.Header.ContentType()
		if t != "" && t != "text/plain" && t != "text/html" {
			return nil
		}
		b, _ := io.ReadAll(io.LimitReader(part.Body, 4096))
		text := string(b)
		if t == "text/html" {
			text = stripTags(text)
		}
		text = strings.Join(strings.Fields(text), " ")
		if r := []rune(text); len(r) > 200 {
			text = string(r[:200])
		}
		out = text
		return nil
	})
	return out
}

func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
			b.WriteByte(' ')
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}
