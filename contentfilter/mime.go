// Package contentfilter is the content filter of accepted messages, run at
// the end of DATA/BDAT before the reply: a bounded MIME walker, Postfix
// style header, MIME header and body rules (header_checks,
// mime_header_checks, body_checks, with RE2 expressions), banned
// attachments (file-name extensions and MIME types, at any depth and
// inside ZIP archives), and a client of the Sendmail milter protocol for
// scanners such as rspamd and clamav-milter. It decides; the MTA acts on
// the decision.
package contentfilter

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"mailhost/mailheader"
)

// Limits bound the MIME walk. A message over a limit is refused with
// ErrTooDeep or ErrTooManyParts (a clear permanent reply), never walked
// for ever.
type Limits struct {
	MaxDepth int // nesting of multiparts and message/rfc822 parts; 0: DefaultMaxDepth
	MaxParts int // parts in all; 0: DefaultMaxParts
}

// The defaults of Limits; Postfix's mime_nesting_limit is 100, which no
// legitimate message approaches either.
const (
	DefaultMaxDepth = 30
	DefaultMaxParts = 1000
)

var (
	// ErrTooDeep: multiparts or attached messages nested deeper than MaxDepth.
	ErrTooDeep = errors.New("MIME nesting too deep")
	// ErrTooManyParts: more than MaxParts MIME parts.
	ErrTooManyParts = errors.New("too many MIME parts")
)

func (l Limits) orDefault() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxParts <= 0 {
		l.MaxParts = DefaultMaxParts
	}
	return l
}

// Part is one MIME entity of a message: the message itself (depth 0), a
// part of a multipart, or a message/rfc822 attachment and its parts.
type Part struct {
	Depth  int
	Header mailheader.Header
	// MediaType is the Content-Type's type/subtype in lower case;
	// text/plain when absent (RFC 2045 5.2), message/rfc822 for a part of
	// a multipart/digest without one (RFC 2046 5.1.5).
	MediaType string
	// Params are the Content-Type's parameters (names in lower case),
	// RFC 2231 continuations joined and decoded.
	Params map[string]string
	// Filenames are the names the part carries: the Content-Disposition
	// filename and the Content-Type name, decoded (RFC 2231, RFC 2047
	// encoded words), each once.
	Filenames []string
	// Body is the part's body as it is on the wire (transfer encoding
	// not undone); for a multipart, everything after its header.
	Body []byte
	// Multipart and Attached say whether the walker descends into it.
	Multipart, Attached bool
}

// Walk calls fn for every part of msg, depth first in message order, the
// message itself first. It never fails on malformed MIME (a multipart
// without its boundary is one opaque part, as mail readers show it); it
// fails only when a limit is passed or fn returns an error, which it
// returns.
func Walk(msg []byte, lim Limits, fn func(*Part) error) error {
	w := walker{lim: lim.orDefault(), fn: fn}
	return w.entity(msg, 0, "text/plain")
}

type walker struct {
	lim   Limits
	fn    func(*Part) error
	parts int
}

func (w *walker) entity(raw []byte, depth int, defaultType string) error {
	if depth > w.lim.MaxDepth {
		return ErrTooDeep
	}
	w.parts++
	if w.parts > w.lim.MaxParts {
		return ErrTooManyParts
	}
	p := &Part{Depth: depth, Header: mailheader.Parse(raw)}
	if p.Header.Size <= len(raw) {
		p.Body = raw[p.Header.Size:]
	}
	p.MediaType, p.Params = mediaType(p.Header.Get("Content-Type"), defaultType)
	p.Filenames = filenames(&p.Header, p.Params)
	boundary := p.Params["boundary"]
	p.Multipart = strings.HasPrefix(p.MediaType, "multipart/") && boundary != ""
	p.Attached = p.MediaType == "message/rfc822" || p.MediaType == "message/global"
	if err := w.fn(p); err != nil {
		return err
	}
	switch {
	case p.Multipart:
		child := "text/plain"
		if p.MediaType == "multipart/digest" {
			child = "message/rfc822"
		}
		for _, b := range splitMultipart(p.Body, boundary) {
			if err := w.entity(b, depth+1, child); err != nil {
				return err
			}
		}
	case p.Attached:
		// RFC 2046 5.2.1: a message/rfc822 part has no transfer encoding
		// other than 7bit, 8bit or binary, so its body is the message.
		return w.entity(p.Body, depth+1, "text/plain")
	}
	return nil
}

// splitMultipart returns the body parts of a multipart body (RFC 2046
// 5.1.1): what lies between delimiter lines "--boundary", up to the close
// delimiter "--boundary--" or the end. The preamble and the epilogue are
// not parts. A delimiter is recognised at the start of a line, followed
// by nothing but white space (transport padding).
func splitMultipart(body []byte, boundary string) [][]byte {
	delim := []byte("--" + boundary)
	var parts [][]byte
	start := -1 // where the current part's content starts
	for pos := 0; pos < len(body); {
		i := bytes.Index(body[pos:], delim)
		if i < 0 {
			break
		}
		i += pos
		next := i + len(delim)
		closing := bytes.HasPrefix(body[next:], []byte("--"))
		eol := bytes.IndexByte(body[next:], '\n')
		if i > 0 && body[i-1] != '\n' || !closing && !onlyPadding(body[next:], eol) {
			pos = next // not at a line start, or a longer boundary
			continue
		}
		end := i // the CRLF before the delimiter belongs to it
		if end > 0 && body[end-1] == '\n' {
			end--
			if end > 0 && body[end-1] == '\r' {
				end--
			}
		}
		if start >= 0 {
			parts = append(parts, body[start:max(start, end)])
		}
		if closing || eol < 0 {
			return parts
		}
		start = next + eol + 1
		pos = start
	}
	if start >= 0 && start < len(body) { // no close delimiter: the rest is the last part
		parts = append(parts, body[start:])
	}
	return parts
}

// onlyPadding reports whether the rest of a delimiter line (up to eol,
// or the end when eol < 0) is transport padding: white space.
func onlyPadding(rest []byte, eol int) bool {
	if eol >= 0 {
		rest = rest[:eol]
	}
	return len(bytes.Trim(rest, " \t\r")) == 0
}

// mediaType reads a Content-Type value leniently: the type/subtype in
// lower case (def when absent or not of that form) and its parameters.
func mediaType(v, def string) (string, map[string]string) {
	typ, rest, _ := strings.Cut(v, ";")
	typ = strings.ToLower(strings.TrimSpace(typ))
	if i := strings.IndexByte(typ, '/'); i <= 0 || i == len(typ)-1 || strings.ContainsAny(typ, " \t\"") {
		typ = def
	}
	return typ, params(rest)
}

// describe names a part in log lines and replies: its first file name,
// else its media type.
func (p *Part) describe() string {
	if len(p.Filenames) > 0 {
		return fmt.Sprintf("%q", p.Filenames[0])
	}
	return p.MediaType
}
