package mta

import (
	"bytes"
	"testing"

	"mailhost/dnsres"
)

// RFC 7672 3.1: only DANE-TA and DANE-EE records with a known selector
// and matching type, and data of the digest's length, are usable.
func TestUsableTLSA(t *testing.T) {
	d32, d64 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 64)
	for _, tc := range []struct {
		name   string
		rec    dnsres.TLSA
		usable bool
	}{
		{"DANE-EE SPKI SHA-256", dnsres.TLSA{Usage: 3, Selector: 1, MatchingType: 1, Data: d32}, true},
		{"DANE-TA certificate SHA-512", dnsres.TLSA{Usage: 2, Selector: 0, MatchingType: 2, Data: d64}, true},
		{"DANE-EE full", dnsres.TLSA{Usage: 3, Selector: 0, MatchingType: 0, Data: []byte{0x30}}, true},
		{"PKIX-TA", dnsres.TLSA{Usage: 0, Selector: 1, MatchingType: 1, Data: d32}, false},
		{"PKIX-EE", dnsres.TLSA{Usage: 1, Selector: 1, MatchingType: 1, Data: d32}, false},
		{"unknown usage", dnsres.TLSA{Usage: 4, Selector: 1, MatchingType: 1, Data: d32}, false},
		{"unknown selector", dnsres.TLSA{Usage: 3, Selector: 2, MatchingType: 1, Data: d32}, false},
		{"unknown matching type", dnsres.TLSA{Usage: 3, Selector: 1, MatchingType: 3, Data: d32}, false},
		{"SHA-256 of the wrong length", dnsres.TLSA{Usage: 3, Selector: 1, MatchingType: 1, Data: d64}, false},
		{"SHA-512 of the wrong length", dnsres.TLSA{Usage: 3, Selector: 1, MatchingType: 2, Data: d32}, false},
		{"full, empty", dnsres.TLSA{Usage: 3, Selector: 1, MatchingType: 0}, false},
	} {
		if got := len(usableTLSA([]dnsres.TLSA{tc.rec})) == 1; got != tc.usable {
			t.Errorf("%s: usable %v, want %v", tc.name, got, tc.usable)
		}
	}
}
