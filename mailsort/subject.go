package mailsort

import (
	"strings"
)

// BaseSubject returns the base subject of a Subject field value (RFC 5256
// section 2.1), and whether extracting it removed a reply or forward
// marker: a subj-refwd ("Re:", "Fw:", "Fwd:", with blobs), a "(fwd)"
// trailer, or a "[fwd: ...]" wrapper (section 4, REFERENCES). The base
// subject is UTF-8 where the field's encoded words could be decoded; it
// is compared with the comparator, so case is kept.
func BaseSubject(raw string) (base string, replyOrForward bool) {
	// (1) Encoded words to UTF-8; tabs and continuations to a space,
	// runs of spaces to one.
	s := collapseSpace(decodeWords(raw))
	for {
		// (2) Trailing "(fwd)" and white space, as often as they appear.
		var fwd bool
		s, fwd = trimTrailers(s)
		replyOrForward = replyOrForward || fwd
		// (3) Leaders, (4) a leading blob that leaves something, (5)
		// repeated until neither applies.
		for {
			var refwd, blob bool
			s, refwd = trimLeaders(s)
			replyOrForward = replyOrForward || refwd
			if n := blobLen(s); n > 0 && n < len(s) {
				// The blob swallowed the white space after it, so what
				// is left starts with a NONWSP: a non-empty subj-base.
				s, blob = s[n:], true
			}
			if !blob {
				break
			}
		}
		// (6) A "[fwd: ...]" wrapper: unwrap it and start again at (2).
		if len(s) >= len("[fwd:]") && hasPrefixFold(s, "[fwd:") && s[len(s)-1] == ']' {
			s, replyOrForward = s[len("[fwd:"):len(s)-1], true
			continue
		}
		// (7)
		return s, replyOrForward
	}
}

// collapseSpace turns tabs, CR and LF into spaces and runs of spaces into
// one (RFC 5256 section 2.1 step 1).
func collapseSpace(s string) string {
	if !strings.ContainsAny(s, "\t\r\n") && !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteByte(c)
	}
	return b.String()
}

// trimTrailers removes subj-trailer ("(fwd)" / WSP) from the end until
// none is left, and says whether a "(fwd)" was among them.
func trimTrailers(s string) (string, bool) {
	fwd := false
	for {
		switch {
		case strings.HasSuffix(s, " ") || strings.HasSuffix(s, "\t"):
			s = s[:len(s)-1]
		case len(s) >= len("(fwd)") && equalFoldASCII(s[len(s)-len("(fwd)"):], "(fwd)"):
			s, fwd = s[:len(s)-len("(fwd)")], true
		default:
			return s, fwd
		}
	}
}

// trimLeaders removes subj-leader ((*subj-blob subj-refwd) / WSP) from
// the start until none is left, and says whether a subj-refwd was among
// them.
func trimLeaders(s string) (string, bool) {
	refwd := false
	for {
		if len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
			s = s[1:]
			continue
		}
		n := 0
		for {
			if m := refwdLen(s[n:]); m > 0 {
				n += m
				break
			}
			m := blobLen(s[n:])
			if m == 0 {
				n = 0
				break
			}
			n += m
		}
		if n == 0 {
			return s, refwd
		}
		s, refwd = s[n:], true
	}
}

// refwdLen is the length of the subj-refwd at the start of s, 0 if none:
//
//	subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
func refwdLen(s string) int {
	var n int
	switch {
	case hasPrefixFold(s, "re"):
		n = 2
	case hasPrefixFold(s, "fwd"):
		n = 3
	case hasPrefixFold(s, "fw"):
		n = 2
	default:
		return 0
	}
	for n < len(s) && (s[n] == ' ' || s[n] == '\t') {
		n++
	}
	n += blobLen(s[n:])
	if n < len(s) && s[n] == ':' {
		return n + 1
	}
	return 0
}

// blobLen is the length of the subj-blob at the start of s, 0 if none:
//
//	subj-blob = "[" *BLOBCHAR "]" *WSP
//	BLOBCHAR  = %x01-5a / %x5c / %x5e-ff ; any CHAR8 except '[' and ']'
func blobLen(s string) int {
	if len(s) == 0 || s[0] != '[' {
		return 0
	}
	n := 1
	for ; n < len(s); n++ {
		switch s[n] {
		case ']':
			n++
			for n < len(s) && (s[n] == ' ' || s[n] == '\t') {
				n++
			}
			return n
		case '[', 0:
			return 0
		}
	}
	return 0
}

// hasPrefixFold says whether s starts with the ASCII prefix, ignoring
// ASCII case (ABNF strings are case-insensitive, RFC 5234 2.3).
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && equalFoldASCII(s[:len(prefix)], prefix)
}

// equalFoldASCII compares a and b ignoring the case of ASCII letters only
// (strings.EqualFold would also equate "K" with the Kelvin sign).
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if upperASCII(a[i]) != upperASCII(b[i]) {
			return false
		}
	}
	return true
}

func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}
