package auth

import (
	"context"
	"errors"
	"fmt"
	"time"
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

// Outcome is what a failure led to.
type Outcome struct {
	Delay   time.Duration // pause before answering the failure
	Blocked []string      // "ip" and/or "account": blocks that began with this failure
}
