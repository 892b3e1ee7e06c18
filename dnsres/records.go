package dnsres

import (
	"context"
	"strings"

	"github.com/miekg/dns"
)

// SRV is one service record (RFC 2782).
type SRV struct {
	Target   string // without the trailing dot; "." when the service is not offered (RFC 6186 3.4)
	Port     uint16
	Priority uint16
	Weight   uint16
}

// SRV returns name's service records in the order of the answer.
func (r *Resolver) SRV(ctx context.Context, name string) ([]SRV, error) {
	return drop(answers(ctx, r, name, dns.TypeSRV, func(s *dns.SRV) (SRV, bool) {
		t := strings.TrimSuffix(s.Target, ".")
		if t == "" {
			t = "."
		}
		return SRV{Target: t, Port: s.Port, Priority: s.Priority, Weight: s.Weight}, true
	}))
}

// CNAME returns the name name is an alias of, without the trailing dot
// (the first step only); a name without a CNAME record is ErrNoData.
func (r *Resolver) CNAME(ctx context.Context, name string) (string, error) {
	got, _, err := answers(ctx, r, name, dns.TypeCNAME, func(c *dns.CNAME) (string, bool) {
		return strings.TrimSuffix(c.Target, "."), strings.EqualFold(strings.TrimSuffix(c.Hdr.Name, "."), strings.TrimSuffix(name, "."))
	})
	if err != nil {
		return "", err
	}
	return got[0], nil
}
