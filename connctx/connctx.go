// Package connctx gives the sessions of the protocol servers (SMTP, IMAP,
// POP3) their contexts: one per client connection, derived from the
// server's run context and cancelled when the connection ends, and one per
// command, with a deadline, that also ends when the client hangs up while
// the command runs. A query a session sends to the database with these
// contexts is cancelled on the server (store asks PostgreSQL to cancel it)
// as soon as nobody waits for its answer.
package connctx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"
)

// DefaultTimeout is a command's deadline when none is configured
// (limits.command_timeout).
const DefaultTimeout = 2 * time.Minute

// checkEvery is how often a running command looks whether its client is
// still connected. A command shorter than this never looks.
const checkEvery = 250 * time.Millisecond

// The causes of a cancelled context (context.Cause).
var (
	ErrClosed  = errors.New("connection closed")
	ErrHangup  = errors.New("client hung up")
	ErrTimeout = fmt.Errorf("command timed out: %w", context.DeadlineExceeded)
	errEnded   = errors.New("command ended")
)

// Conn is the context of one client connection.
type Conn struct {
	ctx     context.Context
	cancel  context.CancelCauseFunc
	raw     syscall.RawConn // the socket, to watch for a hang-up; nil if none
	timeout time.Duration
}

// New returns the context of connection c, a child of the server's run
// context parent (so that a shutdown cancels it); timeout is the deadline
// of each command (0: DefaultTimeout). c may be a TLS connection or a
// wrapper with a NetConn method; the socket underneath is watched.
func New(parent context.Context, c net.Conn, timeout time.Duration) *Conn {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithCancelCause(parent)
	return &Conn{ctx: ctx, cancel: cancel, raw: rawConn(c), timeout: timeout}
}

// Context is the connection's context: it ends when the connection closes
// or the server shuts down. Work between commands (an IMAP IDLE) uses it.
func (c *Conn) Context() context.Context { return c.ctx }

// Close cancels the connection's context and every command's.
func (c *Conn) Close() { c.cancel(ErrClosed) }

// Command starts one command: its context ends at its deadline, when the
// client hangs up, when the connection closes or the server shuts down,
// or at End.
func (c *Conn) Command() *Command { return c.start(c.ctx) }

// Finishing starts a command that a shutdown does not cancel: one the
// server lets finish when it stops (an SMTP DATA already received). Its
// deadline and a hang-up still end it.
func (c *Conn) Finishing() *Command { return c.start(context.WithoutCancel(c.ctx)) }

func (c *Conn) start(parent context.Context) *Command {
	ctx, cancel := context.WithCancelCause(parent)
	m := &Command{ctx: ctx, cancel: cancel, raw: c.raw, timeout: c.timeout}
	m.deadline = time.AfterFunc(c.timeout, func() { cancel(ErrTimeout) })
	if c.raw != nil {
		m.mu.Lock()
		m.check = time.AfterFunc(checkEvery, m.watch)
		m.mu.Unlock()
	}
	return m
}

// Command is the context of one command.
type Command struct {
	ctx      context.Context
	cancel   context.CancelCauseFunc
	raw      syscall.RawConn
	timeout  time.Duration
	deadline *time.Timer

	mu    sync.Mutex
	check *time.Timer // nil when there is no socket to watch
}

// Context is the command's context.
func (m *Command) Context() context.Context { return m.ctx }

// Restart starts the command's deadline again, for a command whose
// database work begins only after a long upload (an IMAP APPEND's
// literal). It does nothing once the context has ended.
func (m *Command) Restart() {
	if m.ctx.Err() == nil {
		m.deadline.Reset(m.timeout)
	}
}

// End ends the command and releases its timers.
func (m *Command) End() {
	m.cancel(errEnded)
	m.deadline.Stop()
	m.mu.Lock()
	if m.check != nil {
		m.check.Stop()
	}
	m.mu.Unlock()
}

// watch runs every checkEvery while the command runs: a client that has
// hung up cancels it.
func (m *Command) watch() {
	if m.ctx.Err() != nil {
		return
	}
	if hungUp(m.raw) {
		m.cancel(ErrHangup)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctx.Err() == nil {
		m.check.Reset(checkEvery)
	}
}

// rawConn finds the socket under c, through TLS and wrappers that have a
// NetConn method.
func rawConn(c net.Conn) syscall.RawConn {
	for range 8 {
		if sc, ok := c.(syscall.Conn); ok {
			if rc, err := sc.SyscallConn(); err == nil {
				return rc
			}
			return nil
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		c = u.NetConn()
	}
	return nil
}
