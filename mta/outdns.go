package mta

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DNS failures of an outbound lookup. errNoDomain and errNullMX are
// permanent (bounce); every other error is temporary (retry).
var (
	errNoDomain = errors.New("Host or domain name not found")
	errNullMX   = errors.New("Domain does not accept mail (null MX)")
)

// dnsResolver asks one DNS server directly (dns.resolver, or the first
// nameserver of resolv.conf), because delivery must tell NXDOMAIN
// (permanent) from SERVFAIL or a timeout (temporary), which the standard
// library's resolver folds together.
type dnsResolver struct {
	server string
	client *dns.Client
}

func newDNSResolver(server string, timeout time.Duration) (*dnsResolver, error) {
	if server == "" {
		cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil || len(cc.Servers) == 0 {
			server = "127.0.0.1:53" // as the C library does without resolv.conf
		} else {
			server = net.JoinHostPort(cc.Servers[0], cc.Port)
		}
	} else if _, err := netip.ParseAddrPort(server); err != nil {
		server = net.JoinHostPort(server, "53")
	}
	return &dnsResolver{server: server, client: &dns.Client{Timeout: timeout}}, nil
}

func (r *dnsResolver) query(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	resp, _, err := r.client.ExchangeContext(ctx, m, r.server)
	if err == nil && resp.Truncated {
		tcp := &dns.Client{Net: "tcp", Timeout: r.client.Timeout}
		resp, _, err = tcp.ExchangeContext(ctx, m, r.server)
	}
	if err != nil {
		return nil, fmt.Errorf("dns %s %s: %w", dns.TypeToString[qtype], name, err)
	}
	switch resp.Rcode {
	case dns.RcodeSuccess:
		return resp, nil
	case dns.RcodeNameError:
		return nil, errNoDomain
	}
	return nil, fmt.Errorf("dns %s %s: %s", dns.TypeToString[qtype], name, dns.RcodeToString[resp.Rcode])
}

// mxHostsPrefs returns the hosts to try for domain, best first (equal
// preferences shuffled, RFC 5321 5.1); the domain itself when it has no
// MX (implicit MX); errNullMX for RFC 7505's "MX 0 .".
// It returns each host's preference too (0 for an implicit MX).
func (r *dnsResolver) mxHostsPrefs(ctx context.Context, domain string) ([]string, []uint16, error) {
	resp, err := r.query(ctx, domain, dns.TypeMX)
	if err != nil {
		return nil, nil, err
	}
	var mxs []*dns.MX
	for _, rr := range resp.Answer {
		if mx, ok := rr.(*dns.MX); ok {
			mxs = append(mxs, mx)
		}
	}
	if len(mxs) == 0 {
		return []string{domain}, []uint16{0}, nil
	}
	if len(mxs) == 1 && mxs[0].Mx == "." {
		return nil, nil, errNullMX
	}
	rand.Shuffle(len(mxs), func(i, j int) { mxs[i], mxs[j] = mxs[j], mxs[i] })
	sort.SliceStable(mxs, func(i, j int) bool { return mxs[i].Preference < mxs[j].Preference })
	var out []string
	var prefs []uint16
	for _, mx := range mxs {
		if mx.Mx != "." {
			out = append(out, strings.TrimSuffix(mx.Mx, "."))
			prefs = append(prefs, mx.Preference)
		}
	}
	return out, prefs, nil
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

// addrs returns host's IPv4 and IPv6 addresses (IPv4 first); a literal
// address is returned as is.
func (r *dnsResolver) addrs(ctx context.Context, host string) ([]string, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []string{ip.String()}, nil
	}
	var out []string
	var firstErr error
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		resp, err := r.query(ctx, host, t)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		for _, rr := range resp.Answer {
			switch a := rr.(type) {
			case *dns.A:
				out = append(out, a.A.String())
			case *dns.AAAA:
				out = append(out, a.AAAA.String())
			}
		}
	}
	if len(out) == 0 {
		if firstErr != nil {
			return nil, firstErr
		}
		return nil, errNoDomain
	}
	return out, nil
}
