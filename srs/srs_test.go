package srs

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	secret = []byte("0123456789abcdef-test-secret")
	day0   = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
)

func rewriter(t *testing.T, secrets ...[]byte) *Rewriter {
	t.Helper()
	if len(secrets) == 0 {
		secrets = [][]byte{secret}
	}
	r, err := New(secrets, "fwd.example", 21*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The scheme's fixed parts: day 20790 since 1970 is 310 mod 1024, "JW"
// in libsrs2's base32; the hash is four base64 characters.
func TestForwardForm(t *testing.T) {
	r := rewriter(t)
	got, err := r.Forward("alice@orig.example", day0)
	if err != nil {
		t.Fatal(err)
	}
	local, domain, _ := strings.Cut(got, "@")
	p := strings.Split(local, "=")
	if domain != "fwd.example" || len(p) != 5 || p[0] != "SRS0" || len(p[1]) != 4 || p[2] != "JW" ||
		p[3] != "orig.example" || p[4] != "alice" {
		t.Fatalf("Forward = %q, want SRS0=HHHH=JW=orig.example=alice@fwd.example", got)
	}
	// Deterministic for one secret and day.
	if again, _ := r.Forward("alice@orig.example", day0.Add(time.Hour)); again != got {
		t.Errorf("same day gave %q then %q", got, again)
	}
}

func TestForwardReverse(t *testing.T) {
	r := rewriter(t)
	other, err := New([][]byte{[]byte("another-installation-secret!")}, "other.example", 21*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srs0, _ := r.Forward("alice@orig.example", day0)
	swap := func(s string, i int) string { // change the hash's i-th character
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	// The second forwarder's SRS1 for our SRS0 (as if other.example
	// forwarded on what we sent), and its reverse.
	srs1, err := other.Forward(srs0, day0)
	if !strings.HasSuffix(srs1, "@other.example") {
		t.Fatalf("SRS1 %q", srs1)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, addr string
		r          *Rewriter
		now        time.Time
		want       string
		err        error
	}{
		{"round trip", srs0, r, day0, "alice@orig.example", nil},
		{"lower-cased by an MTA", strings.ToLower(srs0), r, day0, "alice@orig.example", nil},
		{"upper-cased", strings.ToUpper(srs0), r, day0, "ALICE@ORIG.EXAMPLE", nil},
		{"21 days later", srs0, r, day0.Add(21 * 24 * time.Hour), "alice@orig.example", nil},
		{"22 days later", srs0, r, day0.Add(22 * 24 * time.Hour), "", ErrExpired},
		{"from the future", srs0, r, day0.Add(-2 * 24 * time.Hour), "", ErrExpired},
		{"wrong hash", swap(srs0, 5), r, day0, "", ErrBadHash},
		{"other secret", srs0, other, day0, "", ErrBadHash},
		{"short hash", "SRS0=" + srs0[5:8] + srs0[9:], r, day0, "", ErrBadHash},
		{"changed user", strings.Replace(srs0, "=alice@", "=mallory@", 1), r, day0, "", ErrBadHash},
		{"changed domain", strings.Replace(srs0, "=orig.example=", "=evil.example=", 1), r, day0, "", ErrBadHash},
		{"bad timestamp", strings.Replace(srs0, "=JW=", "=J!=", 1), r, day0, "", ErrBadHash},
		{"missing fields", "SRS0=abcd=JW@fwd.example", r, day0, "", ErrMalformed},
		{"not SRS", "alice@fwd.example", r, day0, "", ErrNotSRS},
		{"SRS2 is not SRS", "SRS2=abcd=6J=d=l@fwd.example", r, day0, "", ErrNotSRS},
		{"SRS1 to the first forwarder", srs1, other, day0, "SRS0" + strings.TrimPrefix(strings.Split(srs0, "@")[0], "SRS0") + "@fwd.example", nil},
		{"SRS1 wrong hash", swap(srs1, 5), other, day0, "", ErrBadHash},
		{"SRS1 under another secret", srs1, r, day0, "", ErrBadHash},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.r.Reverse(tc.addr, tc.now)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("Reverse(%q) = %q, %v; want %q, %v", tc.addr, got, err, tc.want, tc.err)
			}
		})
	}
}

// Double forwarding: an SRS0 sender becomes SRS1 pointing at the first
// forwarder, an SRS1 sender keeps its first forwarder; reversing twice
// (second then first forwarder) gives the original sender back.
func TestSRS1Chain(t *testing.T) {
	first := rewriter(t)
	second, _ := New([][]byte{[]byte("second-forwarder-secret")}, "second.example", 21*24*time.Hour)
	third, _ := New([][]byte{[]byte("third-forwarder-secret!!")}, "third.example", 21*24*time.Hour)
	srs0, _ := first.Forward("bob@orig.example", day0)
	srs1, _ := second.Forward(srs0, day0)
	if !strings.HasPrefix(srs1, "SRS1=") || !strings.Contains(srs1, "=fwd.example==") || !strings.HasSuffix(srs1, "@second.example") {
		t.Fatalf("SRS1 = %q", srs1)
	}
	srs1b, _ := third.Forward(srs1, day0)
	if !strings.HasSuffix(srs1b, "@third.example") || !strings.Contains(srs1b, "=fwd.example==") {
		t.Fatalf("re-forwarded SRS1 = %q, want the first forwarder kept", srs1b)
	}
	back, err := third.Reverse(srs1b, day0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(back, "@fwd.example") {
		t.Fatalf("SRS1 reversed to %q, want the first forwarder's SRS0", back)
	}
	orig, err := first.Reverse(back, day0.Add(24*time.Hour))
	if err != nil || orig != "bob@orig.example" {
		t.Fatalf("first forwarder reversed %q to %q, %v", back, orig, err)
	}
}

// A rotated secret: the new one signs, the old one still verifies.
func TestSecretRotation(t *testing.T) {
	old := rewriter(t)
	addr, _ := old.Forward("alice@orig.example", day0)
	rotated := rewriter(t, []byte("the-new-secret-0123456789"), secret)
	if got, err := rotated.Reverse(addr, day0); err != nil || got != "alice@orig.example" {
		t.Fatalf("old address after rotation: %q, %v", got, err)
	}
	fresh, _ := rotated.Forward("alice@orig.example", day0)
	if fresh == addr {
		t.Fatalf("the new secret does not sign")
	}
	if _, err := old.Reverse(fresh, day0); !errors.Is(err, ErrBadHash) {
		t.Fatalf("new address under the old secret alone: %v", err)
	}
}

func TestForwardLeavesOwnDomain(t *testing.T) {
	r := rewriter(t)
	for _, a := range []string{"SRS0=abcd=6J=orig.example=alice@fwd.example", "x@FWD.example"} {
		if got, err := r.Forward(a, day0); err != nil || got != a {
			t.Errorf("Forward(%q) = %q, %v; want it unchanged", a, got, err)
		}
	}
	if _, err := r.Forward("no-at-sign", day0); err == nil {
		t.Errorf("Forward of an address without @ succeeded")
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name    string
		secrets [][]byte
		domain  string
		age     time.Duration
	}{
		{"no secret", nil, "d.example", 24 * time.Hour},
		{"short secret", [][]byte{[]byte("short")}, "d.example", 24 * time.Hour},
		{"no domain", [][]byte{secret}, "", 24 * time.Hour},
		{"age under a day", [][]byte{secret}, "d.example", time.Hour},
		{"age of a cycle", [][]byte{secret}, "d.example", 1024 * 24 * time.Hour},
	} {
		if _, err := New(tc.secrets, tc.domain, tc.age); err == nil {
			t.Errorf("%s: New succeeded", tc.name)
		}
	}
}

func TestIsSRS(t *testing.T) {
	for a, want := range map[string]bool{
		"SRS0=a=b=c=d@x": true, "srs1+a@x": true, "Srs0-x@y": true,
		"srs0@x": false, "srs0x@x": false, "alice@x": false, "SRS2=a@x": false,
	} {
		if IsSRS(a) != want {
			t.Errorf("IsSRS(%q) = %v", a, !want)
		}
	}
}
