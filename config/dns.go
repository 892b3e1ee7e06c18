package config

import (
	"net/netip"
	"strings"
	"time"
)

// DNS configures the resolver of every DNS lookup (MX, A/AAAA, TLSA,
// MTA-STS, block lists, the sender checks) and its in-memory cache.
type DNS struct {
	Resolver string `toml:"resolver" help:"DNS servers (ip or ip:port, separated by commas), asked in turn until one answers; empty uses the nameservers of /etc/resolv.conf"`
	// The cache: answers kept by their TTL, within a floor and caps.
	CacheEntries     int    `toml:"cache_entries" help:"answers kept in memory (one per name and type), by their TTL; 0 keeps none"`
	CacheMinTTL      string `toml:"cache_min_ttl" help:"least time an answer is kept, whatever its TTL (Go duration; 0s honours the TTLs)"`
	CacheMaxTTL      string `toml:"cache_max_ttl" help:"longest time an answer is kept, whatever its TTL (Go duration)"`
	CacheNegativeTTL string `toml:"cache_negative_ttl" help:"longest time a NXDOMAIN or NODATA answer is kept (Go duration; its SOA says how long otherwise, RFC 2308)"`
}

func defaultDNS() DNS {
	// Unbound's defaults are a floor of 0 and caps of 1 day and 1 hour;
	// mail asks again sooner, so a changed record is seen within the hour.
	return DNS{CacheEntries: 10000, CacheMinTTL: "0s", CacheMaxTTL: "1h", CacheNegativeTTL: "5m"}
}

// Servers returns the nameservers of dns.resolver, in order; none means
// those of /etc/resolv.conf.
func (d DNS) Servers() []string {
	return strings.FieldsFunc(d.Resolver, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// CacheTTLs parses the cache's floor and caps (after Validate they parse).
func (d DNS) CacheTTLs() (minTTL, maxTTL, negativeTTL time.Duration) {
	minTTL, _ = time.ParseDuration(d.CacheMinTTL)
	maxTTL, _ = time.ParseDuration(d.CacheMaxTTL)
	negativeTTL, _ = time.ParseDuration(d.CacheNegativeTTL)
	return minTTL, maxTTL, negativeTTL
}

func (c *Config) validateDNS(bad reporter) {
	d := c.DNS
	for _, r := range d.Servers() {
		if _, err := netip.ParseAddrPort(r); err != nil {
			if _, err := netip.ParseAddr(r); err != nil {
				bad("dns.resolver", "must list IP addresses with an optional port, such as 127.0.0.1:53, [::1]:53, got %q", r)
			}
		}
	}
	if d.CacheEntries < 0 || d.CacheEntries > 10_000_000 {
		bad("dns.cache_entries", "must be from 0 to 10000000, got %d", d.CacheEntries)
	}
	durs := map[string]time.Duration{}
	for _, f := range []struct{ key, v string }{
		{"dns.cache_min_ttl", d.CacheMinTTL},
		{"dns.cache_max_ttl", d.CacheMaxTTL},
		{"dns.cache_negative_ttl", d.CacheNegativeTTL},
	} {
		v, err := time.ParseDuration(f.v)
		if err != nil || v < 0 || v > 24*time.Hour {
			bad(f.key, "must be a Go duration from 0s to 24h (such as 30s or 1h), got %q", f.v)
			continue
		}
		durs[f.key] = v
	}
	// The cache's caps are times an answer may be kept: 0 would keep none,
	// which dns.cache_entries = 0 says.
	for _, key := range []string{"dns.cache_max_ttl", "dns.cache_negative_ttl"} {
		if v, ok := durs[key]; ok && v < time.Second {
			bad(key, "must be at least 1s (dns.cache_entries = 0 keeps no answers), got %q", v.String())
		}
	}
	if durs["dns.cache_min_ttl"] > durs["dns.cache_max_ttl"] {
		bad("dns.cache_min_ttl", "must not be over dns.cache_max_ttl (%s), got %q", d.CacheMaxTTL, d.CacheMinTTL)
	}
}
