package imapd

import (
	"bytes"
	"io"
)

// rawExcludes reports whether the message's file, read as it is, shows
// that its text cannot contain needle (lower case), so that TEXT and BODY
// need not parse it: the common answer of a body search, found at the
// cost of reading the file once.
//
// It holds when the needle is printable ASCII without spaces and the file
// has nothing that decoding could turn into such text: no transfer
// encoding that changes bytes (base64, quoted-printable), no charset but
// UTF-8 and US-ASCII, no encoded words (RFC 2047), and none of the two
// characters whose lower case is ASCII (KELVIN SIGN, LATIN CAPITAL LETTER I
// WITH DOT ABOVE). The text textContains searches is then made of
// stretches of the file's bytes, lower-cased, and a needle without white
// space or line ends lies within one stretch, also in CRLF form.
func (mt *matcher) rawExcludes(needle string) bool {
	for i := 0; i < len(needle); i++ {
		if c := needle[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	if _, err := mt.mf.reader(); err != nil { // opens the file, at its start
		return false
	}
	return !mt.text.rawMayContain(mt.mf.f, needle)
}

// rawMarkers are what rawMayContain treats as a possible match: the
// needle, or something after which the text may differ from the bytes.
var rawMarkers = [][]byte{[]byte("=?"), []byte("base64"), []byte("quoted-printable"),
	[]byte("\u212a"), []byte("\u0130")}

// rawCharsets are the charset parameters that leave the bytes as they are.
var rawCharsets = [][]byte{[]byte(`charset=utf-8`), []byte(`charset="utf-8"`),
	[]byte(`charset=us-ascii`), []byte(`charset="us-ascii"`)}

// rawMayContain reports whether the bytes of r, ASCII lower-cased, hold needle
// or one of rawMarkers, or a charset parameter other than rawCharsets;
// it reads 32 KiB at a time, keeping a tail to find what spans two reads.
func (ts *textScan) rawMayContain(r io.Reader, needle string) bool {
	if ts.buf == nil {
		ts.buf = make([]byte, 32<<10)
	}
	buf, nb := ts.buf, []byte(needle)
	const tailMin = 24 // the longest marker and charset, with room
	keep := 0
	for {
		n, err := r.Read(buf[keep:])
		if n > 0 {
			ts.lower = appendASCIILower(ts.lower[:0], buf[:keep+n])
			if bytes.Contains(ts.lower, nb) || unsafeCharset(ts.lower) {
				return true
			}
			for _, m := range rawMarkers {
				if bytes.Contains(ts.lower, m) {
					return true
				}
			}
			tail := min(max(len(nb), tailMin)-1, keep+n)
			copy(buf, buf[keep+n-tail:keep+n])
			keep = tail
		}
		if err != nil {
			return err != io.EOF
		}
	}
}

// unsafeCharset reports whether b has a "charset" not followed by one of
// rawCharsets (a word cut off at the end of b counts as unsafe: the next
// read sees it whole).
func unsafeCharset(b []byte) bool {
	for {
		i := bytes.Index(b, []byte("charset"))
		if i < 0 {
			return false
		}
		b = b[i:]
		ok := false
		for _, c := range rawCharsets {
			// The name must end there: not "utf-8x", nor cut off.
			if bytes.HasPrefix(b, c) && len(b) > len(c) && !isTokenChar(b[len(c)]) {
				ok = true
				break
			}
		}
		if !ok {
			return true
		}
		b = b[len("charset"):]
	}
}

func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':' || c >= 0x80
}

// appendASCIILower appends b to dst with ASCII letters lower-cased and
// every other byte as it is.
func appendASCIILower(dst, b []byte) []byte {
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}
