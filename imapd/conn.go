package imapd

import (
	"bufio"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mailhost/auth"
	"mailhost/connctx"
	"mailhost/imapwire"
	"mailhost/maildir"
)

// The session states of RFC 9051 3.
const (
	stateNotAuth = 1 << iota
	stateAuth
	stateSelected
	stateLogout
)

// Pools of the buffers a session holds only while it works: an idle
// session keeps none (see session.serve). The writer holds a typical
// answer whole (a FETCH of a message, envelopes of a page of the list),
// so that it leaves in one write when the command ends, not in 4 KiB
// steps: each write to a socket costs a system call and, on loopback,
// the receiver's TCP work too.
var (
	readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}
	writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, writerSize) }}
)

// writerSize is the size of a working session's response buffer.
const writerSize = 32 << 10

// maxBadCommands ends a session that sends so many commands in a row
// that cannot be read: it is not speaking IMAP.
const maxBadCommands = 10

// session is one IMAP connection, served by one goroutine. Between
// commands it holds no buffer: it waits for the first byte of the next
// command in first, then takes a reader and a writer from the pools.
type session struct {
	srv   *Server
	conn  net.Conn
	isTLS bool
	id    uint64
	cc    *connctx.Conn
	// ctx is the running command's context, else the connection's.
	ctx context.Context

	state int
	acct  auth.Account
	mbox  maildir.Mailbox
	sel   *selected

	rev2, utf8 bool // ENABLEd IMAP4rev2, UTF8=ACCEPT
	// condstore, qresync: CONDSTORE enabled (by ENABLE or a CONDSTORE
	// command, RFC 7162 3.1), QRESYNC enabled (ENABLE only)
	condstore, qresync bool

	first    [1]byte
	hasFirst bool
	br       *bufio.Reader
	bw       *bufio.Writer
	dec      imapwire.Decoder
	enc      imapwire.Encoder
	bad      int
	okCode   string // the response code of the running command's OK
	// idleUntil is when the wait for the client's next bytes ends: the
	// read deadline, but for an IDLE notice's interruption.
	idleUntil time.Time
	tag       string // the running command's tag
	wake      atomic.Bool
}

func (s *Server) newSession(c net.Conn, implicitTLS bool) *session {
	sess := &session{srv: s, conn: c, isTLS: implicitTLS, id: s.connID.Add(1), state: stateNotAuth}
	sess.cc = connctx.New(s.ctx, c, s.opts.CommandTimeout)
	sess.ctx = sess.cc.Context()
	sess.dec.Continue = sess.continueLiteral
	sess.dec.MaxLiteral = imapwire.MaxNonSyncLiteral
	return sess
}

// Read gives the byte the session waited on, then reads the connection.
func (s *session) Read(p []byte) (int, error) {
	if s.hasFirst && len(p) > 0 {
		p[0] = s.first[0]
		s.hasFirst = false
		return 1, nil
	}
	for {
		n, err := s.conn.Read(p)
		if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) && time.Now().Before(s.idleUntil) {
			// An IDLE notice while the client's line was on its way: the
			// notice waits in the subscription for the next poll.
			s.conn.SetReadDeadline(s.idleUntil)
			continue
		}
		return n, err
	}
}

// Autologout timers (RFC 9051 5.4: at least 30 minutes once logged in).
const (
	loginTimeout = 30 * time.Second
	idleTimeout  = 35 * time.Minute
)

// take gets the buffers for a command.
func (s *session) take() {
	if s.br == nil {
		s.br = readers.Get().(*bufio.Reader)
		s.br.Reset(s)
		s.dec.Reset(s.br)
	}
	s.takeWriter()
}

func (s *session) takeWriter() {
	if s.bw == nil {
		s.bw = writers.Get().(*bufio.Writer)
		s.bw.Reset(s.conn)
		s.enc.Reset(s.bw)
	}
}

// release gives the buffers back: the writer once flushed, the reader
// when it holds no pipelined bytes.
func (s *session) release() {
	s.releaseWriter()
	if s.br != nil && s.br.Buffered() == 0 {
		s.br.Reset(nil)
		readers.Put(s.br)
		s.br = nil
		s.dec.Reset(nil)
	}
}

func (s *session) releaseWriter() {
	if s.bw != nil && s.bw.Buffered() == 0 {
		s.bw.Reset(nil)
		writers.Put(s.bw)
		s.bw = nil
		s.enc.Reset(nil)
	}
}

// logger returns the connection's logger; built on demand so an idle
// session holds none.
func (s *session) logger() *slog.Logger {
	l := s.srv.log.With("conn", s.id, "remote", s.conn.RemoteAddr().String())
	if s.acct.Address != "" {
		l = l.With("user", s.acct.Address)
	}
	return l
}

// waitFirst waits for the first byte of the next command with no buffer
// held. A wake-up (IDLE's notices) interrupts the wait through the read
// deadline: it returns errWoken.
// The wait ends with errAutologout after loginTimeout before login,
// idleTimeout after.
func (s *session) waitFirst() error {
	wait := cmp.Or(s.srv.opts.IdleTimeout, idleTimeout)
	if s.state == stateNotAuth {
		wait = cmp.Or(s.srv.opts.LoginTimeout, loginTimeout)
	}
	s.idleUntil = time.Now().Add(wait)
	s.conn.SetReadDeadline(s.idleUntil)
	// A wake-up that came before this deadline was set (during IDLE's
	// poll) had its deadline overwritten: its mark is what is left of it.
	if s.wake.Swap(false) {
		return errWoken
	}
	for {
		_, err := s.conn.Read(s.first[:])
		if err == nil {
			s.hasFirst = true
			return nil
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if s.wake.Swap(false) {
				s.conn.SetReadDeadline(s.idleUntil)
				return errWoken
			}
			if !time.Now().Before(s.idleUntil) {
				return errAutologout
			}
			s.conn.SetReadDeadline(s.idleUntil)
			continue
		}
		return err
	}
}

var errAutologout = errors.New("autologout")

var errWoken = errors.New("woken")

func (s *session) serve() {
	defer s.close()
	if s.isTLS {
		if err := s.handshake(); err != nil {
			return
		}
	}
	s.takeWriter()
	s.enc.Raw("* OK [CAPABILITY ").Raw(s.capabilities()).Raw("] mailhost IMAP ready").CRLF()
	if s.flush() != nil {
		return
	}
	for s.state != stateLogout {
		if s.br == nil || s.br.Buffered() == 0 {
			s.release()
			if err := s.waitFirst(); err != nil {
				if errors.Is(err, errAutologout) {
					s.takeWriter()
					s.enc.Status("*", "BYE", "", "Autologout: idle for too long")
					s.flush()
				}
				return
			}
		}
		s.take()
		if !s.command() {
			s.flush()
			return
		}
		if s.flush() != nil {
			return
		}
	}
}

func (s *session) handshake() error {
	tc, ok := s.conn.(*tls.Conn)
	if !ok {
		return nil
	}
	tc.SetDeadline(time.Now().Add(30 * time.Second))
	defer tc.SetDeadline(time.Time{})
	return tc.HandshakeContext(s.ctx)
}

func (s *session) flush() error {
	if s.bw == nil {
		return nil
	}
	s.conn.SetWriteDeadline(time.Now().Add(5 * time.Minute))
	return s.bw.Flush()
}

func (s *session) close() {
	s.cc.Close()
	if s.sel != nil {
		s.sel.close()
		s.sel = nil
	}
	s.conn.Close()
	if s.bw != nil {
		s.bw.Reset(nil)
		writers.Put(s.bw)
		s.bw = nil
	}
	if s.br != nil {
		s.br.Reset(nil)
		readers.Put(s.br)
		s.br = nil
	}
}

// continueLiteral answers a synchronizing literal the parser accepted.
func (s *session) continueLiteral() error {
	s.enc.Raw("+ Ready for literal data").CRLF()
	return s.flush()
}

// command reads and runs one command; false ends the connection.
func (s *session) command() bool {
	s.dec.LiteralMinus = false
	s.dec.MaxLiteral = imapwire.MaxNonSyncLiteral
	cmd, err := s.dec.ReadCommand()
	if err != nil {
		return s.readError(cmd, err)
	}
	h, ok := handlers[cmd.Name]
	if !ok {
		return s.readError(cmd, imapwire.ErrUnknownCommand)
	}
	s.tag = cmd.Tag
	if h.states&s.state == 0 {
		s.bad++
		if cmd.Name == "APPEND" {
			s.dec.DiscardLine()
		}
		s.enc.Status(cmd.Tag, "BAD", "CLIENTBUG", cmd.Name+" not allowed now")
		return s.bad < maxBadCommands
	}
	s.bad = 0
	s.okCode = ""
	if noDatabase[cmd.Name] {
		err = h.fn(s, cmd)
		s.pollAfter(h, cmd, err)
	} else {
		// The poll after the command runs in the command's context: one
		// context and its timers per command, not two.
		c := s.cc.Command()
		s.ctx = c.Context()
		err = h.fn(s, cmd)
		s.pollAfter(h, cmd, err)
		c.End()
		s.ctx = s.cc.Context()
	}
	return s.respond(cmd, err)
}

// pollAfter brings the client up to date after a command (its handler
// says when: h.poll).
func (s *session) pollAfter(h handler, cmd *imapwire.Command, err error) {
	if s.sel != nil && h.poll != pollNever && s.state == stateSelected && !isConnErr(err) {
		s.pollIfChanged(h.poll == pollAlways, h.poll >= pollAllowExpunge || cmd.UID)
	}
}

// readError answers a command the parser refused.
func (s *session) readError(cmd *imapwire.Command, err error) bool {
	var se *imapwire.SyntaxError
	var le *imapwire.LiteralError
	tag := cmd.Tag
	if tag == "" {
		tag = "*"
	}
	switch {
	case errors.As(err, &le):
		code := "TOOBIG"
		if !le.NonSync {
			s.dec.DiscardLine()
		}
		s.enc.Status(tag, "BAD", code, "Literal too large")
		if le.NonSync {
			s.enc.Status("*", "BYE", "", "Literal data cannot be skipped")
			return false
		}
		return true
	case errors.As(err, &se):
		if s.state == stateNotAuth && looksLikeHTTP(cmd) {
			s.enc.Status("*", "BYE", "", "This is an IMAP server")
			return false
		}
		if derr := s.dec.DiscardLine(); derr != nil {
			s.enc.Status(tag, "BAD", "", se.Msg)
			s.enc.Status("*", "BYE", "", "Literal data cannot be skipped")
			return false
		}
		s.bad++
		s.enc.Status(tag, "BAD", "", se.Msg)
		if s.bad >= maxBadCommands {
			s.enc.Status("*", "BYE", "", "Too many bad commands")
			return false
		}
		return true
	case errors.Is(err, imapwire.ErrLineTooLong):
		s.enc.Status("*", "BYE", "", "Command line too long")
		return false
	}
	return false // the connection failed
}

// looksLikeHTTP spots an HTTP request sent to the IMAP port (a
// cross-protocol attack): the session ends at once.
func looksLikeHTTP(cmd *imapwire.Command) bool {
	switch cmd.Tag {
	case "GET", "POST", "PUT", "HEAD", "OPTIONS", "CONNECT", "DELETE":
		return strings.HasPrefix(cmd.Name, "/") || cmd.Name == ""
	}
	return false
}

// respond writes the tagged response of cmd; false ends the connection.
func (s *session) respond(cmd *imapwire.Command, err error) bool {
	if err == nil {
		s.enc.Status(cmd.Tag, "OK", s.okCode, cmd.Name+" completed")
		return true
	}
	if err == errSilent {
		return true
	}
	var ie *imapError
	if errors.As(err, &ie) {
		tag := cmd.Tag
		if ie.status == "BYE" {
			tag = "*"
		}
		s.enc.Status(tag, ie.status, ie.code, ie.text)
		return !ie.bye
	}
	var se *imapwire.SyntaxError
	if errors.As(err, &se) {
		if s.dec.DiscardLine() != nil {
			return false
		}
		s.enc.Status(cmd.Tag, "BAD", "", se.Msg)
		return true
	}
	var le *imapwire.LiteralError
	if errors.As(err, &le) {
		s.enc.Status(cmd.Tag, "NO", "TOOBIG", "Message too large")
		if le.NonSync {
			return false
		}
		return s.dec.DiscardLine() == nil
	}
	if !isConnErr(err) {
		s.logger().Error("imap: "+cmd.Name, "err", err)
	}
	return false
}

func isConnErr(err error) bool {
	return err != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, new(*net.OpError)))
}

// imapError is a tagged answer other than OK.
type imapError struct {
	status, code, text string
	bye                bool // the connection ends after it
}

func (e *imapError) Error() string { return e.status + " [" + e.code + "] " + e.text }

func imapErr(status, code, text string) error {
	return &imapError{status: status, code: code, text: text}
}

// internal logs err and returns the generic answer to the client: the
// details stay in the log. A command whose context ended (its deadline,
// the client gone, shutdown) is answered as a temporary failure.
func (s *session) internal(what string, err error) error {
	if s.ctx.Err() != nil {
		s.logger().Info("imap: "+what+": command cancelled", "cause", context.Cause(s.ctx), "err", err)
		return imapErr("NO", "UNAVAILABLE", "Command cancelled, try again later")
	}
	s.logger().Error("imap: "+what, "err", err)
	return imapErr("NO", "SERVERBUG", "Internal error, try again later")
}
