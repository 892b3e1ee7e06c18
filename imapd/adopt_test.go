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
	a.end(7, mt1, mt2, t0)

	if _, ok := a.begin(7, false, t0.Add(adoptInterval/2)); ok {
		t.Error("a poll looks again within adoptInterval")
	}
	last, ok = a.begin(7, true, t0.Add(adoptInterval/2))
	if !ok || !last.newMT.Equal(mt1) || !last.curMT.Equal(mt2) {
		t.Fatalf("SELECT: ok %v, last %+v, want the recorded mtimes", ok, last)
	}
	a.end(7, time.Time{}, time.Time{}, t0.Add(adoptInterval/2)) // a failed look records nothing

	last, ok = a.begin(7, false, t0.Add(adoptInterval))
	if !ok || !last.newMT.Equal(mt1) || !last.at.Equal(t0) {
		t.Fatalf("poll after adoptInterval: ok %v, last %+v", ok, last)
	}
	a.end(7, mt1, mt2, t0.Add(adoptInterval))
}
