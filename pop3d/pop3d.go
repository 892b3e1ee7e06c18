// Package pop3d is the POP3 server: RFC 1939 with CAPA (RFC 2449), STLS
// (RFC 2595) and AUTH (RFC 5034) with the sasl package's mechanisms (PLAIN,
// LOGIN), on 110 with STLS and 995 with
// implicit TLS. It serves a mailbox's INBOX from the message index, reading
// the bytes from the Maildir files; deletions take effect only at QUIT, and
// one POP3 session per mailbox runs at a time, across every node sharing
// the database.
package pop3d

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mailhost/connlimit"
	"mailhost/connserve"
	"mailhost/maildir"
	"mailhost/sasl"
	"mailhost/store"
)

// Mailstore is the index a POP3 session reads and changes. store.Store
// satisfies it.
type Mailstore interface {
	// POP3Inbox returns the INBOX of the mailbox, messages in UID order.
	POP3Inbox(ctx context.Context, mailboxID int64) (store.POP3Maildrop, error)
	// POP3Expunge deletes the message rows ids of the folder in one
	// transaction: rows, the mailbox's usage, the folder's HIGHESTMODSEQ and
	// a change notice. Rows already gone are skipped. It returns the rows it
	// deleted, whose files the caller then removes.
	POP3Expunge(ctx context.Context, mailboxID, folderID int64, ids []int64) (store.POP3Expunged, error)
}

var _ Mailstore = (*store.Store)(nil)

// Files keeps the INBOX's files and index rows in agreement.
// *reconcile.Reconciler satisfies it.
type Files interface {
	// Adopt indexes files that appeared without the index (another
	// program, a delivery that crashed before its commit) and finishes
	// operations a crash interrupted; it returns how many it adopted.
	Adopt(ctx context.Context, mailboxID, folderID int64, dir maildir.Folder) (int, error)
	// Remove unlinks the files of rows POP3Expunge deleted and ends their
	// journal rows.
	Remove(ctx context.Context, folderID int64, dir maildir.Folder, names []string) error
}

// Locker grants one POP3 session per mailbox at a time, across nodes.
type Locker interface {
	// TryLock takes the mailbox's lock; false when another session holds it.
	TryLock(ctx context.Context, mailboxID int64) (bool, error)
	// Unlock releases it.
	Unlock(ctx context.Context, mailboxID int64) error
}

var _ Locker = (*store.MailboxLocks)(nil)

// Config is what the server needs from the configuration.
type Config struct {
	Hostname    string
	MaildirRoot string      // mailboxes' Maildir paths are relative to it
	TLS         *tls.Config // nil: no STLS and no implicit TLS listener
	// AllowPlaintextLoopback lets loopback clients log in without TLS
	// (auth.allow_plaintext_loopback).
	AllowPlaintextLoopback bool
	IdleTimeout            time.Duration // 0: 10 minutes (RFC 1939 section 3)
	// CommandTimeout bounds each command's database work
	// (limits.command_timeout); 0: connctx.DefaultTimeout.
	CommandTimeout time.Duration
	// MaxConnsPerClient bounds the connections open at once from one
	// client (an IPv4 address or an IPv6 /64) over both listeners; 0
	// means no limit.
	MaxConnsPerClient int
	Log               *slog.Logger
	Registry          *prometheus.Registry // nil: metrics are not exported
}

// maxAuthFailures is how many failed logins a connection may make before it
// is closed; the throttle of the auth package slows each of them.
const maxAuthFailures = 3

// Server is the POP3 server. Bind its listeners with Listen, then Serve.
type Server struct {
	cfg     Config
	auth    sasl.Authenticator
	store   Mailstore
	files   Files
	locks   Locker
	log     *slog.Logger
	m       *metrics
	sizes   *sizeCache
	scanned *scanCache

	mu        sync.Mutex
	listeners []listener
	conns     connserve.Conns
	limiter   *connlimit.Limiter // shared by both listeners
	nextID    atomic.Uint64
}

type listener struct {
	ln          net.Listener
	implicitTLS bool
}

// New returns a server; it listens on nothing until Listen.
func New(cfg Config, a sasl.Authenticator, ms Mailstore, f Files, l Locker) (*Server, error) {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 10 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "localhost"
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, auth: a, store: ms, files: f, locks: l, log: cfg.Log, m: m,
		sizes: newSizeCache(100_000), scanned: newScanCache(100_000),
		limiter: connlimit.New(cfg.MaxConnsPerClient, nil)}, nil
}

// Listen binds addr: POP3 with STLS, or POP3 over implicit TLS (port 995)
// when implicitTLS is set. Call it before dropping privileges.
func (s *Server) Listen(addr string, implicitTLS bool) (net.Addr, error) {
	if implicitTLS && s.cfg.TLS == nil {
		return nil, errors.New("pop3d: implicit TLS without a TLS configuration")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pop3d: listen %s: %w", addr, err)
	}
	r := connlimit.Refusal{
		Reply: func(netip.Addr) string {
			return "-ERR [SYS/TEMP] Too many connections from your address; try again later.\r\n"
		},
		Refused: func(ip netip.Addr) {
			s.m.tooMany.Inc()
			s.log.Info("pop3 connection refused: too many from the client", "client", ip.String(), "max", s.cfg.MaxConnsPerClient)
		},
	}
	if implicitTLS {
		r.TLS = s.cfg.TLS // the refusal goes over TLS, never in clear text
	}
	s.mu.Lock()
	s.listeners = append(s.listeners, listener{ln: s.limiter.Listen(ln, r), implicitTLS: implicitTLS})
	s.mu.Unlock()
	return ln.Addr(), nil
}

// shutdownGrace is how long sessions busy with a command (a RETR, the
// deletions of a QUIT) may go on after the context ends.
const shutdownGrace = 10 * time.Second

// Serve accepts connections on every bound listener until ctx ends, then
// closes the listeners, ends idle sessions at once (a session that did not
// QUIT deletes nothing) and waits for busy ones to finish their command.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	lns := append([]listener(nil), s.listeners...)
	s.mu.Unlock()
	if len(lns) == 0 {
		return errors.New("pop3d: no listener")
	}
	errc := make(chan error, len(lns))
	for _, l := range lns {
		s.log.Info("pop3 listening", "addr", l.ln.Addr().String(), "implicit_tls", l.implicitTLS)
		go func() { errc <- s.accept(ctx, l) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	closed := make([]net.Listener, len(lns))
	for i, l := range lns {
		closed[i] = l.ln
	}
	s.conns.Shutdown(closed, shutdownGrace)
	return err
}

func (s *Server) accept(ctx context.Context, l listener) error {
	serve := func(c net.Conn) { s.serveConn(ctx, c, l.implicitTLS) }
	if err := s.conns.Accept(ctx, l.ln, serve); err != nil {
		return fmt.Errorf("pop3d: %w", err)
	}
	return nil
}

// shuttingDown reports whether Serve is ending.
func (s *Server) shuttingDown() bool { return s.conns.Closing() }

// metrics of the POP3 server.
type metrics struct {
	sessions  *prometheus.CounterVec
	active    prometheus.Gauge
	commands  *prometheus.CounterVec
	retrieved prometheus.Counter
	retrBytes prometheus.Counter
	deleted   prometheus.Counter
	inUse     prometheus.Counter
	tooMany   prometheus.Counter
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailhost_pop3_sessions_total", Help: "POP3 connections, by listener (pop3 or pop3s).",
		}, []string{"listener"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mailhost_pop3_active_sessions", Help: "POP3 connections open now.",
		}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailhost_pop3_commands_total", Help: "POP3 commands, by command and result (ok or err).",
		}, []string{"command", "result"}),
		retrieved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailhost_pop3_retrieved_messages_total", Help: "Messages sent in full by RETR.",
		}),
		retrBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailhost_pop3_retrieved_bytes_total", Help: "Octets of message files sent by RETR and TOP.",
		}),
		deleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailhost_pop3_deleted_messages_total", Help: "Messages deleted at QUIT.",
		}),
		inUse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailhost_pop3_in_use_total", Help: "Logins refused because another POP3 session held the mailbox.",
		}),
		tooMany: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailhost_pop3_refused_connections_total", Help: "Connections refused over pop3.max_connections_per_client.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.sessions, m.active, m.commands, m.retrieved, m.retrBytes, m.deleted, m.inUse, m.tooMany} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("pop3d: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

// knownCommands bounds the command label of the metrics.
var knownCommands = map[string]bool{
	"USER": true, "PASS": true, "AUTH": true, "STLS": true, "CAPA": true, "QUIT": true,
	"STAT": true, "LIST": true, "RETR": true, "DELE": true, "NOOP": true, "RSET": true,
	"TOP": true, "UIDL": true, "APOP": true,
}

// sizeCache remembers the CRLF sizes of message files whose names do not
// carry W=: a file's contents never change under its key.
type sizeCache struct {
	mu  sync.Mutex
	max int
	m   map[string]int64
}

func newSizeCache(max int) *sizeCache { return &sizeCache{max: max, m: map[string]int64{}} }

func (c *sizeCache) get(k string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *sizeCache) put(k string, v int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		clear(c.m) // crude but bounded; sizes are cheap to recompute
	}
	c.m[k] = v
}
