package imapwire

import (
	"bufio"
	"io"
	"strconv"
	"time"
	"unicode/utf8"
)

// Encoder writes server responses. Its methods do not return errors: the
// bufio.Writer keeps the first one, and Flush returns it.
type Encoder struct {
	w *bufio.Writer
	// UTF8 lets quoted strings carry UTF-8 (UTF8=ACCEPT, IMAP4rev2) and
	// writes mailbox names in UTF-8 rather than modified UTF-7.
	UTF8 bool
	num  [24]byte
}

// NewEncoder returns an encoder writing to w.
func NewEncoder(w *bufio.Writer) *Encoder { return &Encoder{w: w} }

// Reset makes e write to w.
func (e *Encoder) Reset(w *bufio.Writer) { e.w = w }

// Flush sends what is buffered.
func (e *Encoder) Flush() error { return e.w.Flush() }

// Raw writes s as it is.
func (e *Encoder) Raw(s string) *Encoder {
	e.w.WriteString(s)
	return e
}

// Byte writes c.
func (e *Encoder) Byte(c byte) *Encoder {
	e.w.WriteByte(c)
	return e
}

// SP writes a space.
func (e *Encoder) SP() *Encoder { return e.Byte(' ') }

// CRLF ends a line.
func (e *Encoder) CRLF() *Encoder { return e.Raw("\r\n") }

// Number writes n.
func (e *Encoder) Number(n uint64) *Encoder {
	e.w.Write(strconv.AppendUint(e.num[:0], n, 10))
	return e
}

// Nil writes NIL.
func (e *Encoder) Nil() *Encoder { return e.Raw("NIL") }

// Writer is where literal data goes, after LiteralHeader.
func (e *Encoder) Writer() io.Writer { return e.w }

// LiteralHeader writes "{n}" (binary: "~{n}") and the line end.
func (e *Encoder) LiteralHeader(n int64, binary bool) *Encoder {
	if binary {
		e.Byte('~')
	}
	e.Byte('{').Number(uint64(n)).Raw("}\r\n")
	return e
}

// quotable reports whether s can be a quoted string.
func (e *Encoder) quotable(s string) bool {
	if len(s) > 1024 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == 0 || c == '\r' || c == '\n' || c >= 0x80 && !e.UTF8 {
			return false
		}
	}
	return !e.UTF8 || utf8.ValidString(s)
}

// String writes s as a quoted string, or a literal when it cannot be one.
func (e *Encoder) String(s string) *Encoder {
	if !e.quotable(s) {
		e.LiteralHeader(int64(len(s)), false)
		return e.Raw(s)
	}
	e.Byte('"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			e.Byte('\\')
		}
		e.Byte(s[i])
	}
	return e.Byte('"')
}

// NString writes s, NIL when empty.
func (e *Encoder) NString(s string) *Encoder {
	if s == "" {
		return e.Nil()
	}
	return e.String(s)
}

// IsAtom reports whether s can be written as an atom (and is not NIL).
func IsAtom(s string) bool {
	if s == "" || len(s) == 3 && (s[0]|32) == 'n' && (s[1]|32) == 'i' && (s[2]|32) == 'l' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAtomChar(s[i]) {
			return false
		}
	}
	return true
}

// AString writes s as an atom when it can be one, else as a string.
func (e *Encoder) AString(s string) *Encoder {
	if IsAtom(s) {
		return e.Raw(s)
	}
	return e.String(s)
}

// Mailbox writes a mailbox name (UTF-8 inside), quoted: modified UTF-7
// unless UTF8 is on; INBOX bare.
func (e *Encoder) Mailbox(name string) *Encoder {
	if name == "INBOX" {
		return e.Raw(name)
	}
	if !e.UTF8 {
		name = EncodeMailbox(name)
	}
	return e.String(name)
}

// Flags writes a parenthesised list of flags.
func (e *Encoder) Flags(flags []string) *Encoder {
	e.Byte('(')
	for i, f := range flags {
		if i > 0 {
			e.SP()
		}
		e.Raw(f)
	}
	return e.Byte(')')
}

// Status writes a tagged or untagged ("*") status response; code may be
// empty.
func (e *Encoder) Status(tag, status, code, text string) *Encoder {
	e.Raw(tag).SP().Raw(status).SP()
	if code != "" {
		e.Byte('[').Raw(code).Raw("] ")
	}
	return e.Raw(text).CRLF()
}

// DateTime writes an IMAP date-time, quoted.
func (e *Encoder) DateTime(t time.Time) *Encoder {
	e.Byte('"')
	e.w.Write(t.AppendFormat(e.num[:0], "02-Jan-2006 15:04:05 -0700"))
	return e.Byte('"')
}

// Envelope writes an ENVELOPE's parenthesised list.
func (e *Encoder) Envelope(env *Envelope) *Encoder {
	e.Byte('(').NString(env.Date).SP().NString(env.Subject).SP()
	from := env.From
	sender, replyTo := env.Sender, env.ReplyTo
	if len(sender) == 0 {
		sender = from
	}
	if len(replyTo) == 0 {
		replyTo = from
	}
	for _, l := range [][]Address{from, sender, replyTo, env.To, env.Cc, env.Bcc} {
		e.addresses(l).SP()
	}
	return e.NString(env.InReplyTo).SP().NString(env.MessageID).Byte(')')
}

func (e *Encoder) addresses(l []Address) *Encoder {
	if len(l) == 0 {
		return e.Nil()
	}
	e.Byte('(')
	for _, a := range l {
		e.Byte('(').NString(a.Name).SP().NString(a.Route).SP()
		if a.Group && a.Mailbox == "" {
			e.Nil().SP().Nil().Byte(')') // end of group
			continue
		}
		e.NString(a.Mailbox).SP()
		if a.Group {
			e.Nil()
		} else {
			e.NString(a.Host)
		}
		e.Byte(')')
	}
	return e.Byte(')')
}

func (e *Encoder) params(p []string) *Encoder {
	if len(p) == 0 {
		return e.Nil()
	}
	e.Byte('(')
	for i, s := range p {
		if i > 0 {
			e.SP()
		}
		e.String(s)
	}
	return e.Byte(')')
}

// BodyStructure writes BODYSTRUCTURE (ext true) or BODY (ext false).
func (e *Encoder) BodyStructure(b *BodyStructure, ext bool) *Encoder {
	e.Byte('(')
	if len(b.Children) > 0 {
		for _, c := range b.Children {
			e.BodyStructure(c, ext)
		}
		e.SP().String(b.Subtype)
		if ext {
			e.SP().params(b.Params).SP().disposition(b).SP().language(b.Language).SP().NString(b.Location)
		}
		return e.Byte(')')
	}
	e.String(b.Type).SP().String(b.Subtype).SP().params(b.Params).SP().NString(b.ID).SP().
		NString(b.Description).SP().String(b.Encoding).SP().Number(uint64(b.Size))
	if b.Envelope != nil && b.Inner != nil {
		e.SP().Envelope(b.Envelope).SP().BodyStructure(b.Inner, ext).SP().Number(uint64(b.Lines))
	} else if equalFold(b.Type, "text") {
		e.SP().Number(uint64(b.Lines))
	}
	if ext {
		e.SP().NString(b.MD5).SP().disposition(b).SP().language(b.Language).SP().NString(b.Location)
	}
	return e.Byte(')')
}

func (e *Encoder) disposition(b *BodyStructure) *Encoder {
	if b.Disposition == "" {
		return e.Nil()
	}
	return e.Byte('(').String(b.Disposition).SP().params(b.DispositionParams).Byte(')')
}

func (e *Encoder) language(l []string) *Encoder {
	if len(l) == 0 {
		return e.Nil()
	}
	return e.params(l)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i]|32 != b[i]|32 {
			return false
		}
	}
	return true
}

// SectionName writes the name of a fetched section as the response
// names it: BODY[1.HEADER.FIELDS (A B)]<offset> (RFC 3501 7.4.2).
func (e *Encoder) SectionName(s *Section) *Encoder {
	if s.Alias != "" {
		return e.Raw(s.Alias)
	}
	if s.Binary {
		e.Raw("BINARY[")
	} else {
		e.Raw("BODY[")
	}
	e.part(s.Part)
	if s.Specifier != "" {
		if len(s.Part) > 0 {
			e.Byte('.')
		}
		e.Raw(s.Specifier)
		if len(s.Fields) > 0 {
			e.Raw(" (")
			for i, f := range s.Fields {
				if i > 0 {
					e.SP()
				}
				e.AString(f)
			}
			e.Byte(')')
		}
	}
	e.Byte(']')
	if s.Partial != nil {
		e.Byte('<').Number(uint64(s.Partial.Offset)).Byte('>')
	}
	return e
}

func (e *Encoder) part(p []int) {
	for i, n := range p {
		if i > 0 {
			e.Byte('.')
		}
		e.Number(uint64(n))
	}
}

// BinarySizeName writes BINARY.SIZE[part].
func (e *Encoder) BinarySizeName(s *Section) *Encoder {
	e.Raw("BINARY.SIZE[")
	e.part(s.Part)
	return e.Byte(']')
}
