package gctune

import (
	"context"
	"log/slog"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	c := Config{Percent: 50, MaxHeadroom: 64 << 20, Pace: 250 * time.Millisecond}
	for _, tc := range []struct {
		name string
		rate float64 // bytes a second
		live uint64
		want int
	}{
		{"idle", 0, 10 << 20, 50},
		{"a trickle: the configured percent's headroom is more", 4 << 20, 10 << 20, 50},
		// 40 MB/s for 250 ms is 10 MB of headroom over 5 MB live.
		{"traffic over a small heap", 40 << 20, 5 << 20, 200},
		{"a live heap under Go's 4 MB floor counts as 4 MB", 40 << 20, 1 << 20, 250},
		{"headroom capped at MaxHeadroom", 1 << 30, 16 << 20, 400},
		{"a large live heap keeps the configured percent", 40 << 20, 100 << 20, 50},
		{"MaxHeadroom over the 4 MB floor", 1 << 30, 0, 1600},
	} {
		if got := c.percent(c.headroom(tc.rate), tc.live); got != tc.want {
			t.Errorf("%s: percent(%.0f, %d) = %d, want %d", tc.name, tc.rate, tc.live, got, tc.want)
		}
	}
	huge := Config{Percent: 50, MaxHeadroom: 1 << 40, Pace: time.Second}
	if got := huge.percent(huge.headroom(1<<40), 0); got != maxPercent {
		t.Errorf("percent = %d, want the cap %d", got, maxPercent)
	}
	if got := (Config{Percent: 50}).percent(Config{Percent: 50}.headroom(1<<30), 0); got != 50 {
		t.Errorf("without headroom: percent = %d, want 50", got)
	}
}

// TestPacer: a raise at once, a lowering only when every reading of the
// last calmReadings asks for less, a wobble of less than a quarter
// ignored, and the return to the configured percent said to be calm.
func TestPacer(t *testing.T) {
	c := Config{Percent: 50, MaxHeadroom: 64 << 20, Pace: time.Second}
	p := newPacer(c)
	const mb = 1 << 20
	step := func(rate float64, wantSet int, wantCalm bool) {
		t.Helper()
		set, calm := p.next(rate*mb, 10*mb)
		if set != wantSet || calm != wantCalm {
			t.Fatalf("next(%v MB/s) = %d, %v; want %d, %v", rate, set, calm, wantSet, wantCalm)
		}
	}
	step(0, 0, false)    // idle: 50 in force already
	step(20, 200, false) // 20 MB over 10 MB live: raised at once
	step(22, 0, false)   // 220: less than a quarter more
	step(40, 400, false)
	for range calmReadings - 1 {
		step(0, 0, false) // the 400 is among the recent readings
	}
	step(0, 50, true) // every recent reading asks for 50: back, calm
	step(0, 0, false)
	step(30, 300, false)
	for range calmReadings - 1 {
		step(15, 0, false)
	}
	step(15, 150, false) // lowered, not calm: still above the configured percent
}

// TestPacerLiveHeapGrows: while a raise is kept, a live heap that grows
// lowers the percent, so the garbage allowed stays within MaxHeadroom.
func TestPacerLiveHeapGrows(t *testing.T) {
	const mb = 1 << 20
	p := newPacer(Config{Percent: 50, MaxHeadroom: 64 * mb, Pace: 250 * time.Millisecond})
	if set, _ := p.next(256*mb, 4*mb); set != 1600 { // 64 MB over 4 MB
		t.Fatalf("raise: %d, want 1600", set)
	}
	set, calm := p.next(0, 40*mb) // the burst's 64 MB kept, over 40 MB now
	if set != 160 || calm {
		t.Fatalf("live heap grown to 40 MB: %d, %v; want 160, not calm", set, calm)
	}
}

// gcPercent is the GC percent in force.
func gcPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// waitPercent polls until ok holds for the GC percent in force; the
// deadline is only there to end a broken test.
func waitPercent(t *testing.T, what string, ok func(int) bool, busy func()) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok(gcPercent()) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: the GC percent is still %d", what, gcPercent())
		}
		busy()
	}
}

var sink []byte

// TestRunFollowsTheLoad: allocating fast raises the percent above the
// configured one; stopping brings it back; the end of Run leaves the
// configured percent.
func TestRunFollowsTheLoad(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Run(ctx, Config{Percent: 40, MaxHeadroom: 256 << 20, Interval: 20 * time.Millisecond}, slog.New(slog.DiscardHandler))
		close(done)
	}()
	allocate := func() {
		for range 1000 {
			sink = make([]byte, 16<<10)
		}
	}
	waitPercent(t, "under load", func(p int) bool { return p > 40 }, allocate)
	waitPercent(t, "idle", func(p int) bool { return p == 40 }, func() { time.Sleep(5 * time.Millisecond) })
	waitPercent(t, "under load again", func(p int) bool { return p > 40 }, allocate)
	cancel()
	<-done
	if p := gcPercent(); p != 40 {
		t.Errorf("after Run: GC percent %d, want 40", p)
	}
}

// TestRunWithoutHeadroom: MaxHeadroom 0 sets the configured percent and
// leaves it, whatever the load.
func TestRunWithoutHeadroom(t *testing.T) {
	Run(context.Background(), Config{Percent: 70}, slog.New(slog.DiscardHandler))
	if p := gcPercent(); p != 70 {
		t.Errorf("GC percent %d, want 70", p)
	}
}
