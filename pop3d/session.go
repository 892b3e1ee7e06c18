package pop3d

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
	"path/filepath"
	"strings"
	"time"

	"mailhost/auth"
	"mailhost/connctx"
	"mailhost/maildir"
	"mailhost/sasl"
	"mailhost/store"
)

// state is the POP3 session state (RFC 1939 section 3); UPDATE is the
// part of quit that deletes.
type state int

const (
	stateAuthorization state = iota
	stateTransaction
)

// maxBadCommands is how many malformed or unknown commands a client may
// send before it is disconnected.
const maxBadCommands = 20

// errLineTooLong is returned by readLine for a line over its limit; the
// line has been read and discarded.
var errLineTooLong = errors.New("line too long")

// session is one POP3 connection.
type session struct {
	srv *Server
	// ctx is the running command's context while a command runs (its
	// deadline, the client hanging up, shutdown), else the connection's.
	ctx    context.Context
	cc     *connctx.Conn
	conn   net.Conn
	r      *bufio.Reader
	w      *bufio.Writer
	tls    bool
	remote netip.Addr
	log    *slog.Logger
	start  time.Time

	state       state
	user        string // from USER, until PASS
	authFails   int
	badCommands int
	lastOK      bool // result of the last reply, for the metrics

	acct    auth.Account
	locked  bool
	folder  maildir.Folder
	inbox   store.POP3Maildrop
	deleted []bool
	vsizes  []int64 // CRLF sizes; -1 until known
	fileBuf *bufio.Reader

	retrieved      int
	retrievedBytes int64
	deletedCount   int
	quit           bool
}

// deadlineWriter pushes the write deadline forward before each write, so a
// slow but live client can download a large message while a stalled one is
// dropped after the idle timeout.
type deadlineWriter struct {
	c net.Conn
	d time.Duration
}

func (w deadlineWriter) Write(p []byte) (int, error) {
	w.c.SetWriteDeadline(time.Now().Add(w.d))
	return w.c.Write(p)
}

func (s *Server) serveConn(ctx context.Context, c net.Conn, implicitTLS bool) {
	id := s.nextID.Add(1)
	name := "pop3"
	if implicitTLS {
		name = "pop3s"
	}
	log := s.log.With("conn", fmt.Sprintf("pop3-%d", id), "remote", c.RemoteAddr().String())
	s.m.sessions.WithLabelValues(name).Inc()
	s.m.active.Inc()
	defer s.m.active.Dec()
	defer c.Close()
	cc := connctx.New(ctx, c, s.cfg.CommandTimeout)
	defer cc.Close()
	ctx = cc.Context()

	if implicitTLS {
		tc := tls.Server(c, s.cfg.TLS)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		if err := tc.HandshakeContext(ctx); err != nil {
			log.Info("pop3 tls handshake failed", "err", err)
			return
		}
		c.SetDeadline(time.Time{})
		c = tc
	}
	ss := &session{
		srv: s, ctx: ctx, cc: cc, conn: c, tls: implicitTLS,
		r:      bufio.NewReaderSize(c, 4096),
		w:      bufio.NewWriterSize(deadlineWriter{c, s.cfg.IdleTimeout}, 32<<10),
		remote: auth.RemoteIP(c.RemoteAddr()),
		log:    log, start: time.Now(),
	}
	defer ss.end()
	ss.reply(true, "%s POP3 server ready.", s.cfg.Hostname)
	ss.loop()
}

// loop reads and runs commands until QUIT, a disconnect, the idle timeout
// or shutdown.
func (ss *session) loop() {
	for {
		if ss.r.Buffered() == 0 { // pipelined commands are answered together
			if err := ss.w.Flush(); err != nil {
				return
			}
		}
		line, err := ss.readLine(maxCommandLine)
		if errors.Is(err, errLineTooLong) {
			ss.reply(false, "Line too long (at most %d octets per command, RFC 2449).", maxCommandLine)
			if ss.bad() {
				return
			}
			continue
		}
		if err != nil {
			ss.readFailed(err)
			return
		}
		cmd, why := parseCommand(line)
		if why != "" {
			ss.reply(false, "%s.", why)
			ss.srv.m.commands.WithLabelValues("invalid", "err").Inc()
			if ss.bad() {
				return
			}
			continue
		}
		done := ss.run(cmd)
		label := cmd.Name
		if !knownCommands[label] {
			label = "unknown"
		}
		result := "ok"
		if !ss.lastOK {
			result = "err"
		}
		ss.srv.m.commands.WithLabelValues(label, result).Inc()
		if done {
			ss.w.Flush()
			return
		}
	}
}

// bad counts a malformed command and reports whether the client has sent
// too many; then it has been told and is to be disconnected.
func (ss *session) bad() bool {
	ss.badCommands++
	if ss.badCommands < maxBadCommands {
		return false
	}
	ss.reply(false, "Too many invalid commands, closing connection.")
	ss.w.Flush()
	ss.log.Info("pop3 disconnected: too many invalid commands")
	return true
}

// readFailed handles the end of input: a disconnect, the idle timeout, or
// shutdown. A session that ends this way deletes nothing.
func (ss *session) readFailed(err error) {
	var ne net.Error
	switch {
	case ss.srv.shuttingDown():
		ss.reply(false, "[SYS/TEMP] Server shutting down.")
		ss.w.Flush()
	case errors.As(err, &ne) && ne.Timeout():
		ss.reply(false, "Disconnected for inactivity.")
		ss.w.Flush()
		ss.log.Info("pop3 idle timeout")
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	default:
		ss.log.Debug("pop3 read", "err", err)
	}
}

// readLine reads one line of at most max octets including its line ending
// and returns it without the ending. A longer line is consumed and
// errLineTooLong returned; memory stays bounded by the reader's buffer.
func (ss *session) readLine(max int) (string, error) {
	if ss.srv.shuttingDown() {
		// Serve has woken the idle sessions; one that was busy stops
		// before its next command rather than push the deadline out.
		return "", net.ErrClosed
	}
	ss.conn.SetReadDeadline(time.Now().Add(ss.srv.cfg.IdleTimeout))
	var line []byte
	tooLong := false
	for {
		chunk, err := ss.r.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(chunk) > max {
				tooLong, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return "", err // a line cut by a disconnect is not run
		}
		break
	}
	if tooLong {
		return "", errLineTooLong
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return string(line), nil
}

// reply writes one single-line response: "+OK text" or "-ERR text".
func (ss *session) reply(ok bool, format string, a ...any) {
	ss.lastOK = ok
	if ok {
		ss.w.WriteString("+OK")
	} else {
		ss.w.WriteString("-ERR")
	}
	if format != "" {
		ss.w.WriteByte(' ')
		fmt.Fprintf(ss.w, format, a...)
	}
	ss.w.WriteString("\r\n")
}

// run runs one command under its own context: a deadline, cancelled
// when the client hangs up or the server shuts down.
func (ss *session) run(c command) (done bool) {
	cmd := ss.cc.Command()
	ss.ctx = cmd.Context()
	defer func() {
		cmd.End()
		ss.ctx = ss.cc.Context()
	}()
	return ss.dispatch(c)
}

// dispatch runs one command and reports whether the session is over.
func (ss *session) dispatch(c command) (done bool) {
	switch c.Name {
	case "CAPA":
		ss.capa(c)
	case "QUIT":
		ss.quitCommand(c)
		return true
	case "USER", "PASS", "AUTH", "STLS", "APOP":
		if ss.state != stateAuthorization {
			ss.reply(false, "Already logged in.")
			return false
		}
		switch c.Name {
		case "USER":
			ss.userCommand(c)
		case "PASS":
			return ss.passCommand(c)
		case "AUTH":
			return ss.authCommand(c)
		case "STLS":
			return ss.stls(c)
		case "APOP":
			ss.reply(false, "[AUTH] APOP is not supported; use USER/PASS or AUTH.")
		}
	case "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL":
		if ss.state != stateTransaction {
			ss.reply(false, "%s is not allowed before login (USER/PASS or AUTH first).", c.Name)
			return false
		}
		return ss.transaction(c)
	default:
		ss.reply(false, "Unknown command.")
		return ss.bad()
	}
	return false
}

// loginAllowed applies auth.allow_plaintext_loopback: logins need TLS
// except from loopback clients.
func (ss *session) loginAllowed() bool {
	return auth.LoginAllowed(ss.tls, ss.remote, ss.srv.cfg.AllowPlaintextLoopback)
}

const plaintextRefused = "[AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections; use STLS first."

func (ss *session) capa(c command) {
	if len(c.Args) > 0 {
		ss.reply(false, "CAPA takes no arguments.")
		return
	}
	ss.reply(true, "Capability list follows")
	caps := []string{"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"}
	if ss.state == stateAuthorization {
		if ss.loginAllowed() {
			caps = append(caps, "USER", "SASL "+strings.Join(sasl.Mechanisms(true), " "))
		}
		if ss.srv.cfg.TLS != nil && !ss.tls {
			caps = append(caps, "STLS")
		}
	}
	caps = append(caps, "EXPIRE NEVER", "IMPLEMENTATION mailhost")
	for _, s := range caps {
		ss.w.WriteString(s + "\r\n")
	}
	ss.w.WriteString(".\r\n")
}

func (ss *session) userCommand(c command) {
	name := strings.TrimSpace(c.Rest)
	switch {
	case !ss.loginAllowed():
		ss.reply(false, plaintextRefused)
	case name == "":
		ss.reply(false, "USER needs a user name.")
	default:
		ss.user = name
		ss.reply(true, "Send your password.")
	}
}

func (ss *session) passCommand(c command) bool {
	if !ss.loginAllowed() {
		ss.reply(false, plaintextRefused)
		return false
	}
	if ss.user == "" {
		ss.reply(false, "USER first.")
		return false
	}
	user := ss.user
	ss.user = ""
	return ss.login(user, c.Rest)
}

// authCommand is RFC 5034 AUTH: the sasl package's mechanisms, with an
// initial response or after "+ " continuations.
func (ss *session) authCommand(c command) bool {
	if len(c.Args) == 0 { // RFC 1734's mechanism list, which clients still ask for
		ss.reply(true, "Mechanisms follow")
		for _, m := range sasl.Mechanisms(ss.loginAllowed()) {
			ss.w.WriteString(m + "\r\n")
		}
		ss.w.WriteString(".\r\n")
		return false
	}
	if len(c.Args) > 2 {
		ss.reply(false, "Too many arguments to AUTH.")
		return false
	}
	var over bool // the session is over after the login's reply
	srv, err := sasl.NewServer(c.Args[0], func(cr sasl.Credentials) error {
		over = ss.login(cr.Username, cr.Password)
		return nil // login has replied
	}, nil)
	if err != nil {
		ss.reply(false, "Unsupported authentication mechanism; use %s.", strings.Join(sasl.Mechanisms(true), " or "))
		return false
	}
	if !ss.loginAllowed() {
		ss.reply(false, plaintextRefused)
		return false
	}
	initial := ""
	if len(c.Args) == 2 {
		initial = c.Args[1]
	}
	err = sasl.Run(srv, initial, saslConn{ss})
	switch {
	case err == nil:
		return over
	case errors.Is(err, sasl.ErrCancelled):
		ss.reply(false, "Authentication cancelled.")
	case errors.Is(err, sasl.ErrBase64):
		ss.reply(false, "Invalid SASL response (not base64).")
	case errors.Is(err, sasl.ErrTooLong):
		ss.reply(false, "SASL response too long.")
	case errors.Is(err, sasl.ErrMalformed):
		ss.reply(false, "Invalid SASL %s response.", strings.ToUpper(c.Args[0]))
	case errors.Is(err, sasl.ErrAuthzid):
		ss.reply(false, "[AUTH] Logging in as another user is not supported.")
	default: // the connection failed
		ss.readFailed(err)
		return true
	}
	ss.log.Info("pop3 auth refused", "err", err)
	return false
}

// saslConn carries an exchange's challenges and responses (RFC 5034 4).
type saslConn struct{ ss *session }

func (c saslConn) Challenge(encoded string) (string, error) {
	c.ss.w.WriteString("+ " + encoded + "\r\n")
	if err := c.ss.w.Flush(); err != nil {
		return "", err
	}
	line, err := c.ss.readLine(maxSASLLine)
	if errors.Is(err, errLineTooLong) {
		return "", sasl.ErrTooLong
	}
	return line, err
}

// login checks a user name and password, takes the mailbox's POP3 lock and
// reads the maildrop. It reports whether the session is over.
func (ss *session) login(user, password string) bool {
	acct, err := ss.srv.auth.Login(ss.ctx, auth.LoginRequest{
		Username: user, Password: password, RemoteIP: ss.remote, Protocol: auth.ProtoPOP3,
	})
	switch {
	case errors.Is(err, auth.ErrInvalidCredentials):
		ss.authFails++
		ss.reply(false, "[AUTH] Authentication failed.")
		if ss.authFails >= maxAuthFailures {
			ss.log.Info("pop3 disconnected after failed logins", "failures", ss.authFails)
			return true
		}
		return false
	case errors.Is(err, auth.ErrThrottled):
		ss.reply(false, "[SYS/TEMP] Too many failed logins; try again later.")
		return true
	case ss.ctx.Err() != nil && !errors.Is(context.Cause(ss.ctx), connctx.ErrTimeout):
		return true // the client hung up or the server is stopping
	case err != nil:
		ss.log.Error("pop3 login", "err", err)
		ss.reply(false, "[SYS/TEMP] Temporary server failure; try again later.")
		return false
	}
	log := ss.log.With("user", acct.Address)

	ok, err := ss.srv.locks.TryLock(ss.ctx, acct.MailboxID)
	if err != nil {
		log.Error("pop3 lock mailbox", "err", err)
		ss.reply(false, "[SYS/TEMP] Temporary server failure; try again later.")
		return false
	}
	if !ok {
		ss.srv.m.inUse.Inc()
		log.Info("pop3 login refused: mailbox in use")
		ss.reply(false, "[IN-USE] Mailbox is locked by another POP3 session; try again later.")
		return false
	}
	ss.locked, ss.acct = true, acct
	ss.folder = maildir.Folder{Path: filepath.Join(ss.srv.cfg.MaildirRoot, filepath.FromSlash(acct.Maildir))}
	inbox, err := ss.maildrop(log)
	if err != nil {
		log.Error("pop3 read maildrop", "err", err)
		ss.unlock()
		ss.reply(false, "[SYS/TEMP] Temporary server failure; try again later.")
		return false
	}
	ss.log = log
	ss.inbox = inbox
	ss.deleted = make([]bool, len(inbox.Messages))
	ss.vsizes = make([]int64, len(inbox.Messages))
	for i := range ss.vsizes {
		ss.vsizes[i] = -1
	}
	ss.state = stateTransaction
	log.Info("pop3 login", "messages", len(inbox.Messages), "tls", ss.tls)
	ss.reply(true, "Logged in.")
	return false
}

// stls is RFC 2595 STLS: TLS starts on the same connection.
func (ss *session) stls(c command) bool {
	switch {
	case len(c.Args) > 0:
		ss.reply(false, "STLS takes no arguments.")
		return false
	case ss.tls:
		ss.reply(false, "Command not permitted when TLS active.")
		return false
	case ss.srv.cfg.TLS == nil:
		ss.reply(false, "[SYS/PERM] TLS is not available.")
		return false
	}
	ss.reply(true, "Begin TLS negotiation now.")
	if err := ss.w.Flush(); err != nil {
		return true
	}
	if n := ss.r.Buffered(); n > 0 {
		// Anything sent before the handshake could have been injected by
		// a man in the middle: drop it (CVE-2011-0411 class).
		ss.r.Discard(n)
		ss.log.Info("pop3 discarded input pipelined after STLS", "bytes", n)
	}
	tc := tls.Server(ss.conn, ss.srv.cfg.TLS)
	ss.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tc.HandshakeContext(ss.ctx); err != nil {
		ss.log.Info("pop3 stls handshake failed", "err", err)
		return true
	}
	ss.conn.SetDeadline(time.Time{})
	ss.conn, ss.tls, ss.user = tc, true, ""
	ss.r.Reset(tc)
	ss.w.Reset(deadlineWriter{tc, ss.srv.cfg.IdleTimeout})
	return false
}

// quitCommand ends the session; in the TRANSACTION state it enters the
// UPDATE state and deletes the messages marked with DELE.
func (ss *session) quitCommand(c command) {
	if len(c.Args) > 0 {
		// RFC 1939 gives QUIT no arguments, but a client saying QUIT wants
		// out: do as asked.
		ss.log.Debug("pop3 QUIT with arguments")
	}
	ss.quit = true
	if ss.state != stateTransaction {
		ss.reply(true, "Logging out.")
		return
	}
	n, err := ss.update()
	// The maildrop is released before the answer: a client that logs in
	// again as soon as it has read it must not find its own session's
	// lock still held.
	ss.unlock()
	if err != nil {
		ss.reply(false, "[SYS/TEMP] Deleted messages were not removed; try again later.")
		return
	}
	ss.reply(true, "Logging out, %d messages deleted.", n)
}

// unlock releases the mailbox's POP3 lock.
func (ss *session) unlock() {
	if !ss.locked {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ss.ctx), 10*time.Second)
	defer cancel()
	if err := ss.srv.locks.Unlock(ctx, ss.acct.MailboxID); err != nil {
		ss.log.Warn("pop3 unlock mailbox", "err", err)
	}
	ss.locked = false
}

// end releases the lock and writes the session's mail log line.
func (ss *session) end() {
	ss.unlock()
	if ss.acct.Address == "" {
		ss.log.Debug("pop3 session ended without login", "duration", time.Since(ss.start).Round(time.Millisecond))
		return
	}
	ss.log.Info("pop3 session", "retrieved", ss.retrieved,
		"retrieved_bytes", ss.retrievedBytes, "deleted", ss.deletedCount, "quit", ss.quit,
		"tls", ss.tls, "duration", time.Since(ss.start).Round(time.Millisecond))
}
