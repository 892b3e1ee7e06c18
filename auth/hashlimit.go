package auth

import (
	"bufio"
	"context"
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrBusy is the answer to a login that found no free slot among the
// node's concurrent password hashes within the wait (HashWait). It is a
// temporary failure: SMTP 454 4.7.0, IMAP NO [UNAVAILABLE], POP3 -ERR
// [SYS/TEMP], HTTP 503.
var ErrBusy = errors.New("auth: too many password checks at once, try again later")

// DefaultHashWait is how long a login waits for a hash slot by default.
const DefaultHashWait = 10 * time.Second

// maxAutoHashes caps the number of concurrent hashes sized from memory:
// a password hash is CPU-bound, so more than a few per core only adds
// memory and latency, never throughput.
const maxAutoHashesPerCPU = 2

// hashMemoryShare is the part of the available memory that concurrent
// hashes may take when their number is sized automatically.
const hashMemoryShare = 4 // a quarter

// AutoConcurrentHashes is the default limit of concurrent password hashes
// of a node: a quarter of the available memory (MemAvailable of
// /proc/meminfo, or 1 GiB when unknown) divided by the memory of one hash
// of h (argon2's m; 1 MiB for the other schemes), at least 1 and at most
// two per CPU.
func AutoConcurrentHashes(h Hasher) int {
	per := int64(1 << 20)
	if strings.EqualFold(h.Scheme, SchemeArgon2ID) && h.Argon2MemoryKiB > 0 {
		per = int64(h.Argon2MemoryKiB) << 10
	}
	avail := availableMemory()
	n := int(avail / hashMemoryShare / per)
	return max(1, min(n, maxAutoHashesPerCPU*runtime.NumCPU()))
}

// availableMemory reads MemAvailable from /proc/meminfo, in bytes.
func availableMemory() int64 {
	const fallback = 1 << 30
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return fallback
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil || kb <= 0 {
			return fallback
		}
		return kb << 10
	}
	return fallback
}

// hashLimiter bounds the password hashes running at once on a node: each
// argon2id check takes its memory cost (19 MiB by default), so without a
// bound a burst of logins is a denial of service by memory.
type hashLimiter struct {
	slots    chan struct{}
	wait     time.Duration
	computed atomic.Int64
	now      atomic.Int64 // running now
	peak     atomic.Int64 // most ever running at once

	total   prometheus.Counter
	running prometheus.Gauge
	busy    prometheus.Counter
}

func newHashLimiter(n int, wait time.Duration) *hashLimiter {
	if wait <= 0 {
		wait = DefaultHashWait
	}
	return &hashLimiter{
		slots: make(chan struct{}, max(n, 1)),
		wait:  wait,
		total: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailhost_auth_hashes_total", Help: "Password hashes computed (login checks and upgrades).",
		}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mailhost_auth_hashes_running", Help: "Password hashes running now.",
		}),
		busy: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailhost_auth_hash_busy_total", Help: "Logins refused because no hash slot freed up in time (auth.hash_wait_seconds).",
		}),
	}
}

// run runs fn in a slot, waiting for one up to the limiter's wait.
func (l *hashLimiter) run(ctx context.Context, fn func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case l.slots <- struct{}{}:
	default:
		t := time.NewTimer(l.wait)
		defer t.Stop()
		select {
		case l.slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			l.busy.Inc()
			return ErrBusy
		}
	}
	defer func() { <-l.slots }()
	l.running.Inc()
	defer l.running.Dec()
	n := l.now.Add(1)
	defer l.now.Add(-1)
	for p := l.peak.Load(); n > p && !l.peak.CompareAndSwap(p, n); p = l.peak.Load() {
	}
	l.computed.Add(1)
	l.total.Inc()
	fn()
	return nil
}
