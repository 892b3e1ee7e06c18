package mta

import (
	"errors"
	"fmt"

	"mailhost/store"
)

// envelope is the MAIL and RCPT commands of j to rcpts over c, with the
// parameters c's extensions take; dsn says they include DSN's (RFC 3461).
func envelope(c *outConn, j store.QueueJob, rcpts []store.QueueJobRecipient) (cmds []command, dsn bool) {
	params := ""
	if c.has("SIZE") {
		params += fmt.Sprintf(" SIZE=%d", len(j.Body))
	}
	if c.has("8BITMIME") {
		params += " BODY=8BITMIME"
	}
	if needsUTF8(j, rcpts) && c.has("SMTPUTF8") {
		params += " SMTPUTF8"
	}
	dsn = c.has("DSN")
	if dsn && j.Ret != "" {
		params += " RET=" + j.Ret
	}
	if dsn && j.EnvID != "" {
		params += " ENVID=" + xtext(j.EnvID)
	}
	cmds = make([]command, 0, len(rcpts)+2) // room for DATA, when pipelined
	cmds = append(cmds, command{"MAIL", 250, "MAIL FROM:<" + j.Sender + ">" + params})
	for _, r := range rcpts {
		p := ""
		if dsn && r.Notify != "" {
			p += " NOTIFY=" + r.Notify
		}
		if dsn && r.OrigRecipient != "" {
			p += " ORCPT=" + orcptParam(r.OrigRecipientType, r.OrigRecipient) // dsnparams.go
		}
		cmds = append(cmds, command{"RCPT", 250, "RCPT TO:<" + r.Address + ">" + p})
	}
	return cmds, dsn
}

// commands sends the envelope cmds (MAIL first) and returns each one's
// failure. pipe (the peer offers PIPELINING): DATA follows them in the
// same write (RFC 2920 3.1: last of the group), its reply is the last
// of errs. Else one at a time (RFC 5321), stopping at a refused MAIL or
// a lost connection: the commands not sent have the same failure.
func (c *outConn) commands(cmds []command, pipe bool) (errs []error) {
	if pipe {
		return c.pipeline(append(cmds, command{"DATA", 354, "DATA"}))
	}
	errs = make([]error, len(cmds))
	for i, cmd := range cmds {
		if _, errs[i] = c.cmd(cmd.stage, cmd.want, "%s", cmd.line); errs[i] == nil {
			continue
		}
		var re *replyError
		if i == 0 || !errors.As(errs[i], &re) {
			return failFrom(errs, i, errs[i])
		}
	}
	return errs
}

// endRefused ends a transaction whose recipients were all refused and
// says whether c can carry another message. RSET ends it (RFC 5321
// 4.1.1.5), lock-step or after the refusal of the pipelined DATA (its
// dataErr). A server that answered the pipelined DATA with 354 all the
// same gets the lone dot (RFC 2920 3.1): no message goes to nobody, and
// the reply to the dot ends the transaction.
func (c *outConn) endRefused(pipe bool, dataErr error) bool {
	if pipe {
		if dataErr == nil {
			err := c.body(nil)
			return err == nil || ended(err)
		}
		if gone(dataErr) {
			return false
		}
	}
	_, err := c.cmd("RSET", 250, "RSET")
	return err == nil
}
