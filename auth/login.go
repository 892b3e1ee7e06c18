package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mailhost/address"
	"mailhost/store"
)

// ErrInvalidCredentials is the one answer to a failed login: unknown user,
// wrong password, inactive mailbox or domain alike, so a client cannot tell
// which. Protocols answer it with SMTP 535 5.7.8, IMAP NO
// [AUTHENTICATIONFAILED], POP3 -ERR [AUTH].
var ErrInvalidCredentials = errors.New("auth: invalid credentials")

// Protocols of a LoginRequest, also the protocol label of the metrics.
const (
	ProtoSMTP = "smtp"
	ProtoIMAP = "imap"
	ProtoPOP3 = "pop3"
	ProtoWeb  = "web"
)

// Credentials is the storage a login reads and upgrades. store.Store
// satisfies it.
type Credentials interface {
	// MailboxCredentials returns the mailbox answering to address (already
	// normalised), directly or through an alias domain. When there is none
	// the error wraps store.ErrNotFound.
	MailboxCredentials(ctx context.Context, address string) (store.Credential, error)
	// RehashPassword replaces the stored hash old of a mailbox by new, only
	// if it is still old (a password changed meanwhile is kept).
	RehashPassword(ctx context.Context, mailboxID int64, old, new string) error
}

var _ Credentials = (*store.Store)(nil)

// LoginRequest is one login attempt.
type LoginRequest struct {
	Username string // the full address, as the client typed it
	Password string
	RemoteIP netip.Addr // the client; the zero Addr when unknown
	Protocol string     // ProtoSMTP, ProtoIMAP, ProtoPOP3 or ProtoWeb
}

// Account is who logged in.
type Account struct {
	MailboxID int64
	Address   string // the mailbox's own address
	Maildir   string // relative to the Maildir root
}

// Options configure an Authenticator.
type Options struct {
	Hasher   Hasher         // scheme of upgraded hashes and of the dummy hash
	Throttle ThrottleConfig // limits
	Clock    Clock          // nil: the system clock
	Log      *slog.Logger   // nil: slog.Default()
	// Registry receives the metrics; nil registers nothing.
	Registry *prometheus.Registry
}

// Authenticator checks logins for every protocol against the mailboxes
// table and throttles failures. One is shared by SMTP, IMAP and POP3, so a
// client guessing over one protocol is blocked on all. Safe for concurrent
// use.
type Authenticator struct {
	creds    Credentials
	hasher   Hasher
	throttle *Throttle
	clock    Clock
	log      *slog.Logger
	dummy    string // hash compared when the user is unknown, to spend the same time

	failures *prometheus.CounterVec
	logins   *prometheus.CounterVec
	blocked  *prometheus.CounterVec
	refused  *prometheus.CounterVec
}

// NewAuthenticator returns an Authenticator reading creds. It hashes a
// random password once with opts.Hasher, to compare unknown users against.
func NewAuthenticator(creds Credentials, opts Options) (*Authenticator, error) {
	if err := opts.Hasher.Validate(); err != nil {
		return nil, err
	}
	dummy, err := opts.Hasher.Hash(randomPassword())
	if err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = SystemClock{}
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	a := &Authenticator{
		creds:    creds,
		hasher:   opts.Hasher,
		throttle: NewThrottle(opts.Throttle, opts.Clock),
		clock:    opts.Clock,
		log:      opts.Log,
		dummy:    dummy,
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailhost_auth_failures_total", Help: "Failed logins (wrong user or password, inactive account), by protocol.",
		}, []string{"protocol"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailhost_auth_logins_total", Help: "Successful logins, by protocol.",
		}, []string{"protocol"}),
		blocked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailhost_auth_blocked_total", Help: "Blocks imposed after too many failed logins, by what was blocked (ip or account).",
		}, []string{"reason"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailhost_auth_throttled_total", Help: "Logins refused because the client address or the account was blocked.",
		}, []string{"reason"}),
	}
	if opts.Registry != nil {
		for _, c := range []prometheus.Collector{a.failures, a.logins, a.blocked, a.refused} {
			if err := opts.Registry.Register(c); err != nil {
				return nil, fmt.Errorf("auth: register metrics: %w", err)
			}
		}
	}
	return a, nil
}

// randomPassword is a password nobody knows, for the dummy hash.
func randomPassword() string { return rand.Text() }

// Login checks req and returns the account on success. Failures are
// ErrInvalidCredentials (after the throttle's delay), a *ThrottledError
// (matching ErrThrottled) when the address or account is blocked, or
// another error when the database failed (a temporary failure the protocols
// answer as such; the details are logged, not shown).
func (a *Authenticator) Login(ctx context.Context, req LoginRequest) (Account, error) {
	proto := req.Protocol
	if proto == "" {
		proto = "unknown"
	}
	log := a.log.With("protocol", proto, "remote", req.RemoteIP.String())
	// The throttle key of an account is the address as typed, normalised
	// when possible, so that "Alice@Example.com" and "alice@example.com"
	// count together.
	name, isAddr := NormalizeUsername(req.Username)
	if err := a.throttle.Check(req.RemoteIP, name); err != nil {
		var te *ThrottledError
		errors.As(err, &te)
		a.refused.WithLabelValues(te.Reason).Inc()
		log.Info("login refused: blocked", "user", name, "reason", te.Reason, "retry_after", te.RetryAfter.Round(time.Second))
		return Account{}, err
	}

	var cred store.Credential
	err := store.ErrNotFound // a name that is no address names no mailbox
	if isAddr {
		cred, err = a.creds.MailboxCredentials(ctx, name)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		Verify(a.dummy, req.Password) //nolint:errcheck // spends the time of a real check
		return Account{}, a.fail(ctx, log, req, name, "unknown user")
	case err != nil:
		log.Error("login: look up credentials", "user", name, "err", err)
		return Account{}, fmt.Errorf("auth: look up %q: %w", name, err)
	}
	ok, viaApp, err := a.checkPassword(ctx, log, cred, req) // apppass.go
	if err != nil {
		return Account{}, err
	}
	if !ok || !cred.Active {
		why := "wrong password"
		if ok {
			why = "inactive mailbox or domain"
		}
		return Account{}, a.fail(ctx, log, req, name, why)
	}

	a.throttle.Succeed(name)
	a.logins.WithLabelValues(proto).Inc()
	if !viaApp && a.hasher.NeedsRehash(cred.Password) {
		a.rehash(ctx, log, cred, req.Password)
	}
	return Account{MailboxID: cred.MailboxID, Address: cred.Address, Maildir: cred.Maildir}, nil
}

// NormalizeUsername returns the name Login knows a user by: the address as
// typed, trimmed and normalised (address.Normalize: IDNA A-label domain,
// NFC, lower case), with ok set; a name that is no address comes back
// trimmed and lower-cased, with ok false (it names no mailbox). Whoever
// compares a user name with another (the SASL authorization identity)
// compares these.
func NormalizeUsername(username string) (name string, ok bool) {
	username = strings.TrimSpace(username)
	n, err := address.Normalize(username)
	if err != nil {
		return strings.ToLower(username), false
	}
	return n, true
}

// fail records a failure, logs it, waits the throttle's delay and returns
// ErrInvalidCredentials (or ctx's error when the client is gone).
func (a *Authenticator) fail(ctx context.Context, log *slog.Logger, req LoginRequest, name, why string) error {
	proto := req.Protocol
	if proto == "" {
		proto = "unknown"
	}
	a.failures.WithLabelValues(proto).Inc()
	out := a.throttle.Fail(req.RemoteIP, name)
	log.Info("login failed", "user", name, "why", why)
	for _, r := range out.Blocked {
		a.blocked.WithLabelValues(r).Inc()
		log.Warn("login blocked after too many failures", "reason", r, "user", name,
			"for", a.throttle.cfg.Block)
	}
	if err := a.clock.Sleep(ctx, out.Delay); err != nil {
		return err
	}
	return ErrInvalidCredentials
}

// rehash upgrades the stored hash to the configured scheme; best effort.
func (a *Authenticator) rehash(ctx context.Context, log *slog.Logger, cred store.Credential, password string) {
	h, err := a.hasher.Hash(password)
	if err == nil {
		err = a.creds.RehashPassword(ctx, cred.MailboxID, cred.Password, h)
	}
	if err != nil {
		log.Warn("login: upgrade password hash", "user", cred.Address, "err", err)
		return
	}
	log.Info("password hash upgraded", "user", cred.Address, "from", Scheme(cred.Password), "to", Scheme(h))
}

// LoginAllowed reports whether a connection may log in: always over TLS;
// in clear text only from a loopback client and only when allowLoopback is
// set (auth.allow_plaintext_loopback), which is Dovecot's rule
// (disable_plaintext_auth) for SMTP, IMAP and POP3 alike.
func LoginAllowed(isTLS bool, remote netip.Addr, allowLoopback bool) bool {
	return isTLS || allowLoopback && remote.Unmap().IsLoopback()
}

// RemoteIP returns the IP address of a connection's remote address, or the
// zero Addr when it has none (a Unix socket, a pipe in tests).
func RemoteIP(a net.Addr) netip.Addr {
	switch v := a.(type) {
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(v.IP)
		return ip.Unmap()
	case nil:
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
