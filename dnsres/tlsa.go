package dnsres

import (
	"context"
	"encoding/hex"
	"strings"

	"github.com/miekg/dns"
)

// TLSA is one TLSA record (RFC 6698 2.1): which certificate of the
// server's chain (Usage), what part of it (Selector) and how it is
// compared (MatchingType) with Data.
type TLSA struct {
	Usage, Selector, MatchingType uint8
	Data                          []byte // the certificate association data
}

// TLSA returns the TLSA records of name (such as "_25._tcp.mx.example",
// RFC 7672 2.2.3) and whether the resolver authenticated the answer
// (the AD bit): only authenticated records may be used (RFC 7672 2.2).
// NXDOMAIN and NODATA are errors that carry the AD bit of the denial.
func (r *Resolver) TLSA(ctx context.Context, name string) (_ []TLSA, authenticated bool, _ error) {
	return answers(ctx, r, name, dns.TypeTLSA, func(t *dns.TLSA) (TLSA, bool) {
		b, err := hex.DecodeString(strings.TrimSpace(t.Certificate))
		if err != nil {
			return TLSA{}, false
		}
		return TLSA{Usage: t.Usage, Selector: t.Selector, MatchingType: t.MatchingType, Data: b}, true
	})
}
