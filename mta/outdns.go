package mta

import (
	"context"
	"errors"
	"strings"

	"mailhost/dnsres"
)

// DNS failures of an outbound lookup, in the words a bounce gives the
// sender. errNoDomain and errNullMX are permanent (bounce); every other
// error is temporary (retry).
var (
	errNoDomain = errors.New("Host or domain name not found")
	errNullMX   = errors.New("Domain does not accept mail (null MX)")
)

// mxHostsPrefs returns the hosts to try for domain, best first (equal
// preferences shuffled, RFC 5321 5.1); the domain itself when it has no
// MX (implicit MX); errNullMX for RFC 7505's "MX 0 .", errNoDomain when
// the domain does not exist. It returns each host's preference too (0
// for an implicit MX).
func mxHostsPrefs(ctx context.Context, r *dnsres.Resolver, domain string) ([]string, []uint16, error) {
	mxs, err := r.MX(ctx, domain)
	switch {
	case errors.Is(err, dnsres.ErrNoData):
		return []string{domain}, []uint16{0}, nil
	case errors.Is(err, dnsres.ErrNullMX):
		return nil, nil, errNullMX
	case errors.Is(err, dnsres.ErrNotFound):
		return nil, nil, errNoDomain
	case err != nil:
		return nil, nil, err
	}
	hosts := make([]string, len(mxs))
	prefs := make([]uint16, len(mxs))
	for i, mx := range mxs {
		hosts[i], prefs[i] = mx.Host, mx.Pref
	}
	return hosts, prefs, nil
}

// errLoop is a destination whose best MX is this host (we are its backup
// MX, or its DNS is wrong): delivering would send the mail to ourselves.
var errLoop = errors.New("mail for this domain loops back to myself")

// withoutSelf keeps only the MX hosts better than this host (RFC 5321
// 5.1: a backup MX delivers only to more preferred ones), as Postfix does.
func withoutSelf(hosts []string, prefs []uint16, self string) ([]string, error) {
	for i, h := range hosts {
		if strings.EqualFold(h, self) {
			var out []string
			for j := range hosts[:i] {
				if prefs[j] < prefs[i] {
					out = append(out, hosts[j])
				}
			}
			if len(out) == 0 {
				return nil, errLoop
			}
			return out, nil
		}
	}
	return hosts, nil
}

// authHostAddrs returns host's IPv4 and IPv6 addresses (IPv4 first), a
// literal address as is, and whether the resolver authenticated them
// (DANE, outdane.go). A host without addresses is errNoDomain.
func authHostAddrs(ctx context.Context, r *dnsres.Resolver, host string) ([]string, bool, error) {
	ips, auth, err := r.AuthenticatedIPs(ctx, host)
	if errors.Is(err, dnsres.ErrNotFound) || errors.Is(err, dnsres.ErrNoData) {
		return nil, false, errNoDomain
	}
	if err != nil {
		return nil, false, err
	}
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out, auth, nil
}
