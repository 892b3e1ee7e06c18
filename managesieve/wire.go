package managesieve

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The syntax of RFC 5804 section 4: a command is an atom followed by
// arguments (atoms, numbers, quoted strings, literals) up to CRLF.

// Limits of the reader.
const (
	maxLine   = 8 << 10 // octets of a command outside its literals
	maxQuoted = 1024    // RFC 5804 4: quoted strings are at most 1024 octets
)

// errSyntax is a malformed command: answered NO, the session goes on.
type errSyntax struct{ msg string }

func (e errSyntax) Error() string { return e.msg }

func syntaxf(format string, a ...any) error { return errSyntax{fmt.Sprintf(format, a...)} }

// arg is one argument: an atom (or number) or a string.
type arg struct {
	s      string
	atom   bool
	quoted bool // a quoted string (else a literal or an atom)
}

// reader reads commands; maxLiteral bounds one literal.
type reader struct {
	r          *bufio.Reader
	maxLiteral int
	n          int // octets of the current command outside literals
}

// command reads one command. A syntax error has consumed the rest of its
// line. Another error is the connection's.
func (rd *reader) command() ([]arg, error) {
	rd.n = 0
	var args []arg
	for {
		c, err := rd.byte()
		if err != nil {
			return nil, err
		}
		switch {
		case c == ' ':
			continue
		case c == '\r':
			if c, err = rd.byte(); err != nil {
				return nil, err
			}
			if c != '\n' {
				return nil, rd.skip(syntaxf("CR without LF"))
			}
			return args, nil
		case c == '\n':
			return args, nil
		case c == '"':
			s, err := rd.quoted()
			if err != nil {
				return nil, err
			}
			args = append(args, arg{s: s, quoted: true})
		case c == '{':
			s, err := rd.literal()
			if err != nil {
				return nil, err
			}
			args = append(args, arg{s: s})
		default:
			a := []byte{c}
			for {
				c, err := rd.peek()
				if err != nil {
					return nil, err
				}
				if c == ' ' || c == '\r' || c == '\n' || c == '"' || c == '{' {
					break
				}
				rd.byte()
				a = append(a, c)
			}
			args = append(args, arg{s: string(a), atom: true})
		}
	}
}

func (rd *reader) byte() (byte, error) {
	rd.n++
	if rd.n > maxLine {
		return 0, rd.skip(syntaxf("command longer than %d octets", maxLine))
	}
	return rd.r.ReadByte()
}

func (rd *reader) peek() (byte, error) {
	b, err := rd.r.Peek(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// skip consumes the rest of the line after a syntax error.
func (rd *reader) skip(e error) error {
	for {
		b, err := rd.r.ReadByte()
		if err != nil {
			return err
		}
		if b == '\n' {
			return e
		}
	}
}

func (rd *reader) quoted() (string, error) {
	var b strings.Builder
	for {
		c, err := rd.byte()
		if err != nil {
			return "", err
		}
		switch c {
		case '"':
			return b.String(), nil
		case '\\':
			if c, err = rd.byte(); err != nil {
				return "", err
			}
			if c != '"' && c != '\\' {
				return "", rd.skip(syntaxf("only \\\" and \\\\ may be escaped in a quoted string"))
			}
		case '\r', '\n', 0:
			if c == '\n' {
				return "", syntaxf("quoted string not closed")
			}
			return "", rd.skip(syntaxf("quoted strings may not hold CR, LF or NUL; use a literal"))
		}
		if b.Len() >= maxQuoted {
			return "", rd.skip(syntaxf("quoted string longer than %d octets; use a literal", maxQuoted))
		}
		b.WriteByte(c)
	}
}

// literal reads {n} or {n+}, CRLF, then n octets (RFC 5804 4: the server
// reads both forms without a continuation).
func (rd *reader) literal() (string, error) {
	var num []byte
	for {
		c, err := rd.byte()
		if err != nil {
			return "", err
		}
		if c == '+' || c == '}' {
			if c == '+' {
				if c, err = rd.byte(); err != nil {
					return "", err
				}
				if c != '}' {
					return "", rd.skip(syntaxf("bad literal"))
				}
			}
			break
		}
		if c < '0' || c > '9' || len(num) > 10 {
			return "", rd.skip(syntaxf("bad literal length"))
		}
		num = append(num, c)
	}
	n, err := strconv.Atoi(string(num))
	if err != nil {
		return "", rd.skip(syntaxf("bad literal length"))
	}
	c, err := rd.byte()
	if err == nil && c == '\r' {
		c, err = rd.byte()
	}
	if err != nil {
		return "", err
	}
	if c != '\n' {
		return "", rd.skip(syntaxf("a literal's length must end its line"))
	}
	if n > rd.maxLiteral {
		// Read and drop it, so the connection stays in step.
		if _, err := io.CopyN(io.Discard, rd.r, int64(n)); err != nil {
			return "", err
		}
		return "", rd.skip(errTooBig{n})
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(rd.r, buf); err != nil {
		return "", err
	}
	return string(buf), nil
}

// errTooBig is a literal over the limit (answered NO (QUOTA/MAXSIZE)).
type errTooBig struct{ n int }

func (e errTooBig) Error() string { return fmt.Sprintf("literal of %d octets is too large", e.n) }

// isSyntax reports whether err is the command's, not the connection's.
func isSyntax(err error) bool {
	var s errSyntax
	var t errTooBig
	return errors.As(err, &s) || errors.As(err, &t)
}

// quote writes s as a quoted string, or as a literal when it cannot be one.
func quote(s string) string {
	if len(s) > maxQuoted || strings.ContainsAny(s, "\r\n\x00") {
		return "{" + strconv.Itoa(len(s)) + "}\r\n" + s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
