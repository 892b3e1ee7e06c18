package imapd

import (
	"testing"
	"time"
)

// The node's record of looks for files to adopt: polls of a folder share
// one look per adoptInterval and never look twice at once; a SELECT always
// looks, against the last successful look's mtimes.
func TestAdoptChecks(t *testing.T) {
	var a adoptChecks
	t0 := time.Unix(1700000000, 0)
	mt1, mt2 := t0.Add(-time.Hour), t0.Add(-time.Minute)

	last, ok := a.begin(7, false, t0)
	if !ok || !last.newMT.IsZero() {
		t.Fatalf("first poll: ok %v, last %+v", ok, last)
	}
	if _, ok := a.begin(7, false, t0); ok {
		t.Error("a second poll looks while the first is at it")
	}
	if _, ok := a.begin(8, false, t0); !ok {
		t.Error("another folder's poll waits for this one's look")
	}
	a.end(7, true, mt1, mt2, t0)

	if _, ok := a.begin(7, false, t0.Add(adoptInterval/2)); ok {
		t.Error("a poll looks again within adoptInterval")
	}
	last, ok = a.begin(7, true, t0.Add(adoptInterval/2))
	if !ok || !last.newMT.Equal(mt1) || !last.curMT.Equal(mt2) {
		t.Fatalf("SELECT: ok %v, last %+v, want the recorded mtimes", ok, last)
	}
	a.end(7, false, time.Time{}, time.Time{}, t0.Add(adoptInterval/2)) // a failed look records nothing

	last, ok = a.begin(7, false, t0.Add(adoptInterval))
	if !ok || !last.newMT.Equal(mt1) || !last.at.Equal(t0) {
		t.Fatalf("poll after adoptInterval: ok %v, last %+v", ok, last)
	}
	a.end(7, true, mt1, mt2, t0.Add(adoptInterval))

	// A look that did not find agreement records when, not the mtimes.
	a.begin(7, true, t0.Add(2*adoptInterval))
	a.end(7, true, time.Time{}, time.Time{}, t0.Add(2*adoptInterval))
	if _, ok := a.begin(7, false, t0.Add(2*adoptInterval)); ok {
		t.Error("a poll looks again right after an inconclusive look")
	}
	last, _ = a.begin(7, true, t0.Add(2*adoptInterval))
	if !last.newMT.IsZero() {
		t.Errorf("after an inconclusive look, last %+v: the next look should count", last)
	}

	// Files in flight are counted per folder until done.
	done1, done2 := a.writing(7, 3), a.writing(7, 2)
	if n := a.inFlight(7); n != 5 {
		t.Errorf("in flight: %d, want 5", n)
	}
	done1()
	done2()
	if n, m := a.inFlight(7), a.inFlight(9); n != 0 || m != 0 {
		t.Errorf("in flight after done: %d and %d, want 0", n, m)
	}
}
