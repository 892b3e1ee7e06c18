package imapd

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mailhost/auth"
	"mailhost/imapwire"
	"mailhost/maildir"
	"mailhost/sasl"
	"mailhost/store"
)

// loginAllowed reports whether a password may be sent on this connection.
func (s *session) loginAllowed() bool {
	return auth.LoginAllowed(s.isTLS, auth.RemoteIP(s.conn.RemoteAddr()), s.srv.opts.AllowPlaintextLoopback)
}

// capabilities is the CAPABILITY list of the session's state.
func (s *session) capabilities() string {
	if s.state != stateNotAuth {
		return s.srv.caps
	}
	c := s.srv.caps
	if !s.isTLS && s.srv.opts.TLS != nil {
		c += " STARTTLS"
	}
	if s.loginAllowed() {
		for _, m := range sasl.Mechanisms(true) {
			c += " AUTH=" + m
		}
	} else {
		c += " LOGINDISABLED"
	}
	return c
}

func cmdCapability(s *session, _ *imapwire.Command) error {
	s.enc.Raw("* CAPABILITY ").Raw(s.capabilities()).CRLF()
	return nil
}

func cmdNoop(*session, *imapwire.Command) error { return nil }

func cmdLogout(s *session, _ *imapwire.Command) error {
	s.enc.Status("*", "BYE", "", "Logging out")
	s.state = stateLogout
	return nil
}

// cmdID answers ID (RFC 2971) in every state.
func cmdID(s *session, _ *imapwire.Command) error {
	s.enc.Raw(`* ID ("name" "mailhost")`).CRLF()
	return nil
}

func cmdStartTLS(s *session, cmd *imapwire.Command) error {
	if s.isTLS || s.srv.opts.TLS == nil {
		return imapErr("BAD", "", "STARTTLS not available")
	}
	if s.br.Buffered() > 0 { // commands sent before the handshake are an injection
		return &imapError{status: "BAD", text: "Data after STARTTLS", bye: true}
	}
	s.enc.Status(cmd.Tag, "OK", "", "Begin TLS negotiation now")
	if err := s.flush(); err != nil {
		return err
	}
	s.release()
	s.conn = tls.Server(s.conn, s.srv.opts.TLS)
	s.isTLS = true
	if err := s.handshake(); err != nil {
		return &imapError{status: "BAD", text: "TLS handshake failed", bye: true}
	}
	s.take()
	return errSilent
}

// errSilent ends a command whose answer was written already.
var errSilent = &imapError{status: "", text: ""}

func cmdLogin(s *session, cmd *imapwire.Command) error {
	if !s.loginAllowed() {
		return imapErr("NO", "PRIVACYREQUIRED", "LOGIN requires TLS (use STARTTLS)")
	}
	a := cmd.Args.(imapwire.Login)
	return s.login(a.User, a.Password)
}

func (s *session) login(username, password string) error {
	acct, err := s.srv.opts.Auth.Login(s.ctx, auth.LoginRequest{
		Username: username, Password: password,
		RemoteIP: auth.RemoteIP(s.conn.RemoteAddr()),
		Protocol: auth.ProtoIMAP,
	})
	switch {
	case errors.Is(err, auth.ErrInvalidCredentials):
		return imapErr("NO", "AUTHENTICATIONFAILED", "Invalid credentials")
	case errors.Is(err, auth.ErrThrottled):
		return imapErr("NO", "UNAVAILABLE", "Too many failed logins, try again later")
	case err != nil:
		s.logger().Error("imap: login", "err", err)
		return imapErr("NO", "UNAVAILABLE", "Temporary failure, try again later")
	}
	rel := filepath.Clean(acct.Maildir)
	if filepath.IsAbs(rel) || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return s.internal("login", errors.New("bad maildir path "+acct.Maildir))
	}
	s.acct = acct
	s.mbox = maildir.Mailbox{Path: filepath.Join(s.srv.opts.MaildirRoot, rel), Owner: s.srv.opts.Owner,
		Sep: '/', Names: s.srv.opts.Names}
	if err := s.ensureInbox(); err != nil {
		s.acct = auth.Account{}
		return s.internal("prepare mailbox", err)
	}
	s.state = stateAuth
	s.okCode = "CAPABILITY " + s.srv.caps
	s.logger().Info("imap login")
	return nil
}

// ensureInbox makes sure the mailbox has its Maildir and an INBOX row (a
// mailbox provisioned before its first message may have neither).
func (s *session) ensureInbox() error {
	if _, err := os.Stat(filepath.Join(s.mbox.Path, "cur")); errors.Is(err, fs.ErrNotExist) {
		local, domain, ok := strings.Cut(s.acct.Address, "@")
		if !ok {
			return errors.New("address without @")
		}
		path, err := maildir.MailboxPath(s.srv.opts.MaildirRoot, domain, local)
		if err != nil || path != s.mbox.Path {
			return errors.New("maildir " + s.mbox.Path + " is missing")
		}
		if _, err := maildir.Create(s.srv.opts.MaildirRoot, domain, local, s.srv.opts.Owner); err != nil {
			return err
		}
	}
	_, err := s.srv.opts.Backend.IMAPFolder(s.ctx, s.acct.MailboxID, "INBOX")
	if errors.Is(err, store.ErrNotFound) {
		_, err = s.srv.opts.Backend.CreateIMAPFolder(s.ctx, s.acct.MailboxID, "INBOX", "")
		if errors.Is(err, store.ErrConflict) {
			err = nil
		}
	}
	return err
}

// cmdAuthenticate runs a SASL exchange (RFC 9051 6.2.2, SASL-IR RFC 4959)
// through the sasl package, checking the credentials as LOGIN does.
func cmdAuthenticate(s *session, cmd *imapwire.Command) error {
	a := cmd.Args.(imapwire.Authenticate)
	if !s.loginAllowed() {
		return imapErr("NO", "PRIVACYREQUIRED", "Authentication requires TLS (use STARTTLS)")
	}
	var loginErr error
	srv, err := sasl.NewServer(a.Mech, func(c sasl.Credentials) error {
		loginErr = s.login(c.Username, c.Password)
		return loginErr
	}, nil)
	if errors.Is(err, sasl.ErrUnknownMechanism) {
		return imapErr("NO", "CANNOT", "Unsupported authentication mechanism")
	}
	if err != nil {
		return s.internal("authenticate", err)
	}
	initial := ""
	if a.HasInitial {
		initial = a.Initial
	}
	err = sasl.Run(srv, initial, saslConn{s})
	switch {
	case err == nil:
		return nil
	case loginErr != nil && errors.Is(err, loginErr):
		return loginErr
	case errors.Is(err, sasl.ErrCancelled):
		return imapErr("BAD", "", "AUTHENTICATE cancelled")
	case errors.Is(err, sasl.ErrAuthzid):
		return imapErr("NO", "AUTHORIZATIONFAILED", "Logging in as another user is not supported")
	case errors.Is(err, sasl.ErrTooLong):
		return imapErr("BAD", "", "SASL response too long")
	case errors.Is(err, sasl.ErrMalformed), errors.Is(err, sasl.ErrBase64):
		return imapErr("BAD", "", "Malformed SASL response")
	}
	return err // the connection
}

// saslConn sends challenges as continuation requests and reads the
// client's lines.
type saslConn struct{ s *session }

func (c saslConn) Challenge(encoded string) (string, error) {
	c.s.enc.Raw("+ ").Raw(encoded).CRLF()
	if err := c.s.flush(); err != nil {
		return "", err
	}
	line, err := c.s.dec.ReadLine()
	if err != nil {
		if errors.Is(err, imapwire.ErrLineTooLong) {
			return "", sasl.ErrTooLong
		}
		return "", err
	}
	return line, nil
}

var _ = base64.StdEncoding

func cmdEnable(s *session, cmd *imapwire.Command) error {
	var on []string
	for _, c := range cmd.Args.([]string) {
		switch c {
		case "IMAP4REV2":
			if !s.rev2 {
				s.rev2 = true
				s.enc.UTF8 = true // mailbox names and strings in UTF-8 (RFC 9051 5.1)
				on = append(on, "IMAP4rev2")
			}
		case "UTF8=ACCEPT":
			if !s.utf8 {
				s.utf8 = true
				s.enc.UTF8 = true
				on = append(on, "UTF8=ACCEPT")
			}
		default:
			if name := s.enableSync(c); name != "" {
				on = append(on, name)
			}
		}
	}
	s.enc.Raw("* ENABLED")
	for _, c := range on {
		s.enc.SP().Raw(c)
	}
	s.enc.CRLF()
	return nil
}

func cmdNamespace(s *session, _ *imapwire.Command) error {
	s.enc.Raw(`* NAMESPACE (("" "/")) NIL NIL`).CRLF()
	return nil
}

// cmdIdle waits for DONE, writing the folder's changes as they come. The
// wait holds no buffer and no goroutine of its own: a notice sets the
// socket's read deadline to now, which ends the wait for the client's
// next byte (see waitFirst).
func cmdIdle(s *session, cmd *imapwire.Command) error {
	s.enc.Raw("+ idling").CRLF()
	if err := s.flush(); err != nil {
		return err
	}
	if _, ok := s.conn.(*deflateConn); ok && s.sel != nil {
		return s.idleCompressed()
	}
	if s.sel != nil {
		s.sel.sub.SetWake(func() {
			s.wake.Store(true)
			s.conn.SetReadDeadline(time.Now())
		})
		defer func() {
			s.sel.sub.SetWake(nil)
			s.wake.Store(false)
			s.conn.SetReadDeadline(s.idleUntil)
		}()
		s.idlePoll()
	}
	for {
		if s.br == nil || s.br.Buffered() == 0 {
			s.release()
			err := s.Idle()
			if errors.Is(err, errAutologout) {
				s.takeWriter()
				return &imapError{status: "BYE", text: "Autologout: idle for too long", bye: true}
			}
			if errors.Is(err, errWoken) {
				s.idlePoll()
				continue
			}
			if err != nil {
				return err
			}
			s.take()
		}
		line, err := s.dec.ReadLine()
		if err != nil {
			return err
		}
		if strings.EqualFold(line, "DONE") {
			return nil
		}
		return imapErr("BAD", "", "Expected DONE")
	}
}

// Idle is where an idling session waits (named so in goroutine dumps).
func (s *session) Idle() error { return s.waitFirst() }

// idlePoll writes the changes of the selected folder during IDLE.
func (s *session) idlePoll() {
	s.idleWrite()
	if s.br == nil || s.br.Buffered() == 0 {
		s.release()
	}
}

// idleWrite polls and writes what changed; it touches only the writer.
func (s *session) idleWrite() {
	if s.sel == nil {
		return
	}
	select {
	case <-s.sel.sub.C:
	default:
	}
	s.takeWriter()
	c := s.cc.Command()
	s.ctx = c.Context()
	if err := s.poll(true, true, true); err != nil {
		s.logger().Warn("imap: poll during IDLE", "err", err)
	}
	c.End()
	s.ctx = s.cc.Context()
	s.flush()
	s.releaseWriter()
}

// idleCompressed is IDLE under COMPRESS=DEFLATE. The decompressor may
// hold the client's bytes where no socket deadline can reach them, so
// here a goroutine of its own writes the notices while the session's
// reads the client's DONE; the two touch different halves (the writer,
// the reader) until the reader has its line and stops the other.
func (s *session) idleCompressed() error {
	s.idleWrite()
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			case <-s.sel.sub.C:
				s.idleWrite()
			}
		}
	}()
	line, err := s.dec.ReadLine()
	close(done)
	<-finished
	s.takeWriter()
	if err != nil {
		return err
	}
	if !strings.EqualFold(line, "DONE") {
		return imapErr("BAD", "", "Expected DONE")
	}
	return nil
}
