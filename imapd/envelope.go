package imapd

import (
	"strings"

	"github.com/emersion/go-message/textproto"

	"mailhost/imapwire"
)

// envelopeOf builds the ENVELOPE of a message header (RFC 3501 7.4.2):
// address lists keep their groups (a start and an end entry) and source
// routes; comments are dropped; encoded words stay encoded.
func envelopeOf(h textproto.Header) *imapwire.Envelope {
	get := func(k string) string { return strings.TrimSpace(unfold(h.Get(k))) }
	env := &imapwire.Envelope{
		Date: get("Date"), Subject: get("Subject"),
		From: parseAddrs(get("From")), Sender: parseAddrs(get("Sender")), ReplyTo: parseAddrs(get("Reply-To")),
		To: parseAddrs(get("To")), Cc: parseAddrs(get("Cc")), Bcc: parseAddrs(get("Bcc")),
		InReplyTo: get("In-Reply-To"), MessageID: get("Message-Id"),
	}
	return env
}

func unfold(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r\n", "", "\n", "", "\r", "").Replace(s)
}

// addrLexer reads the tokens of an address list (RFC 5322 3.4):
// specials, quoted strings, atoms (dot-atoms included), domain literals;
// comments are skipped.
type addrLexer struct {
	s string
	i int
}

func (l *addrLexer) skip() {
	for l.i < len(l.s) {
		switch c := l.s[l.i]; {
		case c == ' ' || c == '\t':
			l.i++
		case c == '(':
			depth := 0
			for l.i < len(l.s) {
				switch l.s[l.i] {
				case '\\':
					l.i++
				case '(':
					depth++
				case ')':
					depth--
				}
				l.i++
				if depth == 0 {
					break
				}
			}
		default:
			return
		}
	}
}

// next returns the next token: kind 's' special (tok the character), 'q'
// quoted string (unquoted), 'a' atom, 'd' domain literal, 0 at the end.
func (l *addrLexer) next() (kind byte, tok string) {
	l.skip()
	if l.i >= len(l.s) {
		return 0, ""
	}
	c := l.s[l.i]
	switch {
	case strings.IndexByte("<>@,;:", c) >= 0:
		l.i++
		return 's', string(c)
	case c == '"':
		var b strings.Builder
		l.i++
		for l.i < len(l.s) && l.s[l.i] != '"' {
			if l.s[l.i] == '\\' && l.i+1 < len(l.s) {
				l.i++
			}
			b.WriteByte(l.s[l.i])
			l.i++
		}
		l.i++
		return 'q', b.String()
	case c == '[':
		j := strings.IndexByte(l.s[l.i:], ']')
		if j < 0 {
			j = len(l.s) - l.i - 1
		}
		tok = l.s[l.i : l.i+j+1]
		l.i += j + 1
		return 'd', tok
	}
	start := l.i
	for l.i < len(l.s) && strings.IndexByte("<>@,;:\"( \t[", l.s[l.i]) < 0 {
		l.i++
	}
	if l.i == start { // a stray character
		l.i++
	}
	return 'a', l.s[start:l.i]
}

type addrTok struct {
	kind byte
	tok  string
}

// parseAddrs parses an address list leniently: what cannot be read is
// skipped to the next comma.
func parseAddrs(v string) []imapwire.Address {
	if v == "" {
		return nil
	}
	l := &addrLexer{s: v}
	var toks []addrTok
	for {
		k, t := l.next()
		if k == 0 {
			break
		}
		toks = append(toks, addrTok{k, t})
	}
	var out []imapwire.Address
	inGroup := false
	var cur []addrTok
	flush := func() {
		if a, ok := mailboxOf(cur); ok {
			out = append(out, a)
		}
		cur = cur[:0]
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.kind == 's' && t.tok == ":" && !inGroup && !hasAngle(cur):
			out = append(out, imapwire.Address{Mailbox: phrase(cur), Group: true})
			cur = cur[:0]
			inGroup = true
		case t.kind == 's' && t.tok == ";" && inGroup:
			flush()
			out = append(out, imapwire.Address{Group: true})
			inGroup = false
		case t.kind == 's' && t.tok == ",":
			flush()
		case t.kind == 's' && t.tok == "<":
			// take everything to '>' (a route's ':' and ',' included)
			cur = append(cur, t)
			for i+1 < len(toks) && !(toks[i+1].kind == 's' && toks[i+1].tok == ">") {
				i++
				cur = append(cur, toks[i])
			}
			if i+1 < len(toks) {
				i++
				cur = append(cur, toks[i])
			}
		default:
			cur = append(cur, t)
		}
	}
	flush()
	if inGroup {
		out = append(out, imapwire.Address{Group: true})
	}
	return out
}

func hasAngle(toks []addrTok) bool {
	for _, t := range toks {
		if t.kind == 's' && t.tok == "<" {
			return true
		}
	}
	return false
}

// phrase joins display-name tokens with single spaces.
func phrase(toks []addrTok) string {
	var parts []string
	for _, t := range toks {
		if t.kind == 'a' || t.kind == 'q' {
			parts = append(parts, t.tok)
		}
	}
	return strings.Join(parts, " ")
}

// mailboxOf reads one mailbox: [phrase] "<" [route ":"] addr-spec ">" or
// a bare addr-spec.
func mailboxOf(toks []addrTok) (imapwire.Address, bool) {
	if len(toks) == 0 {
		return imapwire.Address{}, false
	}
	var a imapwire.Address
	spec := toks
	for i, t := range toks {
		if t.kind == 's' && t.tok == "<" {
			a.Name = phrase(toks[:i])
			spec = toks[i+1:]
			if n := len(spec); n > 0 && spec[n-1].kind == 's' && spec[n-1].tok == ">" {
				spec = spec[:n-1]
			}
			// An obsolete route: "@a,@b:" before the addr-spec.
			for j, u := range spec {
				if u.kind == 's' && u.tok == ":" {
					var r strings.Builder
					for _, w := range spec[:j] {
						r.WriteString(w.tok)
					}
					a.Route = r.String()
					spec = spec[j+1:]
					break
				}
			}
			break
		}
	}
	at := -1
	for i, t := range spec {
		if t.kind == 's' && t.tok == "@" {
			at = i
		}
	}
	var local, domain strings.Builder
	for i, t := range spec {
		switch {
		case at >= 0 && i > at:
			domain.WriteString(t.tok)
		case at < 0 || i < at:
			local.WriteString(t.tok)
		}
	}
	a.Mailbox, a.Host = local.String(), domain.String()
	if a.Mailbox == "" && a.Host == "" {
		return a, false
	}
	return a, true
}

// appendAddressText appends an address as SEARCH matches it:
// "Name <mailbox@host>".
func appendAddressText(dst []byte, a imapwire.Address) []byte {
	if a.Name != "" {
		dst = append(append(dst, a.Name...), " <"...)
	}
	dst = append(dst, a.Mailbox...)
	if a.Host != "" {
		dst = append(append(dst, '@'), a.Host...)
	}
	if a.Name != "" {
		dst = append(dst, '>')
	}
	return dst
}
