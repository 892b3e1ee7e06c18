package mta

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strings"

	"mailhost/address"
	"mailhost/mailheader"
	"mailhost/mda"
	"mailhost/sasl"
	smtp "mailhost/smtpd"
	"mailhost/store"
)

// Submission turns a listener into a submission server (587 with
// STARTTLS, 465 with implicit TLS): AUTH PLAIN and LOGIN, mail only after
// AUTH, the sender checked against the login, remote recipients queued
// with origin "submission". The zero value is the MX server.
type Submission struct {
	Enabled bool
	// ImplicitTLS makes the listener speak TLS from the first byte (465,
	// RFC 8314); TLS must be set.
	ImplicitTLS bool
	// Auth checks logins (the Authenticator shared with IMAP and POP3).
	Auth sasl.Authenticator
	// AllowPlaintextLoopback offers AUTH without TLS to loopback clients
	// (auth.allow_plaintext_loopback).
	AllowPlaintextLoopback bool
	// ReceivedClientIP puts the client's address and HELO name into the
	// Received header (submission.received_client_ip); off, a user's
	// private address does not leak to the recipients.
	ReceivedClientIP bool
}

var errAuthRequired = smtpErr(530, smtp.EnhancedCode{5, 7, 0}, "Authentication required")

// subSession is a session of a submission listener: the MX session plus
// AUTH (auth.go).
type subSession struct{ *session }

// submissionMail checks MAIL FROM on a submission listener: AUTH first
// (530 5.7.0), then the sender must be the user's (553 5.7.1, Postfix's
// reject_sender_login_mismatch). The null sender is not checked, as in
// Postfix.
func (s *session) submissionMail(fromN string) error {
	if s.acct == nil {
		return s.reject("MAIL", "auth_required", errAuthRequired)
	}
	if fromN == "" {
		return nil
	}
	ok, err := s.ownsAddress(fromN)
	if err != nil {
		return s.temp("MAIL", err)
	}
	if !ok {
		return s.reject("MAIL", "sender_login_mismatch", smtpErr(553, smtp.EnhancedCode{5, 7, 1},
			"<%s>: Sender address rejected: not owned by user %s", fromN, s.acct.Address))
	}
	return nil
}

// ownsAddress reports whether addr (normalised) is the logged-in user's
// own address or one that delivers to their mailbox: through an alias
// domain, the recipient delimiter or an alias.
func (s *session) ownsAddress(addr string) (bool, error) {
	if strings.EqualFold(addr, s.acct.Address) {
		return true, nil
	}
	res, err := s.srv.store.Resolve(s.ctx, addr, s.srv.cfg.RecipientDelimiter)
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrDisabled):
		return false, nil
	case err != nil:
		var moved *store.RelocatedError
		if errors.As(err, &moved) {
			return false, nil
		}
		return false, err
	}
	for _, t := range res.Local {
		if t.MailboxID == s.acct.MailboxID {
			return true, nil
		}
	}
	return false, nil
}

// submissionFrom checks the fields that name the author and the sender
// at the end of DATA and returns the From line to add when the message
// has none. RFC 5322 3.6 allows exactly one From: field, so a second one,
// which a reader might show instead of the checked one, is refused; every
// address in From:, Sender: (3.6.2) and Resent-From: (3.6.6) must be the
// user's, and each such field an address list (553 5.7.1). A field name
// with white space before the colon is that field (mailheader, RFC 5322
// 4.5), so "From :" is checked like "From:".
func (s *session) submissionFrom(h *mailheader.Header) (add string, _ error) {
	switch h.FieldsByKey("From").Len() {
	case 0:
		from := s.from
		if from == "" {
			from = s.acct.Address
		}
		add = "From: <" + from + ">\r\n"
	case 1:
	default:
		return "", s.reject("DATA", "bad_from", smtpErr(553, smtp.EnhancedCode{5, 7, 1},
			"Message must have exactly one From: header (RFC 5322 3.6)"))
	}
	for _, name := range []string{"From", "Sender", "Resent-From"} {
		if err := s.checkAuthorField(h, name); err != nil {
			return "", err
		}
	}
	return add, nil
}

// checkAuthorField refuses a message whose fields called name are not
// address lists or name an address that is not the user's.
func (s *session) checkAuthorField(h *mailheader.Header, name string) error {
	for f := h.FieldsByKey(name); f.Next(); {
		list, err := mailheader.ParseAddressList(f.Value())
		if err != nil || len(list) == 0 {
			return s.reject("DATA", "bad_from", smtpErr(553, smtp.EnhancedCode{5, 7, 1},
				"%s: header is not a valid address list", name))
		}
		for _, a := range list {
			n, err := address.Normalize(a)
			if err != nil {
				return s.reject("DATA", "bad_from", smtpErr(553, smtp.EnhancedCode{5, 7, 1},
					"%s: header is not a valid address list", name))
			}
			ok, err := s.ownsAddress(n)
			if err != nil {
				return s.temp("DATA", err)
			}
			if !ok {
				return s.reject("DATA", "from_login_mismatch", smtpErr(553, smtp.EnhancedCode{5, 7, 1},
					"<%s>: %s: address not owned by user %s", n, name, s.acct.Address))
			}
		}
	}
	return nil
}

// implicitTLS wraps the listener for port 465.
func implicitTLS(s *Server) bool {
	return s.cfg.Submission.Enabled && s.cfg.Submission.ImplicitTLS && s.cfg.TLS != nil
}

func tlsListen(s *Server) *tlsListener {
	return &tlsListener{listener: s.ln, conf: s.cfg.TLS}
}

// tlsListener is the accept loop of an implicit TLS listener; the
// clientConn stays under the tls.Conn so limits and shutdown still work.
type tlsListener struct {
	*listener
	conf *tls.Config
}

func (l *tlsListener) Accept() (net.Conn, error) {
	cc, err := l.listener.Accept()
	if err != nil {
		return nil, err
	}
	return tls.Server(cc, l.conf), nil
}

func (s *session) authUser() string {
	if s.acct == nil {
		return ""
	}
	return s.acct.Address
}

// Config returns the server's configuration, for a sibling listener.
func (s *Server) Config() Config { return s.cfg }

// Sibling returns a server on l with cfg that shares s's store, delivery
// agent and metrics: the submission listeners next to the MX. It counts
// connections against cfg.Limiter, s's own when cfg came from s.Config().
func (s *Server) Sibling(l net.Listener, cfg Config, log *slog.Logger) *Server {
	return NewWithListener(l, cfg, s.store, s.agent, log, s.metrics)
}

// Agent returns the server's delivery agent (shared with the queue
// workers' local deliveries).
func (s *Server) Agent() *mda.Agent { return s.agent }

// CloseListener closes the server's listener without serving it (the MX
// is off but its server carries the submission listeners' shared parts).
func (s *Server) CloseListener() error { return s.ln.Listener.Close() }

// OnQueued sets the function called after a message queued copies.
// Call it before Serve and before Sibling.
func (s *Server) OnQueued(f func()) { s.cfg.Queued = f }

// HandOffTo makes the sessions hand the messages they queue to o's idle
// workers (Config.Handoff). Call it before Serve and before Sibling.
func (s *Server) HandOffTo(o *Outbound) { s.cfg.Handoff = o }
