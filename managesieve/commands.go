package managesieve

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"mailhost/auth"
	"mailhost/connctx"
	"mailhost/sasl"
	"mailhost/sieve"
	"mailhost/store"
)

// dispatch runs one command and reports whether the session is over.
func (ss *session) dispatch(name string, args []arg) bool {
	switch name {
	case "CAPABILITY":
		ss.capabilities()
		ss.ok("", "Capability completed.")
		return false
	case "NOOP":
		if len(args) == 1 && !args[0].atom {
			ss.ok("TAG "+quote(args[0].s), "Done.") // RFC 5804 2.14
			return false
		}
		ss.ok("", "Done.")
		return false
	case "LOGOUT":
		ss.ok("", "Logout completed.")
		return true
	case "STARTTLS":
		return ss.starttls(args)
	case "AUTHENTICATE":
		if ss.acct != nil {
			ss.no("", "Already authenticated.")
			return false
		}
		return ss.authenticate(args)
	case "UNAUTHENTICATE":
		if ss.acct == nil {
			ss.no("", "Not authenticated.")
			return false
		}
		ss.log.Info("managesieve unauthenticate", "user", ss.acct.Address)
		ss.acct = nil
		ss.ok("", "Unauthenticate completed.")
		return false
	}
	cmd, ok := scriptCommands[name]
	if !ok {
		ss.bad++
		ss.no("", "Unknown command %s.", name)
		return ss.bad >= maxBadCommands
	}
	if ss.acct == nil {
		ss.no("", "Authenticate first.")
		return false
	}
	if len(args) < len(cmd.kinds) || len(args) > len(cmd.kinds)+cmd.optional {
		ss.no("", "%s takes %d argument(s).", name, len(cmd.kinds))
		return false
	}
	for i, a := range args {
		if i < len(cmd.kinds) && cmd.kinds[i] == 's' && a.atom {
			ss.no("", "%s: argument %d must be a string.", name, i+1)
			return false
		}
	}
	cmd.run(ss, args)
	return false
}

// scriptCommand is a command of the authenticated state: its arguments
// ('s' string, 'n' number) and what it does.
type scriptCommand struct {
	kinds    string
	optional int
	run      func(ss *session, args []arg)
}

var scriptCommands = map[string]scriptCommand{
	"LISTSCRIPTS":  {"", 0, (*session).listScripts},
	"GETSCRIPT":    {"s", 0, (*session).getScript},
	"PUTSCRIPT":    {"ss", 0, (*session).putScript},
	"CHECKSCRIPT":  {"s", 0, (*session).checkScript},
	"SETACTIVE":    {"s", 0, (*session).setActive},
	"DELETESCRIPT": {"s", 0, (*session).deleteScript},
	"RENAMESCRIPT": {"ss", 0, (*session).renameScript},
	"HAVESPACE":    {"sn", 0, (*session).haveSpace},
}

// authenticate is RFC 5804 2.1: a SASL exchange whose challenges and
// responses are strings.
func (ss *session) authenticate(args []arg) bool {
	if len(args) < 1 || len(args) > 2 || args[0].atom {
		ss.no("", "AUTHENTICATE takes a mechanism name and an optional initial response.")
		return false
	}
	if !ss.loginAllowed() {
		ss.no("ENCRYPT-NEEDED", "Use STARTTLS before authenticating.")
		return false
	}
	var over bool
	srv, err := sasl.NewServer(args[0].s, func(cr sasl.Credentials) error {
		over = ss.login(cr.Username, cr.Password)
		return nil // login has answered
	}, nil)
	if err != nil {
		ss.no("", "Unsupported mechanism; use %s.", strings.Join(sasl.Mechanisms(true), " or "))
		return false
	}
	initial := ""
	if len(args) == 2 {
		initial = args[1].s
		if initial == "" {
			initial = "=" // an empty initial response (RFC 4422 4)
		}
	}
	err = sasl.Run(srv, initial, saslConn{ss})
	switch {
	case err == nil:
		return over
	case errors.Is(err, sasl.ErrCancelled):
		ss.no("", "Authentication cancelled.")
	case errors.Is(err, sasl.ErrBase64), errors.Is(err, sasl.ErrMalformed), isSyntax(err):
		ss.no("", "Invalid SASL response.")
	case errors.Is(err, sasl.ErrTooLong):
		ss.no("", "SASL response too long.")
	case errors.Is(err, sasl.ErrAuthzid):
		ss.no("", "Logging in as another user is not supported.")
	default:
		ss.readFailed(err)
		return true
	}
	return false
}

// saslConn carries challenges as strings and reads the client's answer:
// one string on a line (RFC 5804 2.1).
type saslConn struct{ ss *session }

func (c saslConn) Challenge(encoded string) (string, error) {
	c.ss.w.WriteString(quote(encoded) + "\r\n")
	if err := c.ss.w.Flush(); err != nil {
		return "", err
	}
	args, err := c.ss.rd.command()
	if err != nil {
		return "", err
	}
	if len(args) != 1 || args[0].atom {
		return "", sasl.ErrMalformed
	}
	if args[0].s == "" {
		return "=", nil
	}
	return args[0].s, nil
}

// login checks the credentials through the shared authenticator (and its
// throttle) and reports whether the session is over.
func (ss *session) login(user, password string) bool {
	acct, err := ss.srv.auth.Login(ss.ctx, auth.LoginRequest{
		Username: user, Password: password, RemoteIP: ss.remote, Protocol: auth.ProtoManageSieve,
	})
	switch {
	case errors.Is(err, auth.ErrInvalidCredentials):
		ss.authFails++
		ss.no("", "Authentication failed.")
		if ss.authFails >= maxAuthFailures {
			ss.bye("", "Too many failed logins.")
			return true
		}
		return false
	case errors.Is(err, auth.ErrThrottled):
		ss.bye("TRYLATER", "Too many failed logins; try again later.")
		return true
	case errors.Is(err, auth.ErrBusy):
		ss.no("TRYLATER", "Server busy; try again later.")
		return false
	case ss.ctx.Err() != nil && !errors.Is(context.Cause(ss.ctx), connctx.ErrTimeout):
		return true
	case err != nil:
		ss.log.Error("managesieve login", "err", err)
		ss.no("TRYLATER", "Temporary server failure; try again later.")
		return false
	}
	ss.acct = &acct
	ss.log = ss.log.With("user", acct.Address)
	ss.log.Info("managesieve login", "tls", ss.tls)
	ss.ok("", "Logged in.")
	return false
}

// scriptName checks a script name (RFC 5804 1.6): UTF-8 without control
// characters, at most 128 octets, no '/'.
func (ss *session) scriptName(name string) bool {
	ok := name != "" && len(name) <= 128 && utf8.ValidString(name) && !strings.Contains(name, "/")
	for _, r := range name {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 {
			ok = false
		}
	}
	if !ok {
		ss.no("", "Invalid script name (UTF-8, no control characters or '/', at most 128 octets).")
	}
	return ok
}

// failed answers a backend error the client cannot fix.
func (ss *session) failed(what string, err error) {
	ss.log.Error("managesieve "+what, "err", err)
	ss.no("TRYLATER", "Temporary server failure; try again later.")
}

func (ss *session) listScripts([]arg) {
	list, err := ss.srv.scripts.SieveScripts(ss.ctx, ss.acct.MailboxID)
	if err != nil {
		ss.failed("list", err)
		return
	}
	for _, s := range list {
		ss.w.WriteString(quote(s.Name))
		if s.Active {
			ss.w.WriteString(" ACTIVE")
		}
		ss.w.WriteString("\r\n")
	}
	ss.ok("", "Listscripts completed.")
}

func (ss *session) getScript(args []arg) {
	s, err := ss.srv.scripts.SieveScript(ss.ctx, ss.acct.MailboxID, args[0].s)
	switch {
	case errors.Is(err, store.ErrNotFound):
		ss.no("NONEXISTENT", "There is no script by that name.")
		return
	case err != nil:
		ss.failed("get", err)
		return
	}
	fmt.Fprintf(ss.w, "{%d}\r\n%s\r\n", len(s.Content), s.Content)
	ss.ok("", "Getscript completed.")
}

// check compiles a script and answers NO with the error and its line when
// it is not valid; it reports whether it is.
func (ss *session) check(content string) bool {
	if !utf8.ValidString(content) {
		ss.no("", "Script is not valid UTF-8.")
		return false
	}
	_, err := sieve.Compile(content, sieve.Options{MaxScriptSize: ss.rd.maxLiteral})
	var se *sieve.Error
	if errors.As(err, &se) {
		ss.no("", "line %d: %s", se.Line, se.Msg)
		return false
	}
	return err == nil
}

func (ss *session) checkScript(args []arg) {
	if ss.check(args[0].s) {
		ss.ok("", "Script is valid.")
	}
}

func (ss *session) putScript(args []arg) {
	name, content := args[0].s, args[1].s
	if !ss.scriptName(name) || !ss.check(content) {
		return
	}
	_, err := ss.srv.scripts.PutSieveScript(ss.ctx, ss.acct.MailboxID, name, content, ss.srv.cfg.MaxScripts)
	switch {
	case errors.Is(err, store.ErrTooManyScripts):
		ss.no("QUOTA/MAXSCRIPTS", "At most %d scripts.", ss.srv.cfg.MaxScripts)
		return
	case err != nil:
		ss.failed("put", err)
		return
	}
	ss.log.Info("managesieve putscript", "script", name, "size", len(content))
	ss.ok("", "Putscript completed.")
}

func (ss *session) setActive(args []arg) {
	err := ss.srv.scripts.ActivateSieveScript(ss.ctx, ss.acct.MailboxID, args[0].s)
	switch {
	case errors.Is(err, store.ErrNotFound):
		ss.no("NONEXISTENT", "There is no script by that name.")
	case err != nil:
		ss.failed("setactive", err)
	default:
		ss.log.Info("managesieve setactive", "script", args[0].s)
		ss.ok("", "Setactive completed.")
	}
}

func (ss *session) deleteScript(args []arg) {
	err := ss.srv.scripts.DeleteSieveScript(ss.ctx, ss.acct.MailboxID, args[0].s)
	switch {
	case errors.Is(err, store.ErrNotFound):
		ss.no("NONEXISTENT", "There is no script by that name.")
	case errors.Is(err, store.ErrActiveScript):
		ss.no("ACTIVE", "You may not delete the active script.")
	case err != nil:
		ss.failed("deletescript", err)
	default:
		ss.ok("", "Deletescript completed.")
	}
}

func (ss *session) renameScript(args []arg) {
	if !ss.scriptName(args[1].s) {
		return
	}
	err := ss.srv.scripts.RenameSieveScript(ss.ctx, ss.acct.MailboxID, args[0].s, args[1].s)
	switch {
	case errors.Is(err, store.ErrNotFound):
		ss.no("NONEXISTENT", "There is no script by that name.")
	case errors.Is(err, store.ErrConflict):
		ss.no("ALREADYEXISTS", "A script with the new name already exists.")
	case err != nil:
		ss.failed("renamescript", err)
	default:
		ss.ok("", "Renamescript completed.")
	}
}

// haveSpace is RFC 5804 2.5: would a script of that name and size fit?
func (ss *session) haveSpace(args []arg) {
	size, err := strconv.Atoi(args[1].s)
	if err != nil || size < 0 {
		ss.no("", "HAVESPACE takes a script name and a size.")
		return
	}
	if !ss.scriptName(args[0].s) {
		return
	}
	if size > ss.rd.maxLiteral {
		ss.no("QUOTA/MAXSIZE", "Script too large (at most %d octets).", ss.rd.maxLiteral)
		return
	}
	list, err := ss.srv.scripts.SieveScripts(ss.ctx, ss.acct.MailboxID)
	if err != nil {
		ss.failed("havespace", err)
		return
	}
	exists := false
	for _, s := range list {
		exists = exists || s.Name == args[0].s
	}
	if !exists && len(list) >= ss.srv.cfg.MaxScripts {
		ss.no("QUOTA/MAXSCRIPTS", "At most %d scripts.", ss.srv.cfg.MaxScripts)
		return
	}
	ss.ok("", "Putscript would succeed.")
}
