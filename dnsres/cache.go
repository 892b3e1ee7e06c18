package dnsres

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sync/singleflight"
)

// CacheConfig bounds the resolver's in-memory cache of answers. Entries 0
// keeps no cache.
type CacheConfig struct {
	// Entries bounds the answers kept (one per name and type); a full
	// cache drops expired answers, then arbitrary ones.
	Entries int
	// MinTTL is the least time an answer is kept, whatever its TTL (a
	// floor over records with TTL 0 or 1); 0 honours the TTLs.
	MinTTL time.Duration
	// MaxTTL is the longest time an answer is kept (default 1h).
	MaxTTL time.Duration
	// NegativeTTL is the longest time a NXDOMAIN or NODATA answer is
	// kept (default 5m).
	NegativeTTL time.Duration
}

// cache keeps answers as long as their TTL says, within the configured
// floor and cap: positive answers by the least TTL of their records,
// NXDOMAIN and NODATA by their SOA record (RFC 2308 5: the lesser of the
// SOA's TTL and its MINIMUM field; a denial without SOA is not kept).
// Temporary failures are never kept. A kept answer is the message as it
// came, its AD bit with it, so DANE decides from a cached answer as from
// a fresh one. Concurrent lookups of one name and type that the cache
// cannot answer make one query (singleflight), whose result they share.
type cache struct {
	cfg    CacheConfig
	now    func() time.Time
	flight singleflight.Group

	mu sync.Mutex
	m  map[cacheKey]cacheEntry
}

type cacheKey struct {
	name  string // lower case, fully qualified
	qtype uint16
}

// cacheEntry is a successful answer (resp, which may be NODATA) or a
// NXDOMAIN (err), kept until exp.
type cacheEntry struct {
	resp *dns.Msg
	err  error
	exp  time.Time
}

func newCache(cfg CacheConfig) *cache {
	if cfg.MaxTTL <= 0 {
		cfg.MaxTTL = time.Hour
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = 5 * time.Minute
	}
	return &cache{cfg: cfg, now: time.Now, m: map[cacheKey]cacheEntry{}}
}

// result is what one query gave: what fetch returns.
type result struct {
	resp *dns.Msg
	err  error
}

// query answers from the cache, else asks fetch once for every caller
// waiting on the same key. The shared query runs to its own end (the
// resolver's timeouts bound it) even when the caller that started it
// gives up, so another caller's context never fails a lookup; each caller
// stops waiting when its own context ends.
func (c *cache) query(ctx context.Context, name string, qtype uint16, fetch func(context.Context) (*dns.Msg, error)) (*dns.Msg, error) {
	key := cacheKey{strings.ToLower(dns.Fqdn(name)), qtype}
	if e, ok := c.get(key); ok {
		return e.resp, e.err
	}
	flightKey := key.name + " " + typeName(qtype)
	ch := c.flight.DoChan(flightKey, func() (any, error) {
		resp, err := fetch(context.WithoutCancel(ctx))
		c.put(key, resp, err)
		return result{resp, err}, nil
	})
	select {
	case <-ctx.Done():
		return nil, &Error{Name: name, Type: typeName(qtype), Kind: ErrTemporary, Cause: ctx.Err()}
	case r := <-ch:
		res := r.Val.(result)
		return res.resp, res.err
	}
}

func (c *cache) get(key cacheKey) (cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return cacheEntry{}, false
	}
	if !c.now().Before(e.exp) {
		delete(c.m, key)
		return cacheEntry{}, false
	}
	return e, true
}

// put keeps what a query gave for as long as ttl says, if at all.
func (c *cache) put(key cacheKey, resp *dns.Msg, err error) {
	ttl, ok := c.ttl(resp, err)
	if !ok {
		return
	}
	now := c.now()
	e := cacheEntry{exp: now.Add(ttl)}
	if err != nil {
		e.err = err
	} else {
		e.resp = resp
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.cfg.Entries {
		c.evict(now)
	}
	c.m[key] = e
}

// evict makes room: every expired entry goes, then arbitrary ones (map
// order) until a tenth of the cache is free, so that the walk over the
// entries comes once per tenth of Entries answers kept, not once per
// answer. Called with c.mu held.
func (c *cache) evict(now time.Time) {
	for k, e := range c.m {
		if !now.Before(e.exp) {
			delete(c.m, k)
		}
	}
	keep := c.cfg.Entries - max(1, c.cfg.Entries/10)
	for k := range c.m {
		if len(c.m) <= keep {
			return
		}
		delete(c.m, k)
	}
}

// ttl is how long an answer may be kept (RFC 2308 5, RFC 1035 3.2.1),
// within the floor and caps; ok is false for what is never kept: a
// temporary failure, a denial without SOA, a TTL of 0 without a floor.
func (c *cache) ttl(resp *dns.Msg, err error) (time.Duration, bool) {
	var de *Error
	negative := err != nil
	switch {
	case err != nil && !(errors.As(err, &de) && errors.Is(de.Kind, ErrNotFound) && resp != nil):
		return 0, false // temporary, or an invalid name (no answer to time)
	case err == nil && !hasAnswer(resp):
		negative = true // NODATA
	}
	var secs uint32
	if negative {
		soa, found := denialTTL(resp)
		if !found {
			return 0, false // RFC 2308 5: SHOULD NOT be cached
		}
		secs = soa
	} else {
		secs = minTTL(resp.Answer)
	}
	d := time.Duration(secs) * time.Second
	d = min(d, c.cfg.MaxTTL)
	if negative {
		d = min(d, c.cfg.NegativeTTL)
	}
	d = max(d, c.cfg.MinTTL)
	return d, d > 0
}

// hasAnswer says whether resp answers the question asked: a record of
// its type, not only a CNAME chain leading nowhere (NODATA at the end of
// it, RFC 2308 2.2).
func hasAnswer(resp *dns.Msg) bool {
	if len(resp.Question) != 1 {
		return len(resp.Answer) > 0
	}
	qt := resp.Question[0].Qtype
	for _, rr := range resp.Answer {
		if rr.Header().Rrtype == qt {
			return true
		}
	}
	return false
}

// denialTTL is the negative TTL of a NXDOMAIN or NODATA answer: the
// lesser of its SOA record's TTL and MINIMUM field (RFC 2308 5); found is
// false without an SOA in the authority section.
func denialTTL(resp *dns.Msg) (secs uint32, found bool) {
	for _, rr := range resp.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return min(soa.Hdr.Ttl, soa.Minttl), true
		}
	}
	return 0, false
}

// minTTL is the least TTL of rrs: an answer lasts as long as its shortest
// lived record, CNAMEs on the way included.
func minTTL(rrs []dns.RR) uint32 {
	secs := ^uint32(0)
	for _, rr := range rrs {
		secs = min(secs, rr.Header().Ttl)
	}
	return secs
}
