package smtpd

import (
	"errors"
	"fmt"
)

// EnhancedCode is an enhanced status code (RFC 3463): class, subject,
// detail.
type EnhancedCode [3]int

// NoEnhancedCode marks a reply sent without an enhanced status code: the
// greeting, 334 challenges, 354, and HELO/EHLO's 250 (RFC 2034 3 leaves
// them out).
var NoEnhancedCode = EnhancedCode{-1, -1, -1}

// SMTPError is a reply: what a Session returns to refuse a command (or, for
// DATA, to give the final reply), written as "Code E.E.E Message".
type SMTPError struct {
	Code         int
	EnhancedCode EnhancedCode
	Message      string
}

func (e *SMTPError) Error() string { return fmt.Sprintf("SMTP error %03d: %s", e.Code, e.Message) }

// Temporary reports a 4xx reply.
func (e *SMTPError) Temporary() bool { return e.Code/100 == 4 }

func reply(code int, ec EnhancedCode, msg string) *SMTPError {
	return &SMTPError{Code: code, EnhancedCode: ec, Message: msg}
}

// Replies worded as Postfix's smtpd words them, so that clients, scripts
// and people who know Postfix's replies read ours alike.
var (
	replyMailOK = reply(250, EnhancedCode{2, 1, 0}, "Ok")
	replyRcptOK = reply(250, EnhancedCode{2, 1, 5}, "Ok")
	replyOK     = reply(250, EnhancedCode{2, 0, 0}, "Ok")
	replyBye    = reply(221, EnhancedCode{2, 0, 0}, "Bye")
	replyData   = reply(354, NoEnhancedCode, "End data with <CR><LF>.<CR><LF>")
	replyTLS    = reply(220, EnhancedCode{2, 0, 0}, "Ready to start TLS")
	replyAuthOK = reply(235, EnhancedCode{2, 7, 0}, "Authentication successful")
	// VRFY is answered without looking the address up (RFC 5321 3.5.3:
	// 252, the address is neither confirmed nor denied).
	replyVrfy = reply(252, EnhancedCode{2, 0, 0}, "Cannot VRFY user, but will accept message and attempt delivery")

	// The defaults a Session's plain error becomes; its text never
	// reaches the client.
	replyTransient = reply(451, EnhancedCode{4, 3, 0}, "Error: queue file write error")
	replyAuthTemp  = reply(454, EnhancedCode{4, 7, 0}, "Temporary authentication failure")
)

// The refusals the protocol layer makes itself; each is given to
// Backend.Refused (to log and count) with its Reason.
var (
	ErrNeedHelo       = reply(503, EnhancedCode{5, 5, 1}, "Error: send HELO/EHLO first")
	ErrNeedMail       = reply(503, EnhancedCode{5, 5, 1}, "Error: need MAIL command")
	ErrNeedRcpt       = reply(503, EnhancedCode{5, 5, 1}, "Error: need RCPT command")
	ErrNestedMail     = reply(503, EnhancedCode{5, 5, 1}, "Error: nested MAIL command")
	ErrNoRecipients   = reply(554, EnhancedCode{5, 5, 1}, "Error: no valid recipients")
	ErrUnknownCommand = reply(500, EnhancedCode{5, 5, 2}, "Error: command not recognized")
	ErrBadSyntax      = reply(500, EnhancedCode{5, 5, 2}, "Error: bad syntax")
	ErrLineTooLong    = reply(500, EnhancedCode{5, 5, 0}, "Error: line too long")
	ErrMailSyntax     = reply(501, EnhancedCode{5, 5, 4}, "Syntax: MAIL FROM:<address>")
	ErrRcptSyntax     = reply(501, EnhancedCode{5, 5, 4}, "Syntax: RCPT TO:<address>")
	ErrSizeExceeded   = reply(552, EnhancedCode{5, 3, 4}, "Message size exceeds fixed limit")
	ErrTooManyRcpts   = reply(452, EnhancedCode{4, 5, 3}, "Error: too many recipients")
	ErrAuthAborted    = reply(501, EnhancedCode{5, 7, 0}, "Authentication aborted")
	ErrAuthTooLong    = reply(500, EnhancedCode{5, 5, 6}, "SASL response limit exceeded")
	ErrAuthFailed     = reply(535, EnhancedCode{5, 7, 8}, "Error: authentication failed")
	// ErrAuthUnknownMechanism is RFC 4954 4's reply to a mechanism the
	// server does not offer.
	ErrAuthUnknownMechanism = reply(504, EnhancedCode{5, 5, 4}, "Unrecognized authentication type")
)

// ErrDataTooLarge and ErrTooLongLine are what the message reader given
// to Session.Data returns when the message outgrows Server.MaxMessageBytes
// or a line Server.MaxLineLength; the Session answers them (after which
// the rest of the message is read and thrown away, or, for a long line,
// the connection closes once the reply is out).
var (
	ErrDataTooLarge = errors.New("smtpd: message larger than the size limit")
	ErrTooLongLine  = errors.New("smtpd: line longer than the limit")
)

// replyError is err as the reply to send: an *SMTPError as it is, else
// def (a session's internal error is logged by the session, never shown).
func replyError(err error, def *SMTPError) *SMTPError {
	var e *SMTPError
	if errors.As(err, &e) {
		return e
	}
	return def
}
