package mta

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// replyError is a reply of a remote server that is not the one wanted.
type replyError struct {
	stage string // the command it answered: greeting, EHLO, MAIL, RCPT, DATA, ...
	code  int
	msg   string // text, lines joined with a space
}

func (e *replyError) Error() string {
	return fmt.Sprintf("%s: %d %s", e.stage, e.code, e.msg)
}

func (e *replyError) permanent() bool { return e.code >= 500 }

// enhanced returns the enhanced status code the reply carries (RFC 3463),
// or one made from the basic code.
func (e *replyError) enhanced() string {
	if f := strings.Fields(e.msg); len(f) > 0 {
		p := strings.Split(f[0], ".")
		if len(p) == 3 && (p[0] == "4" || p[0] == "5") {
			if _, err := strconv.Atoi(p[1]); err == nil {
				return f[0]
			}
		}
	}
	if e.permanent() {
		return "5.0.0"
	}
	return "4.0.0"
}

// outConn is one outbound SMTP client connection (RFC 5321 as a client):
// each command and reply has its own deadline, so a tarpitting or silent
// peer ends in a timeout, never in a stuck worker. go-smtp's Client is not
// used because it cannot STARTTLS after an EHLO with our name, has no
// handshake step of its own, and writes the message body without a
// deadline (ARCHITECTURE.md, the mta row).
type outConn struct {
	raw     net.Conn // the TCP connection under conn
	conn    net.Conn
	text    *textproto.Conn
	ext     map[string]string
	tls     bool
	timeout time.Duration // per command
	dataTO  time.Duration // for the reply after the final dot
	stop    func() bool   // undoes the close on ctx's end
	w       *bufio.Writer // for message bodies, kept for the next message

	// For the connection cache (outcache.go):
	key   connKey
	born  time.Time
	uses  int         // transactions begun (MAIL sent)
	since time.Time   // idle since
	timer *time.Timer // closes it when idle too long
}

func dialOut(ctx context.Context, addr string, connectTO, cmdTO, dataTO time.Duration) (*outConn, error) {
	d := net.Dialer{Timeout: connectTO}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	oc := &outConn{raw: c, conn: c, text: textproto.NewConn(c), timeout: cmdTO, dataTO: dataTO, born: time.Now()}
	oc.attach(ctx)
	if _, _, err := oc.reply("greeting", 220, cmdTO); err != nil {
		oc.close()
		return nil, err
	}
	return oc, nil
}

// attach makes ctx's end (the attempt's deadline, shutdown) close the
// connection whatever step it is in (a TLS layer dies with the connection
// under it).
func (c *outConn) attach(ctx context.Context) {
	c.stop = context.AfterFunc(ctx, func() { c.raw.Close() })
}

// detach undoes attach, for a connection that outlives its attempt in the
// cache. false: the attempt's context has ended and closed it.
func (c *outConn) detach() bool {
	ok := c.stop()
	c.stop = func() bool { return false }
	return ok
}

func (c *outConn) close() {
	c.stop()
	c.conn.Close()
}

// quit ends the session politely, not waiting long for the answer.
func (c *outConn) quit() {
	c.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if c.text.PrintfLine("QUIT") == nil {
		c.text.ReadResponse(221)
	}
	c.close()
}

func (c *outConn) reply(stage string, want int, to time.Duration) (int, string, error) {
	c.conn.SetDeadline(time.Now().Add(to))
	code, msg, err := c.text.ReadResponse(0)
	if err != nil {
		var te *textproto.Error
		if errors.As(err, &te) {
			code, msg = te.Code, te.Msg
		} else {
			return 0, "", fmt.Errorf("%s: %w", stage, err)
		}
	}
	msg = strings.ReplaceAll(msg, "\n", " ")
	if code/100 != want/100 {
		return code, msg, &replyError{stage: stage, code: code, msg: msg}
	}
	return code, msg, nil
}

func (c *outConn) cmd(stage string, want int, format string, a ...any) (string, error) {
	c.conn.SetDeadline(time.Now().Add(c.timeout))
	if err := c.text.PrintfLine(format, a...); err != nil {
		return "", fmt.Errorf("%s: %w", stage, err)
	}
	_, msg, err := c.reply(stage, want, c.timeout)
	return msg, err
}

// ehloRaw sends EHLO and records the extensions.
func (c *outConn) ehloRaw(name string) error {
	c.conn.SetDeadline(time.Now().Add(c.timeout))
	if err := c.text.PrintfLine("EHLO %s", name); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	code, msg, err := c.text.ReadResponse(0)
	if err != nil {
		var te *textproto.Error
		if !errors.As(err, &te) {
			return fmt.Errorf("EHLO: %w", err)
		}
		code, msg = te.Code, te.Msg
	}
	if code == 500 || code == 502 || code == 504 || code == 550 {
		c.ext = map[string]string{}
		_, err := c.cmd("HELO", 250, "HELO %s", name)
		return err
	}
	if code != 250 {
		return &replyError{stage: "EHLO", code: code, msg: strings.ReplaceAll(msg, "\n", " ")}
	}
	c.ext = map[string]string{}
	for i, l := range strings.Split(msg, "\n") {
		if i == 0 {
			continue // the server's name
		}
		k, v, _ := strings.Cut(l, " ")
		c.ext[strings.ToUpper(k)] = v
	}
	return nil
}

func (c *outConn) has(ext string) bool { _, ok := c.ext[ext]; return ok }

// startTLS upgrades the connection (RFC 3207) and says EHLO again.
func (c *outConn) startTLS(ctx context.Context, conf *tls.Config, name string) error {
	if _, err := c.cmd("STARTTLS", 220, "STARTTLS"); err != nil {
		return err
	}
	tc := tls.Client(c.conn, conf)
	hctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	c.conn, c.text, c.tls = tc, textproto.NewConn(tc), true
	return c.ehloRaw(name)
}

// authPlain logs in to a relay host (RFC 4954, PLAIN).
func (c *outConn) authPlain(user, pass string) error {
	ir := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
	_, err := c.cmd("AUTH", 235, "AUTH PLAIN %s", ir)
	return err
}

// body sends the message after DATA's 354, dot-stuffed, with the final
// dot in the same write, and waits for the final reply. An empty body
// is the lone "." that ends a data phase no message should go in.
func (c *outConn) body(body []byte) error {
	// The whole message has DataTimeout to go out; a peer that stops
	// reading ends it.
	c.conn.SetDeadline(time.Now().Add(c.dataTO))
	w := c.writer()
	if err := writeDotStuffed(w, body); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	_, _, err := c.reply("end of DATA", 250, c.dataTO)
	return err
}

// writer is c's buffered writer, kept for the next message. It is made
// at the first message, after any STARTTLS (which comes before every
// transaction of a connection, never between two), so it writes to the
// connection for good.
func (c *outConn) writer() *bufio.Writer {
	if c.w == nil {
		c.w = bufio.NewWriterSize(c.conn, 32<<10)
	}
	return c.w
}

// command is one SMTP command and the reply it wants.
type command struct {
	stage string // as in replyError
	want  int    // the reply code wanted
	line  string // without CRLF
}

// pipeline sends cmds in one write and then reads their replies in
// order (RFC 2920 3.1), each within the command timeout. errs[i] is the
// failure of cmds[i]: a *replyError, or the connection's error, which
// is then every later command's too (no later reply can be read). All
// replies are read whatever they say: the server answers every command.
func (c *outConn) pipeline(cmds []command) (errs []error) {
	errs = make([]error, len(cmds))
	c.conn.SetDeadline(time.Now().Add(c.timeout))
	w := c.writer()
	for _, cmd := range cmds {
		w.WriteString(cmd.line)
		w.WriteString("\r\n")
	}
	if err := w.Flush(); err != nil {
		return failFrom(errs, 0, fmt.Errorf("%s: %w", cmds[0].stage, err))
	}
	for i, cmd := range cmds {
		_, _, err := c.reply(cmd.stage, cmd.want, c.timeout)
		var re *replyError
		if err != nil && !errors.As(err, &re) {
			return failFrom(errs, i, err)
		}
		errs[i] = err
	}
	return errs
}

// failFrom sets errs from i on to err.
func failFrom(errs []error, i int, err error) []error {
	for ; i < len(errs); i++ {
		errs[i] = err
	}
	return errs
}

// writeDotStuffed writes a CRLF message with leading dots doubled (RFC
// 5321 4.5.2) and the final ".".
func writeDotStuffed(w io.Writer, body []byte) error {
	bol := true
	start := 0
	for i := 0; i < len(body); i++ {
		if bol && body[i] == '.' {
			if _, err := w.Write(body[start:i]); err != nil {
				return err
			}
			if _, err := w.Write([]byte{'.'}); err != nil {
				return err
			}
			start = i
		}
		bol = body[i] == '\n'
	}
	if _, err := w.Write(body[start:]); err != nil {
		return err
	}
	if len(body) > 0 && !bol {
		if _, err := w.Write([]byte("\r\n")); err != nil {
			return err
		}
	}
	_, err := w.Write([]byte(".\r\n"))
	return err
}
