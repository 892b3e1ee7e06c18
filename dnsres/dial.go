package dnsres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// Dialer returns a dial function for net/http's Transport and the like
// that resolves host names through r, so that dns.resolver, not
// /etc/resolv.conf, says where the HTTPS of MTA-STS policies and TLS
// reports goes. addr is "host:port"; the host's addresses (IPs: IPv4
// first) are tried in turn, each for at most timeout (0: ctx alone
// bounds them); an IP literal is dialled as it is.
func (r *Resolver) Dialer(timeout time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		ips, err := r.IPs(ctx, host)
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("%s: %w", host, err)}
		}
		d := net.Dialer{Timeout: timeout}
		errs := make([]error, 0, len(ips))
		for _, ip := range ips {
			c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
			if err == nil {
				return c, nil
			}
			errs = append(errs, err)
		}
		return nil, errors.Join(errs...)
	}
}
