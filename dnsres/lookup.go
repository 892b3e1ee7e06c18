package dnsres

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// MX is one mail exchanger of a domain.
type MX struct {
	Host string // without the trailing dot
	Pref uint16
}

// MX returns domain's mail exchangers, best first, those of equal
// preference in random order (RFC 5321 5.1). A domain without MX records
// is ErrNoData (the caller decides on the implicit MX); one whose only
// record is "MX 0 ." is ErrNullMX (RFC 7505 3). A "." among other
// records is left out.
func (r *Resolver) MX(ctx context.Context, domain string) ([]MX, error) {
	all, _, err := answers(ctx, r, domain, dns.TypeMX, func(mx *dns.MX) (MX, bool) {
		return MX{Host: strings.TrimSuffix(mx.Mx, "."), Pref: mx.Preference}, true
	})
	if err != nil {
		return nil, err
	}
	out := slices.DeleteFunc(all, func(mx MX) bool { return mx.Host == "" }) // "." trimmed
	if len(out) == 0 {
		return nil, &Error{Name: domain, Type: "MX", Kind: ErrNullMX}
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	slices.SortStableFunc(out, func(a, b MX) int { return int(a.Pref) - int(b.Pref) })
	return out, nil
}

// IPs returns host's addresses, IPv4 (A) first, then IPv6 (AAAA); an IP
// literal is returned as is. The addresses of one type are returned even
// when the other type's lookup failed; with none, the error says why:
// temporary when either lookup failed so, else ErrNotFound or ErrNoData.
func (r *Resolver) IPs(ctx context.Context, host string) ([]netip.Addr, error) {
	ips, _, err := r.AuthenticatedIPs(ctx, host)
	return ips, err
}

// AuthenticatedIPs is IPs that also says whether both answers (A and
// AAAA, records or NODATA) came with the AD bit: the resolver validated
// them with DNSSEC (RFC 4035 3.2.3). An IP literal is not authenticated.
// DANE looks up TLSA records only for hosts whose addresses are
// authenticated (RFC 7672 2.2.2).
func (r *Resolver) AuthenticatedIPs(ctx context.Context, host string) (_ []netip.Addr, authenticated bool, _ error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, false, nil
	}
	var out []netip.Addr
	var errs []error
	authenticated = true
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		got, ad, err := r.addrs(ctx, host, t)
		out = append(out, got...)
		authenticated = authenticated && ad
		if err != nil {
			errs = append(errs, err)
			if errors.Is(err, ErrNotFound) {
				break // no such name: it has no AAAA either
			}
		}
	}
	if len(out) > 0 {
		return out, authenticated, nil
	}
	for _, err := range errs {
		if errors.Is(err, ErrTemporary) {
			return nil, false, err
		}
	}
	return nil, authenticated, errs[0]
}

// addrs returns the A or AAAA records of name, and whether the answer
// was authenticated.
func (r *Resolver) addrs(ctx context.Context, name string, qtype uint16) ([]netip.Addr, bool, error) {
	if qtype == dns.TypeA {
		return answers(ctx, r, name, qtype, func(a *dns.A) (netip.Addr, bool) { return netip.AddrFromSlice(a.A.To4()) })
	}
	return answers(ctx, r, name, qtype, func(a *dns.AAAA) (netip.Addr, bool) { return netip.AddrFromSlice(a.AAAA.To16()) })
}

// answers queries name's records of qtype and returns f of each answer
// record of type T for which f says ok (records of other types, such as
// the CNAMEs leading to them, are skipped); none is ErrNoData. ad is the
// answer's AD bit (also for NODATA and NXDOMAIN, RFC 4035 3.2.3).
func answers[T dns.RR, V any](ctx context.Context, r *Resolver, name string, qtype uint16, f func(T) (V, bool)) (_ []V, ad bool, _ error) {
	resp, err := r.query(ctx, name, qtype)
	if err != nil {
		var de *Error
		return nil, errors.As(err, &de) && de.Authenticated, err
	}
	var out []V
	for _, rr := range resp.Answer {
		if t, ok := rr.(T); ok {
			if v, ok := f(t); ok {
				out = append(out, v)
			}
		}
	}
	if len(out) == 0 {
		return nil, resp.AuthenticatedData, &Error{Name: name, Type: typeName(qtype), Kind: ErrNoData, Authenticated: resp.AuthenticatedData}
	}
	return out, resp.AuthenticatedData, nil
}

// PTR returns the names ip's reverse record points to (RFC 1035 3.5,
// RFC 3596 2.5), without the trailing dots.
func (r *Resolver) PTR(ctx context.Context, ip netip.Addr) ([]string, error) {
	return drop(answers(ctx, r, reverse(ip)+arpa(ip), dns.TypePTR, func(p *dns.PTR) (string, bool) {
		return strings.TrimSuffix(p.Ptr, "."), true
	}))
}

// drop leaves out the AD bit of answers.
func drop[V any](v []V, _ bool, err error) ([]V, error) { return v, err }

// maxConfirm bounds the PTR names ForwardConfirmed looks up.
const maxConfirm = 10

// ForwardConfirmed returns a name of ip whose addresses include ip
// (forward-confirmed reverse DNS, the client name Postfix trusts), or ""
// when there is none. The error is set only when a lookup failed
// temporarily and no name was confirmed: then the answer is unknown.
func (r *Resolver) ForwardConfirmed(ctx context.Context, ip netip.Addr) (string, error) {
	ip = ip.Unmap()
	names, err := r.PTR(ctx, ip)
	if err != nil {
		if errors.Is(err, ErrTemporary) {
			return "", err
		}
		return "", nil
	}
	var tempErr error
	for _, n := range names[:min(len(names), maxConfirm)] {
		ips, err := r.IPs(ctx, n)
		if err != nil {
			if errors.Is(err, ErrTemporary) && tempErr == nil {
				tempErr = err
			}
			continue
		}
		if slices.Contains(ips, ip) {
			return n, nil
		}
	}
	return "", tempErr
}

// TXT returns name's TXT records, the strings of each joined into one
// (RFC 7208 3.3, RFC 6376 3.6.2.2).
func (r *Resolver) TXT(ctx context.Context, name string) ([]string, error) {
	return drop(answers(ctx, r, name, dns.TypeTXT, func(t *dns.TXT) (string, bool) {
		return strings.Join(t.Txt, ""), true
	}))
}

// BlockList looks ip up in the DNS block list zone (RFC 5782 2.1: an A
// query for the reversed address under the zone). It returns the list's
// answers when ip is listed (addresses in 127.0.0.0/8 that say why), none
// when it is not (NXDOMAIN, or no A record). Answers that are not listings
// (127.255.255.x, addresses outside 127/8) are ErrBlockListCode; a failed
// lookup is temporary.
func (r *Resolver) BlockList(ctx context.Context, zone string, ip netip.Addr) ([]netip.Addr, error) {
	name := reverse(ip) + "." + strings.TrimSuffix(zone, ".")
	got, _, err := r.addrs(ctx, name, dns.TypeA)
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrNoData) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var listed []netip.Addr
	for _, a := range got {
		b := a.As4()
		if b[0] == 127 && !(b[1] == 255 && b[2] == 255) {
			listed = append(listed, a)
		}
	}
	if len(listed) == 0 {
		return nil, &Error{Name: name, Type: "A", Kind: ErrBlockListCode, Cause: errors.New("answer " + got[0].String())}
	}
	return listed, nil
}

// reverse is ip in reverse order: the octets of an IPv4 address, the
// nibbles of an IPv6 one, dot-separated (an IPv4-mapped address counts as
// IPv4).
func reverse(ip netip.Addr) string {
	ip = ip.Unmap()
	b := ip.AsSlice()
	var parts []string
	const hex = "0123456789abcdef"
	for i := len(b) - 1; i >= 0; i-- {
		if ip.Is4() {
			parts = append(parts, strconv.Itoa(int(b[i])))
		} else {
			parts = append(parts, string(hex[b[i]&0xf]), string(hex[b[i]>>4]))
		}
	}
	return strings.Join(parts, ".")
}

func arpa(ip netip.Addr) string {
	if ip.Unmap().Is4() {
		return ".in-addr.arpa"
	}
	return ".ip6.arpa"
}
