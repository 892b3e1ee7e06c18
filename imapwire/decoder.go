package imapwire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxLine bounds a command line without its literals' data.
const MaxLine = 64 << 10

// MaxNonSyncLiteral is the largest non-synchronizing literal LITERAL-
// allows (RFC 7888 3).
const MaxNonSyncLiteral = 4096

// maxDepth bounds the nesting of parenthesised lists and search keys.
const maxDepth = 32

// SyntaxError is a command the parser could not read; the server answers
// BAD and goes on with the next line.
type SyntaxError struct{ Msg string }

func (e *SyntaxError) Error() string { return e.Msg }

// LiteralError is a literal over the limit. A synchronizing one is
// refused before the client sends it; the data of a non-synchronizing one
// is on its way, so the connection cannot go on (RFC 7888 4).
type LiteralError struct {
	Size    int64
	NonSync bool
	Limit   int64
}

func (e *LiteralError) Error() string {
	return fmt.Sprintf("literal of %d bytes over the limit of %d", e.Size, e.Limit)
}

// ErrLineTooLong is a command line over MaxLine: the connection ends.
var ErrLineTooLong = errors.New("command line too long")

// ErrUnknownCommand is a command the parser does not know.
var ErrUnknownCommand = &SyntaxError{"Unknown command"}

func syntaxf(format string, args ...any) error { return &SyntaxError{fmt.Sprintf(format, args...)} }

// Decoder reads commands from a client.
type Decoder struct {
	r *bufio.Reader
	// Continue is called before the data of a synchronizing literal is
	// read: the server sends its continuation request.
	Continue func() error
	// MaxLiteral bounds a literal read into memory (not an APPEND's
	// message); 0 means MaxNonSyncLiteral.
	MaxLiteral int64
	// LiteralMinus refuses non-synchronizing literals over 4096 bytes
	// (LITERAL-); otherwise they are bound only by MaxLiteral (LITERAL+).
	LiteralMinus bool

	n     int  // bytes of the current line, literals' data excluded
	atEOL bool // the current command's CRLF has been read
	buf   []byte
}

// NewDecoder returns a decoder reading r.
func NewDecoder(r *bufio.Reader) *Decoder { return &Decoder{r: r} }

// Reset makes d read r, keeping its settings.
func (d *Decoder) Reset(r *bufio.Reader) { d.r = r }

func (d *Decoder) readByte() (byte, error) {
	b, err := d.r.ReadByte()
	if err != nil {
		return 0, err
	}
	d.n++
	if d.n > MaxLine {
		return 0, ErrLineTooLong
	}
	return b, nil
}

func (d *Decoder) peek() (byte, error) {
	b, err := d.r.Peek(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (d *Decoder) expect(c byte) error {
	b, err := d.readByte()
	if err != nil {
		return err
	}
	if b != c {
		if b == '\r' || b == '\n' {
			d.unread(b)
		}
		return syntaxf("Expected %q", c)
	}
	return nil
}

// unread puts back a line end so that DiscardLine finds it.
func (d *Decoder) unread(byte) {
	d.r.UnreadByte()
	d.n--
}

// SP reads one space.
func (d *Decoder) SP() error { return d.expect(' ') }

// Params reads the optional parameter list that ends several commands
// (SELECT, CREATE, FETCH modifiers): nothing at the end of the line, else
// a space and a parenthesised list of names, each given to fn upper-cased
// to read its value.
func (d *Decoder) Params(fn func(name string) error) error {
	if d.AtEOL() {
		return nil
	}
	if err := d.SP(); err != nil {
		return err
	}
	return d.List(func() error {
		name, err := d.upperAtom()
		if err != nil {
			return err
		}
		return fn(name)
	})
}

// SPAString reads a space and then an astring: most commands' next
// argument.
func (d *Decoder) SPAString() (string, error) {
	if err := d.SP(); err != nil {
		return "", err
	}
	return d.AString()
}

// CRLF reads the end of the command line (a bare LF is accepted).
func (d *Decoder) CRLF() error {
	b, err := d.readByte()
	if err != nil {
		return err
	}
	if b == '\r' {
		if b, err = d.readByte(); err != nil {
			return err
		}
	}
	if b != '\n' {
		if b == '\r' {
			d.unread(b)
		}
		return syntaxf("Expected end of line")
	}
	d.atEOL = true
	return nil
}

// AtEOL reports whether the next bytes end the line.
func (d *Decoder) AtEOL() bool {
	b, err := d.peek()
	return err == nil && (b == '\r' || b == '\n')
}

// DiscardLine skips what is left of the current line after an error. It
// reports whether the line ended in a non-synchronizing literal whose
// data could not be skipped (the caller ends the connection).
func (d *Decoder) DiscardLine() error {
	if d.atEOL {
		return nil
	}
	var tail [16]byte
	k := 0
	for {
		b, err := d.r.ReadByte()
		if err != nil {
			return err
		}
		if b == '\n' {
			break
		}
		tail[k%len(tail)] = b
		k++
	}
	d.atEOL = true
	// A line that ended "{n+}": its literal's data follows; skip it when
	// it is small, else the connection cannot be read any more.
	var s []byte
	for i := max(0, k-len(tail)); i < k; i++ {
		s = append(s, tail[i%len(tail)])
	}
	str := strings.TrimSuffix(string(s), "\r")
	if strings.HasSuffix(str, "+}") {
		if i := strings.LastIndexByte(str, '{'); i >= 0 {
			n, err := strconv.ParseInt(str[i+1:len(str)-2], 10, 64)
			if err != nil || n > MaxNonSyncLiteral {
				return &LiteralError{Size: n, NonSync: true, Limit: MaxNonSyncLiteral}
			}
			if _, err := d.r.Discard(int(n)); err != nil {
				return err
			}
			d.atEOL = false
			return d.DiscardLine()
		}
	}
	return nil
}

// ReadLine reads a line (an AUTHENTICATE response, IDLE's DONE) without
// its line end.
func (d *Decoder) ReadLine() (string, error) {
	d.n = 0
	d.buf = d.buf[:0]
	for {
		b, err := d.readByte()
		if err != nil {
			return "", err
		}
		if b == '\n' {
			break
		}
		d.buf = append(d.buf, b)
	}
	d.atEOL = true
	return strings.TrimSuffix(string(d.buf), "\r"), nil
}

func isAtomChar(b byte) bool {
	switch b {
	case '(', ')', '{', ' ', '%', '*', '"', '\\', ']':
		return false
	}
	return b > 0x20 && b < 0x7f
}

// token reads bytes while ok holds; at least one.
func (d *Decoder) token(ok func(byte) bool, what string) ([]byte, error) {
	d.buf = d.buf[:0]
	for {
		b, err := d.peek()
		if err != nil {
			return nil, err
		}
		if !ok(b) {
			break
		}
		d.readByte()
		d.buf = append(d.buf, b)
	}
	if len(d.buf) == 0 {
		return nil, syntaxf("Expected %s", what)
	}
	return d.buf, nil
}

// Atom reads an atom.
func (d *Decoder) Atom() (string, error) {
	b, err := d.token(isAtomChar, "an atom")
	return string(b), err
}

// upperAtom reads an atom in upper case.
func (d *Decoder) upperAtom() (string, error) {
	b, err := d.token(isAtomChar, "an atom")
	if err != nil {
		return "", err
	}
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b), nil
}

func isAStringChar(b byte) bool { return isAtomChar(b) || b == ']' }

// AString reads an atom (']' allowed), a quoted string or a literal.
func (d *Decoder) AString() (string, error) {
	b, err := d.peek()
	if err != nil {
		return "", err
	}
	if b == '"' || b == '{' || d.literal8Next() {
		return d.String()
	}
	t, err := d.token(isAStringChar, "a string")
	return string(t), err
}

// literal8Next reports whether "~{" comes next ("~" alone is an atom).
func (d *Decoder) literal8Next() bool {
	b, _ := d.r.Peek(2)
	return len(b) == 2 && b[0] == '~' && b[1] == '{'
}

// String reads a quoted string or a literal.
func (d *Decoder) String() (string, error) {
	b, err := d.peek()
	if err != nil {
		return "", err
	}
	switch b {
	case '"':
		return d.quoted()
	case '{', '~':
		return d.literalString()
	}
	return "", syntaxf("Expected a string")
}

// NString reads a string or NIL.
func (d *Decoder) NString() (s string, isNil bool, err error) {
	b, err := d.peek()
	if err != nil {
		return "", false, err
	}
	if b == 'N' || b == 'n' {
		a, err := d.upperAtom()
		if err != nil || a != "NIL" {
			return "", false, syntaxf("Expected NIL")
		}
		return "", true, nil
	}
	s, err = d.String()
	return s, false, err
}

func (d *Decoder) quoted() (string, error) {
	if err := d.expect('"'); err != nil {
		return "", err
	}
	d.buf = d.buf[:0]
	for {
		b, err := d.readByte()
		if err != nil {
			return "", err
		}
		switch b {
		case '"':
			return string(d.buf), nil
		case '\\':
			if b, err = d.readByte(); err != nil {
				return "", err
			}
			if b != '"' && b != '\\' {
				if b == '\r' || b == '\n' {
					d.unread(b)
				}
				return "", syntaxf("Bad escape in quoted string")
			}
		case '\r', '\n':
			d.unread(b)
			return "", syntaxf("Quoted string not terminated")
		case 0:
			return "", syntaxf("NUL in quoted string")
		}
		d.buf = append(d.buf, b)
	}
}

// LiteralHeader reads "{n}", "{n+}" or "~{n}" and the line end after it.
func (d *Decoder) LiteralHeader() (size int64, nonSync, binary bool, err error) {
	b, err := d.readByte()
	if err != nil {
		return 0, false, false, err
	}
	if b == '~' {
		binary = true
		if b, err = d.readByte(); err != nil {
			return 0, false, false, err
		}
	}
	if b != '{' {
		return 0, false, false, syntaxf("Expected a literal")
	}
	digits := 0
	for {
		if b, err = d.readByte(); err != nil {
			return 0, false, false, err
		}
		if b < '0' || b > '9' {
			break
		}
		if digits++; digits > 18 {
			return 0, false, false, syntaxf("Literal size too large")
		}
		size = size*10 + int64(b-'0')
	}
	if digits == 0 {
		return 0, false, false, syntaxf("Expected a literal size")
	}
	if b == '+' {
		nonSync = true
		if b, err = d.readByte(); err != nil {
			return 0, false, false, err
		}
	}
	if b != '}' {
		return 0, false, false, syntaxf("Expected '}'")
	}
	if err := d.CRLF(); err != nil {
		return 0, false, false, err
	}
	d.atEOL = false // the command goes on after the literal
	d.n = 0
	return size, nonSync, binary, nil
}

// LineDone marks the current line as read: a synchronizing literal was
// refused, so nothing of the command follows.
func (d *Decoder) LineDone() { d.atEOL = true }

// CheckLiteral applies the LITERAL- rule and limit to a literal header.
func (d *Decoder) CheckLiteral(size int64, nonSync bool, limit int64) error {
	if nonSync && d.LiteralMinus && size > MaxNonSyncLiteral {
		return &LiteralError{Size: size, NonSync: true, Limit: MaxNonSyncLiteral}
	}
	if size > limit {
		if !nonSync {
			d.atEOL = true // the client waits for the continuation: the line is over
		}
		return &LiteralError{Size: size, NonSync: nonSync, Limit: limit}
	}
	return nil
}

// LiteralBody returns the data of a literal whose header was read: for a
// synchronizing one, the continuation request goes out first.
func (d *Decoder) LiteralBody(size int64, nonSync bool) (io.Reader, error) {
	if !nonSync && d.Continue != nil {
		if err := d.Continue(); err != nil {
			return nil, err
		}
	}
	return io.LimitReader(d.r, size), nil
}

func (d *Decoder) literalString() (string, error) {
	size, nonSync, binary, err := d.LiteralHeader()
	if err != nil {
		return "", err
	}
	limit := d.MaxLiteral
	if limit <= 0 {
		limit = MaxNonSyncLiteral
	}
	if err := d.CheckLiteral(size, nonSync, limit); err != nil {
		return "", err
	}
	r, err := d.LiteralBody(size, nonSync)
	if err != nil {
		return "", err
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	if !binary {
		for _, c := range b {
			if c == 0 {
				return "", syntaxf("NUL in literal")
			}
		}
	}
	return string(b), nil
}

// Number reads a 32-bit number.
func (d *Decoder) Number() (uint32, error) {
	n, err := d.Number64()
	if err != nil {
		return 0, err
	}
	if n > 1<<32-1 {
		return 0, syntaxf("Number too large")
	}
	return uint32(n), nil
}

// Number64 reads a 63-bit number.
func (d *Decoder) Number64() (uint64, error) {
	t, err := d.token(func(b byte) bool { return '0' <= b && b <= '9' }, "a number")
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(string(t), 10, 63)
	if err != nil {
		return 0, syntaxf("Number too large")
	}
	return n, nil
}

// NumSet reads a sequence set, or "$".
func (d *Decoder) NumSet() (NumSet, error) {
	t, err := d.token(func(b byte) bool { return '0' <= b && b <= '9' || b == ':' || b == ',' || b == '*' || b == '$' },
		"a sequence set")
	if err != nil {
		return NumSet{}, err
	}
	return ParseNumSet(string(t))
}

// ParseNumSet parses a sequence set, or "$".
func ParseNumSet(s string) (NumSet, error) {
	if s == "$" {
		return NumSet{SearchRes: true}, nil
	}
	var set NumSet
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		a, err := seqNum(lo)
		if err != nil {
			return NumSet{}, err
		}
		b := a
		if isRange {
			if b, err = seqNum(hi); err != nil {
				return NumSet{}, err
			}
		}
		set.Ranges = append(set.Ranges, NumRange{a, b})
	}
	return set, nil
}

func seqNum(s string) (uint32, error) {
	if s == "*" {
		return 0, nil
	}
	if s == "" || s[0] == '0' {
		return 0, syntaxf("Bad sequence number %q", s)
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, syntaxf("Bad sequence number %q", s)
	}
	return uint32(n), nil
}

// Flag reads a flag: a keyword or "\" and an atom.
func (d *Decoder) Flag() (string, error) {
	b, err := d.peek()
	if err != nil {
		return "", err
	}
	if b == '\\' {
		d.readByte()
		a, err := d.Atom()
		if err != nil {
			return "", err
		}
		return `\` + a, nil
	}
	return d.Atom()
}

// FlagList reads "(" [flag *(SP flag)] ")".
func (d *Decoder) FlagList() ([]string, error) {
	flags := []string{}
	err := d.List(func() error {
		f, err := d.Flag()
		flags = append(flags, f)
		return err
	})
	return flags, err
}

// List reads "(" [item *(SP item)] ")", item read by each.
func (d *Decoder) List(each func() error) error {
	if err := d.expect('('); err != nil {
		return err
	}
	if b, err := d.peek(); err != nil {
		return err
	} else if b == ')' {
		d.readByte()
		return nil
	}
	for {
		if err := each(); err != nil {
			return err
		}
		b, err := d.readByte()
		if err != nil {
			return err
		}
		if b == ')' {
			return nil
		}
		if b != ' ' {
			if b == '\r' || b == '\n' {
				d.unread(b)
			}
			return syntaxf("Expected ' ' or ')'")
		}
	}
}

// ListMailbox reads a LIST pattern: an astring whose atom form may hold
// '%' and '*'.
func (d *Decoder) ListMailbox() (string, error) {
	b, err := d.peek()
	if err != nil {
		return "", err
	}
	if b == '"' || b == '{' || d.literal8Next() {
		return d.String()
	}
	t, err := d.token(func(b byte) bool { return isAStringChar(b) || b == '%' || b == '*' }, "a mailbox pattern")
	return string(t), err
}
