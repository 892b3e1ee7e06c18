package mta

import (
	"errors"

	"mailhost/auth"
	"mailhost/sasl"
	smtp "mailhost/smtpd"
)

// AUTH on submission (RFC 4954): the mechanisms and the exchange are the
// sasl package's; this file gives them SMTP's replies. smtpd reads the
// exchange's lines (sasl.Run) and answers what the lines get wrong
// itself: "*" (501 5.7.0 Authentication aborted), a response that is not
// base64 (501 5.5.2), a line over the limit.

var (
	errAuthThrottle = smtpErr(454, smtp.EnhancedCode{4, 7, 0}, "Too many failed logins, try again later")
	errAuthTemp     = smtpErr(454, smtp.EnhancedCode{4, 7, 0}, "Temporary authentication failure")
	errEncryption   = smtpErr(538, smtp.EnhancedCode{5, 7, 11}, "Encryption required for requested authentication mechanism")
	// RFC 4954 4: a response the mechanism cannot read is a syntax error.
	errAuthMalformed = smtpErr(501, smtp.EnhancedCode{5, 5, 2}, "Malformed authentication response")
	// RFC 4954 6.
	errAuthTooLong = smtp.ErrAuthTooLong // Postfix's words, also for a line smtpd finds too long
	errAuthzid     = smtpErr(535, smtp.EnhancedCode{5, 7, 8}, "Authentication failed: logging in as another user is not supported")
)

var (
	_ smtp.AuthSession  = subSession{}
	_ smtp.HelloSession = (*session)(nil)
)

func (s subSession) loginAllowed() bool {
	_, isTLS := s.conn.TLSConnectionState()
	return auth.LoginAllowed(isTLS, s.cc.ip, s.srv.cfg.Submission.AllowPlaintextLoopback)
}

// AuthMechanisms is what EHLO offers: nothing before TLS, except to a
// loopback client when that is allowed (Dovecot's rule, as for IMAP/POP3).
func (s subSession) AuthMechanisms() []string {
	return sasl.Mechanisms(s.loginAllowed())
}

// Auth starts an exchange of mech: the sasl package's server, checking
// the credentials with the shared Authenticator.
func (s subSession) Auth(mech string) (sasl.Server, error) {
	if !s.loginAllowed() {
		return nil, errEncryption
	}
	srv, err := sasl.NewServer(mech, func(c sasl.Credentials) error {
		return s.login(c.Username, c.Password)
	}, s.refuseAuth)
	if errors.Is(err, sasl.ErrUnknownMechanism) {
		return nil, smtp.ErrAuthUnknownMechanism // 504 5.7.4
	}
	return srv, err
}

// refuseAuth answers an exchange the client got wrong.
func (s subSession) refuseAuth(err error) error {
	switch {
	case errors.Is(err, sasl.ErrAuthzid):
		return s.authFailed(err.Error(), errAuthzid)
	case errors.Is(err, sasl.ErrTooLong):
		return s.authFailed(err.Error(), errAuthTooLong)
	default: // sasl.ErrMalformed
		return s.authFailed(err.Error(), errAuthMalformed)
	}
}

// authFailed logs and counts a failed AUTH and returns reply: never which
// part of the credentials was wrong.
func (s subSession) authFailed(why string, reply *smtp.SMTPError) error {
	s.srv.metrics.Rejected.WithLabelValues("auth_failed").Inc()
	s.log.Info("auth failed", "reason", why, "code", reply.Code)
	s.cc.errors.Add(1)
	return reply
}

func (s subSession) login(username, password string) error {
	defer s.begin(s.cc.ctx.Command())()
	acct, err := s.srv.cfg.Submission.Auth.Login(s.ctx, auth.LoginRequest{
		Username: username, Password: password, RemoteIP: s.cc.ip, Protocol: auth.ProtoSMTP})
	switch {
	case errors.Is(err, auth.ErrInvalidCredentials):
		return s.authFailed("invalid credentials", smtp.ErrAuthFailed) // 535 5.7.8
	case errors.Is(err, auth.ErrThrottled):
		s.srv.metrics.Rejected.WithLabelValues("auth_throttled").Inc()
		s.log.Warn("auth throttled", "user", username)
		return errAuthThrottle
	case err != nil:
		s.log.Error("auth: temporary failure", "err", err)
		return errAuthTemp
	}
	s.acct = &acct
	s.log = s.log.With("user", acct.Address)
	s.log.Info("authenticated") // the user is in s.log now: once per line
	return nil
}
