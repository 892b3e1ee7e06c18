package senderauth

import (
	"context"
	"net/netip"
)

// IPRev is the outcome of the reverse DNS check of the client (RFC 8601
// 3): pass when a name of its PTR records resolves back to the address
// (forward-confirmed), fail when none does, temperror when a lookup
// failed for now and no name was confirmed.
type IPRev struct {
	Result string
	IP     netip.Addr
	Name   string // the confirmed name; "" unless pass
	Err    error
}

// IPRev checks the client's forward-confirmed reverse DNS.
func (c *Checker) IPRev(ctx context.Context, ip netip.Addr) IPRev {
	name, err := c.DNS.ForwardConfirmed(ctx, ip)
	switch {
	case name != "":
		return IPRev{Result: Pass, IP: ip, Name: name}
	case err != nil:
		return IPRev{Result: TempError, IP: ip, Err: err}
	}
	return IPRev{Result: Fail, IP: ip}
}
