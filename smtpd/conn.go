package smtpd

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// Conn is one client connection.
type Conn struct {
	srv  *Server
	conn net.Conn // under TLS after STARTTLS
	r    *bufio.Reader
	w    *bufio.Writer
	helo string

	session Session
	authed  bool
	inTx    bool          // MAIL accepted
	rcpts   int           // recipients accepted in the transaction
	bdat    *bytes.Buffer // the chunks of a BDAT transfer so far
	quit    bool          // end the connection once the replies are out
}

func newConn(s *Server, nc net.Conn) *Conn {
	size := max(s.maxLine(), 4096)
	return &Conn{srv: s, conn: nc, r: bufio.NewReaderSize(nc, size), w: bufio.NewWriterSize(nc, 4096)}
}

// Hostname is the name the client gave in HELO/EHLO.
func (c *Conn) Hostname() string { return c.helo }

// Conn is the connection: a *tls.Conn after STARTTLS or on an implicit
// TLS port.
func (c *Conn) Conn() net.Conn { return c.conn }

// TLSConnectionState is the TLS state of the connection, ok when it is
// under TLS.
func (c *Conn) TLSConnectionState() (tls.ConnectionState, bool) {
	tc, ok := c.conn.(*tls.Conn)
	if !ok {
		return tls.ConnectionState{}, false
	}
	return tc.ConnectionState(), true
}

func (c *Conn) serve() {
	defer c.close()
	defer func() {
		if p := recover(); p != nil {
			c.srv.logger().Error("smtpd: panic", "client", c.conn.RemoteAddr().String(), "panic", p, "stack", string(debug.Stack()))
			c.writeReply(reply(421, EnhancedCode{4, 3, 0}, c.srv.Hostname+" Server local error"))
			c.flush()
		}
	}()
	if tc, ok := c.conn.(*tls.Conn); ok {
		c.deadline(c.conn.SetDeadline, c.srv.ReadTimeout)
		if err := tc.Handshake(); err != nil {
			c.refuse(Refusal{Reason: "tls_handshake", Err: err})
			return
		}
	}
	c.writeReply(reply(220, NoEnhancedCode, c.srv.Hostname+" ESMTP mailhost"))
	for !c.quit {
		line, err := c.readLine()
		if err != nil {
			c.readFailed(err)
			break
		}
		c.handle(line)
	}
	c.flush()
}

func (c *Conn) close() {
	if c.session != nil {
		c.session.Logout()
		c.session = nil
	}
	c.conn.Close()
}

// readFailed ends the connection after a failed read: a line over the
// limit (RFC 5321 4.5.3.1.4-6) and a timeout are answered and logged; a
// client that went away is not.
func (c *Conn) readFailed(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, ErrTooLongLine):
		c.refuse(Refusal{Reason: "line_too_long", Reply: ErrLineTooLong})
	case errors.As(err, &ne) && ne.Timeout():
		c.refuse(Refusal{Reason: "timeout", Err: err,
			Reply: reply(421, EnhancedCode{4, 4, 2}, c.srv.Hostname+" Error: timeout exceeded")})
	}
}

// handle runs one command line.
func (c *Conn) handle(line string) {
	cmd := ParseCommand(line)
	switch cmd.Verb {
	case "EHLO", "HELO":
		c.hello(cmd)
	case "MAIL":
		c.mail(cmd.Arg)
	case "RCPT":
		c.rcpt(cmd.Arg)
	case "DATA":
		c.data(cmd.Arg)
	case "BDAT":
		c.bdatCmd(cmd.Arg)
	case "RSET":
		if cmd.Arg != "" {
			c.refuse(Refusal{Command: "RSET", Reason: "bad_syntax", Reply: reply(501, EnhancedCode{5, 5, 4}, "Syntax: RSET")})
			return
		}
		c.reset()
		c.writeReply(replyOK)
	case "NOOP":
		c.writeReply(replyOK)
	case "QUIT":
		c.writeReply(replyBye)
		c.quit = true
	case "VRFY":
		if cmd.Arg == "" {
			c.refuse(Refusal{Command: "VRFY", Reason: "bad_syntax", Reply: reply(501, EnhancedCode{5, 5, 4}, "Syntax: VRFY address")})
			return
		}
		c.writeReply(replyVrfy)
	case "STARTTLS":
		c.startTLS(cmd.Arg)
	case "AUTH":
		c.auth(cmd.Arg)
	case "CONNECT", "GET", "POST":
		c.forbidden(cmd.Verb)
	case "":
		switch {
		case strings.TrimSpace(line) == "":
			c.refuse(Refusal{Reason: "bad_syntax", Reply: ErrBadSyntax})
		case line[0] < ' ' || line[0] > '~':
			c.forbidden("")
		default:
			c.refuse(Refusal{Reason: "unknown_command", Reply: ErrUnknownCommand})
		}
	default: // HELP, EXPN, ETRN, TURN ...
		c.refuse(Refusal{Command: cmd.Verb, Reason: "unknown_command", Reply: ErrUnknownCommand})
	}
}

// forbidden ends a connection whose client speaks another protocol (an
// HTTP proxy request, a browser, TLS or other binary): Postfix's
// smtpd_forbidden_commands (CONNECT, GET, POST) and its reply. Postfix
// also ends the session at any line that does not start with a letter;
// here only a control or 8-bit octet does, since clients (go-smtp's)
// send "*" after a refused AUTH, and get "command not recognized".
func (c *Conn) forbidden(verb string) {
	c.refuse(Refusal{Command: verb, Reason: "forbidden_command",
		Reply: reply(221, EnhancedCode{2, 7, 0}, "Error: I can break rules, too. Goodbye.")})
	c.quit = true
}

func isLetter(b byte) bool { b |= 0x20; return b >= 'a' && b <= 'z' }

func (c *Conn) hello(cmd Command) {
	name, _, _ := strings.Cut(cmd.Arg, " ")
	if name == "" {
		c.refuse(Refusal{Command: cmd.Verb, Reason: "bad_syntax", Reply: reply(501, NoEnhancedCode, "Syntax: "+cmd.Verb+" hostname")})
		return
	}
	if c.session == nil {
		c.helo = name
		sess, err := c.srv.Backend.NewSession(c)
		if err != nil {
			c.helo = ""
			c.writeReply(replyError(err, replyTransient))
			return
		}
		c.session = sess
	} else {
		c.reset() // RFC 5321 4.1.4: as if RSET
		c.helo = name
		if hs, ok := c.session.(HelloSession); ok {
			if err := hs.Hello(name); err != nil {
				c.writeReply(replyError(err, replyTransient))
				c.quit = true
				return
			}
		}
	}
	if cmd.Verb == "HELO" {
		c.writeLines(250, c.srv.Hostname)
		return
	}
	c.writeLines(250, c.ehloKeywords()...)
}

// ehloKeywords is the EHLO reply, in Postfix's order.
func (c *Conn) ehloKeywords() []string {
	kw := []string{c.srv.Hostname, "PIPELINING", "SIZE"}
	if c.srv.MaxMessageBytes > 0 {
		kw[2] = "SIZE " + strconv.FormatInt(c.srv.MaxMessageBytes, 10)
	}
	if _, isTLS := c.TLSConnectionState(); c.srv.TLSConfig != nil && !isTLS {
		kw = append(kw, "STARTTLS")
	}
	if as, ok := c.session.(AuthSession); ok && !c.authed {
		if mechs := as.AuthMechanisms(); len(mechs) > 0 {
			kw = append(kw, "AUTH "+strings.Join(mechs, " "))
		}
	}
	kw = append(kw, "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING")
	if c.srv.MaxRecipients > 0 {
		kw = append(kw, "LIMITS RCPTMAX="+strconv.Itoa(c.srv.MaxRecipients)) // RFC 9422
	}
	return kw
}

func (c *Conn) mail(arg string) {
	switch {
	case c.session == nil:
		c.refuse(Refusal{Command: "MAIL", Reason: "bad_sequence", Reply: ErrNeedHelo})
		return
	case c.bdat != nil:
		c.refuse(Refusal{Command: "MAIL", Reason: "bad_sequence", Reply: reply(503, EnhancedCode{5, 5, 1}, "Error: MAIL after BDAT")})
		return
	case c.inTx:
		// RFC 5321 4.1.4: the transaction in progress stays as it is.
		c.refuse(Refusal{Command: "MAIL", Reason: "nested_mail", Reply: ErrNestedMail})
		return
	}
	from, opts, e := ParseMail(arg, c.srv.MaxMessageBytes)
	if e != nil {
		c.refuse(Refusal{Command: "MAIL", Reason: paramReason(e), Reply: e, Sender: from})
		return
	}
	if err := c.session.Mail(from, opts); err != nil {
		c.writeReply(replyError(err, replyTransient))
		return
	}
	c.inTx = true
	c.writeReply(replyMailOK)
}

// paramReason names a parse refusal for the log.
func paramReason(e *SMTPError) string {
	switch e {
	case ErrMailSyntax, ErrRcptSyntax:
		return "bad_syntax"
	case ErrSizeExceeded:
		return "size"
	}
	return "bad_parameter"
}

func (c *Conn) rcpt(arg string) {
	switch {
	case c.bdat != nil:
		c.refuse(Refusal{Command: "RCPT", Reason: "bad_sequence", Reply: reply(503, EnhancedCode{5, 5, 1}, "Error: RCPT after BDAT")})
		return
	case !c.inTx:
		c.refuse(Refusal{Command: "RCPT", Reason: "bad_sequence", Reply: ErrNeedMail})
		return
	}
	to, opts, e := ParseRcpt(arg)
	if e != nil {
		c.refuse(Refusal{Command: "RCPT", Reason: paramReason(e), Reply: e})
		return
	}
	if c.srv.MaxRecipients > 0 && c.rcpts >= c.srv.MaxRecipients {
		// RFC 5321 4.5.3.1.10: 452, the client sends the rest later.
		c.refuse(Refusal{Command: "RCPT", Reason: "too_many_recipients", Reply: ErrTooManyRcpts})
		return
	}
	if err := c.session.Rcpt(to, opts); err != nil {
		c.writeReply(replyError(err, replyTransient))
		return
	}
	c.rcpts++
	c.writeReply(replyRcptOK)
}

// readyForData refuses DATA or BDAT out of sequence.
func (c *Conn) readyForData(verb string) bool {
	switch {
	case !c.inTx:
		c.refuse(Refusal{Command: verb, Reason: "bad_sequence", Reply: ErrNeedRcpt})
	case c.rcpts == 0:
		c.refuse(Refusal{Command: verb, Reason: "bad_sequence", Reply: ErrNoRecipients})
	default:
		return true
	}
	return false
}

func (c *Conn) data(arg string) {
	if c.bdat != nil {
		c.refuse(Refusal{Command: "DATA", Reason: "bad_sequence", Reply: reply(503, EnhancedCode{5, 5, 1}, "Error: DATA after BDAT")})
		return
	}
	if !c.readyForData("DATA") {
		return
	}
	if arg != "" {
		c.refuse(Refusal{Command: "DATA", Reason: "bad_syntax", Reply: reply(501, EnhancedCode{5, 5, 4}, "Syntax: DATA")})
		return
	}
	c.writeReply(replyData)
	if c.flush() != nil {
		c.quit = true
		return
	}
	c.deadline(c.conn.SetReadDeadline, c.srv.ReadTimeout)
	dr := newDataReader(c.r, c.srv.MaxMessageBytes, c.srv.maxLine())
	err := c.session.Data(&deadlineReader{dr: dr, c: c})
	ended := dr.drain()
	c.finish(err)
	if !ended {
		c.quit = true // the rest of the message cannot be told from commands
	}
}

// deadlineReader renews the read deadline for each slice of a message,
// so that the timeout is per read, as for commands.
type deadlineReader struct {
	dr *dataReader
	c  *Conn
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	if d.dr.r.Buffered() == 0 {
		d.c.deadline(d.c.conn.SetReadDeadline, d.c.srv.ReadTimeout)
	}
	return d.dr.Read(p)
}

// finish answers the end of a message and ends the transaction.
func (c *Conn) finish(err error) {
	if err == nil {
		c.writeReply(replyOK)
	} else {
		c.writeReply(replyError(err, replyTransient))
	}
	c.reset()
}

// bdatCmd runs BDAT (RFC 3030): the chunks are gathered, and the Session
// gets the message at LAST.
func (c *Conn) bdatCmd(arg string) {
	f := strings.Fields(arg)
	var size uint64
	var err error
	if len(f) > 0 {
		size, err = strconv.ParseUint(f[0], 10, 63)
	}
	if len(f) == 0 || len(f) > 2 || err != nil || len(f) == 2 && !strings.EqualFold(f[1], "LAST") {
		// The chunk's end cannot be found: the connection ends, as
		// Postfix ends it.
		c.refuse(Refusal{Command: "BDAT", Reason: "bad_syntax", Reply: reply(521, EnhancedCode{5, 5, 4}, "Syntax: BDAT count [LAST]")})
		c.quit = true
		return
	}
	last := len(f) == 2
	if c.bdat == nil && !c.readyForData("BDAT") {
		c.discard(int64(size))
		return
	}
	if c.bdat == nil {
		c.bdat = &bytes.Buffer{}
	}
	if max := c.srv.MaxMessageBytes; max > 0 && int64(c.bdat.Len())+int64(size) > max {
		c.discard(int64(size))
		c.reset()
		c.refuse(Refusal{Command: "BDAT", Reason: "size", Reply: ErrSizeExceeded})
		return
	}
	c.deadline(c.conn.SetReadDeadline, c.srv.ReadTimeout)
	if _, err := io.CopyN(c.bdat, c.r, int64(size)); err != nil {
		c.quit = true
		return
	}
	if !last {
		c.writeReply(reply(250, EnhancedCode{2, 0, 0}, fmt.Sprintf("Ok: %d bytes", size)))
		return
	}
	msg := c.bdat.Bytes()
	c.finish(c.session.Data(bytes.NewReader(msg)))
}

// discard reads and drops a refused chunk.
func (c *Conn) discard(n int64) {
	c.deadline(c.conn.SetReadDeadline, c.srv.ReadTimeout)
	if _, err := io.CopyN(io.Discard, c.r, n); err != nil {
		c.quit = true
	}
}

// reset ends the transaction (RSET, the end of a message, HELO again).
func (c *Conn) reset() {
	c.inTx, c.rcpts, c.bdat = false, 0, nil
	if c.session != nil {
		c.session.Reset()
	}
}

func (c *Conn) startTLS(arg string) {
	_, isTLS := c.TLSConnectionState()
	switch {
	case arg != "":
		c.refuse(Refusal{Command: "STARTTLS", Reason: "bad_syntax", Reply: reply(501, EnhancedCode{5, 5, 4}, "Syntax: STARTTLS")})
		return
	case isTLS:
		c.refuse(Refusal{Command: "STARTTLS", Reason: "bad_sequence", Reply: reply(554, EnhancedCode{5, 5, 1}, "Error: TLS already active")})
		return
	case c.srv.TLSConfig == nil:
		c.refuse(Refusal{Command: "STARTTLS", Reason: "unknown_command", Reply: reply(502, EnhancedCode{5, 5, 1}, "Error: command not implemented")})
		return
	}
	c.writeReply(replyTLS)
	if c.flush() != nil {
		c.quit = true
		return
	}
	tc := tls.Server(c.conn, c.srv.TLSConfig)
	c.deadline(c.conn.SetDeadline, c.srv.ReadTimeout)
	if err := tc.Handshake(); err != nil {
		c.refuse(Refusal{Command: "STARTTLS", Reason: "tls_handshake", Err: err})
		c.quit = true
		return
	}
	// Whatever the client sent after STARTTLS in clear text is dropped
	// with the old buffer (RFC 3207 6: no command injection).
	c.conn = tc
	c.r.Reset(tc)
	c.w.Reset(tc)
	c.reset()
	if c.session != nil {
		c.session.Logout()
		c.session = nil
	}
	c.helo, c.authed = "", false // RFC 3207 4.2: the client says EHLO again
}

// refuse reports a refusal to the Backend and sends the reply it
// returns (none when r has no reply).
func (c *Conn) refuse(r Refusal) {
	e := c.srv.Backend.Refused(c, r)
	if e == nil {
		e = r.Reply
	}
	if e != nil {
		c.writeReply(e)
	}
}

// readLine returns the next command line without CRLF. The replies
// written so far go out only when the client has sent no further complete
// line: a pipelined batch (RFC 2920) gets its replies in one write.
func (c *Conn) readLine() (string, error) {
	if !c.lineBuffered() {
		if err := c.flush(); err != nil {
			return "", err
		}
		c.deadline(c.conn.SetReadDeadline, c.srv.ReadTimeout)
	}
	b, err := c.r.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return "", ErrTooLongLine
	case err != nil:
		return "", err
	case len(b) > c.srv.maxLine():
		return "", ErrTooLongLine
	}
	b = b[:len(b)-1]
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return string(b), nil
}

func (c *Conn) lineBuffered() bool {
	b, _ := c.r.Peek(c.r.Buffered())
	return bytes.IndexByte(b, '\n') >= 0
}

func (c *Conn) flush() error {
	if c.w.Buffered() == 0 {
		return nil
	}
	c.deadline(c.conn.SetWriteDeadline, c.srv.WriteTimeout)
	return c.w.Flush()
}

func (c *Conn) deadline(set func(time.Time) error, d time.Duration) {
	if d > 0 {
		_ = set(time.Now().Add(d))
	}
}

// writeReply buffers a reply; a 421 ends the connection after it (RFC
// 5321 3.8).
func (c *Conn) writeReply(e *SMTPError) {
	c.writeCode(e.Code, ' ')
	if e.EnhancedCode != NoEnhancedCode {
		ec := e.EnhancedCode
		if ec == (EnhancedCode{}) { // none given: the class of the code (RFC 3463)
			ec = EnhancedCode{e.Code / 100, 0, 0}
		}
		for i, n := range ec {
			if i > 0 {
				c.w.WriteByte('.')
			}
			c.w.WriteString(strconv.Itoa(n))
		}
		c.w.WriteByte(' ')
	}
	c.w.WriteString(clean(e.Message))
	c.w.WriteString("\r\n")
	if e.Code == 421 {
		c.quit = true
	}
}

// writeLines buffers a multi-line reply without enhanced codes (EHLO).
func (c *Conn) writeLines(code int, lines ...string) {
	for i, l := range lines {
		sep := byte('-')
		if i == len(lines)-1 {
			sep = ' '
		}
		c.writeCode(code, sep)
		c.w.WriteString(l)
		c.w.WriteString("\r\n")
	}
}

func (c *Conn) writeCode(code int, sep byte) {
	var b [4]byte
	c.w.Write(strconv.AppendInt(b[:0], int64(code), 10))
	c.w.WriteByte(sep)
}

// clean keeps a reply on one line: a CR or LF in a message (from a rule's
// text, say) would end the reply early and start a forged one.
func clean(s string) string {
	if strings.ContainsAny(s, "\r\n") {
		return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	}
	return s
}
