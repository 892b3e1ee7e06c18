package senderauth

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"blitiri.com.ar/go/spf"

	"mailhost/address"
)

// SPF is the outcome of the SPF check of one identity.
type SPF struct {
	// Result is one of none, neutral, pass, fail, softfail, temperror,
	// permerror (RFC 7208 2.6).
	Result string
	// HELO is set when the identity checked is the HELO name: the
	// reverse-path was null (RFC 7208 2.4).
	HELO bool
	// Identity is what was checked: the MAIL FROM address, or the HELO
	// name.
	Identity string
	// Domain is the domain whose record was evaluated, the
	// SPF-authenticated identifier DMARC aligns (RFC 7489 3.1.2).
	Domain string
	// Err says why, for the log; never shown to the client.
	Err error
}

// SPF checks whether ip may send for sender (the MAIL FROM address as
// given, "" for the null reverse-path) per RFC 7208 4 (check_host), with
// at most 10 DNS-querying terms and 2 void lookups (4.6.4). For the null
// sender the identity is postmaster@helo (2.4). A HELO name that is not a
// domain (an address literal, a bare word) gives none.
func (c *Checker) SPF(ctx context.Context, ip netip.Addr, helo, sender string) SPF {
	out := SPF{Identity: sender}
	if sender == "" {
		out.HELO, out.Identity = true, helo
		sender = "postmaster@" + helo
	}
	_, domain := address.Split(sender)
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	out.Domain = domain
	if !isDomainName(domain) {
		out.Result = None
		return out
	}
	res, err := spf.CheckHostWithSender(net.IP(ip.Unmap().AsSlice()), helo, sender,
		spf.WithContext(ctx), spf.WithResolver(c.lib()))
	out.Result = string(res)
	if res != spf.Pass && res != spf.Fail && res != spf.SoftFail && res != spf.Neutral {
		out.Err = err // the matched term otherwise: not worth logging
	}
	return out
}

// isDomainName reports a name SPF can look up: dot-separated labels of
// letters, digits and hyphens (A-labels), at least two of them. Address
// literals and single words are not (RFC 7208 4.3).
func isDomainName(d string) bool {
	if len(d) > 253 || !strings.Contains(d, ".") {
		return false
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			ch := l[i]
			if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
				return false
			}
		}
	}
	return true
}
