package sieve

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// sval is a compiled string: a literal, or, under "variables", the pieces
// its variable references are expanded from at run time (RFC 5229 3).
type sval struct {
	lit   string
	parts []vpart // nil: lit is the whole value
}

// vpart is a literal piece or a reference to a variable: a match variable
// (num >= 0) or a named one (name, with its namespace, lower case).
type vpart struct {
	lit  string
	name string
	num  int
	ref  bool
}

// decodeEncoded expands ${hex:...} and ${unicode:...} (RFC 5228 2.4.2.4).
// Malformed references are left as they are; a code point that is not a
// Unicode scalar value is an error.
func decodeEncoded(s string, line int) (string, *Error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		rest := s[i+2:]
		end := strings.IndexByte(rest, '}')
		colon := strings.IndexByte(rest, ':')
		if end < 0 || colon < 0 || colon > end {
			b.WriteString("${")
			s = rest
			continue
		}
		kind := strings.ToLower(rest[:colon])
		body := rest[colon+1 : end]
		out, ok, err := decodeUnits(kind, body, line)
		if err != nil {
			return "", err
		}
		if !ok {
			b.WriteString("${")
			s = rest
			continue
		}
		b.WriteString(out)
		s = rest[end+1:]
	}
}

// decodeUnits reads the blank-separated hex numbers of one reference.
func decodeUnits(kind, body string, line int) (string, bool, *Error) {
	if kind != "hex" && kind != "unicode" {
		return "", false, nil
	}
	fields := strings.FieldsFunc(body, func(r rune) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\n' })
	var b strings.Builder
	for _, f := range fields {
		if kind == "hex" {
			if len(f) == 0 || len(f)%2 != 0 {
				return "", false, nil
			}
			for j := 0; j < len(f); j += 2 {
				v, err := strconv.ParseUint(f[j:j+2], 16, 8)
				if err != nil {
					return "", false, nil
				}
				b.WriteByte(byte(v))
			}
			continue
		}
		v, err := strconv.ParseUint(f, 16, 32)
		if err != nil || len(f) > 8 {
			return "", false, nil
		}
		if v > utf8.MaxRune || (v >= 0xD800 && v <= 0xDFFF) {
			return "", false, errorf(line, "${unicode:%s}: not a Unicode character", f)
		}
		b.WriteRune(rune(v))
	}
	return b.String(), true, nil
}

// parseVars splits s into literal pieces and variable references. A
// reference that is not well formed stays literal text (RFC 5229 3).
func parseVars(s string) sval {
	if !strings.Contains(s, "${") {
		return sval{lit: s}
	}
	var parts []vpart
	var lit strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			lit.WriteString(s)
			break
		}
		lit.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			lit.WriteString(s[i:])
			break
		}
		ref := s[i+2 : i+end]
		if p, ok := varRef(ref); ok {
			if lit.Len() > 0 {
				parts = append(parts, vpart{lit: lit.String()})
				lit.Reset()
			}
			parts = append(parts, p)
			s = s[i+end+1:]
			continue
		}
		lit.WriteString("${")
		s = s[i+2:]
	}
	if len(parts) == 0 {
		return sval{lit: lit.String()}
	}
	if lit.Len() > 0 {
		parts = append(parts, vpart{lit: lit.String()})
	}
	return sval{parts: parts}
}

// varRef reads the inside of ${...}: digits for a match variable, else
// identifiers separated by dots.
func varRef(ref string) (vpart, bool) {
	if ref == "" {
		return vpart{}, false
	}
	if ref[0] >= '0' && ref[0] <= '9' {
		n, err := strconv.Atoi(ref)
		if err != nil || n > 9 { // RFC 5229 3: match variables ${0} to ${9}
			return vpart{}, false
		}
		return vpart{ref: true, num: n}, true
	}
	for _, id := range strings.Split(ref, ".") {
		if !validIdent(id) {
			return vpart{}, false
		}
	}
	return vpart{ref: true, num: -1, name: strings.ToLower(ref)}, true
}

func validIdent(s string) bool {
	if s == "" || !isIdentStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isIdentStart(c) && !(c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// quoteWildcard escapes *, ? and \ for :matches (RFC 5229 4.1 :quotewildcard).
func quoteWildcard(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '*' || c == '?' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// asciiLower lower-cases ASCII letters only, keeping byte offsets
// (i;ascii-casemap, RFC 4790 9.2).
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func asciiUpper(s string) string {
	b := []byte(s)
	for j := range b {
		if b[j] >= 'a' && b[j] <= 'z' {
			b[j] -= 'a' - 'A'
		}
	}
	return string(b)
}
