package managesieve

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"mailhost/auth"
	"mailhost/connctx"
	"mailhost/sasl"
	"mailhost/sieve"
)

// maxAuthFailures is how many failed logins a connection may make.
const maxAuthFailures = 3

// maxBadCommands is how many malformed or unknown commands end a session.
const maxBadCommands = 10

type session struct {
	srv    *Server
	cc     *connctx.Conn
	ctx    context.Context // of the running command
	conn   net.Conn
	rd     *reader
	w      *bufio.Writer
	remote netip.Addr
	tls    bool
	log    *slog.Logger

	acct      *auth.Account
	authFails int
	bad       int
}

func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	id := s.nextID.Add(1)
	defer c.Close()
	cc := connctx.New(ctx, c, s.cfg.CommandTimeout)
	defer cc.Close()
	maxLit := s.cfg.MaxScriptSize
	if maxLit <= 0 {
		maxLit = sieve.DefaultMaxScriptSize
	}
	ss := &session{
		srv: s, cc: cc, ctx: cc.Context(), conn: c,
		rd:     &reader{r: bufio.NewReaderSize(c, 4096), maxLiteral: maxLit},
		w:      bufio.NewWriterSize(c, 8<<10),
		remote: auth.RemoteIP(c.RemoteAddr()),
		log:    s.log.With("conn", fmt.Sprintf("sieve-%d", id), "remote", c.RemoteAddr().String()),
	}
	ss.capabilities()
	ss.ok("", "mailhost ManageSieve ready.")
	ss.loop()
}

func (ss *session) loop() {
	for {
		if ss.rd.r.Buffered() == 0 {
			if err := ss.w.Flush(); err != nil {
				return
			}
		}
		if ss.srv.shuttingDown() {
			ss.bye("", "Server shutting down.")
			return
		}
		ss.conn.SetReadDeadline(time.Now().Add(ss.srv.cfg.IdleTimeout))
		args, err := ss.rd.command()
		if err != nil && !isSyntax(err) {
			ss.readFailed(err)
			return
		}
		if err == nil && len(args) == 0 {
			continue
		}
		if err == nil && !args[0].atom {
			err = syntaxf("a command starts with its name")
		}
		if err != nil {
			ss.malformed(err)
			if ss.bad >= maxBadCommands {
				ss.bye("", "Too many invalid commands.")
				return
			}
			continue
		}
		cmd := ss.cc.Command()
		ss.ctx = cmd.Context()
		done := ss.dispatch(strings.ToUpper(args[0].s), args[1:])
		cmd.End()
		if done {
			ss.w.Flush()
			return
		}
	}
}

func (ss *session) malformed(err error) {
	var big errTooBig
	if errors.As(err, &big) {
		ss.no("QUOTA/MAXSIZE", "Script too large (at most %d octets).", ss.rd.maxLiteral)
		return
	}
	ss.bad++
	ss.no("", "Syntax error: %s.", err)
}

func (ss *session) readFailed(err error) {
	var ne net.Error
	switch {
	case ss.srv.shuttingDown():
		ss.bye("", "Server shutting down.")
	case errors.As(err, &ne) && ne.Timeout():
		ss.bye("", "Disconnected for inactivity.")
		ss.log.Info("managesieve idle timeout")
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	default:
		ss.log.Debug("managesieve read", "err", err)
	}
	ss.w.Flush()
}

// response writes OK, NO or BYE with an optional response code and text
// (RFC 5804 1.3).
func (ss *session) response(kind, code, format string, a ...any) {
	ss.w.WriteString(kind)
	if code != "" {
		ss.w.WriteString(" (" + code + ")")
	}
	if format != "" {
		ss.w.WriteString(" " + quote(fmt.Sprintf(format, a...)))
	}
	ss.w.WriteString("\r\n")
}

func (ss *session) ok(code, format string, a ...any) { ss.response("OK", code, format, a...) }
func (ss *session) no(code, format string, a ...any) { ss.response("NO", code, format, a...) }
func (ss *session) bye(code, format string, a ...any) {
	ss.response("BYE", code, format, a...)
}

// loginAllowed: a password travels only under TLS (or from loopback when
// auth.allow_plaintext_loopback), as on the other protocols.
func (ss *session) loginAllowed() bool {
	return auth.LoginAllowed(ss.tls, ss.remote, ss.srv.cfg.AllowPlaintextLoopback)
}

// capabilities writes the capability lines (RFC 5804 1.7).
func (ss *session) capabilities() {
	line := func(k, v string) {
		ss.w.WriteString(quote(k))
		if v != "" {
			ss.w.WriteString(" " + quote(v))
		}
		ss.w.WriteString("\r\n")
	}
	line("IMPLEMENTATION", "mailhost")
	if ss.acct == nil {
		// Before TLS the list is empty: no mechanism may send a password.
		ss.w.WriteString(`"SASL" ` + quote(strings.Join(sasl.Mechanisms(ss.loginAllowed()), " ")) + "\r\n")
	}
	line("SIEVE", strings.Join(sieve.Extensions(), " "))
	if ss.srv.cfg.TLS != nil && !ss.tls {
		line("STARTTLS", "")
	}
	if ss.srv.cfg.MaxRedirects > 0 {
		line("MAXREDIRECTS", fmt.Sprint(ss.srv.cfg.MaxRedirects))
	}
	if ss.acct != nil {
		line("OWNER", ss.acct.Address)
	}
	line("VERSION", "1.0")
}

// starttls is RFC 5804 2.2: TLS on the same connection, then the
// capabilities again.
func (ss *session) starttls(args []arg) bool {
	switch {
	case len(args) > 0:
		ss.no("", "STARTTLS takes no arguments.")
		return false
	case ss.tls:
		ss.no("", "TLS is already active.")
		return false
	case ss.srv.cfg.TLS == nil:
		ss.no("", "TLS is not available.")
		return false
	}
	ss.ok("", "Begin TLS negotiation now.")
	if err := ss.w.Flush(); err != nil {
		return true
	}
	if n := ss.rd.r.Buffered(); n > 0 {
		// Input sent before the handshake may have been injected.
		ss.rd.r.Discard(n)
		ss.log.Info("managesieve discarded input pipelined after STARTTLS", "bytes", n)
	}
	tc := tls.Server(ss.conn, ss.srv.cfg.TLS)
	ss.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tc.HandshakeContext(ss.ctx); err != nil {
		ss.log.Info("managesieve starttls handshake failed", "err", err)
		return true
	}
	ss.conn.SetDeadline(time.Time{})
	ss.conn, ss.tls = tc, true
	ss.rd.r.Reset(tc)
	ss.w.Reset(tc)
	ss.capabilities()
	ss.ok("", "TLS active.")
	return false
}
