package mailsort

import (
	"net/mail"
	"strings"
	"time"
)

// Header is a message's header section as mailsort reads it: Get returns
// the value of the first field of a name, "" when there is none.
// *mailheader.Header and go-message's *textproto.Header satisfy it.
type Header interface {
	Get(key string) string
}

// Summarize fills a Message from a message's header and what the index
// knows of it.
func Summarize(h Header, seq, uid uint32, internal time.Time, size int64) Message {
	return Message{
		Seq:        seq,
		UID:        uid,
		Internal:   internal,
		Sent:       SentDate(h.Get("Date"), internal),
		Size:       size,
		Subject:    h.Get("Subject"),
		From:       FirstAddress(h.Get("From")),
		To:         FirstAddress(h.Get("To")),
		Cc:         FirstAddress(h.Get("Cc")),
		MessageID:  h.Get("Message-Id"),
		References: h.Get("References"),
		InReplyTo:  h.Get("In-Reply-To"),
	}
}

// addressParser reads address lists with display names decoded in every
// charset go-message knows.
var addressParser = mail.AddressParser{WordDecoder: wordDecoder}

// FirstAddress returns the first address of an address-list field value
// as IMAP's ENVELOPE lists it (RFC 3501 section 7.4.2): a mailbox, or for
// a list that starts with a group ("undisclosed-recipients:;") the group
// marker, whose Mailbox is the group's name. A list that does not parse
// is read leniently: the first thing that looks like an address, else
// the first word as a local part without domain.
func FirstAddress(v string) Address {
	v = strings.TrimSpace(unfold.Replace(v))
	if v == "" {
		return Address{}
	}
	if name, ok := groupName(v); ok {
		return Address{Mailbox: collapseSpace(decodeWords(name))}
	}
	if list, err := addressParser.ParseList(v); err == nil && len(list) > 0 {
		mbox, host := splitAddr(list[0].Address)
		return Address{Name: list[0].Name, Mailbox: mbox, Host: host}
	}
	return lenientAddress(v)
}

// unfold removes the line breaks of folding white space (RFC 5322 2.2.3).
var unfold = strings.NewReplacer("\r\n", "", "\n", "")

// splitAddr splits an addr-spec at its last "@".
func splitAddr(a string) (mailbox, host string) {
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		return a[:i], a[i+1:]
	}
	return a, ""
}

// groupName returns the display name of a group at the start of v: a
// phrase followed by ":" before any "<", "@", "," or ";" outside quotes
// and comments.
func groupName(v string) (string, bool) {
	var b strings.Builder
	depth, quoted := 0, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case quoted:
			if c == '\\' && i+1 < len(v) {
				i++
				c = v[i]
			} else if c == '"' {
				quoted = false
				continue
			}
			b.WriteByte(c)
		case depth > 0:
			if c == '\\' {
				i++
			} else if c == '(' {
				depth++
			} else if c == ')' {
				depth--
			}
		case c == '(':
			depth++
		case c == '"':
			quoted = true
		case c == ':':
			name := strings.TrimSpace(b.String())
			return name, name != ""
		case c == '<' || c == '@' || c == ',' || c == ';' || c == '>':
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}

// lenientAddress finds the first address in a list that does not parse:
// the first <local@domain>, else the first word with an "@", else the
// first word as a local part.
func lenientAddress(v string) Address {
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			spec := v[i+1 : i+j]
			if k := strings.LastIndexByte(spec, ':'); k >= 0 {
				spec = spec[k+1:] // source route (RFC 5322 4.4)
			}
			if strings.IndexByte(spec, '@') >= 0 {
				mbox, host := splitAddr(strings.TrimSpace(spec))
				name := strings.Trim(strings.TrimSpace(v[:i]), `"`)
				return Address{Name: name, Mailbox: strings.Trim(mbox, `"`), Host: host}
			}
		}
	}
	words := strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' || r == ';' })
	for _, w := range words {
		if strings.IndexByte(w, '@') > 0 {
			mbox, host := splitAddr(strings.Trim(w, "<>()"))
			return Address{Mailbox: strings.Trim(mbox, `"`), Host: host}
		}
	}
	if len(words) > 0 {
		return Address{Mailbox: strings.Trim(words[0], `"<>()`)}
	}
	return Address{}
}

// msgIDs returns the valid message IDs of a msg-id list field value
// (References, In-Reply-To), normalised by normMsgID, in order. Anything
// between them (phrases of old In-Reply-To fields, comments, junk) is
// skipped.
func msgIDs(v string, max int) []string {
	var out []string
	depth := 0
	for i := 0; i < len(v) && (max <= 0 || len(out) < max); i++ {
		switch c := v[i]; {
		case depth > 0:
			switch c {
			case '\\':
				i++
			case '(':
				depth++
			case ')':
				depth--
			}
		case c == '(' && strings.IndexByte(v[i:], ')') > 0:
			depth++ // a comment (one left open is no comment)
		case c == '"':
			// A quoted phrase outside brackets (RFC 822 In-Reply-To);
			// a quote left open is just a character.
			if end := quotedEnd(v, i); end > 0 {
				i = end
			}
		case c == '<':
			id, n := msgIDAt(v[i:])
			if id != "" {
				out = append(out, id)
			}
			i += n - 1
		}
	}
	return out
}

// quotedEnd returns the index of the quote that closes the quoted string
// starting at v[i], 0 if none does.
func quotedEnd(v string, i int) int {
	for j := i + 1; j < len(v); j++ {
		switch v[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return 0
}

// msgIDAt reads "<...>" at the start of s and returns the normalised
// message ID ("" if invalid) and the length read. A quoted string inside
// may hold ">".
func msgIDAt(s string) (string, int) {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == '<':
			return "", i // a new "<": this one was not closed
		case !quoted && c == '>':
			return normMsgID(s[1:i]), i + 1
		}
	}
	return "", len(s)
}

// normMsgID normalises the text between a msg-id's brackets (RFC 5256
// section 4: <"a"@b> and <a@b> are the same message ID): quoted strings
// unquoted, white space, folding and comments outside quotes removed. It
// returns "" unless the result is id-left "@" id-right, both non-empty.
func normMsgID(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	quoted, depth := false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted:
			if c == '\\' && i+1 < len(s) {
				i++
				c = s[i]
			} else if c == '"' {
				quoted = false
				continue
			}
			b.WriteByte(c)
		case depth > 0:
			if c == '(' {
				depth++
			} else if c == ')' {
				depth--
			}
		case c == '"':
			quoted = true
		case c == '(':
			depth++
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		default:
			b.WriteByte(c)
		}
	}
	id := b.String()
	at := strings.LastIndexByte(id, '@')
	if at <= 0 || at == len(id)-1 {
		return ""
	}
	return id
}
