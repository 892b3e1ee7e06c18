package mailsort

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Collation is the comparator strings are compared with.
type Collation int

const (
	// UnicodeCasemap is i;unicode-casemap (RFC 5051): each character
	// to its titlecase, then decomposed (the decomposition mappings of
	// UnicodeData.txt, compatibility ones included, as Dovecot does:
	// "ü" is "U" and a combining diaeresis, "³" is "3"), compared as
	// octets. RFC 5256 requires I18NLEVEL=1 (RFC 5255), whose comparator
	// this is; it is the default.
	UnicodeCasemap Collation = iota
	// ASCIICasemap is i;ascii-casemap (RFC 4790 section 9.2): a-z as
	// A-Z, everything else as octets.
	ASCIICasemap
)

// Key returns the string whose octet order is the collation's order of
// s: two strings compare as their keys do with strings.Compare.
func (c Collation) Key(s string) string {
	if c == ASCIICasemap || isASCII(s) {
		// For ASCII the titlecase is the upper case and nothing
		// decomposes, so both comparators agree.
		return upperASCIIString(s)
	}
	// Titlecase per character (the simple mapping of UnicodeData.txt,
	// which RFC 5051 names), then NFKD, then titlecase again for what
	// the decomposition produced ("ﬁ" is "FI"). Octets that are not
	// UTF-8 are kept as they are, so that different octets stay
	// different.
	return titlecase(norm.NFKD.String(titlecase(s)))
}

// titlecase maps each character of s to its simple titlecase mapping.
func titlecase(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/2)
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && n <= 1 {
			b.WriteByte(s[0])
			s = s[1:]
			continue
		}
		b.WriteRune(unicode.ToTitle(r))
		s = s[n:]
	}
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func upperASCIIString(s string) string {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = upperASCII(b[j])
			}
			return string(b)
		}
	}
	return s
}
