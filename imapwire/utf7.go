package imapwire

import (
	"encoding/base64"
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// mutf7 is the base64 alphabet of modified UTF-7: ',' instead of '/',
// no padding (RFC 3501 5.1.3).
var mutf7 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,").WithPadding(base64.NoPadding)

// ErrBadUTF7 reports a mailbox name that is not valid modified UTF-7.
var ErrBadUTF7 = errors.New("invalid modified UTF-7 mailbox name")

// DecodeMailbox turns a mailbox name in modified UTF-7 (RFC 3501 5.1.3)
// into UTF-8. Anything the RFC forbids is ErrBadUTF7: a lone '&', a
// shift sequence that is unterminated, empty of bits in the wrong way,
// encodes printable ASCII, or leaves bits over; and 8-bit bytes.
func DecodeMailbox(s string) (string, error) {
	if !strings.ContainsRune(s, '&') {
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 || s[i] < 0x20 {
				return "", ErrBadUTF7
			}
		}
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	prevShift := false // RFC 3501: "&...-&...-" must be one sequence
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x80 || c < 0x20 {
			return "", ErrBadUTF7
		}
		if c != '&' {
			b.WriteByte(c)
			i++
			prevShift = false
			continue
		}
		j := strings.IndexByte(s[i+1:], '-')
		if j < 0 {
			return "", ErrBadUTF7
		}
		enc := s[i+1 : i+1+j]
		i += j + 2
		if enc == "" {
			b.WriteByte('&')
			prevShift = false
			continue
		}
		if prevShift {
			return "", ErrBadUTF7
		}
		raw, err := mutf7.DecodeString(enc)
		if err != nil || len(raw)%2 != 0 || len(raw) == 0 {
			return "", ErrBadUTF7
		}
		u := make([]uint16, len(raw)/2)
		for k := range u {
			u[k] = uint16(raw[2*k])<<8 | uint16(raw[2*k+1])
		}
		for k := 0; k < len(u); k++ {
			r := rune(u[k])
			if utf16.IsSurrogate(r) {
				if k+1 >= len(u) {
					return "", ErrBadUTF7
				}
				r = utf16.DecodeRune(r, rune(u[k+1]))
				if r == utf8.RuneError {
					return "", ErrBadUTF7
				}
				k++
			} else if r >= 0x20 && r <= 0x7e {
				return "", ErrBadUTF7 // printable ASCII must be written as itself
			}
			b.WriteRune(r)
		}
		prevShift = true
	}
	return b.String(), nil
}

// EncodeMailbox turns a UTF-8 mailbox name into modified UTF-7.
func EncodeMailbox(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || s[i] == '&' || s[i] < 0x20 {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	var run []uint16
	flush := func() {
		if len(run) == 0 {
			return
		}
		raw := make([]byte, 2*len(run))
		for k, u := range run {
			raw[2*k], raw[2*k+1] = byte(u>>8), byte(u)
		}
		b.WriteByte('&')
		b.WriteString(mutf7.EncodeToString(raw))
		b.WriteByte('-')
		run = run[:0]
	}
	for _, r := range s {
		switch {
		case r == '&':
			flush()
			b.WriteString("&-")
		case r >= 0x20 && r <= 0x7e:
			flush()
			b.WriteRune(r)
		default:
			if r == utf8.RuneError {
				r = 0xfffd
			}
			run = utf16.AppendRune(run, r)
		}
	}
	flush()
	return b.String()
}
