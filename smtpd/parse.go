package smtpd

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Command is one command line split into its verb (upper case) and its
// argument (after the first run of spaces, trailing white space removed).
type Command struct {
	Verb string
	Arg  string
}

// ParseCommand splits a command line (without its CRLF). RFC 5321 4.1.1:
// a verb, then, when there is an argument, a space. A verb is letters
// only; anything else (an empty line, a verb with digits or controls) is
// an empty Verb, answered "bad syntax".
func ParseCommand(line string) Command {
	line = strings.TrimRight(line, " \t\r")
	verb, arg, _ := strings.Cut(line, " ")
	if verb == "" || len(verb) > 16 {
		return Command{}
	}
	for i := 0; i < len(verb); i++ {
		if !isLetter(verb[i]) {
			return Command{}
		}
	}
	return Command{Verb: strings.ToUpper(verb), Arg: strings.TrimLeft(arg, " ")}
}

// BodyType is MAIL's BODY parameter (RFC 6152).
type BodyType string

// The BODY values offered: 7BIT and 8BITMIME (BINARYMIME is not).
const (
	Body7Bit     BodyType = "7BIT"
	Body8BitMIME BodyType = "8BITMIME"
)

// DSNReturn is MAIL's RET parameter (RFC 3461 4.3).
type DSNReturn string

// RET's values.
const (
	DSNReturnFull    DSNReturn = "FULL"
	DSNReturnHeaders DSNReturn = "HDRS"
)

// DSNNotify is one value of RCPT's NOTIFY parameter (RFC 3461 4.1).
type DSNNotify string

// NOTIFY's values.
const (
	DSNNotifyNever   DSNNotify = "NEVER"
	DSNNotifyDelayed DSNNotify = "DELAY"
	DSNNotifyFailure DSNNotify = "FAILURE"
	DSNNotifySuccess DSNNotify = "SUCCESS"
)

// DSNAddressType is the address type of RCPT's ORCPT parameter (RFC 3461
// 4.2, RFC 6533 3).
type DSNAddressType string

// ORCPT's address types.
const (
	DSNAddressTypeRFC822 DSNAddressType = "RFC822"
	DSNAddressTypeUTF8   DSNAddressType = "UTF-8"
)

// MailOptions are MAIL's parameters.
type MailOptions struct {
	Size       int64    // SIZE (RFC 1870), 0 when not given
	Body       BodyType // BODY (RFC 6152), "" when not given
	UTF8       bool     // SMTPUTF8 (RFC 6531)
	Return     DSNReturn
	EnvelopeID string  // ENVID, xtext decoded (RFC 3461 4.4)
	Auth       *string // AUTH= (RFC 4954 5), "" for <>
}

// RcptOptions are RCPT's parameters.
type RcptOptions struct {
	Notify                []DSNNotify
	OriginalRecipient     string // ORCPT's address, decoded
	OriginalRecipientType DSNAddressType
}

// ParseMail reads MAIL's argument: "FROM:<reverse-path>" and parameters.
// The sender is returned without its brackets ("" for <>), also when a
// parameter is refused. maxSize is
// the message size limit a declared SIZE is held to (0: none).
func ParseMail(arg string, maxSize int64) (string, *MailOptions, *SMTPError) {
	rest, ok := cutPrefixFold(arg, "FROM:")
	if !ok {
		return "", nil, ErrMailSyntax
	}
	p := pathParser{s: strings.TrimLeft(rest, " ")}
	from, ok := p.reversePath()
	if !ok || !p.endOfPath() {
		return "", nil, ErrMailSyntax
	}
	opts := &MailOptions{}
	err := eachParam(p.s, func(key, val, raw string) *SMTPError { return opts.set(key, val, raw, maxSize) })
	if err != nil {
		return from, nil, err // the sender, for the log of the refusal
	}
	return from, opts, nil
}

// ParseRcpt reads RCPT's argument: "TO:<forward-path>" and parameters.
// A bare <Postmaster> (RFC 5321 4.1.1.3) is returned as given.
func ParseRcpt(arg string) (string, *RcptOptions, *SMTPError) {
	rest, ok := cutPrefixFold(arg, "TO:")
	if !ok {
		return "", nil, ErrRcptSyntax
	}
	p := pathParser{s: strings.TrimLeft(rest, " ")}
	to, ok := p.forwardPath()
	if !ok || !p.endOfPath() {
		return "", nil, ErrRcptSyntax
	}
	opts := &RcptOptions{}
	err := eachParam(p.s, func(key, val, raw string) *SMTPError { return opts.set(key, val, raw) })
	if err != nil {
		return "", nil, err
	}
	return to, opts, nil
}

func unsupported(raw string) *SMTPError {
	return reply(555, EnhancedCode{5, 5, 4}, "Unsupported option: "+raw)
}

func badParam(what string) *SMTPError {
	return reply(501, EnhancedCode{5, 5, 4}, "Bad "+what+" syntax")
}

// eachParam calls f for each "KEY[=value]" of params (RFC 5321 4.1.2
// esmtp-param), the key in upper case.
func eachParam(params string, f func(key, val, raw string) *SMTPError) *SMTPError {
	for _, raw := range strings.Fields(params) {
		key, val, _ := strings.Cut(raw, "=")
		if err := f(strings.ToUpper(key), val, raw); err != nil {
			return err
		}
	}
	return nil
}

func (o *MailOptions) set(key, val, raw string, maxSize int64) *SMTPError {
	switch key {
	case "SIZE":
		n, err := strconv.ParseUint(val, 10, 63)
		if err != nil {
			return badParam("message size")
		}
		if maxSize > 0 && int64(n) > maxSize {
			return ErrSizeExceeded
		}
		o.Size = int64(n)
	case "BODY":
		switch b := BodyType(strings.ToUpper(val)); b {
		case Body7Bit, Body8BitMIME:
			o.Body = b
		default:
			return unsupported(raw)
		}
	case "SMTPUTF8":
		if val != "" || strings.Contains(raw, "=") {
			return unsupported(raw)
		}
		o.UTF8 = true
	case "RET":
		switch r := DSNReturn(strings.ToUpper(val)); r {
		case DSNReturnFull, DSNReturnHeaders:
			if o.Return != "" {
				return badParam("RET parameter")
			}
			o.Return = r
		default:
			return badParam("RET parameter")
		}
	case "ENVID":
		v, ok := decodeXtext(val)
		if !ok || v == "" || !printableASCII(v) || o.EnvelopeID != "" {
			return badParam("ENVID parameter")
		}
		o.EnvelopeID = v
	case "AUTH":
		v, ok := decodeXtext(val)
		if !ok || v == "" {
			return badParam("AUTH parameter")
		}
		if o.Auth != nil {
			return reply(503, EnhancedCode{5, 5, 4}, "Error: multiple AUTH= options")
		}
		if v == "<>" {
			v = ""
		}
		o.Auth = &v
	default:
		return unsupported(raw)
	}
	return nil
}

func (o *RcptOptions) set(key, val, raw string) *SMTPError {
	switch key {
	case "NOTIFY":
		n, ok := parseNotify(val)
		if !ok || o.Notify != nil {
			return reply(501, EnhancedCode{5, 5, 4}, "Error: Bad NOTIFY parameter syntax")
		}
		o.Notify = n
	case "ORCPT":
		typ, addr, ok := decodeORCPT(val)
		if !ok || o.OriginalRecipient != "" {
			return reply(501, EnhancedCode{5, 5, 4}, "Error: Bad ORCPT parameter syntax")
		}
		o.OriginalRecipientType, o.OriginalRecipient = typ, addr
	default:
		return unsupported(raw)
	}
	return nil
}

// parseNotify reads NOTIFY's value: NEVER alone, or a set of SUCCESS,
// FAILURE, DELAY without repeats (RFC 3461 4.1).
func parseNotify(val string) ([]DSNNotify, bool) {
	var out []DSNNotify
	for _, v := range strings.Split(val, ",") {
		n := DSNNotify(strings.ToUpper(v))
		switch n {
		case DSNNotifyNever, DSNNotifyDelayed, DSNNotifyFailure, DSNNotifySuccess:
		default:
			return nil, false
		}
		for _, seen := range out {
			if seen == n || seen == DSNNotifyNever || n == DSNNotifyNever {
				return nil, false
			}
		}
		out = append(out, n)
	}
	return out, true
}

// decodeORCPT reads ORCPT's addr-type ";" xtext (RFC 3461 4.2): rfc822
// with xtext of printable ASCII, or utf-8 with RFC 6533's
// utf-8-addr-xtext or utf-8-addr-unitext.
func decodeORCPT(val string) (DSNAddressType, string, bool) {
	typ, enc, ok := strings.Cut(val, ";")
	if !ok || typ == "" || enc == "" {
		return "", "", false
	}
	t := DSNAddressType(strings.ToUpper(typ))
	var addr string
	switch t {
	case DSNAddressTypeRFC822:
		addr, ok = decodeXtext(enc)
		ok = ok && printableASCII(addr)
	case DSNAddressTypeUTF8:
		addr, ok = decodeUTF8AddrXtext(enc)
	default:
		return "", "", false
	}
	if !ok || addr == "" {
		return "", "", false
	}
	return t, addr, true
}

// decodeXtext decodes RFC 3461 4 xtext: "+" and two upper-case hex digits
// stand for an octet.
func decodeXtext(s string) (string, bool) {
	if !strings.Contains(s, "+") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '+' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || !isUpperHex(s[i+1]) || !isUpperHex(s[i+2]) {
			return "", false
		}
		v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), true
}

// decodeUTF8AddrXtext decodes RFC 6533 3's utf-8-addr-xtext and
// utf-8-addr-unitext: "\x{HEX}" for a code point; controls, space, "\",
// "+" and "=" only so; other UTF-8 as it is.
func decodeUTF8AddrXtext(s string) (string, bool) {
	if !utf8.ValidString(s) {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			end := strings.IndexByte(s[i:], '}')
			if !strings.HasPrefix(s[i:], `\x{`) || end < 0 {
				return "", false
			}
			hex := s[i+3 : i+end]
			v, err := strconv.ParseUint(hex, 16, 32)
			if err != nil || len(hex) < 2 || len(hex) > 6 || hex != strings.ToUpper(hex) ||
				!utf8.ValidRune(rune(v)) {
				return "", false
			}
			b.WriteRune(rune(v))
			i += end
		case c < 0x20 || c == 0x7f || c == ' ' || c == '+' || c == '=':
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

func isUpperHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' }

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// cutPrefixFold is strings.CutPrefix without regard to case.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return "", false
	}
	return s[len(prefix):], true
}

// pathParser reads a reverse-path or forward-path (RFC 5321 4.1.2), as
// Postfix without strict_rfc821_envelopes does: the angle brackets may be
// missing, a source route (RFC 5321 C) is dropped, a quoted local part
// is unquoted. What it returns is checked by the session (address
// syntax, UTF-8, SMTPUTF8).
type pathParser struct{ s string }

func (p *pathParser) reversePath() (string, bool) {
	if rest, ok := strings.CutPrefix(p.s, "<>"); ok {
		p.s = rest
		return "", true
	}
	return p.path()
}

func (p *pathParser) forwardPath() (string, bool) {
	const pm = "<postmaster>"
	if len(p.s) >= len(pm) && strings.EqualFold(p.s[:len(pm)], pm) {
		to := p.s[1 : len(pm)-1]
		p.s = p.s[len(pm):]
		return to, true
	}
	return p.path()
}

// endOfPath: the path ends the argument or a space follows it.
func (p *pathParser) endOfPath() bool { return p.s == "" || p.s[0] == ' ' }

func (p *pathParser) path() (string, bool) {
	bracket := p.accept('<')
	if p.accept('@') { // a source route: @a,@b:
		i := strings.IndexByte(p.s, ':')
		if i < 0 {
			return "", false
		}
		p.s = p.s[i+1:]
	}
	box, ok := p.mailbox()
	if !ok || bracket && !p.accept('>') {
		return "", false
	}
	return box, true
}

func (p *pathParser) accept(c byte) bool {
	if p.s != "" && p.s[0] == c {
		p.s = p.s[1:]
		return true
	}
	return false
}

// mailbox reads local-part "@" domain; the domain is everything up to a
// space or ">" and must not be empty.
func (p *pathParser) mailbox() (string, bool) {
	local, ok := p.localPart()
	if !ok || local == "" || !p.accept('@') {
		return "", false
	}
	end := strings.IndexAny(p.s, " \t>")
	if end < 0 {
		end = len(p.s)
	}
	if end == 0 {
		return "", false
	}
	domain := p.s[:end]
	p.s = p.s[end:]
	return local + "@" + domain, true
}

func (p *pathParser) localPart() (string, bool) {
	if !p.accept('"') {
		end := strings.IndexAny(p.s, "@()<>[]:;\\,\" \t")
		if end < 0 || p.s[end] != '@' {
			return "", false
		}
		local := p.s[:end]
		p.s = p.s[end:]
		return local, true
	}
	var b strings.Builder
	for i := 0; i < len(p.s); i++ {
		switch c := p.s[i]; c {
		case '"':
			p.s = p.s[i+1:]
			return b.String(), true
		case '\\':
			if i+1 == len(p.s) {
				return "", false
			}
			i++
			b.WriteByte(p.s[i])
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}
