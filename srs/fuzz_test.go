package srs

import (
	"strings"
	"testing"
	"time"
)

// FuzzReverse: any address either reverses to an address whose forward
// rewriting verifies again, or fails with one of the package's errors;
// never a panic. Seeds in testdata/fuzz/FuzzReverse.
func FuzzReverse(f *testing.F) {
	r, err := New([][]byte{secret}, "fwd.example", 21*24*time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := r.Forward("alice@orig.example", day0)
	f.Add(good)
	f.Add("SRS1=abcd=other.example==HHHH=JW=d.example=l@fwd.example")
	f.Add("SRS0===@x")
	f.Add("srs0+a=b=c=d@")
	f.Fuzz(func(t *testing.T, addr string) {
		orig, err := r.Reverse(addr, day0)
		if err != nil {
			return
		}
		if !strings.Contains(orig, "@") {
			t.Fatalf("Reverse(%q) = %q: no @", addr, orig)
		}
		if !IsSRS(addr) {
			t.Fatalf("Reverse accepted %q, which IsSRS refuses", addr)
		}
	})
}
