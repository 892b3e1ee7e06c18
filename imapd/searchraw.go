package imapd

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
)

// rawExcludes reports whether the message's file, read as it is, shows
// that its text cannot contain needle (lower case), so that TEXT and BODY
// need not parse it: the common answer of a body search, found at the
// cost of reading the file once.
//
// It holds when the needle is printable ASCII without spaces or colons
// (a header field is searched as "Key: value", which "Key :value" in the
// file does not hold) and the file has nothing that decoding could turn
// into such text: no transfer encoding that changes bytes (base64,
// quoted-printable), no charset but UTF-8 and US-ASCII, no encoded words
// (RFC 2047), and none of the two characters whose lower case is ASCII
// (KELVIN SIGN, LATIN CAPITAL LETTER I WITH DOT ABOVE). The text
// textContains searches is then made of stretches of the file's bytes,
// lower-cased (folded lines are joined with a space), and a needle without
// white space or line ends lies within one stretch, also in CRLF form.
func (mt *matcher) rawExcludes(needle string) bool {
	for i := 0; i < len(needle); i++ {
		if c := needle[i]; c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	if _, err := mt.mf.reader(); err != nil { // opens the file, at its start
		return false
	}
	return !mt.scan().rawMayContain(mt.mf.f, needle)
}

// rawMarkers are what rawMayContain treats as a possible match: the
// needle, or something after which the text may differ from the bytes
// (rawWide: only in a file with bytes beyond ASCII).
var (
	rawMarkers = [][]byte{[]byte("=?"), []byte("base64"), []byte("quoted-printable")}
	rawWide    = [][]byte{[]byte("\u212a"), []byte("\u0130")}
)

// rawCharsets are the charset parameters that leave the bytes as they are.
var rawCharsets = [][]byte{[]byte(`charset=utf-8`), []byte(`charset="utf-8"`),
	[]byte(`charset=us-ascii`), []byte(`charset="us-ascii"`)}

// rawMayContain reports whether the bytes of r, ASCII lower-cased, hold
// needle or one of rawMarkers, or a charset parameter other than
// rawCharsets; it reads 32 KiB at a time, lower-cases them in place and
// keeps a tail to find what spans two reads.
func (ts *textScan) rawMayContain(r io.Reader, needle string) bool {
	const tailMin = 24 // the longest marker and charset, with room
	buf, nb := ts.buffer(max(len(needle), tailMin)), []byte(needle)
	keep := 0
	wide := false
	for {
		n, err := r.Read(buf[keep:])
		if n > 0 {
			chunk := buf[:keep+n]
			wide = asciiLowerInPlace(chunk[keep:]) || wide
			if bytes.Contains(chunk, nb) || unsafeCharset(chunk) {
				return true
			}
			for _, m := range rawMarkers {
				if bytes.Contains(chunk, m) {
					return true
				}
			}
			for _, m := range rawWide {
				if wide && bytes.Contains(chunk, m) {
					return true
				}
			}
			tail := min(max(len(nb), tailMin)-1, len(chunk))
			copy(buf, chunk[len(chunk)-tail:])
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

// asciiLowerInPlace lower-cases the ASCII letters of b and leaves every
// other byte as it is; it reports whether b has bytes beyond ASCII. It
// works on eight bytes at a time (a byte loop cost more than the rest of a
// body search).
func asciiLowerInPlace(b []byte) (wide bool) {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	var or uint64
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		or |= x
		low := x &^ highs                            // each byte's 7 low bits: no carry between bytes
		geA := low + (0x80-'A')*ones                 // high bit set where the byte is 'A' or above
		gtZ := low + (0x80-'Z'-1)*ones               // high bit set where it is above 'Z'
		upper := geA &^ gtZ &^ x & highs             // ASCII upper-case letters
		binary.LittleEndian.PutUint64(b, x|upper>>2) // 0x80>>2 is 'a'-'A'
		b = b[8:]
	}
	for i, c := range b {
		or |= uint64(c)
		if c-'A' < 26 {
			b[i] = c + 'a' - 'A'
		}
	}
	return or&highs != 0
}

// lowerContains reports whether the text in ts.lower, lower-cased as
// strings.ToLower does, contains needle (lower case); ASCII text is
// lower-cased in place, without allocating.
func (ts *textScan) lowerContains(needle string) bool {
	if asciiLowerInPlace(ts.lower) {
		return strings.Contains(strings.ToLower(string(ts.lower)), needle)
	}
	return bytes.Contains(ts.lower, []byte(needle))
}
