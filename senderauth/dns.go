package senderauth

import (
	"context"
	"errors"
	"net"
	"net/netip"

	"mailhost/dnsres"
)

// libResolver puts dnsres behind the lookups the SPF library makes
// (blitiri.com.ar/go/spf's DNSResolver, shaped like *net.Resolver), so SPF
// asks the node's one resolver. The library tells failures apart by
// *net.DNSError: IsNotFound for a name without the records asked (a void
// lookup, RFC 7208 4.6.4), Temporary for temperror (RFC 7208 5).
type libResolver struct{ r *dnsres.Resolver }

func (l libResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txt, err := l.r.TXT(ctx, name)
	return txt, netError(err, name)
}

func (l libResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	mxs, err := l.r.MX(ctx, name)
	if errors.Is(err, dnsres.ErrNullMX) {
		return nil, nil // "MX 0 .": no host, nothing matches
	}
	if err != nil {
		return nil, netError(err, name)
	}
	out := make([]*net.MX, len(mxs))
	for i, mx := range mxs {
		out[i] = &net.MX{Host: mx.Host, Pref: mx.Pref}
	}
	return out, nil
}

func (l libResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ips, err := l.r.IPs(ctx, host)
	if err != nil {
		return nil, netError(err, host)
	}
	out := make([]net.IPAddr, len(ips))
	for i, ip := range ips {
		out[i] = net.IPAddr{IP: ip.AsSlice()}
	}
	return out, nil
}

func (l libResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: "bad address", Name: addr, IsNotFound: true}
	}
	names, err := l.r.PTR(ctx, ip)
	return names, netError(err, addr)
}

// netError turns a dnsres error into the *net.DNSError the libraries read:
// NXDOMAIN and NODATA are "not found", anything else temporary.
func netError(err error, name string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, dnsres.ErrNotFound) || errors.Is(err, dnsres.ErrNoData) {
		return &net.DNSError{Err: "no such record", Name: name, IsNotFound: true}
	}
	return &net.DNSError{Err: err.Error(), Name: name, IsTemporary: true}
}

// lookupTXT is the TXT lookup the DKIM library takes (it has no context
// parameter): under ctx, errors as *net.DNSError.
func (l libResolver) lookupTXT(ctx context.Context) func(string) ([]string, error) {
	return func(name string) ([]string, error) { return l.LookupTXT(ctx, name) }
}
