package smtpd

import (
	"errors"
	"strings"

	"mailhost/sasl"
)

// auth runs AUTH (RFC 4954) through the sasl package: the Session's
// AuthSession gives the mechanism's server, whose errors are its
// replies; what the exchange's lines get wrong is answered here, worded
// as Postfix's.
func (c *Conn) auth(arg string) {
	as, ok := c.session.(AuthSession)
	var r *SMTPError
	switch {
	case c.session == nil:
		r = ErrNeedHelo
	case !ok:
		r = reply(503, EnhancedCode{5, 5, 1}, "Error: authentication not enabled")
	case c.authed:
		r = reply(503, EnhancedCode{5, 5, 1}, "Error: already authenticated")
	case c.inTx:
		r = reply(503, EnhancedCode{5, 5, 1}, "Error: MAIL transaction in progress")
	}
	if r != nil {
		c.refuse(Refusal{Command: "AUTH", Reason: "bad_sequence", Reply: r})
		return
	}
	f := strings.Fields(arg)
	if len(f) == 0 || len(f) > 2 {
		c.refuse(Refusal{Command: "AUTH", Reason: "bad_syntax", Reply: reply(501, EnhancedCode{5, 5, 4}, "Syntax: AUTH mechanism")})
		return
	}
	srv, err := as.Auth(f[0])
	if err != nil {
		c.writeReply(replyError(err, replyAuthTemp))
		return
	}
	initial := ""
	if len(f) == 2 {
		initial = f[1]
	}
	ch := &challenger{c: c}
	err = sasl.Run(srv, initial, ch)
	var e *SMTPError
	switch {
	case err == nil:
		c.authed = true
		c.writeReply(replyAuthOK)
	case errors.As(err, &e):
		c.writeReply(e)
	case errors.Is(err, errLineTooLong):
		c.refuse(Refusal{Command: "AUTH", Reason: "line_too_long", Reply: ErrLineTooLong})
		c.quit = true
	case errors.Is(err, sasl.ErrCancelled):
		c.refuse(Refusal{Command: "AUTH", Reason: "auth_aborted", Reply: ErrAuthAborted})
	case errors.Is(err, sasl.ErrBase64):
		which := "initial"
		if ch.sent {
			which = "continued"
		}
		c.refuse(Refusal{Command: "AUTH", Reason: "auth_bad_base64",
			Reply: reply(501, EnhancedCode{5, 5, 2}, "Invalid base64 data in "+which+" response")})
	case errors.Is(err, sasl.ErrTooLong):
		c.refuse(Refusal{Command: "AUTH", Reason: "auth_too_long", Reply: ErrAuthTooLong})
	case errors.Is(err, errConn):
		c.quit = true
	default:
		c.writeReply(replyAuthTemp)
	}
}

var (
	errLineTooLong = errors.New("smtpd: AUTH response line over the line limit")
	errConn        = errors.New("smtpd: connection failed during AUTH")
)

// challenger sends a challenge as a 334 reply and reads the response.
type challenger struct {
	c    *Conn
	sent bool // a challenge went out: a bad response is not the initial one
}

func (ch *challenger) Challenge(encoded string) (string, error) {
	ch.sent = true
	ch.c.writeReply(reply(334, NoEnhancedCode, encoded))
	line, err := ch.c.readLine() // flushes the 334: nothing else is pending
	switch {
	case errors.Is(err, ErrTooLongLine):
		return "", errLineTooLong
	case err != nil:
		return "", errConn
	}
	return line, nil
}
