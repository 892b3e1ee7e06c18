package auth

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"mailhost/connlimit"
	"mailhost/store"
)

// ThrottleStore keeps the login throttle's failure counts, blocks and
// known clients. *store.Store keeps them in PostgreSQL, shared by every
// node and seen by `mailhost auth blocks`; NewMemoryThrottleStore keeps them
// in one process (tests, tools).
type ThrottleStore interface {
	// LoginThrottle returns the records of keys (absent: none) and when
	// client last logged in to account successfully, if at or after
	// knownSince (else the zero time).
	LoginThrottle(ctx context.Context, keys []string, account, client string, knownSince time.Time) (map[string]store.ThrottleRecord, time.Time, error)
	// UpdateLoginThrottle applies update to each key's record atomically
	// and returns the results.
	UpdateLoginThrottle(ctx context.Context, keys []string, update func(store.ThrottleRecord) store.ThrottleRecord) (map[string]store.ThrottleRecord, error)
	// LoginSucceeded forgets the failures of the account key (not a
	// running block) and remembers client as known for account at now,
	// forgetting its clients older than forgetBefore.
	LoginSucceeded(ctx context.Context, key, account, client string, now, forgetBefore time.Time) error
	// PruneLoginThrottle forgets records without a running block whose
	// last failure is older than forgetBefore.
	PruneLoginThrottle(ctx context.Context, now, forgetBefore time.Time) error
	// LoginBlocks lists the blocks running at now.
	LoginBlocks(ctx context.Context, now time.Time) ([]store.ThrottleRecord, error)
}

var _ ThrottleStore = (*store.Store)(nil)

// Key prefixes of the throttle's records.
const (
	IPKeyPrefix      = "ip:"
	AccountKeyPrefix = "acct:"
)

// ClientKey is the throttle key of a client address: an IPv4 address or
// the IPv6 /64 holding it (connlimit.Client), so an attacker cannot walk
// through the addresses of its own network.
// An IPv4 client is written as its address, an IPv6 one as its /64.
func ClientKey(ip netip.Addr) string {
	p := connlimit.Client(ip)
	if p.Addr().Is4() {
		return IPKeyPrefix + p.Addr().String()
	}
	return IPKeyPrefix + p.String()
}

// AccountKey is the throttle key of a user name, normalised as
// NormalizeUsername does (so "Alice@Example.com" counts with
// "alice@example.com"). Mailboxes and admins share the name space.
func AccountKey(name string) string {
	n, _ := NormalizeUsername(name)
	return AccountKeyPrefix + n
}

// pruneEvery is how many recorded failures pass between two prunings of
// records that no longer matter.
const pruneEvery = 256

// guard is the login throttle: it reserves a place for each password
// check before it runs, per client address and per account, so that
// parallel guesses count as if they were made one after the other.
//
// The rule: a key (address or account) admits a new check while its
// failures in the current series plus the checks in flight on this node
// stay below MaxFailures; beyond, the check waits for one in flight to
// end (or until HashWait, then it is refused as throttled). When failures
// reach MaxFailures the key is blocked for Block. The account key counts
// only checks from clients unknown to the account: a client that logged
// in to it successfully within KnownFor is not held back by the account's
// failures (its own address key still counts), so a stranger's guessing
// cannot lock the owner out. A success forgets the account's failures and
// releases its places without counting.
//
// Failures and blocks live in the ThrottleStore (PostgreSQL: shared by all
// nodes); the places in flight are this node's. Across n nodes an attacker
// gets at most n times MaxFailures checks in one burst, then the shared
// block holds everywhere.
type guard struct {
	cfg    ThrottleConfig
	st     ThrottleStore
	clock  Clock
	hashes *hashLimiter
	log    *slog.Logger
	m      *metrics

	mu       sync.Mutex
	inflight map[string]int
	gen      uint64        // bumped whenever a failure was recorded
	changed  chan struct{} // closed (and replaced) when inflight or gen changes
	recorded int           // failures recorded, for pruning
}

func newGuard(cfg ThrottleConfig, st ThrottleStore, clock Clock, h *hashLimiter, m *metrics, log *slog.Logger) *guard {
	if cfg.MaxFailures < 1 {
		cfg.MaxFailures = 1
	}
	if cfg.Block <= 0 {
		cfg.Block = 15 * time.Minute
	}
	if cfg.KnownFor <= 0 {
		cfg.KnownFor = 30 * 24 * time.Hour
	}
	return &guard{cfg: cfg, st: st, clock: clock, hashes: h, m: m, log: log,
		inflight: map[string]int{}, changed: make(chan struct{})}
}

// live is how many failures of rec count at now: none once the last one
// is older than Block.
func (g *guard) live(rec store.ThrottleRecord, now time.Time) int {
	if rec.Failures == 0 || now.Sub(rec.LastFailure) >= g.cfg.Block {
		return 0
	}
	return rec.Failures
}

func reasonOf(key string) string {
	if strings.HasPrefix(key, IPKeyPrefix) {
		return "ip"
	}
	return "account"
}

// Attempt is one reserved login check: it holds a place in the throttle
// of its client address and account until it ends with Succeed, Fail or
// Release. Password checks run through Hash, which bounds how many run at
// once on the node. An Attempt is used by one goroutine.
type Attempt struct {
	g       *guard
	keys    []string // the keys this attempt holds places in
	acctKey string
	account string    // normalised name, "" when none
	client  string    // client key without prefix, "" when unknown
	known   time.Time // the client's last login to the account; zero: unknown
	acctRec store.ThrottleRecord
	ended   bool
	hashed  bool // a password check ran
}

// reserve waits for a place for a check of account from ip (either may
// be empty). It returns a *ThrottledError when a key is blocked, or when
// no place freed up within HashWait.
func (g *guard) reserve(ctx context.Context, ip netip.Addr, account string) (*Attempt, error) {
	at := &Attempt{g: g, account: account}
	var all []string
	ipKey := ""
	if ip.IsValid() {
		ipKey = ClientKey(ip)
		at.client = strings.TrimPrefix(ipKey, IPKeyPrefix)
		all = append(all, ipKey)
	}
	if account != "" {
		at.acctKey = AccountKeyPrefix + account
		all = append(all, at.acctKey)
	}
	if len(all) == 0 {
		return at, nil
	}
	wait := time.NewTimer(g.hashes.wait)
	defer wait.Stop()
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		g.mu.Lock()
		gen, changed := g.gen, g.changed
		g.mu.Unlock()
		now := g.clock.Now()
		recs, known, err := g.st.LoginThrottle(ctx, all, account, at.client, now.Add(-g.cfg.KnownFor))
		if err != nil {
			return nil, err
		}
		keys := all
		if !known.IsZero() {
			keys = all[:len(all)-1] // the account does not hold back a known client
			if ipKey == "" {
				keys = nil
			}
		}
		for _, k := range keys {
			if r := recs[k]; r.BlockedUntil.After(now) {
				return nil, &ThrottledError{Reason: reasonOf(k), RetryAfter: r.BlockedUntil.Sub(now)}
			}
		}
		full := ""
		g.mu.Lock()
		if g.gen != gen { // a failure was recorded since the read: read again
			g.mu.Unlock()
			continue
		}
		for _, k := range keys {
			if g.live(recs[k], now)+g.inflight[k] >= g.cfg.MaxFailures {
				full = k
				break
			}
		}
		if full == "" {
			for _, k := range keys {
				g.inflight[k]++
			}
			g.mu.Unlock()
			at.keys, at.known, at.acctRec = keys, known, recs[at.acctKey]
			return at, nil
		}
		g.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wait.C:
			return nil, &ThrottledError{Reason: reasonOf(full), RetryAfter: g.cfg.Delay * MaxDelayFactor}
		}
	}
}

// release gives the attempt's places back; failed says a failure was
// recorded for them.
func (at *Attempt) release(failed bool) {
	if at.ended {
		return
	}
	at.ended = true
	g := at.g
	if len(at.keys) == 0 {
		return
	}
	g.mu.Lock()
	for _, k := range at.keys {
		if g.inflight[k]--; g.inflight[k] <= 0 {
			delete(g.inflight, k)
		}
	}
	if failed {
		g.gen++
	}
	close(g.changed)
	g.changed = make(chan struct{})
	g.mu.Unlock()
}

// Hash runs fn, a password check or hash, among the node's limited
// concurrent hashes: it waits for a slot up to HashWait (then ErrBusy) or
// until ctx ends.
func (at *Attempt) Hash(ctx context.Context, fn func()) error {
	if at == nil {
		fn()
		return nil
	}
	if err := at.g.hashes.run(ctx, fn); err != nil {
		return err
	}
	at.hashed = true
	return nil
}

// The methods of a nil *Attempt run unthrottled: Hash runs fn, the others
// do nothing (FailAndWait returns ErrInvalidCredentials at once).

// Release ends an attempt that neither succeeded nor failed (the database
// could not be read, the client left before any password was checked): its
// places are given back without counting. After Succeed or Fail it does
// nothing, so it may be deferred. An attempt whose password check ran is
// recorded as failed instead: a check that ran is a guess that counts.
func (at *Attempt) Release() {
	if at == nil || at.ended {
		return
	}
	if at.hashed {
		at.Fail(context.WithoutCancel(context.Background())) //nolint:errcheck // best effort
		return
	}
	at.release(false)
}

// Succeed ends the attempt as a success: the account's failures are
// forgotten and the client becomes known to it; the address keeps its
// failures (so one good account cannot launder guesses at others).
func (at *Attempt) Succeed(ctx context.Context) {
	if at == nil || at.ended {
		return
	}
	defer at.release(false)
	g := at.g
	if at.account == "" {
		return
	}
	now := g.clock.Now()
	// Write only when something changes: failures to forget, a client to
	// remember (or to refresh, once a day).
	if at.known.IsZero() || at.acctRec.Failures > 0 || now.Sub(at.known) > 24*time.Hour {
		ctx = context.WithoutCancel(ctx)
		if err := g.st.LoginSucceeded(ctx, at.acctKey, at.account, at.client, now, now.Add(-g.cfg.KnownFor)); err != nil {
			g.log.Warn("login throttle: record success", "user", at.account, "err", err)
		}
	}
}

// Fail ends the attempt as a failure: it counts for the attempt's keys,
// may begin blocks, and returns the delay to impose (the caller waits it).
func (at *Attempt) Fail(ctx context.Context) Outcome {
	var out Outcome
	if at == nil || at.ended {
		return out
	}
	g := at.g
	if len(at.keys) == 0 {
		at.release(false)
		out.Delay = g.delay(1)
		return out
	}
	now := g.clock.Now()
	recs, err := g.st.UpdateLoginThrottle(context.WithoutCancel(ctx), at.keys, func(r store.ThrottleRecord) store.ThrottleRecord {
		if r.BlockedUntil.After(now) { // blocked meanwhile (another node): keep the block
			return r
		}
		r.Failures = g.live(r, now) + 1
		r.LastFailure = now
		r.BlockedUntil = time.Time{}
		if r.Failures >= g.cfg.MaxFailures {
			r.Failures = 0 // a new series starts when the block ends
			r.BlockedUntil = now.Add(g.cfg.Block)
		}
		return r
	})
	at.release(true)
	if err != nil {
		g.log.Error("login throttle: record failure", "err", err)
		out.Delay = g.delay(MaxDelayFactor)
		return out
	}
	most := 0
	for _, k := range at.keys {
		r := recs[k]
		if r.BlockedUntil.Equal(now.Add(g.cfg.Block)) {
			out.Blocked = append(out.Blocked, reasonOf(k))
			g.m.blocked.WithLabelValues(reasonOf(k)).Inc()
			g.log.Warn("login blocked after too many failures", "key", k, "for", g.cfg.Block)
			most = g.cfg.MaxFailures
		}
		most = max(most, r.Failures)
	}
	out.Delay = g.delay(most)
	g.mu.Lock()
	g.recorded++
	prune := g.recorded%pruneEvery == 0
	g.mu.Unlock()
	if prune {
		if err := g.st.PruneLoginThrottle(context.WithoutCancel(ctx), now, now.Add(-g.cfg.Block)); err != nil {
			g.log.Warn("login throttle: prune", "err", err)
		}
	}
	return out
}

// delay is Delay doubled for each failure after the first, capped.
func (g *guard) delay(n int) time.Duration {
	n = max(n, 1)
	f := min(1<<min(n-1, 30), MaxDelayFactor)
	return g.cfg.Delay * time.Duration(f)
}

// FailAndWait is Fail, then the delay: ErrInvalidCredentials, or ctx's
// error when the client left meanwhile.
func (at *Attempt) FailAndWait(ctx context.Context) error {
	if at == nil {
		return ErrInvalidCredentials
	}
	out := at.Fail(ctx)
	if err := at.g.clock.Sleep(ctx, out.Delay); err != nil {
		return err
	}
	return ErrInvalidCredentials
}
