// Package gctune paces Go's garbage collector to the load of the server.
//
// A low GC percent (Go's GOGC, runtime.gc_percent) keeps the heap of an
// idle server, holding thousands of IMAP IDLE sessions, close to what is
// live. Under mail traffic the live heap stays small (a few MB) while the
// sessions allocate tens of MB a second, and the same percent then runs a
// collection cycle many times a second, each with a fixed cost (stacks,
// globals, the cycle's phases): measured on bench/submission.sh, a third
// of mailhost's CPU outside the DKIM signature. The tuner reads the
// allocation rate every Interval and raises the percent so that a cycle
// comes about every Pace, with at most MaxHeadroom bytes of garbage
// beyond the live heap; when the rate falls, the configured percent
// returns. It never goes below the configured percent.
//
// It is a trade: Go's collector does not move objects, so long-lived
// ones made during a raise (IMAP sessions set up in a burst of logins)
// sit among garbage in spans that stay partly used once the garbage is
// gone. serve runs it only when runtime.gc_max_headroom_mib asks.
package gctune

import (
	"context"
	"log/slog"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"time"
)

// Config says how the collector is paced.
type Config struct {
	// Percent is the GC percent of an idle server, and the least ever set.
	Percent int
	// MaxHeadroom bounds the garbage allowed beyond the live heap under
	// load, in bytes; 0 keeps Percent always.
	MaxHeadroom uint64
	// Pace is the time between collection cycles aimed at under load;
	// 0 is DefaultPace.
	Pace time.Duration
	// Interval is how often the allocation rate is read; 0 is
	// DefaultInterval.
	Interval time.Duration
}

// Defaults of Config.
const (
	DefaultPace     = 250 * time.Millisecond
	DefaultInterval = 250 * time.Millisecond
)

// minLive is the least live heap a percent is computed for: Go's own
// floor on the heap goal is 4 MB scaled by the percent.
const minLive = 4 << 20

// maxPercent bounds the percent set (a tiny live heap and a large
// headroom would ask for more).
const maxPercent = 5000

// headroom is the garbage one Pace of allocation at rate bytes a second
// makes, at most MaxHeadroom.
func (c Config) headroom(rate float64) float64 {
	return min(rate*c.Pace.Seconds(), float64(c.MaxHeadroom))
}

// percent is the GC percent that lets headroom bytes of garbage build up
// over a live heap of live bytes, or c.Percent when that is more.
func (c Config) percent(headroom float64, live uint64) int {
	p := math.Ceil(100 * headroom / float64(max(live, minLive)))
	return max(c.Percent, int(min(p, maxPercent)))
}

// calmReadings is how many readings in a row must ask for less before
// the headroom is lowered: the largest asked for over the last second
// (at the default Interval) is kept, so that traffic in bursts does not
// move the percent at every reading.
const calmReadings = 4

// pacer decides the percent from reading to reading.
type pacer struct {
	c      Config
	cur    int       // the percent in force
	recent []float64 // the headrooms asked for by the last calmReadings readings
}

func newPacer(c Config) *pacer {
	return &pacer{c: c, cur: c.Percent, recent: make([]float64, 0, calmReadings)}
}

// next takes a reading and says which percent to set, if any (0: none),
// and whether the load has ended: the percent returns to the configured
// one after a raise. The percent is worked out afresh from the live heap
// of each reading, so a live heap that grows while the headroom is kept
// lowers it: the garbage allowed stays within MaxHeadroom.
func (p *pacer) next(rate float64, live uint64) (set int, calm bool) {
	if len(p.recent) == calmReadings {
		copy(p.recent, p.recent[1:])
		p.recent = p.recent[:calmReadings-1]
	}
	p.recent = append(p.recent, p.c.headroom(rate))
	want := p.c.percent(slices.Max(p.recent), live)
	switch {
	case want == p.cur:
		return 0, false
	case want == p.c.Percent:
		p.cur = want
		return want, true
	case math.Abs(float64(want-p.cur)) < float64(p.cur)/4:
		return 0, false // a rate read over a short interval wobbles
	}
	p.cur = want
	return want, false
}

// Run sets the GC percent to c.Percent, then paces it every Interval
// until ctx ends, and sets c.Percent again before it returns. When the
// load ends (a second of calm after a raise), the garbage it left is
// collected and the free memory given back to the system at once
// (debug.FreeOSMemory: a full collection of a live heap that is small
// when calm), so that an idle server's memory is what it holds rather
// than what the last burst left; traffic in bursts closer than that
// keeps the raise and never pays it.
func Run(ctx context.Context, c Config, log *slog.Logger) {
	if c.Pace <= 0 {
		c.Pace = DefaultPace
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	debug.SetGCPercent(c.Percent)
	defer debug.SetGCPercent(c.Percent)
	if c.MaxHeadroom == 0 {
		return
	}
	samples := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(samples)
	lastAllocs, lastAt := samples[0].Value.Uint64(), time.Now()
	p := newPacer(c)
	t := time.NewTicker(c.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			metrics.Read(samples)
			now := time.Now() // the tick's time may be late by a busy scheduler
			allocs, live := samples[0].Value.Uint64(), samples[1].Value.Uint64()
			rate := float64(allocs-lastAllocs) / now.Sub(lastAt).Seconds()
			lastAllocs, lastAt = allocs, now
			set, calm := p.next(rate, live)
			if set == 0 {
				continue
			}
			debug.SetGCPercent(set)
			log.Debug("gc percent", "percent", set, "alloc_mb_s", math.Round(rate/(1<<20)), "live_mb", live>>20)
			if calm {
				debug.FreeOSMemory()
			}
		}
	}
}
