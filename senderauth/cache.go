package senderauth

import (
	"context"
	"net"
	"sync"
	"time"
)

// cacheMax bounds the answers a cache holds; a full cache starts afresh.
const cacheMax = 10000

// dnsCache keeps the answers (and NXDOMAIN/NODATA) of the checks' lookups
// for a short while: the mail of one sender comes in bursts, and each
// message would otherwise ask the same SPF, DMARC and key records again,
// a new socket every query (dnsres keeps no cache: it serves the MTA's
// outbound lookups too, which a resolver's own cache serves). Answers are
// kept for ttl whatever their record TTL, so ttl stays short; temporary
// failures are never kept.
type dnsCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[cacheKey]cacheEntry
}

type cacheKey struct {
	kind byte // 'T' TXT, 'M' MX, 'A' addresses, 'P' PTR
	name string
}

type cacheEntry struct {
	val any
	err error
	exp time.Time
}

// cached answers from c when it holds a fresh answer for key, else asks
// f and keeps what it says unless the failure is temporary. A nil c asks
// every time.
func cached[T any](c *dnsCache, key cacheKey, f func() (T, error)) (T, error) {
	if c == nil {
		return f()
	}
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Before(e.exp) {
		v, _ := e.val.(T)
		return v, e.err
	}
	v, err := f()
	if err != nil && isTemporary(err) {
		return v, err
	}
	c.mu.Lock()
	if len(c.m) >= cacheMax {
		c.m = map[cacheKey]cacheEntry{}
	}
	c.m[key] = cacheEntry{val: v, err: err, exp: now.Add(c.ttl)}
	c.mu.Unlock()
	return v, err
}

// cachedResolver is libResolver with the cache in front.
type cachedResolver struct {
	libResolver
	c *dnsCache
}

func (r cachedResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return cached(r.c, cacheKey{'T', name}, func() ([]string, error) { return r.libResolver.LookupTXT(ctx, name) })
}

func (r cachedResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return cached(r.c, cacheKey{'M', name}, func() ([]*net.MX, error) { return r.libResolver.LookupMX(ctx, name) })
}

func (r cachedResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	return cached(r.c, cacheKey{'A', host}, func() ([]net.IPAddr, error) { return r.libResolver.LookupIPAddr(ctx, host) })
}

func (r cachedResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	return cached(r.c, cacheKey{'P', addr}, func() ([]string, error) { return r.libResolver.LookupAddr(ctx, addr) })
}

// lookupTXT is the TXT lookup the DKIM library takes (it has no context
// parameter): under ctx, errors as *net.DNSError.
func (r cachedResolver) lookupTXT(ctx context.Context) func(string) ([]string, error) {
	return func(name string) ([]string, error) { return r.LookupTXT(ctx, name) }
}
