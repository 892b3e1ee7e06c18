package imapd

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"mailhost/auth"
	"mailhost/connctx"
	"mailhost/maildir"
	"mailhost/sasl"
	"mailhost/store"
)

// session is one IMAP connection. It is kept small: an idle connection
// costs go-imap's buffers and goroutine, this struct and, when a folder is
// selected, 4 bytes per message of the UID list.
type session struct {
	srv  *Server
	conn *imapserver.Conn
	id   uint64
	// ctx is the running command's context (cmdSession), else the
	// connection's.
	ctx context.Context

	acct auth.Account
	mbox maildir.Mailbox
	sel  *selected

	// idling is held by Idle while it runs. imapserver runs Idle on a
	// goroutine of its own and, when the connection breaks during IDLE,
	// calls Close without waiting for Idle to return: Close takes idling
	// first, so it never changes sel under a running Idle.
	idling sync.Mutex
}

var (
	_ imapserver.SessionIMAP4rev2      = (*session)(nil)
	_ imapserver.SessionSASL           = (*session)(nil)
	_ imapserver.SessionAppendLimit    = (*session)(nil)
	_ imapserver.SessionUnauthenticate = (*session)(nil)
)

func (s *Server) newSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	cc := connctx.New(s.ctx, c.NetConn(), s.opts.CommandTimeout)
	return cmdSession{&session{srv: s, conn: c, id: s.connID.Add(1), ctx: cc.Context()}, cc}, nil, nil
}

// logger returns the connection's logger; built on demand so an idle
// session holds none.
func (s *session) logger() *slog.Logger {
	l := s.srv.log.With("conn", s.id, "remote", s.conn.NetConn().RemoteAddr().String())
	if s.acct.Address != "" {
		l = l.With("user", s.acct.Address)
	}
	return l
}

// internal logs err and returns the generic answer to the client: the
// details stay in the log. A command whose context ended (its deadline,
// the client gone, shutdown) is answered as a temporary failure.
func (s *session) internal(what string, err error) error {
	if s.ctx.Err() != nil {
		s.logger().Info("imap: "+what+": command cancelled", "cause", context.Cause(s.ctx), "err", err)
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable,
			Text: "Command cancelled, try again later"}
	}
	s.logger().Error("imap: "+what, "err", err)
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeServerBug,
		Text: "Internal error, try again later"}
}

func (s *session) Close() error {
	s.idling.Lock()
	defer s.idling.Unlock()
	if s.sel != nil {
		s.sel.close()
		s.sel = nil
	}
	return nil
}

func (s *session) Login(username, password string) error {
	return offStack(func() error { return s.login(username, password) })
}

func (s *session) login(username, password string) error {
	acct, err := s.srv.opts.Auth.Login(s.ctx, auth.LoginRequest{
		Username: username, Password: password,
		RemoteIP: auth.RemoteIP(s.conn.NetConn().RemoteAddr()),
		Protocol: auth.ProtoIMAP,
	})
	switch {
	case errors.Is(err, auth.ErrInvalidCredentials):
		return imapserver.ErrAuthFailed
	case errors.Is(err, auth.ErrThrottled):
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable,
			Text: "Too many failed logins, try again later"}
	case err != nil:
		s.logger().Error("imap: login", "err", err)
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable,
			Text: "Temporary failure, try again later"}
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

func (s *session) Unauthenticate() error {
	s.Close()
	s.acct = auth.Account{}
	s.mbox = maildir.Mailbox{}
	return nil
}

// AuthenticateMechanisms is what CAPABILITY advertises as AUTH=;
// imapserver asks only where a login is allowed (TLS, or the loopback
// server's clear text), so every mechanism is offered.
func (s *session) AuthenticateMechanisms() []string { return sasl.Mechanisms(true) }

// Authenticate starts an exchange of mech: the sasl package's server,
// checking the credentials as LOGIN does. imapserver reads the exchange's
// lines and answers "*" and a continuation that is not base64 with BAD
// (RFC 9051 6.2.2); an initial response that is not base64 it answers
// NO [SERVERBUG].
func (s *session) Authenticate(mech string) (sasl.Server, error) {
	srv, err := sasl.NewServer(mech, func(c sasl.Credentials) error {
		return s.Login(c.Username, c.Password)
	}, refuseAuth)
	if errors.Is(err, sasl.ErrUnknownMechanism) {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot,
			Text: "Unsupported authentication mechanism"}
	}
	return srv, err
}

// refuseAuth answers an exchange the client got wrong: BAD for what
// cannot be read (as imapserver answers bad base64), NO
// [AUTHORIZATIONFAILED] for acting as another user.
func refuseAuth(err error) error {
	switch {
	case errors.Is(err, sasl.ErrAuthzid):
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthorizationFailed,
			Text: "Logging in as another user is not supported"}
	case errors.Is(err, sasl.ErrTooLong):
		return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "SASL response too long"}
	default: // sasl.ErrMalformed
		return &imap.Error{Type: imap.StatusResponseTypeBad, Text: "Malformed SASL response"}
	}
}

func (s *session) AppendLimit() uint32 { return uint32(s.srv.opts.AppendLimit) }

func (s *session) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{Personal: []imap.NamespaceDescriptor{{Prefix: "", Delim: '/'}}}, nil
}

// offStack runs fn on a short-lived goroutine and waits for it. Work with
// deep call chains (password hashing, pgx) grows the stack of the goroutine
// it runs on, and the stacks of a connection's long-lived goroutines stay
// grown while the connection idles; a helper's stack is freed when it ends.
// This keeps an idle connection near its minimal stacks.
func offStack(fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	return <-done
}
