// Package smtpd is mailhost's SMTP server protocol layer (RFC 5321): the
// greeting, command lines read under a length limit and timeouts, the
// command and parameter parser, the EHLO keywords (PIPELINING, SIZE,
// STARTTLS, AUTH, ENHANCEDSTATUSCODES, 8BITMIME, DSN, SMTPUTF8,
// CHUNKING, LIMITS), the command sequence, DATA with dot-unstuffing
// under the size limit, BDAT, STARTTLS and the AUTH exchange (through
// package sasl), with replies worded as Postfix's. Replies are buffered
// and written when the client's pipeline is drained, as Postfix's smtpd
// does (RFC 2920 3.2).
//
// What to do with a transaction is the Backend's and its Sessions'
// (package mta): they decide, log and answer MAIL, RCPT, DATA and AUTH.
// Every refusal this package makes itself (syntax, sequence, size,
// recipient count, line length, timeouts) is given to Backend.Refused,
// which logs it and may change the reply.
package smtpd

import (
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"mailhost/connserve"
	"mailhost/sasl"
)

// ErrServerClosed is what Serve returns after Close.
var ErrServerClosed = errors.New("smtpd: server closed")

// Backend makes a Session for each client that says HELO or EHLO, and
// hears of every refusal the protocol layer makes itself.
type Backend interface {
	// NewSession is called at the first HELO/EHLO of a connection (and
	// the first after STARTTLS); c.Hostname() is the name given. An
	// error refuses the greeting: its *SMTPError is the reply (else a
	// 451), and the client may try again.
	NewSession(c *Conn) (Session, error)
	// Refused is told of a refusal the protocol layer made: it logs it
	// and returns the reply to send (r.Reply, or another, such as a 421
	// when the client made too many errors). A 421 ends the connection.
	Refused(c *Conn, r Refusal) *SMTPError
}

// Refusal is a command the protocol layer refused, or a connection it
// ended (timeout, failed TLS handshake, overlong line).
type Refusal struct {
	Command string // the verb, "" for a line that is no command
	Reason  string // for logs and metrics: "size", "bad_syntax", ...
	Reply   *SMTPError
	Sender  string // MAIL's sender, for a refused MAIL
	Err     error  // the cause (timeout, handshake), for the log
}

// Session is one client's SMTP session, from HELO/EHLO to the end of the
// connection or STARTTLS. Its methods run one at a time. An error they
// return is the reply when it is an *SMTPError, else a 451 (for AUTH a
// 454) whose text says nothing of the error.
type Session interface {
	// Mail starts a transaction.
	Mail(from string, opts *MailOptions) error
	// Rcpt adds a recipient.
	Rcpt(to string, opts *RcptOptions) error
	// Data receives the message (DATA or BDAT); r must be read to its
	// end or to its error. Its error is the final reply; nil is
	// "250 2.0.0 Ok".
	Data(r io.Reader) error
	// Reset ends the transaction: RSET, after DATA, a repeated HELO.
	Reset()
	// Logout ends the session.
	Logout() error
}

// AuthSession is a Session that offers AUTH (RFC 4954).
type AuthSession interface {
	Session
	// AuthMechanisms is what EHLO offers (none: AUTH not offered).
	AuthMechanisms() []string
	// Auth starts an exchange of mech; the server's errors are replies.
	Auth(mech string) (sasl.Server, error)
}

// HelloSession is a Session that checks a HELO/EHLO repeated in it (the
// transaction is reset first, RFC 5321 4.1.4). An error is the reply and
// the connection ends after it.
type HelloSession interface {
	Session
	Hello(name string) error
}

// Server is an SMTP server's protocol layer. Set its fields before Serve.
type Server struct {
	Hostname string // in the greeting and the EHLO reply
	Backend  Backend
	// TLSConfig enables STARTTLS; on a connection that is a *tls.Conn
	// (implicit TLS, RFC 8314) the handshake comes before the greeting.
	TLSConfig       *tls.Config
	MaxMessageBytes int64 // SIZE; 0: none
	MaxRecipients   int   // per transaction; 0: none
	// MaxLineLength bounds command and message lines (with CRLF);
	// 0: 2048, Postfix's line_length_limit.
	MaxLineLength int
	ReadTimeout   time.Duration // for each read of the client; 0: none
	WriteTimeout  time.Duration // for each write to the client; 0: none
	Log           *slog.Logger  // internal errors (accept failures, panics)

	mu     sync.Mutex
	closed bool
	lns    map[net.Listener]struct{}
	conns  map[net.Conn]struct{}
}

// Serve accepts connections on l and serves each in its own goroutine
// until l fails or Close is called (then ErrServerClosed).
func (s *Server) Serve(l net.Listener) error {
	if !s.track(l, nil) {
		return ErrServerClosed
	}
	var retry connserve.AcceptRetry
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return ErrServerClosed
			}
			if retry.Wait(err) { // EMFILE and the like
				s.logger().Warn("smtpd: accept failed, retried", "err", err, "after", retry.Delay())
				continue
			}
			return err
		}
		retry.Reset()
		go s.ServeConn(nc)
	}
}

// ServeConn serves one connection until it ends.
func (s *Server) ServeConn(nc net.Conn) {
	if !s.track(nil, nc) {
		nc.Close()
		return
	}
	defer func() {
		s.mu.Lock()
		delete(s.conns, nc)
		s.mu.Unlock()
	}()
	newConn(s, nc).serve()
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrServerClosed
	}
	s.closed = true
	var err error
	for l := range s.lns {
		if e := l.Close(); e != nil && err == nil {
			err = e
		}
	}
	for c := range s.conns {
		c.Close()
	}
	return err
}

func (s *Server) track(l net.Listener, c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if l != nil {
		if s.lns == nil {
			s.lns = map[net.Listener]struct{}{}
		}
		s.lns[l] = struct{}{}
	}
	if c != nil {
		if s.conns == nil {
			s.conns = map[net.Conn]struct{}{}
		}
		s.conns[c] = struct{}{}
	}
	return true
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Server) logger() *slog.Logger {
	if s.Log == nil {
		return slog.Default()
	}
	return s.Log
}

func (s *Server) maxLine() int {
	if s.MaxLineLength <= 0 {
		return 2048
	}
	return s.MaxLineLength
}
