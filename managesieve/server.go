// Package managesieve is the ManageSieve server (RFC 5804) on port 4190:
// users list, upload, check, activate, fetch, rename and delete their Sieve
// scripts (Thunderbird's Sieve add-on, Roundcube's managesieve plugin,
// sieve-connect). STARTTLS, then AUTHENTICATE with the sasl package's
// mechanisms through the shared sasl.Authenticator (and its throttle); a
// password travels only under TLS, or from loopback when that is allowed.
// Scripts are checked by the sieve package, their errors given with line
// numbers.
package managesieve

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

	"mailhost/connlimit"
	"mailhost/connserve"
	"mailhost/sasl"
	"mailhost/store"
)

// Scripts is what a session does with a mailbox's scripts. *store.Store
// satisfies it.
type Scripts interface {
	SieveScripts(ctx context.Context, mailboxID int64) ([]store.SieveScript, error)
	SieveScript(ctx context.Context, mailboxID int64, name string) (store.SieveScript, error)
	PutSieveScript(ctx context.Context, mailboxID int64, name, content string, maxScripts int) (store.SieveScript, error)
	DeleteSieveScript(ctx context.Context, mailboxID int64, name string) error
	RenameSieveScript(ctx context.Context, mailboxID int64, from, to string) error
	ActivateSieveScript(ctx context.Context, mailboxID int64, name string) error
}

var _ Scripts = (*store.Store)(nil)

// Config is what the server needs from the configuration.
type Config struct {
	Hostname string
	TLS      *tls.Config // nil: no STARTTLS
	// AllowPlaintextLoopback lets loopback clients log in without TLS.
	AllowPlaintextLoopback bool
	MaxScriptSize          int // bytes; 0: sieve.DefaultMaxScriptSize
	MaxScripts             int // per mailbox; 0: 20
	MaxRedirects           int // announced as MAXREDIRECTS
	// IdleTimeout ends a silent session; 0: 30 minutes.
	IdleTimeout time.Duration
	// CommandTimeout bounds a command's database work; 0: connctx's default.
	CommandTimeout    time.Duration
	MaxConnsPerClient int // 0: no limit
	Log               *slog.Logger
}

// Server is the ManageSieve server. Bind with Listen, then Serve.
type Server struct {
	cfg     Config
	auth    sasl.Authenticator
	scripts Scripts
	log     *slog.Logger
	limiter *connlimit.Limiter

	mu        sync.Mutex
	listeners []net.Listener
	conns     connserve.Conns
	nextID    atomic.Uint64
}

// New returns a server; it listens on nothing until Listen.
func New(cfg Config, a sasl.Authenticator, s Scripts) *Server {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.MaxScripts <= 0 {
		cfg.MaxScripts = 20
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Server{cfg: cfg, auth: a, scripts: s, log: cfg.Log,
		limiter: connlimit.New(cfg.MaxConnsPerClient, nil)}
}

// Listen binds addr. Call it before dropping privileges.
func (s *Server) Listen(addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("managesieve: listen %s: %w", addr, err)
	}
	r := connlimit.Refusal{
		Reply: func(netip.Addr) string { return "BYE (TRYLATER) \"Too many connections from your address.\"\r\n" },
		Refused: func(ip netip.Addr) {
			s.log.Info("managesieve connection refused: too many from the client", "client", ip.String())
		},
	}
	s.mu.Lock()
	s.listeners = append(s.listeners, s.limiter.Listen(ln, r))
	s.mu.Unlock()
	return ln.Addr(), nil
}

// Serve accepts connections until ctx ends, then closes the listeners and
// the sessions (each finishes its command) and waits for them.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	lns := append([]net.Listener(nil), s.listeners...)
	s.mu.Unlock()
	if len(lns) == 0 {
		return errors.New("managesieve: no listener")
	}
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		s.log.Info("managesieve listening", "addr", ln.Addr().String())
		go func() { errc <- s.accept(ctx, ln) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.conns.Shutdown(lns, 0)
	return err
}

func (s *Server) accept(ctx context.Context, ln net.Listener) error {
	if err := s.conns.Accept(ctx, ln, func(c net.Conn) { s.serveConn(ctx, c) }); err != nil {
		return fmt.Errorf("managesieve: %w", err)
	}
	return nil
}

func (s *Server) shuttingDown() bool { return s.conns.Closing() }
