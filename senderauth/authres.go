package senderauth

import (
	"bytes"
	"strings"
)

// Results are the checks of one message, for its Authentication-Results.
type Results struct {
	IPRev *IPRev // nil: not checked
	SPF   *SPF
	DKIM  []DKIM // none: the message has no signature (dkim=none)
	DMARC *DMARC
}

// Header is the Authentication-Results field (RFC 8601 2.2) of res, with
// authserv-id id, one method a line, ending in CRLF:
//
//	Authentication-Results: mx.example.org;
//		iprev=pass policy.iprev=192.0.2.1 (mail.example.com);
//		spf=pass smtp.mailfrom=alice@example.com;
//		dkim=pass header.d=example.com header.s=sel header.a=rsa-sha256 header.b=AbCdEfGh;
//		dmarc=pass (p=reject) header.from=example.com
func Header(id string, res Results) []byte {
	var lines []string
	if r := res.IPRev; r != nil {
		l := "iprev=" + r.Result + " policy.iprev=" + r.IP.String()
		if r.Name != "" {
			l += " (" + comment(r.Name) + ")"
		}
		lines = append(lines, l)
	}
	if r := res.SPF; r != nil {
		prop := "smtp.mailfrom="
		if r.HELO {
			prop = "smtp.helo="
		}
		lines = append(lines, "spf="+r.Result+" "+prop+pvalue(r.Identity))
	}
	if res.SPF != nil || res.DMARC != nil {
		if len(res.DKIM) == 0 {
			lines = append(lines, "dkim=none")
		}
		for _, d := range res.DKIM {
			l := "dkim=" + d.Result
			for _, p := range [][2]string{{"header.d", d.Domain}, {"header.s", d.Selector}, {"header.a", d.Algorithm}, {"header.b", d.B}} {
				if p[1] != "" {
					l += " " + p[0] + "=" + pvalue(p[1])
				}
			}
			lines = append(lines, l)
		}
	}
	if r := res.DMARC; r != nil {
		l := "dmarc=" + r.Result
		if r.Published != "" {
			l += " (p=" + r.Published + ")"
		}
		if r.Domain != "" {
			l += " header.from=" + pvalue(r.Domain)
		}
		lines = append(lines, l)
	}
	var b bytes.Buffer
	b.WriteString("Authentication-Results: " + pvalue(id))
	if len(lines) == 0 {
		b.WriteString("; none")
	}
	for _, l := range lines {
		b.WriteString(";\r\n\t" + l)
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// pvalue writes v as a value RFC 8601 2.2 accepts: bare when it is a token
// or an address (letters, digits, . - _ + @ and non-ASCII letters of an
// internationalised address), else a quoted-string. Control characters are
// dropped so that nothing a client sent can end the field.
func pvalue(v string) string {
	v = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, v)
	bare := v != ""
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r >= 0x80 ||
			strings.ContainsRune(".-_+@", r)) {
			bare = false
			break
		}
	}
	if bare {
		return v
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

// comment makes v safe inside a comment: parentheses, backslashes and
// controls become '?'.
func comment(v string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '(' || r == ')' || r == '\\' {
			return '?'
		}
		return r
	}, v)
}

// StripForged removes from the header of msg every Authentication-Results
// field whose authserv-id is id (compared case-insensitively): a field
// claiming to be ours that we did not add is forged (RFC 8601 5). It
// returns msg itself when there is none, else a new message and the
// number removed.
func StripForged(msg []byte, id string) ([]byte, int) {
	end := headerEnd(msg)
	var out []byte
	n := 0
	for i := 0; i < end; {
		j := fieldEnd(msg, i, end)
		if isOurs(msg[i:j], id) {
			if out == nil {
				out = append(make([]byte, 0, len(msg)), msg[:i]...)
			}
			n++
		} else if out != nil {
			out = append(out, msg[i:j]...)
		}
		i = j
	}
	if out == nil {
		return msg, 0
	}
	return append(out, msg[end:]...), n
}

// headerEnd is the offset of the empty line that ends the header section
// (or the end of msg).
func headerEnd(msg []byte) int {
	if bytes.HasPrefix(msg, []byte("\r\n")) {
		return 0
	}
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		return i + 2
	}
	return len(msg)
}

// fieldEnd is the end of the field starting at i: after its last
// continuation line's CRLF.
func fieldEnd(msg []byte, i, end int) int {
	for {
		k := bytes.Index(msg[i:end], []byte("\r\n"))
		if k < 0 {
			return end
		}
		i += k + 2
		if i >= end || (msg[i] != ' ' && msg[i] != '\t') {
			return i
		}
	}
}

// isOurs reports an Authentication-Results field whose authserv-id is id.
func isOurs(field []byte, id string) bool {
	name, value, ok := bytes.Cut(field, []byte(":"))
	if !ok || !strings.EqualFold(strings.TrimRight(string(name), " \t"), "Authentication-Results") {
		return false
	}
	return strings.EqualFold(AuthServID(string(value)), id)
}

// AuthServID returns the authserv-id of an Authentication-Results value
// (RFC 8601 2.2: [CFWS] authserv-id [CFWS authres-version] ...): the first
// word, comments and folding skipped, quotes removed.
func AuthServID(v string) string {
	var b strings.Builder
	depth := 0
	quoted := false
	for i := 0; i < len(v); i++ {
		ch := v[i]
		switch {
		case quoted && ch == '\\' && i+1 < len(v):
			i++
			b.WriteByte(v[i])
		case quoted && ch == '"':
			quoted = false
		case quoted:
			b.WriteByte(ch)
		case depth > 0 && ch == '\\':
			i++
		case ch == '(':
			depth++
		case depth > 0 && ch == ')':
			depth--
		case depth > 0:
		case ch == '"':
			quoted = true
		case ch == ';' || ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n':
			if b.Len() > 0 {
				return b.String()
			}
			if ch == ';' {
				return ""
			}
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}
