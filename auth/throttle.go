package auth

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"mailhost/connlimit"
)

// ErrThrottled is matched (errors.Is) by every *ThrottledError: the login
// was refused without looking at the password because the client address or
// the account failed too often. It is a temporary failure; protocols answer
// it with SMTP 454 4.7.0, IMAP NO [UNAVAILABLE], POP3 -ERR [SYS/TEMP].
var ErrThrottled = errors.New("auth: too many failed logins, try again later")

// ThrottledError says which limit refused a login and for how long.
type ThrottledError struct {
	Reason     string        // "ip" or "account"
	RetryAfter time.Duration // until the block ends
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("auth: %s blocked for %s after too many failed logins", e.Reason, e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrThrottled) true.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// Temporary reports that trying again later may succeed.
func (e *ThrottledError) Temporary() bool { return true }

// ThrottleConfig sets the limits of a Throttle.
type ThrottleConfig struct {
	// MaxFailures is how many failed logins in a row an address or an
	// account may have before it is blocked for Block.
	MaxFailures int
	// Block is how long a block lasts, and also how long a failure is
	// remembered: failures older than Block are forgotten.
	Block time.Duration
	// Delay is the pause before answering the first failure; it doubles
	// with each further failure of the same address or account, up to
	// MaxDelayFactor times Delay.
	Delay time.Duration
	// KnownFor is how long a client address that logged in to an account
	// successfully stays known to it (not held back by the account's
	// failures); 0 means 30 days. Only the Authenticator uses it.
	KnownFor time.Duration
}

// MaxDelayFactor caps the growing failure delay at this multiple of
// ThrottleConfig.Delay.
const MaxDelayFactor = 16

// maxEntries bounds the failure table; beyond it, entries that can no
// longer matter are swept.
const maxEntries = 100_000

// Clock tells the time and waits; tests inject a fake one.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx ends (then it returns ctx.Err()).
	Sleep(ctx context.Context, d time.Duration) error
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Sleep waits for d or until ctx ends.
func (SystemClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// failures is the record of one address or account.
type failures struct {
	count        int
	last         time.Time
	blockedUntil time.Time
}

// Throttle counts failures per client address and per key in this
// process's memory and decides delays and blocks, after the fact: it does
// not count checks in flight. Logins do not use it (the Authenticator's
// throttle does, see Authenticator.Reserve); it remains for the panel's
// forms that re-check a logged-in user's current password. It is safe for
// concurrent use.
type Throttle struct {
	cfg   ThrottleConfig
	clock Clock

	mu      sync.Mutex
	entries map[string]*failures // "ip:<prefix>" or "acct:<name>"
}

// NewThrottle returns a Throttle with cfg's limits; clock nil means the
// system clock.
func NewThrottle(cfg ThrottleConfig, clock Clock) *Throttle {
	if clock == nil {
		clock = SystemClock{}
	}
	if cfg.MaxFailures < 1 {
		cfg.MaxFailures = 1
	}
	return &Throttle{cfg: cfg, clock: clock, entries: map[string]*failures{}}
}

// ipKey is a client as the connection limits count it (connlimit.Client:
// an IPv4 address, an IPv6 /64, the block one subscriber usually holds),
// so an attacker cannot walk through its own addresses.
func ipKey(ip netip.Addr) string { return "ip:" + connlimit.Client(ip).String() }

func acctKey(name string) string { return "acct:" + name }

// Check returns a *ThrottledError when ip or account is blocked now. An
// invalid ip (unknown client) is not throttled by address.
func (t *Throttle) Check(ip netip.Addr, account string) error {
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if ip.IsValid() {
		if e := t.entries[ipKey(ip)]; e != nil && now.Before(e.blockedUntil) {
			return &ThrottledError{Reason: "ip", RetryAfter: e.blockedUntil.Sub(now)}
		}
	}
	if e := t.entries[acctKey(account)]; e != nil && now.Before(e.blockedUntil) {
		return &ThrottledError{Reason: "account", RetryAfter: e.blockedUntil.Sub(now)}
	}
	return nil
}

// Outcome is what a failure led to.
type Outcome struct {
	Delay   time.Duration // pause before answering the failure
	Blocked []string      // "ip" and/or "account": blocks that began with this failure
}

// Fail records a failed login of account from ip and returns the delay to
// impose and the blocks it started.
func (t *Throttle) Fail(ip netip.Addr, account string) Outcome {
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.entries) >= maxEntries {
		t.sweep(now)
	}
	var out Outcome
	most := 0
	for _, k := range []struct{ key, reason string }{{ipKey(ip), "ip"}, {acctKey(account), "account"}} {
		if k.reason == "ip" && !ip.IsValid() {
			continue
		}
		e := t.entries[k.key]
		if e == nil || now.Sub(e.last) >= t.cfg.Block {
			e = &failures{}
			t.entries[k.key] = e
		}
		e.count++
		e.last = now
		if e.count >= t.cfg.MaxFailures && !now.Before(e.blockedUntil) {
			e.blockedUntil = now.Add(t.cfg.Block)
			e.count = 0 // a new series starts when the block ends
			out.Blocked = append(out.Blocked, k.reason)
		}
		most = max(most, e.count)
	}
	out.Delay = t.delay(most)
	return out
}

// delay is Delay doubled for each failure after the first, capped.
func (t *Throttle) delay(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	f := min(1<<min(n-1, 30), MaxDelayFactor)
	return t.cfg.Delay * time.Duration(f)
}

// Succeed records a successful login: the account's failures are forgotten.
// The address keeps its record, so one valid account cannot launder an
// attacker's guesses at others.
func (t *Throttle) Succeed(account string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.entries, acctKey(account))
}

// sweep drops entries that no longer matter: not blocked, last failure
// older than Block. If that is not enough, unblocked entries go too.
func (t *Throttle) sweep(now time.Time) {
	for k, e := range t.entries {
		if !now.Before(e.blockedUntil) && now.Sub(e.last) >= t.cfg.Block {
			delete(t.entries, k)
		}
	}
	if len(t.entries) < maxEntries {
		return
	}
	for k, e := range t.entries {
		if !now.Before(e.blockedUntil) {
			delete(t.entries, k)
		}
	}
}
