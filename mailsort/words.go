package mailsort

import (
	"io"
	"mime"
	"strings"

	"github.com/emersion/go-message/charset"
)

// wordDecoder decodes RFC 2047 encoded words in every charset go-message
// knows (the same table imapd's SEARCH decodes with).
var wordDecoder = &mime.WordDecoder{CharsetReader: func(cs string, r io.Reader) (io.Reader, error) {
	return charset.Reader(cs, r)
}}

// decodeWords decodes the RFC 2047 encoded words of an unstructured field
// value to UTF-8, one at a time: a word that cannot be decoded (unknown
// charset, bad encoding) stays as written, and the words around it are
// still decoded. White space between two encoded words is dropped (RFC
// 2047 section 6.2).
func decodeWords(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	pending := ""      // white space after an encoded word, held until we know what follows
	afterWord := false // the last thing written was a decoded encoded word
	for len(s) > 0 {
		i := strings.Index(s, "=?")
		if i < 0 {
			break
		}
		gap := s[:i]
		n, text, ok := encodedWord(s[i:])
		if !ok {
			// Not an encoded word: write through the "=?" and go on.
			b.WriteString(pending)
			b.WriteString(s[:i+2])
			pending, afterWord, s = "", false, s[i+2:]
			continue
		}
		if afterWord && gap == "" {
			pending = "" // only white space between two encoded words
		}
		b.WriteString(pending)
		b.WriteString(gap)
		b.WriteString(text)
		pending, afterWord, s = "", true, s[i+n:]
		// Hold back the white space that follows, in case another
		// encoded word follows it.
		j := 0
		for j < len(s) && strings.IndexByte(" \t\r\n", s[j]) >= 0 {
			j++
		}
		pending, s = s[:j], s[j:]
	}
	b.WriteString(pending)
	b.WriteString(s)
	return b.String()
}

// encodedWord reads the encoded word =?charset?encoding?text?= at the
// start of s and returns its length and decoded text; ok is false when s
// does not start with one, or when it cannot be decoded.
func encodedWord(s string) (n int, text string, ok bool) {
	// "=?" charset "?" encoding "?" encoded-text "?="; no white space
	// inside (RFC 2047 section 2).
	cs := strings.IndexByte(s[2:], '?')
	if cs <= 0 {
		return 0, "", false
	}
	cs += 2
	if cs+2 >= len(s) || s[cs+2] != '?' {
		return 0, "", false
	}
	end := strings.Index(s[cs+3:], "?=")
	if end < 0 {
		return 0, "", false
	}
	end += cs + 3
	word := s[:end+2]
	if strings.ContainsAny(word, " \t\r\n") {
		return 0, "", false
	}
	// A language suffix (RFC 2231 section 5: charset*lang) is not part
	// of the charset's name.
	name := s[2:cs]
	if star := strings.IndexByte(name, '*'); star >= 0 {
		word = "=?" + name[:star] + s[cs:end+2]
	}
	dec, err := wordDecoder.Decode(word)
	if err != nil {
		return 0, "", false
	}
	return end + 2, dec, true
}
