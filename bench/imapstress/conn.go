package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// maxLine bounds one response line (literals excluded), so a server that
// never sends CRLF cannot make the client grow without limit.
const maxLine = 1 << 20

// Errors a command can end in besides a tagged NO or BAD.
var (
	errBye        = errors.New("untagged BYE")
	errLongLine   = errors.New("response line over 1 MiB")
	errNoContinue = errors.New("no continuation request")
)

// conn is one IMAP client connection (RFC 3501 / RFC 9051 wire format,
// no TLS): it writes tagged commands and reads responses up to the tagged
// completion of the command, skipping over literals.
type conn struct {
	nc      net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	n       int           // tags sent
	timeout time.Duration // per command, 0 = none
}

// response is one server response with the literals it carried taken
// out: text keeps each literal's announcement ("{123}") in place and lits
// their sizes, in order.
type response struct {
	text string
	lits []int
}

// reply is the outcome of one command: its tagged status and every
// untagged response that came before it.
type reply struct {
	status   string // OK, NO or BAD
	text     string // the rest of the tagged line
	untagged []response
}

func dial(addr string, timeout time.Duration) (*conn, error) {
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	c := newConn(nc, timeout)
	c.deadline()
	greet, err := c.readResponse()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if !strings.HasPrefix(greet.text, "* OK") && !strings.HasPrefix(greet.text, "* PREAUTH") {
		nc.Close()
		return nil, fmt.Errorf("greeting: %q", greet.text)
	}
	return c, nil
}

func newConn(nc net.Conn, timeout time.Duration) *conn {
	return &conn{nc: nc, r: bufio.NewReaderSize(nc, 64<<10), w: bufio.NewWriterSize(nc, 16<<10), timeout: timeout}
}

func (c *conn) close() { c.nc.Close() }

func (c *conn) deadline() {
	if c.timeout > 0 {
		c.nc.SetDeadline(time.Now().Add(c.timeout))
	}
}

func (c *conn) nextTag() string {
	c.n++
	return "a" + strconv.Itoa(c.n)
}

// readResponse reads one response: a line, and when it announces a
// literal ({n} or, for BINARY, ~{n}) the n octets and the rest of the
// line after them, as often as it announces one.
func (c *conn) readResponse() (response, error) {
	var (
		buf  []byte
		lits []int
	)
	for {
		seg, err := c.readLine()
		if err != nil {
			return response{}, err
		}
		if len(buf)+len(seg) > maxLine {
			return response{}, errLongLine
		}
		buf = append(buf, seg...)
		n, ok := literalSize(buf)
		if !ok {
			return response{text: string(bytes.TrimRight(buf, "\r\n")), lits: lits}, nil
		}
		if _, err := io.CopyN(io.Discard, c.r, int64(n)); err != nil {
			return response{}, fmt.Errorf("literal of %d octets: %w", n, err)
		}
		buf = bytes.TrimRight(buf, "\r\n")
		lits = append(lits, n)
	}
}

// readLine reads up to and including LF, however long the bufio buffer.
func (c *conn) readLine() ([]byte, error) {
	var line []byte
	for {
		seg, err := c.r.ReadSlice('\n')
		line = append(line, seg...)
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			if len(line) > maxLine {
				return nil, errLongLine
			}
		default:
			return nil, err
		}
	}
}

// literalSize reports whether a line (up to its CRLF) ends with a literal
// announcement, {n} or ~{n} (RFC 3516 literal8), and n.
func literalSize(line []byte) (int, bool) {
	line = bytes.TrimRight(line, "\r\n")
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false
	}
	open := bytes.LastIndexByte(line, '{')
	if open < 0 {
		return 0, false
	}
	digits := line[open+1 : len(line)-1]
	if len(digits) == 0 || len(digits) > 10 {
		return 0, false
	}
	n, err := strconv.Atoi(string(digits))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// send writes a tagged command line (cmd without tag and CRLF).
func (c *conn) send(tag, cmd string) error {
	c.deadline()
	c.w.WriteString(tag)
	c.w.WriteByte(' ')
	c.w.WriteString(cmd)
	c.w.WriteString("\r\n")
	return c.w.Flush()
}

// command sends cmd and reads until its tagged completion.
func (c *conn) command(cmd string) (reply, error) {
	tag := c.nextTag()
	if err := c.send(tag, cmd); err != nil {
		return reply{}, err
	}
	return c.await(tag, false)
}

// await reads responses until the one tagged tag; with cont, a
// continuation request ("+") ends the wait too (status "+"). An untagged
// BYE is an error: the server is closing the connection.
func (c *conn) await(tag string, cont bool) (reply, error) {
	var rep reply
	for {
		resp, err := c.readResponse()
		if err != nil {
			return rep, err
		}
		switch {
		case strings.HasPrefix(resp.text, "* "):
			if isBye(resp.text) {
				return rep, fmt.Errorf("%w: %s", errBye, resp.text)
			}
			rep.untagged = append(rep.untagged, resp)
		case resp.text == "+" || strings.HasPrefix(resp.text, "+ "):
			if cont {
				rep.status = "+"
				return rep, nil
			}
			return rep, fmt.Errorf("unexpected continuation request: %q", resp.text)
		case strings.HasPrefix(resp.text, tag+" "):
			status, text, _ := strings.Cut(resp.text[len(tag)+1:], " ")
			rep.status, rep.text = strings.ToUpper(status), text
			return rep, nil
		default:
			return rep, fmt.Errorf("response for another tag (awaiting %s): %q", tag, resp.text)
		}
	}
}

func isBye(text string) bool {
	return len(text) >= 5 && strings.EqualFold(text[2:5], "BYE")
}

// appendMessage runs APPEND with a synchronising literal (RFC 3501 6.3.11),
// as most clients send it: the message follows the server's "+".
func (c *conn) appendMessage(mailbox, flags string, msg []byte) (reply, error) {
	tag := c.nextTag()
	cmd := "APPEND " + quote(mailbox)
	if flags != "" {
		cmd += " (" + flags + ")"
	}
	if err := c.send(tag, cmd+" {"+strconv.Itoa(len(msg))+"}"); err != nil {
		return reply{}, err
	}
	rep, err := c.await(tag, true)
	if err != nil || rep.status != "+" {
		if err == nil && rep.status == "" {
			err = errNoContinue
		}
		return rep, err
	}
	c.deadline()
	c.w.Write(msg)
	c.w.WriteString("\r\n")
	if err := c.w.Flush(); err != nil {
		return reply{}, err
	}
	return c.await(tag, false)
}

// idleStart sends IDLE (RFC 2177) and waits for the continuation
// request; a tagged reply instead (NO, BAD) comes back as it is. What the
// server sends while idling is read by idleDone.
func (c *conn) idleStart() (string, reply, error) {
	tag := c.nextTag()
	if err := c.send(tag, "IDLE"); err != nil {
		return tag, reply{}, err
	}
	rep, err := c.await(tag, true)
	return tag, rep, err
}

// idleDone ends IDLE and reads until its tagged completion.
func (c *conn) idleDone(tag string) (reply, error) {
	c.deadline()
	c.w.WriteString("DONE\r\n")
	if err := c.w.Flush(); err != nil {
		return reply{}, err
	}
	return c.await(tag, false)
}

// quote makes an IMAP quoted string (no CR, LF or 8-bit expected).
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// respCode returns the words of the response code [NAME ...] in a
// tagged or untagged text, or nil.
func respCode(text, name string) []string {
	i := strings.Index(strings.ToUpper(text), "["+name+" ")
	if i < 0 {
		return nil
	}
	rest := text[i+1:]
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return nil
	}
	return strings.Fields(rest[:end])[1:]
}

// untaggedNumber finds "* n WORD" among untagged responses (EXISTS) and
// returns the last n.
func untaggedNumber(rs []response, word string) (int, bool) {
	n, ok := 0, false
	for _, r := range rs {
		f := strings.Fields(r.text)
		if len(f) >= 3 && strings.EqualFold(f[2], word) {
			if v, err := strconv.Atoi(f[1]); err == nil {
				n, ok = v, true
			}
		}
	}
	return n, ok
}

// countFetch counts the untagged FETCH responses.
func countFetch(rs []response) int {
	n := 0
	for _, r := range rs {
		f := strings.SplitN(r.text, " ", 4)
		if len(f) >= 3 && strings.EqualFold(f[2], "FETCH") {
			n++
		}
	}
	return n
}

// fetchUIDs maps sequence numbers to UIDs from FETCH responses that carry
// a UID item.
func fetchUIDs(rs []response) map[int]uint32 {
	m := map[int]uint32{}
	for _, r := range rs {
		f := strings.Fields(r.text)
		if len(f) < 4 || !strings.EqualFold(f[2], "FETCH") {
			continue
		}
		seq, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		for i := 3; i+1 < len(f); i++ {
			if strings.EqualFold(strings.TrimLeft(f[i], "("), "UID") {
				if u, err := strconv.ParseUint(strings.TrimRight(f[i+1], ")"), 10, 32); err == nil {
					m[seq] = uint32(u)
				}
				break
			}
		}
	}
	return m
}
