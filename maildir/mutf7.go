package maildir

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// mutf7Base64 is the modified BASE64 of RFC 3501 section 5.1.3: the
// alphabet of RFC 2045 with ',' in place of '/', and no '=' padding. Strict
// decoding rejects non-zero padding bits, which keeps encodings canonical.
// It is a read-only table, not state.
var mutf7Base64 = base64.NewEncoding(
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,",
).WithPadding(base64.NoPadding).Strict()

// EncodeMUTF7 encodes a UTF-8 mailbox name in the modified UTF-7 of
// RFC 3501 section 5.1.3, the form Dovecot uses for folder names on disk.
// Printable US-ASCII (0x20-0x7e) stands for itself, '&' becomes "&-", and every
// maximal run of other characters becomes '&', the modified BASE64 of its
// UTF-16BE form, and '-'. It fails only on invalid UTF-8.
func EncodeMUTF7(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("maildir: modified UTF-7: %q is not valid UTF-8", s)
	}
	var b strings.Builder
	var run []uint16
	flush := func() {
		if len(run) == 0 {
			return
		}
		raw := make([]byte, 0, 2*len(run))
		for _, u := range run {
			raw = append(raw, byte(u>>8), byte(u))
		}
		b.WriteByte('&')
		b.WriteString(mutf7Base64.EncodeToString(raw))
		b.WriteByte('-')
		run = run[:0]
	}
	for _, r := range s {
		if r >= 0x20 && r <= 0x7e {
			flush()
			if r == '&' {
				b.WriteString("&-")
			} else {
				b.WriteByte(byte(r))
			}
			continue
		}
		run = utf16.AppendRune(run, r)
	}
	flush()
	return b.String(), nil
}

// DecodeMUTF7 decodes a modified UTF-7 mailbox name (RFC 3501 section 5.1.3)
// into UTF-8. It is strict, so that only the canonical encoding of a name is
// accepted and EncodeMUTF7(DecodeMUTF7(s)) == s whenever decoding succeeds:
// it rejects bytes outside printable US-ASCII, unterminated or malformed
// BASE64, non-zero padding bits, odd byte counts, unpaired surrogates, BASE64
// that encodes a printable US-ASCII character ("MUST NOT be used to represent
// any printing US-ASCII character which can represent itself"), and two
// encoded runs back to back (which the encoder would have merged).
func DecodeMUTF7(s string) (string, error) {
	var b strings.Builder
	afterRun := false // the previous token was a BASE64 run
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return "", mutf7Error(s, fmt.Sprintf("byte 0x%02x at offset %d is not printable US-ASCII", c, i))
		}
		if c != '&' {
			b.WriteByte(c)
			i++
			afterRun = false
			continue
		}
		end := strings.IndexByte(s[i+1:], '-')
		if end < 0 {
			return "", mutf7Error(s, fmt.Sprintf("'&' at offset %d is not closed by '-'", i))
		}
		enc := s[i+1 : i+1+end]
		i += end + 2
		if enc == "" {
			b.WriteByte('&')
			afterRun = false
			continue
		}
		if afterRun {
			return "", mutf7Error(s, "two encoded runs are adjacent")
		}
		afterRun = true
		// Check the alphabet here: the base64 package skips CR and LF.
		for k := 0; k < len(enc); k++ {
			if c := enc[k]; !isLetter(c) && (c < '0' || c > '9') && c != '+' && c != ',' {
				return "", mutf7Error(s, fmt.Sprintf("%q is not modified BASE64", c))
			}
		}
		raw, err := mutf7Base64.DecodeString(enc)
		if err != nil {
			return "", mutf7Error(s, fmt.Sprintf("bad BASE64 %q", enc))
		}
		if len(raw)%2 != 0 {
			return "", mutf7Error(s, fmt.Sprintf("BASE64 %q is not whole UTF-16 units", enc))
		}
		if err := decodeUTF16Run(&b, raw); err != nil {
			return "", mutf7Error(s, err.Error())
		}
	}
	return b.String(), nil
}

// decodeUTF16Run appends the UTF-16BE bytes raw to b as UTF-8.
func decodeUTF16Run(b *strings.Builder, raw []byte) error {
	for j := 0; j < len(raw); j += 2 {
		u := rune(raw[j])<<8 | rune(raw[j+1])
		switch {
		case utf16.IsSurrogate(u) && u < 0xdc00: // high surrogate: a low one must follow
			if j+3 >= len(raw) {
				return errors.New("unpaired UTF-16 surrogate")
			}
			lo := rune(raw[j+2])<<8 | rune(raw[j+3])
			r := utf16.DecodeRune(u, lo)
			if r == utf8.RuneError {
				return errors.New("unpaired UTF-16 surrogate")
			}
			b.WriteRune(r)
			j += 2
		case utf16.IsSurrogate(u):
			return errors.New("unpaired UTF-16 surrogate")
		case u >= 0x20 && u <= 0x7e:
			return fmt.Errorf("printable character %q must not be BASE64-encoded", u)
		default:
			b.WriteRune(u)
		}
	}
	return nil
}

func mutf7Error(s, why string) error {
	return fmt.Errorf("maildir: modified UTF-7 %q: %s", s, why)
}
