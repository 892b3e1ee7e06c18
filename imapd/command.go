package imapd

import (
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-sasl"

	"mailhost/connctx"
)

// cmdSession runs each command of a session on a context of its own:
// go-imap's server has no hook around a command, so every method it calls
// sets session.ctx for its duration (a deadline, cancelled when the client
// hangs up, when the connection closes or the server shuts down) and puts
// the connection's context back after. Between commands, and during IDLE
// (which lasts as long as the client wants), session.ctx is the
// connection's context. The methods themselves are untouched.
type cmdSession struct {
	*session
	cc *connctx.Conn
}

var (
	_ imapserver.SessionIMAP4rev2      = cmdSession{}
	_ imapserver.SessionSASL           = cmdSession{}
	_ imapserver.SessionAppendLimit    = cmdSession{}
	_ imapserver.SessionUnauthenticate = cmdSession{}
)

// begin starts a command; the returned function ends it.
func (c cmdSession) begin() (end func()) {
	cmd := c.cc.Command()
	c.session.ctx = cmd.Context()
	return func() {
		cmd.End()
		c.session.ctx = c.cc.Context()
	}
}

// Close ends the connection's context first, so that work still running
// for it (an IDLE's poll) stops.
func (c cmdSession) Close() error {
	c.cc.Close()
	return c.session.Close()
}

func (c cmdSession) Login(username, password string) error {
	defer c.begin()()
	return c.session.Login(username, password)
}

func (c cmdSession) Authenticate(mech string) (sasl.Server, error) {
	srv, err := c.session.Authenticate(mech)
	if err != nil {
		return nil, err
	}
	return saslCommand{srv, c}, nil
}

// saslCommand runs each step of an AUTHENTICATE exchange (the login is in
// the last) as a command.
type saslCommand struct {
	sasl.Server
	c cmdSession
}

func (s saslCommand) Next(resp []byte) ([]byte, bool, error) {
	defer s.c.begin()()
	return s.Server.Next(resp)
}

func (c cmdSession) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	defer c.begin()()
	return c.session.Select(name, options)
}

func (c cmdSession) Create(name string, options *imap.CreateOptions) error {
	defer c.begin()()
	return c.session.Create(name, options)
}

func (c cmdSession) Delete(name string) error {
	defer c.begin()()
	return c.session.Delete(name)
}

func (c cmdSession) Rename(name, newName string, options *imap.RenameOptions) error {
	defer c.begin()()
	return c.session.Rename(name, newName, options)
}

func (c cmdSession) Subscribe(name string) error {
	defer c.begin()()
	return c.session.Subscribe(name)
}

func (c cmdSession) Unsubscribe(name string) error {
	defer c.begin()()
	return c.session.Unsubscribe(name)
}

func (c cmdSession) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	defer c.begin()()
	return c.session.List(w, ref, patterns, options)
}

func (c cmdSession) Status(name string, options *imap.StatusOptions) (*imap.StatusData, error) {
	defer c.begin()()
	return c.session.Status(name, options)
}

// Append restarts the command's deadline once the message has been read:
// a large upload over a slow link must not eat the time of the database
// work that follows it.
func (c cmdSession) Append(name string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	cmd := c.cc.Command()
	c.session.ctx = cmd.Context()
	defer func() {
		cmd.End()
		c.session.ctx = c.cc.Context()
	}()
	return c.session.Append(name, &uploaded{LiteralReader: r, left: r.Size(), done: cmd.Restart}, options)
}

// uploaded calls done when the last byte of the literal has been read.
type uploaded struct {
	imap.LiteralReader
	left int64
	done func()
}

func (u *uploaded) Read(p []byte) (int, error) {
	n, err := u.LiteralReader.Read(p)
	if u.left > 0 {
		if u.left -= int64(n); u.left <= 0 {
			u.done()
		}
	}
	return n, err
}

func (c cmdSession) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	defer c.begin()()
	return c.session.Poll(w, allowExpunge)
}

func (c cmdSession) Unselect() error {
	defer c.begin()()
	return c.session.Unselect()
}

func (c cmdSession) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	defer c.begin()()
	return c.session.Expunge(w, uids)
}

func (c cmdSession) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	defer c.begin()()
	return c.session.Search(kind, criteria, options)
}

func (c cmdSession) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	defer c.begin()()
	return c.session.Fetch(w, numSet, options)
}

func (c cmdSession) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, options *imap.StoreOptions) error {
	defer c.begin()()
	return c.session.Store(w, numSet, flags, options)
}

func (c cmdSession) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	defer c.begin()()
	return c.session.Copy(numSet, dest)
}

func (c cmdSession) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	defer c.begin()()
	return c.session.Move(w, numSet, dest)
}
