package pfaimport

import (
	"fmt"
	"strconv"
	"strings"
)

// DefaultUIDLFormat is Dovecot 2.x's default pop3_uidl_format.
const DefaultUIDLFormat = "%08Xu%08Xv"

// uidlFormat is a parsed pop3_uidl_format: literal text and the variables
// %u (UID), %v (UIDVALIDITY) and %f (Maildir base file name), each with an
// optional 0 flag, width and X (hexadecimal, written in lower case, as
// Dovecot's var_expand writes it: %08Xu%08Xv gives 000000016b111885);
// %% is a percent sign. %m (MD5 of the header) and %g (GUID) are not
// supported: their values cannot be computed the same way here.
type uidlFormat []uidlPart

type uidlPart struct {
	lit   string
	v     byte // 'u', 'v', 'f' or 0 for a literal
	zero  bool
	width int
	hex   bool
}

// parseUIDLFormat parses a pop3_uidl_format.
func parseUIDLFormat(s string) (uidlFormat, error) {
	var f uidlFormat
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			j := strings.IndexByte(s[i:], '%')
			if j < 0 {
				j = len(s) - i
			}
			f = append(f, uidlPart{lit: s[i : i+j]})
			i += j - 1
			continue
		}
		i++
		var p uidlPart
		if i < len(s) && s[i] == '%' {
			f = append(f, uidlPart{lit: "%"})
			continue
		}
		if i < len(s) && s[i] == '0' {
			p.zero = true
			i++
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			p.width = p.width*10 + int(s[i]-'0')
			i++
		}
		if i < len(s) && s[i] == 'X' {
			p.hex = true
			i++
		}
		if i >= len(s) {
			return nil, fmt.Errorf("pfaimport: pop3_uidl_format %q ends inside a variable", s)
		}
		switch s[i] {
		case 'u', 'v', 'f':
			p.v = s[i]
		default:
			return nil, fmt.Errorf("pfaimport: pop3_uidl_format %q: %%%c is not supported (only %%u, %%v, %%f)", s, s[i])
		}
		f = append(f, p)
	}
	if len(f) == 0 {
		return nil, fmt.Errorf("pfaimport: pop3_uidl_format is empty")
	}
	return f, nil
}

// format gives the UIDL of a message.
func (f uidlFormat) format(uid, uidvalidity uint32, key string) string {
	var b strings.Builder
	for _, p := range f {
		var s string
		switch p.v {
		case 0:
			b.WriteString(p.lit)
			continue
		case 'f':
			s = key
		default:
			n := uid
			if p.v == 'v' {
				n = uidvalidity
			}
			base := 10
			if p.hex {
				base = 16
			}
			s = strconv.FormatUint(uint64(n), base)
		}
		pad := " "
		if p.zero {
			pad = "0"
		}
		if len(s) < p.width {
			s = strings.Repeat(pad, p.width-len(s)) + s
		}
		b.WriteString(s)
	}
	return b.String()
}

// validUIDL tells whether s can be a POP3 unique-id (RFC 1939 7: 1 to 70
// characters from 0x21 to 0x7E).
func validUIDL(s string) bool {
	if s == "" || len(s) > 70 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
