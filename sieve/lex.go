package sieve

import (
	"fmt"
	"strconv"
	"strings"
)

// tokKind is the kind of a lexical token of RFC 5228 section 8.1.
type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tTag
	tNumber
	tString
	tPunct // one of [ ] ( ) , ; { }
)

type token struct {
	kind tokKind
	text string // identifier or tag name (lower case), string value, punctuation
	num  int64
	line int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of script"
	case tIdent:
		return "identifier " + strconv.Quote(t.text)
	case tTag:
		return "tag :" + t.text
	case tNumber:
		return "number " + strconv.FormatInt(t.num, 10)
	case tString:
		return "string"
	}
	return strconv.Quote(t.text)
}

// Error is a syntax or semantic error found while compiling a script, with the
// line it was found on (counted from 1).
type Error struct {
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

func errorf(line int, format string, args ...any) *Error {
	return &Error{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// lexer splits a script into tokens. It works on bytes: Sieve scripts are
// UTF-8 (RFC 5228 2.2) and every delimiter is ASCII.
type lexer struct {
	src  string
	pos  int
	line int
}

func (l *lexer) next() (token, *Error) {
	if err := l.skipSpace(); err != nil {
		return token{}, err
	}
	if l.pos >= len(l.src) {
		return token{kind: tEOF, line: l.line}, nil
	}
	c := l.src[l.pos]
	line := l.line
	switch {
	case strings.IndexByte("[](),;{}", c) >= 0:
		l.pos++
		return token{kind: tPunct, text: string(c), line: line}, nil
	case c == '"':
		s, err := l.quoted()
		return token{kind: tString, text: s, line: line}, err
	case c == ':':
		l.pos++
		id := l.ident()
		if id == "" {
			return token{}, errorf(line, "a tag needs a name after ':'")
		}
		return token{kind: tTag, text: strings.ToLower(id), line: line}, nil
	case c >= '0' && c <= '9':
		return l.number()
	case isIdentStart(c):
		id := l.ident()
		if strings.EqualFold(id, "text") && l.pos < len(l.src) && l.src[l.pos] == ':' {
			l.pos++
			s, err := l.multiline()
			return token{kind: tString, text: s, line: line}, err
		}
		return token{kind: tIdent, text: strings.ToLower(id), line: line}, nil
	}
	return token{}, errorf(line, "unexpected character %q", c)
}

func isIdentStart(c byte) bool {
	return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

func (l *lexer) ident() string {
	start := l.pos
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		if !isIdentStart(c) && !(c >= '0' && c <= '9') {
			break
		}
		l.pos++
	}
	return l.src[start:l.pos]
}

// skipSpace skips white space and both kinds of comments.
func (l *lexer) skipSpace() *Error {
	for l.pos < len(l.src) {
		switch c := l.src[l.pos]; {
		case c == '\n':
			l.line++
			l.pos++
		case c == ' ' || c == '\t' || c == '\r':
			l.pos++
		case c == '#':
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		case c == '/' && strings.HasPrefix(l.src[l.pos:], "/*"):
			start := l.line
			end := strings.Index(l.src[l.pos+2:], "*/")
			if end < 0 {
				return errorf(start, "comment not closed with */")
			}
			l.line += strings.Count(l.src[l.pos:l.pos+2+end], "\n")
			l.pos += end + 4
		default:
			return nil
		}
	}
	return nil
}

// number reads a number with its optional quantifier K, M or G (RFC 5228 2.4.1).
func (l *lexer) number() (token, *Error) {
	line := l.line
	start := l.pos
	for l.pos < len(l.src) && l.src[l.pos] >= '0' && l.src[l.pos] <= '9' {
		l.pos++
	}
	n, err := strconv.ParseInt(l.src[start:l.pos], 10, 64)
	if err != nil || n > 1<<40 {
		return token{}, errorf(line, "number %s too large", l.src[start:l.pos])
	}
	if l.pos < len(l.src) {
		shift := 0
		switch l.src[l.pos] | 0x20 {
		case 'k':
			shift = 10
		case 'm':
			shift = 20
		case 'g':
			shift = 30
		}
		if shift > 0 {
			l.pos++
			n <<= shift
		}
	}
	if l.pos < len(l.src) && (isIdentStart(l.src[l.pos]) || l.src[l.pos] >= '0' && l.src[l.pos] <= '9') {
		return token{}, errorf(line, "bad number")
	}
	return token{kind: tNumber, num: n, line: line}, nil
}

// quoted reads a quoted string: \" and \\ are escapes, any other backslash is
// dropped (RFC 5228 2.4.2).
func (l *lexer) quoted() (string, *Error) {
	line := l.line
	l.pos++ // opening quote
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch c {
		case '"':
			l.pos++
			return b.String(), nil
		case '\\':
			if l.pos+1 >= len(l.src) {
				break
			}
			l.pos++
			c = l.src[l.pos]
		}
		if c == '\n' {
			l.line++
		}
		b.WriteByte(c)
		l.pos++
	}
	return "", errorf(line, "string not closed with '\"'")
}

// multiline reads a text: string after its "text:" (RFC 5228 2.4.2): the rest
// of the line holds only white space or a comment, lines follow with dot
// stuffing, a line holding only "." ends it.
func (l *lexer) multiline() (string, *Error) {
	line := l.line
	for l.pos < len(l.src) && (l.src[l.pos] == ' ' || l.src[l.pos] == '\t') {
		l.pos++
	}
	if l.pos < len(l.src) && l.src[l.pos] == '#' {
		for l.pos < len(l.src) && l.src[l.pos] != '\n' {
			l.pos++
		}
	}
	if l.pos < len(l.src) && l.src[l.pos] == '\r' {
		l.pos++
	}
	if l.pos >= len(l.src) || l.src[l.pos] != '\n' {
		return "", errorf(line, "text: must be followed by the end of the line")
	}
	l.pos++
	l.line++
	var b strings.Builder
	for l.pos < len(l.src) {
		end := strings.IndexByte(l.src[l.pos:], '\n')
		if end < 0 {
			break
		}
		ln := strings.TrimSuffix(l.src[l.pos:l.pos+end], "\r")
		l.pos += end + 1
		l.line++
		if ln == "." {
			return b.String(), nil
		}
		if strings.HasPrefix(ln, "..") { // dot stuffing
			ln = ln[1:]
		}
		b.WriteString(ln)
		b.WriteString("\r\n")
	}
	return "", errorf(line, "text: string not ended by a line holding only '.'")
}
