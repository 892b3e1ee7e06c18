package dnsres_test

import (
	"context"
	"encoding/hex"
	"errors"
	"testing"

	"mailhost/dnsres"
	"mailhost/dnstest"
)

// The AD bit of a validating resolver is reported with TLSA and address
// answers, also with a denial (NODATA, NXDOMAIN); without it, nothing is
// authenticated.
func TestTLSAAndAuthenticatedAnswers(t *testing.T) {
	ns := newNameserver(t, dnstest.Answer,
		"_25._tcp.mx.test. 60 IN TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"_25._tcp.mx.test. 60 IN TLSA 2 0 2 aabb",
		"mx.test. 60 IN A 192.0.2.1")
	r := resolver(t, ns.Addr)
	ctx := context.Background()
	for _, ad := range []bool{false, true} {
		ns.SetAuthenticated(ad)
		recs, auth, err := r.TLSA(ctx, "_25._tcp.mx.test")
		if err != nil || auth != ad || len(recs) != 2 {
			t.Fatalf("AD %v: TLSA got %+v, %v, %v", ad, recs, auth, err)
		}
		if recs[0].Usage != 3 || recs[0].Selector != 1 || recs[0].MatchingType != 1 ||
			hex.EncodeToString(recs[0].Data) != "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" {
			t.Errorf("first record %+v", recs[0])
		}
		_, auth, err = r.TLSA(ctx, "_25._tcp.other.test")
		var de *dnsres.Error
		if !errors.Is(err, dnsres.ErrNotFound) || !errors.As(err, &de) || de.Authenticated != ad || auth != ad {
			t.Errorf("AD %v: missing TLSA got %v, authenticated %v", ad, err, auth)
		}
		ips, auth, err := r.AuthenticatedIPs(ctx, "mx.test") // A, and NODATA for AAAA
		if err != nil || len(ips) != 1 || auth != ad {
			t.Errorf("AD %v: addresses %v, %v, %v", ad, ips, auth, err)
		}
	}
	if _, auth, _ := r.AuthenticatedIPs(ctx, "192.0.2.1"); auth {
		t.Errorf("an IP literal counts as authenticated")
	}
}
