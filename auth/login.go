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
	// ThrottleStore keeps failures, blocks and known clients; nil keeps
	// them in this process (NewMemoryThrottleStore).
	ThrottleStore ThrottleStore
	// MaxConcurrentHashes bounds the password hashes running at once;
	// 0 sizes it from memory (AutoConcurrentHashes).
	MaxConcurrentHashes int
	// HashWait is how long a login waits for a hash slot before ErrBusy;
	// 0 is DefaultHashWait. It also bounds the wait for a place in the
	// throttle.
	HashWait time.Duration
	Clock    Clock        // nil: the system clock
	Log      *slog.Logger // nil: slog.Default()
	// Registry receives the metrics; nil registers nothing.
	Registry *prometheus.Registry
}

// Authenticator checks logins for every protocol against the mailboxes
// table and throttles failures. One is shared by SMTP, IMAP and POP3, so a
// client guessing over one protocol is blocked on all. Safe for concurrent
// use.
type Authenticator struct {
	creds  Credentials
	hasher Hasher
	guard  *guard
	clock  Clock
	log    *slog.Logger
	dummy  string // hash compared when the user is unknown, to spend the same time
	m      *metrics
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
	if opts.ThrottleStore == nil {
		opts.ThrottleStore = NewMemoryThrottleStore()
	}
	if opts.MaxConcurrentHashes <= 0 {
		opts.MaxConcurrentHashes = AutoConcurrentHashes(opts.Hasher)
	}
	m := newMetrics()
	limiter := newHashLimiter(opts.MaxConcurrentHashes, opts.HashWait)
	a := &Authenticator{
		creds:  creds,
		hasher: opts.Hasher,
		guard:  newGuard(opts.Throttle, opts.ThrottleStore, opts.Clock, limiter, m, opts.Log),
		clock:  opts.Clock,
		log:    opts.Log,
		dummy:  dummy,
		m:      m,
	}
	if opts.Registry != nil {
		for _, c := range a.collectors() {
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
	at, err := a.Reserve(ctx, req.RemoteIP, name)
	if err != nil {
		return Account{}, err
	}
	defer at.Release() // a check that ran and did not end counts as failed

	var cred store.Credential
	err = store.ErrNotFound // a name that is no address names no mailbox
	if isAddr {
		cred, err = a.creds.MailboxCredentials(ctx, name)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		if err := at.Hash(ctx, func() { Verify(a.dummy, req.Password) }); err != nil { //nolint:errcheck // spends the time of a real check
			return Account{}, err
		}
		return Account{}, a.fail(ctx, log, at, req, name, "unknown user")
	case err != nil:
		log.Error("login: look up credentials", "user", name, "err", err)
		return Account{}, fmt.Errorf("auth: look up %q: %w", name, err)
	}
	var ok, viaApp bool
	var cerr error
	if err := at.Hash(ctx, func() { ok, viaApp, cerr = a.checkPassword(ctx, log, cred, req) }); err != nil { // apppass.go
		return Account{}, err
	}
	if cerr != nil {
		return Account{}, cerr
	}
	if !ok || !cred.Active {
		why := "wrong password"
		if ok {
			why = "inactive mailbox or domain"
		}
		return Account{}, a.fail(ctx, log, at, req, name, why)
	}

	at.Succeed(ctx)
	a.m.logins.WithLabelValues(proto).Inc()
	if !viaApp && a.hasher.NeedsRehash(cred.Password) {
		a.rehash(ctx, log, cred, req.Password)
	}
	return Account{MailboxID: cred.MailboxID, Address: cred.Address, Maildir: cred.Maildir}, nil
}

// Reserve takes a place in the login throttle for one password check of
// account (a normalised name, "" for none, e.g. an API token) from ip (the
// zero Addr when unknown), waiting while the address or account has as
// many checks in flight as failures left. It returns a *ThrottledError
// when either is blocked or no place freed up in time. Every password
// check of the node goes through an Attempt: Login's, the panel's admin
// logins, the API's token checks.
func (a *Authenticator) Reserve(ctx context.Context, ip netip.Addr, account string) (*Attempt, error) {
	at, err := a.guard.reserve(ctx, ip, account)
	var te *ThrottledError
	if errors.As(err, &te) {
		a.m.refused.WithLabelValues(te.Reason).Inc()
		a.log.Info("login refused: throttled", "user", account, "remote", ip.String(), "reason", te.Reason,
			"retry_after", te.RetryAfter.Round(time.Second))
	}
	return at, err
}

// HashesComputed is how many password hashes this Authenticator computed
// (checks, dummy checks and upgrades), for tests and benchmarks.
func (a *Authenticator) HashesComputed() int64 { return a.guard.hashes.computed.Load() }

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
func (a *Authenticator) fail(ctx context.Context, log *slog.Logger, at *Attempt, req LoginRequest, name, why string) error {
	proto := req.Protocol
	if proto == "" {
		proto = "unknown"
	}
	a.m.failures.WithLabelValues(proto).Inc()
	log.Info("login failed", "user", name, "why", why)
	return at.FailAndWait(ctx)
}

// rehash upgrades the stored hash to the configured scheme; best effort.
func (a *Authenticator) rehash(ctx context.Context, log *slog.Logger, cred store.Credential, password string) {
	var h string
	var err error
	if herr := a.guard.hashes.run(ctx, func() { h, err = a.hasher.Hash(password) }); herr != nil {
		return // busy: the next login upgrades it
	}
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
