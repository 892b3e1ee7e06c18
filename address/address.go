// Package address is the one place where mail addresses and domain names are
// normalised and checked, before every lookup and every unique key: domains
// become lower-case IDNA A-labels, local parts are NFC and lower-case, and
// the RFC 5321 syntax and length limits are enforced.
package address

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// Length limits of RFC 5321 4.5.3.1.
const (
	MaxLocalLen  = 64  // 4.5.3.1.1 local part, octets
	MaxDomainLen = 253 // 4.5.3.1.2 allows 255 octets on the wire; 253 without the final dot and the length bytes
	MaxPathLen   = 254 // 4.5.3.1.3 path of 256 octets including the angle brackets
	maxLabelLen  = 63
)

// ErrInvalid is matched (errors.Is) by every error of this package.
var ErrInvalid = errors.New("invalid address")

// Error says what is wrong with an input; Is(ErrInvalid) holds.
type Error struct {
	Input  string
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%q: %s", e.Input, e.Reason)
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

func invalid(input, format string, a ...any) error {
	return &Error{Input: input, Reason: fmt.Sprintf(format, a...)}
}

// lookup maps the input as a resolver would (case folding, full-width
// forms, NFC) and checks the labels, with the lengths DNS allows.
var lookup = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.ValidateLabels(true),
	idna.StrictDomainName(true),
	idna.Transitional(false),
	idna.VerifyDNSLength(true),
)

// Domain returns name as stored: the lower-case IDNA A-label form without a
// final dot. Unicode input ("bücher.example") and A-labels are accepted; a
// name needs at least two labels, letters, digits and inner hyphens.
func Domain(name string) (string, error) {
	in := name
	name = strings.TrimSuffix(name, ".")
	if name == "" {
		return "", invalid(in, "empty domain name")
	}
	if !utf8.ValidString(name) {
		return "", invalid(in, "not valid UTF-8")
	}
	if strings.HasPrefix(name, "[") {
		return "", invalid(in, "address literals are not accepted, only domain names")
	}
	a, err := lookup.ToASCII(norm.NFC.String(name))
	if err != nil {
		return "", invalid(in, "not a valid domain name (%v)", idnaReason(err))
	}
	a = strings.ToLower(a)
	if len(a) > MaxDomainLen {
		return "", invalid(in, "longer than %d octets", MaxDomainLen)
	}
	labels := strings.Split(a, ".")
	if len(labels) < 2 {
		return "", invalid(in, "needs at least two labels, such as example.com")
	}
	for _, l := range labels {
		if err := checkLabel(l); err != "" {
			return "", invalid(in, "label %q %s", l, err)
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		// RFC 3696 2: a top-level domain is never all-numeric, so an IP
		// address cannot pass as a domain name.
		return "", invalid(in, "the last label is all digits: an IP address is not a domain name")
	}
	// A label that looks like punycode must decode to a valid U-label.
	if _, err := idna.Registration.ToUnicode(a); err != nil {
		return "", invalid(in, "not a valid IDNA name (%v)", idnaReason(err))
	}
	return a, nil
}

func checkLabel(l string) string {
	switch {
	case l == "":
		return "is empty"
	case len(l) > maxLabelLen:
		return fmt.Sprintf("is longer than %d octets", maxLabelLen)
	case l[0] == '-' || l[len(l)-1] == '-':
		return "starts or ends with a hyphen"
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return "may hold only letters, digits and hyphens"
		}
	}
	return ""
}

func idnaReason(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "idna: ")
	return s
}

// Unicode returns the U-label form of a stored A-label domain, for display;
// the input itself when it does not convert.
func Unicode(aLabel string) string {
	u, err := idna.Registration.ToUnicode(aLabel)
	if err != nil {
		return aLabel
	}
	return u
}

// Normalize returns addr (local@domain) as stored: the local part in NFC and
// lower case, unquoted when it is a valid dot-atom, and the domain as by
// Domain. Quoted local parts (RFC 5321 4.1.2) are accepted and kept quoted
// when they need it.
func Normalize(addr string) (string, error) {
	local, domain, err := split(addr)
	if err != nil {
		return "", err
	}
	l, err := LocalPart(local)
	if err != nil {
		return "", invalid(addr, "%s", err.(*Error).Reason)
	}
	d, err := Domain(domain)
	if err != nil {
		return "", invalid(addr, "domain %s", err.(*Error).Reason)
	}
	out := l + "@" + d
	if len(out) > MaxPathLen {
		return "", invalid(addr, "longer than %d octets", MaxPathLen)
	}
	return out, nil
}

// Split returns the local part and the domain of an address, at its last
// '@' (a quoted local part may hold one).
func Split(addr string) (local, domain string) {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return addr, ""
	}
	return addr[:i], addr[i+1:]
}

func split(addr string) (string, string, error) {
	if addr == "" {
		return "", "", invalid(addr, "empty address")
	}
	if strings.HasPrefix(addr, "<") || strings.HasSuffix(addr, ">") {
		return "", "", invalid(addr, "give the bare address, without angle brackets")
	}
	local, domain := Split(addr)
	if domain == "" && !strings.Contains(addr, "@") {
		return "", "", invalid(addr, "missing @domain")
	}
	if local == "" {
		return "", "", invalid(addr, "empty local part")
	}
	return local, domain, nil
}

// LocalPart returns a local part as stored: NFC, lower case, unquoted when
// possible. It checks the dot-atom or quoted-string syntax of RFC 5321
// 4.1.2 (with the UTF-8 of RFC 6531) and the 64-octet limit.
func LocalPart(local string) (string, error) {
	in := local
	if local == "" {
		return "", invalid(in, "empty local part")
	}
	if !utf8.ValidString(local) {
		return "", invalid(in, "local part is not valid UTF-8")
	}
	local = strings.ToLower(norm.NFC.String(local))
	if strings.HasPrefix(local, `"`) {
		content, err := unquote(local)
		if err != nil {
			return "", invalid(in, "%s", err)
		}
		if isDotAtom(content) {
			local = content
		} else {
			local = quote(content)
		}
	} else if !isDotAtom(local) {
		return "", invalid(in, "local part must be a dot-atom (letters, digits, !#$%%&'*+-/=?^_`{|}~ and inner single dots) or a quoted string")
	}
	if len(local) > MaxLocalLen {
		return "", invalid(in, "local part longer than %d octets", MaxLocalLen)
	}
	return local, nil
}

// isAtext reports RFC 5322 atext, plus any non-ASCII character (RFC 6531).
func isAtext(r rune) bool {
	if r >= 0x80 {
		return r >= 0xa0 // no C1 controls
	}
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r)
}

func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		if r != '.' && !isAtext(r) {
			return false
		}
	}
	return true
}

// unquote reads an RFC 5321 Quoted-string: qtextSMTP (printable ASCII but
// '"' and '\', or UTF-8) and quoted-pairSMTP ('\' then printable ASCII).
func unquote(s string) (string, error) {
	if len(s) < 2 || s[len(s)-1] != '"' {
		return "", errors.New("unterminated quoted local part")
	}
	var b strings.Builder
	body := s[1 : len(s)-1]
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '\\':
			if i+1 >= len(body) || body[i+1] < 32 || body[i+1] > 126 {
				return "", errors.New("bad quoted pair in local part")
			}
			i++
			b.WriteByte(body[i])
		case c == '"':
			return "", errors.New("unescaped quote inside quoted local part")
		case c < 32 || c == 127:
			return "", errors.New("control character in local part")
		default:
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return "", errors.New("empty quoted local part")
	}
	return b.String(), nil
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}
