// Package mta is the SMTP server (the MX on port 25) on mailhost/smtpd:
// session checks with Postfix's restrictions (mynetworks, never an open
// relay, unknown recipients refused at RCPT, size, access rules, DNS block
// lists), the cleanup of accepted messages (Received, Message-ID, Date,
// loop detection), local delivery through mda, remote copies into the
// queue, vacation replies, the mail log and the metrics.
package mta

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

	"mailhost/auth"
	"mailhost/connctx"
	"mailhost/connlimit"
	"mailhost/contentfilter"
	"mailhost/dnsres"
	"mailhost/mda"
	"mailhost/senderauth"
	smtp "mailhost/smtpd" // the protocol layer, named as go-smtp was
	"mailhost/store"
)

// Recipients resolves recipient addresses; the one resolver shared by the
// RCPT checks and delivery. *store.Store satisfies it.
type Recipients interface {
	// Resolve expands addr through alias domains, the recipient delimiter
	// (any character of delims) and aliases into local mailboxes and
	// remote addresses.
	Resolve(ctx context.Context, addr, delims string) (store.Resolution, error)
}

// Store is everything the SMTP server needs from the database.
type Store interface {
	Recipients
	AccessRuleKinds(ctx context.Context) (map[string]bool, error)
	SessionRules(ctx context.Context, client netip.Addr, helo, sender string) (store.SessionRules, error)
	RecipientRule(ctx context.Context, addr string) (store.AccessRule, error)
	ActiveVacation(ctx context.Context, mailboxID int64) (store.Vacation, error)
	QueueVacationReply(ctx context.Context, mailboxID int64, sender string, interval time.Duration, reply store.QueuedMessage) (bool, error)
	Enqueue(ctx context.Context, msgs ...store.QueuedMessage) ([]int64, error)
	HostedPolicies // inbound.go
}

var _ Store = (*store.Store)(nil)

// Config is the server's configuration, from config.SMTP and friends.
type Config struct {
	Hostname           string
	Mynetworks         []netip.Prefix
	MaxMessageBytes    int64
	RecipientDelimiter string
	MaxRecipients      int
	Timeout            time.Duration
	MaxErrors          int
	MaxConnsPerClient  int // 0 = unlimited; mynetworks are exempt
	// Limiter counts connections per client; listeners that count
	// together (587 and 465) share one. nil: one of MaxConnsPerClient
	// with Mynetworks exempt, for this listener alone.
	Limiter       *connlimit.Limiter
	MaxLineLength int
	MaxReceived   int
	DNSBL         []string
	DNSBLAction   string // reject, defer, log
	TLS           *tls.Config
	// Submission makes this a submission listener (submission.go).
	Submission Submission
	// Queued, when set, is called after a message put copies into the
	// queue that no worker was handed (wakes this node's outbound
	// workers).
	Queued func()
	// Handoff, when set, is this node's queue workers: a message queued
	// while one is idle is leased to it by its enqueue and handed to it
	// after the commit (outhandoff.go).
	Handoff *Outbound
	// DNS answers the DNS block list queries; nil: the nameservers of
	// /etc/resolv.conf.
	DNS *dnsres.Resolver
	// Inbound, when set, checks senders on this (MX) listener: SPF,
	// DKIM, DMARC, iprev (inbound.go).
	Inbound *Inbound
	// CommandTimeout bounds each command's database work
	// (limits.command_timeout); 0: connctx.DefaultTimeout.
	CommandTimeout time.Duration
	// SRS rewrites the sender of forwarded copies and reverses SRS
	// recipients (srs.go); nil: forwards keep the sender.
	SRS *SRS
	// Filter is the listener's content filter stage, run at the end of
	// DATA (filter.go); nil: none.
	Filter *contentfilter.Stage
	// DKIM signs the mail this server vouches for before it is queued
	// (dkim.go); nil: none is signed.
	DKIM Signer
}

// Server is the SMTP (MX) server of one listener.
type Server struct {
	cfg     Config
	store   Store
	agent   *mda.Agent
	log     *slog.Logger
	metrics *Metrics
	ln      *listener
	smtp    *smtp.Server
	closing atomic.Bool
	// ctx is Serve's: connections' contexts derive from it. Set before
	// the first Accept, read only afterwards.
	ctx context.Context

	kindsMu   sync.Mutex
	kinds     map[string]bool
	kindsTime time.Time
}

// ruleKindsTTL is how long the server trusts its knowledge of which access
// rule kinds exist; a new kind of rule takes effect within it. (Postfix
// picks up a changed access map when its smtpd processes restart, which
// takes longer.) Rules of a kind already in use take effect at once.
const ruleKindsTTL = 2 * time.Second

// ruleKinds returns the kinds of access rules that exist, from a cache
// refreshed every ruleKindsTTL, so that a server without rules of a kind
// spends no query on it.
func (s *Server) ruleKinds(ctx context.Context) (map[string]bool, error) {
	s.kindsMu.Lock()
	k, fresh := s.kinds, time.Since(s.kindsTime) < ruleKindsTTL
	s.kindsMu.Unlock()
	if k != nil && fresh {
		return k, nil
	}
	// Not under the mutex: sessions refreshing at once each ask (a cheap
	// query, every ruleKindsTTL), but none waits behind another's round
	// trip, which its own context could not cut short.
	k, err := s.store.AccessRuleKinds(ctx)
	if err != nil {
		return nil, err
	}
	s.kindsMu.Lock()
	s.kinds, s.kindsTime = k, time.Now()
	s.kindsMu.Unlock()
	return k, nil
}

// New binds addr (before privileges are dropped) and returns the server;
// Serve runs it.
func New(addr string, cfg Config, st Store, agent *mda.Agent, log *slog.Logger, m *Metrics) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen.smtp %s: %w", addr, err)
	}
	return NewWithListener(ln, cfg, st, agent, log, m), nil
}

// NewWithListener is New on an existing listener (tests).
func NewWithListener(l net.Listener, cfg Config, st Store, agent *mda.Agent, log *slog.Logger, m *Metrics) *Server {
	if m == nil {
		m = NewMetrics()
	}
	if cfg.DNS == nil {
		cfg.DNS, _ = dnsres.New(dnsres.Config{}) // no servers given: cannot fail
	}
	if cfg.Limiter == nil {
		cfg.Limiter = connlimit.New(cfg.MaxConnsPerClient, cfg.Mynetworks)
	}
	s := &Server{cfg: cfg, store: st, agent: agent, log: log, metrics: m, ctx: context.Background()}
	s.ln = &listener{Listener: cfg.Limiter.Listen(l, s.refusal()), srv: s, conns: map[*clientConn]struct{}{}}
	// On submission the session's AuthMechanisms decides who may log in
	// (TLS, or loopback when allowed); the MX session offers no AUTH.
	s.smtp = &smtp.Server{Hostname: cfg.Hostname, Backend: backend{s}, TLSConfig: cfg.TLS,
		MaxMessageBytes: cfg.MaxMessageBytes, MaxRecipients: cfg.MaxRecipients, MaxLineLength: cfg.MaxLineLength,
		ReadTimeout: cfg.Timeout, WriteTimeout: cfg.Timeout, Log: log}
	return s
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve accepts connections until ctx ends. Then it stops accepting, ends
// idle sessions with 421, lets transactions in progress finish (their
// reply is the session's last), and returns when every connection is gone
// or after a grace period.
func (s *Server) Serve(ctx context.Context) error {
	s.ctx = ctx // before the first Accept
	errc := make(chan error, 1)
	var l net.Listener = s.ln
	if implicitTLS(s) {
		l = tlsListen(s)
	}
	go func() { errc <- s.smtp.Serve(l) }()
	s.log.Info("smtp listening", "addr", s.ln.Addr().String())
	select {
	case err := <-errc:
		if errors.Is(err, smtp.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("smtp: %w", err)
	case <-ctx.Done():
	}
	s.closing.Store(true)
	s.ln.Listener.Close()
	s.ln.shutdown()
	deadline := time.Now().Add(30 * time.Second)
	for s.ln.active() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	s.smtp.Close()
	return nil
}

// refusal is the reply to a client over its connection limit (Postfix's
// smtpd_client_connection_count_limit); on 465 it goes over TLS.
func (s *Server) refusal() connlimit.Refusal {
	r := connlimit.Refusal{
		Reply: func(ip netip.Addr) string {
			return fmt.Sprintf("421 4.7.0 %s Error: too many connections from %s\r\n", s.cfg.Hostname, ip)
		},
		Refused: func(ip netip.Addr) {
			s.metrics.Rejected.WithLabelValues("connection_limit").Inc()
			s.log.Warn("reject: too many connections", "client", ip.String(), "limit", s.cfg.MaxConnsPerClient)
		},
	}
	if implicitTLS(s) {
		r.TLS = s.cfg.TLS
	}
	return r
}

// listener tracks the connections within the limit (the connlimit
// listener underneath refused the others), for shutdown.
type listener struct {
	net.Listener
	srv   *Server
	mu    sync.Mutex
	conns map[*clientConn]struct{}
	n     atomic.Uint64
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	ip := auth.RemoteIP(c.RemoteAddr())
	cc := &clientConn{Conn: c, l: l, ip: ip, id: l.n.Add(1), start: time.Now()}
	cc.ctx = connctx.New(l.srv.ctx, c, l.srv.cfg.CommandTimeout)
	cc.trusted = l.srv.inMynetworks(ip)
	l.mu.Lock()
	l.conns[cc] = struct{}{}
	l.mu.Unlock()
	l.srv.metrics.Connections.Inc()
	return cc, nil
}

func (l *listener) release(cc *clientConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.conns[cc]; !ok {
		return
	}
	delete(l.conns, cc)
}

func (l *listener) active() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// shutdown ends idle sessions with 421 and marks busy ones to close after
// their current reply.
func (l *listener) shutdown() {
	l.mu.Lock()
	conns := make([]*clientConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.closeAfterReply.Store(true)
		if !c.busy.Load() {
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(c.Conn, "421 4.3.2 %s Service shutting down, closing connection\r\n", l.srv.cfg.Hostname)
			c.Close()
		}
	}
}

// clientConn is one client connection, under any TLS layer. It carries
// what lives as long as the connection (the session is recreated after
// STARTTLS): the DNSBL verdict, the error count, the close-after-reply
// flag.
type clientConn struct {
	net.Conn
	l       *listener
	ip      netip.Addr
	id      uint64
	start   time.Time
	trusted bool // in mynetworks
	// ctx ends with the connection or the server; commands' contexts
	// derive from it.
	ctx *connctx.Conn

	dnsblOnce sync.Once
	dnsbl     string // the zone that lists the client, or ""

	iprevOnce sync.Once
	iprev     senderauth.IPRev // the client's reverse DNS (inbound.go)

	errors          atomic.Int32
	busy            atomic.Bool // a DATA is being processed
	closeAfterReply atomic.Bool
	closeOnce       sync.Once
}

// Write sends a reply; when the session must end, the connection is closed
// once a complete reply line has gone out.
func (c *clientConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if c.closeAfterReply.Load() && !c.busy.Load() {
		c.Close()
	}
	return n, err
}

func (c *clientConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.ctx.Close()
		err = c.Conn.Close()
		c.l.release(c)
	})
	return err
}

// NetConn is the connection underneath, whose socket connctx watches for
// a client hanging up.
func (c *clientConn) NetConn() net.Conn { return c.Conn }

// client finds the clientConn under an smtpd connection, through TLS.
func client(c *smtp.Conn) *clientConn {
	nc := c.Conn()
	for {
		switch t := nc.(type) {
		case *clientConn:
			return t
		case *tls.Conn:
			nc = t.NetConn()
		default:
			return nil
		}
	}
}

func (s *Server) inMynetworks(ip netip.Addr) bool {
	for _, p := range s.cfg.Mynetworks {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	cc := client(c)
	if cc == nil {
		return nil, errors.New("mta: unknown connection type")
	}
	s := b.s
	if !validHelo(c.Hostname()) {
		s.metrics.Rejected.WithLabelValues("bad_helo").Inc()
		s.log.Info("reject", "conn", cc.id, "client", cc.ip.String(), "stage", "HELO", "reason", "bad_helo",
			"code", errBadHelo.Code, "helo", c.Hostname())
		return nil, errBadHelo // smtpd forgets the name: the client may try again
	}
	sess := &session{srv: s, conn: c, cc: cc, ctx: cc.ctx.Context(),
		log: s.log.With("conn", cc.id, "client", cc.ip.String())}
	if s.cfg.Submission.Enabled {
		return subSession{sess}, nil
	}
	return sess, nil
}

// Refused logs and counts a refusal the protocol layer made itself
// (syntax, sequence, SIZE, too many recipients, long lines, timeouts),
// as session.reject does the session's, and counts it against the error
// limit.
func (b backend) Refused(c *smtp.Conn, r smtp.Refusal) *smtp.SMTPError {
	cc := client(c)
	if cc == nil {
		return r.Reply
	}
	s := b.s
	stage := r.Command
	if stage == "" {
		stage = "CONNECT"
	}
	attrs := []any{"conn", cc.id, "client", cc.ip.String(), "stage", stage, "reason", r.Reason}
	if r.Reply != nil {
		attrs = append(attrs, "code", r.Reply.Code, "reply", r.Reply.Message)
	}
	if h := c.Hostname(); h != "" {
		attrs = append(attrs, "helo", h)
	}
	if r.Command == "MAIL" {
		attrs = append(attrs, "from", r.Sender)
	}
	if r.Err != nil {
		attrs = append(attrs, "err", r.Err)
	}
	if r.Reply == nil || r.Reason == "timeout" {
		s.log.Info("connection ended", attrs...) // nothing refused: not a reject line
		return r.Reply
	}
	s.metrics.Rejected.WithLabelValues(r.Reason).Inc()
	s.log.Info("reject", attrs...)
	if r.Reason == "too_many_recipients" {
		// Not an error: the client sends the others in a new
		// transaction (RFC 5321 4.5.3.1.10; Postfix counts it only past
		// smtpd_recipient_overshoot_limit).
		return r.Reply
	}
	return s.countError(cc, r.Reply)
}

// countError counts a refusal against the connection's error limit;
// past it the reply becomes a 421 and the connection closes after it
// (Postfix smtpd_hard_error_limit).
func (s *Server) countError(cc *clientConn, e *smtp.SMTPError) *smtp.SMTPError {
	if n := cc.errors.Add(1); int(n) < s.cfg.MaxErrors {
		return e
	}
	cc.closeAfterReply.Store(true)
	return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0},
		Message: fmt.Sprintf("%s Error: too many errors (last: %d %s)", s.cfg.Hostname, e.Code, e.Message)}
}
