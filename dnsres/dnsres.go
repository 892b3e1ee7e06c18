// Package dnsres is mailhost's one DNS resolver: every lookup of the MTA
// (MX, A/AAAA, PTR, TXT, DNS block lists) goes through it. It asks the
// configured nameservers itself, on miekg/dns, because mail needs what the
// standard library's resolver folds together: a name that does not exist
// (NXDOMAIN, permanent: bounce) is not a server that failed (SERVFAIL or a
// timeout, temporary: retry later).
//
// A query goes to each nameserver in turn, moving on to the next one on a
// timeout, a network error, SERVFAIL, REFUSED or any other failure code;
// the list is tried Attempts times. Each query has its own timeout; the
// caller's context bounds the whole lookup. A truncated UDP answer is asked
// again over TCP (RFC 7766 5).
//
// With Config.Cache, answers are kept in memory for their TTL (see
// cache): every user of the node's one resolver (the sender checks, the
// outbound MX, address, TLSA and MTA-STS lookups, block lists) shares it.
package dnsres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/miekg/dns"
)

// The kinds of failure; a lookup's error is an *Error that matches one of
// them with errors.Is.
var (
	// ErrNotFound: the name does not exist (NXDOMAIN, RFC 1035 4.1.1). Permanent.
	ErrNotFound = errors.New("no such domain")
	// ErrNoData: the name exists but has no record of the type asked
	// (NODATA, RFC 2308 2.2). Permanent.
	ErrNoData = errors.New("no record of that type")
	// ErrTemporary: no nameserver gave an answer (SERVFAIL, REFUSED, a
	// timeout, a network error, or the caller's context ended). Retry later.
	ErrTemporary = errors.New("temporary DNS failure")
	// ErrNullMX: the domain says it accepts no mail (RFC 7505). Permanent.
	ErrNullMX = errors.New("domain accepts no mail (null MX)")
	// ErrBlockListCode: a DNS block list answered with an address that is
	// not a listing (127.255.255.x or outside 127.0.0.0/8): an error code,
	// often a refusal to answer queries coming through this resolver.
	ErrBlockListCode = errors.New("block list answered with an error code")
)

// Error is a failed lookup.
type Error struct {
	Name string // the name asked, without the trailing dot
	Type string // the record type asked: "MX", "A", ...
	Kind error  // one of the Err* sentinels
	// Cause is what made a temporary failure (the last nameserver's
	// answer or network error, or the context's error); may be nil.
	Cause error
	// Authenticated: a NXDOMAIN or NODATA answer came with the AD bit
	// (authenticated denial of existence, RFC 4035 3.2.3).
	Authenticated bool
}

func (e *Error) Error() string {
	s := fmt.Sprintf("dns %s %s: %v", e.Type, e.Name, e.Kind)
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap lets errors.Is match the kind and the cause (context.Canceled,
// a net.Error).
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Cause}
}

// Temporary says whether asking again later may give another answer.
func (e *Error) Temporary() bool { return errors.Is(e.Kind, ErrTemporary) }

// Config says which nameservers to ask and how patiently.
type Config struct {
	// Servers are the nameservers, in order: "ip" or "ip:port" (53 when
	// omitted). Empty: the nameservers of ResolvConf.
	Servers []string
	// ResolvConf is read when Servers is empty: its nameservers and its
	// timeout and attempts options. Default /etc/resolv.conf; without
	// the file, 127.0.0.1:53 (as the C library does).
	ResolvConf string
	// Timeout bounds one query to one nameserver (default: resolv.conf's
	// timeout, else 5s).
	Timeout time.Duration
	// Attempts is how many times the list of nameservers is tried
	// (default: resolv.conf's attempts, else 2).
	Attempts int
	// Cache keeps answers in memory by their TTL; its zero value keeps
	// none.
	Cache CacheConfig
}

// Resolver asks the configured nameservers, through its cache when it has
// one. One is shared by every goroutine.
type Resolver struct {
	servers  []string // host:port
	timeout  time.Duration
	attempts int
	cache    *cache // nil: none
}

// New makes a resolver; it fails on a nameserver address that is not an
// IP address with an optional port.
func New(cfg Config) (*Resolver, error) {
	r := &Resolver{timeout: cfg.Timeout, attempts: cfg.Attempts}
	for _, s := range cfg.Servers {
		a, err := serverAddr(s)
		if err != nil {
			return nil, err
		}
		r.servers = append(r.servers, a)
	}
	if len(r.servers) == 0 {
		path := cfg.ResolvConf
		if path == "" {
			path = "/etc/resolv.conf"
		}
		cc, err := dns.ClientConfigFromFile(path)
		if err == nil && len(cc.Servers) > 0 {
			for _, s := range cc.Servers {
				r.servers = append(r.servers, net.JoinHostPort(s, cc.Port))
			}
			if r.timeout <= 0 && cc.Timeout > 0 {
				r.timeout = time.Duration(cc.Timeout) * time.Second
			}
			if r.attempts <= 0 && cc.Attempts > 0 {
				r.attempts = cc.Attempts
			}
		} else {
			r.servers = []string{"127.0.0.1:53"}
		}
	}
	if r.timeout <= 0 {
		r.timeout = 5 * time.Second
	}
	if r.attempts <= 0 {
		r.attempts = 2
	}
	if cfg.Cache.Entries > 0 {
		r.cache = newCache(cfg.Cache)
	}
	return r, nil
}

// serverAddr makes "ip" or "ip:port" into "ip:port".
func serverAddr(s string) (string, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.String(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a, 53).String(), nil
	}
	return "", fmt.Errorf("dnsres: nameserver %q is not an IP address with an optional port", s)
}

// Servers returns the nameservers asked, in order, as host:port.
func (r *Resolver) Servers() []string { return append([]string(nil), r.servers...) }

// query asks for name's records of qtype and returns a successful answer
// (which may hold none of them: the caller tells NODATA). NXDOMAIN is
// ErrNotFound; when no nameserver answered, ErrTemporary. The answer is
// the cache's when it holds one: the caller must not change it.
func (r *Resolver) query(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	if r.cache == nil {
		return r.fetch(ctx, name, qtype)
	}
	return r.cache.query(ctx, name, qtype, func(ctx context.Context) (*dns.Msg, error) {
		return r.fetch(ctx, name, qtype)
	})
}

// fetch is query without the cache: it asks the nameservers. A NXDOMAIN
// comes with the answer (its SOA says how long the denial may be kept).
func (r *Resolver) fetch(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	fail := func(kind, cause error) error {
		return &Error{Name: name, Type: typeName(qtype), Kind: kind, Cause: cause}
	}
	fqdn := dns.Fqdn(name)
	if _, ok := dns.IsDomainName(fqdn); !ok || len(fqdn) > 254 {
		return nil, fail(ErrNotFound, errors.New("not a valid domain name"))
	}
	q := new(dns.Msg)
	q.SetQuestion(fqdn, qtype)
	q.RecursionDesired = true
	// AD in a query asks a validating resolver to say whether it
	// validated the answer (RFC 6840 5.7); DANE needs that.
	q.AuthenticatedData = true
	q.SetEdns0(1232, false) // the DNS flag day 2020 size: no fragmented UDP
	var last error
	for range r.attempts {
		for _, srv := range r.servers {
			if err := ctx.Err(); err != nil {
				return nil, fail(ErrTemporary, err)
			}
			resp, err := r.ask(ctx, srv, q)
			if err != nil {
				if ctx.Err() != nil {
					return nil, fail(ErrTemporary, ctx.Err())
				}
				last = fmt.Errorf("%s: %w", srv, err)
				continue
			}
			switch resp.Rcode {
			case dns.RcodeSuccess:
				return resp, nil
			case dns.RcodeNameError:
				return resp, &Error{Name: name, Type: typeName(qtype), Kind: ErrNotFound, Authenticated: resp.AuthenticatedData}
			}
			// SERVFAIL, REFUSED, NOTIMP, ...: another server may do better.
			last = fmt.Errorf("%s: %s", srv, rcodeName(resp.Rcode))
		}
	}
	return nil, fail(ErrTemporary, last)
}

// ask puts q to one server: over UDP, again over TCP when the answer was
// truncated, again without EDNS when the server does not know it.
func (r *Resolver) ask(ctx context.Context, server string, q *dns.Msg) (*dns.Msg, error) {
	resp, err := r.exchange(ctx, "udp", server, q)
	if resp != nil && resp.Truncated {
		resp, err = r.exchange(ctx, "tcp", server, q)
	}
	if err != nil {
		return nil, err
	}
	if resp.Rcode == dns.RcodeFormatError && q.IsEdns0() != nil { // RFC 6891 7
		plain := q.Copy()
		plain.Extra = nil
		return r.ask(ctx, server, plain)
	}
	return resp, nil
}

// exchange is one query and its answer, within the per-query timeout and
// the caller's context (whose end closes the socket at once).
func (r *Resolver) exchange(ctx context.Context, network, server string, q *dns.Msg) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	c := &dns.Client{Net: network, Timeout: r.timeout}
	conn, err := c.DialContext(ctx, server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	resp, _, err := c.ExchangeWithConnContext(ctx, q, conn)
	if resp != nil && resp.Truncated {
		return resp, nil // what follows the cut may not parse
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", network, err)
	}
	return resp, nil
}

func typeName(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

func rcodeName(c int) string {
	if s, ok := dns.RcodeToString[c]; ok {
		return s
	}
	return "RCODE" + strconv.Itoa(c)
}
