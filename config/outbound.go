package config

import (
	"crypto/x509"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// Submission configures the submission listeners (587, 465).
type Submission struct {
	ReceivedClientIP  bool `toml:"received_client_ip" help:"put the submitting client's address and HELO name into the Received header (off: a user's private address does not leak)"`
	MaxConnsPerClient int  `toml:"max_connections_per_client" help:"concurrent connections to the submission listeners (587 and 465 together) from one client (IPv6: one /64; mynetworks exempt); 0 = unlimited"`
}

// Queue configures the outbound queue workers.
type Queue struct {
	RetrySchedule          []string `toml:"retry_schedule" help:"waits between delivery attempts (Go durations); the last one repeats"`
	MaxLifetime            string   `toml:"max_lifetime" help:"how long a message may stay queued before it is returned to its sender (maximal_queue_lifetime)"`
	DelayWarning           string   `toml:"delay_warning" help:"send the sender a delay notice once after this long in the queue (delay_warning_time); 0 = never"`
	Workers                int      `toml:"workers" help:"messages a node delivers at once"`
	DestinationConcurrency int      `toml:"destination_concurrency" help:"connections a node opens at once to one destination (default_destination_concurrency_limit)"`
	LeaseSeconds           int      `toml:"lease_seconds" help:"seconds a node holds claimed recipients; a node that dies lets others retry them after this"`
	// Connection reuse (as Postfix's smtp_connection_cache_on_demand).
	ConnectionCache                 bool   `toml:"connection_cache" help:"keep a connection open after a message for the next one to the same destination, address and TLS policy (smtp_connection_cache_on_demand)"`
	ConnectionCacheTimeLimit        string `toml:"connection_cache_time_limit" help:"how long a connection may wait idle for the next message before QUIT (smtp_connection_cache_time_limit)"`
	ConnectionReuseTimeLimit        string `toml:"connection_reuse_time_limit" help:"a connection this old takes no further message (smtp_connection_reuse_time_limit)"`
	ConnectionReuseCountLimit       int    `toml:"connection_reuse_count_limit" help:"messages one connection carries at most (smtp_connection_reuse_count_limit)"`
	ConnectionCacheDestinationLimit int    `toml:"connection_cache_destination_limit" help:"idle connections a node keeps per destination"`
	ConnectionCacheLimit            int    `toml:"connection_cache_limit" help:"idle connections a node keeps in all"`
}

func defaultQueue() Queue {
	return Queue{
		// Postfix: minimal_backoff_time 300s doubling to maximal_backoff_time 4000s.
		RetrySchedule: []string{"5m", "10m", "20m", "40m", "80m"},
		MaxLifetime:   "120h",
		DelayWarning:  "0",
		Workers:       20, DestinationConcurrency: 20, LeaseSeconds: 600,
		ConnectionCache: true, ConnectionCacheTimeLimit: "2s", ConnectionReuseTimeLimit: "300s",
		ConnectionReuseCountLimit: 100, ConnectionCacheDestinationLimit: 20, ConnectionCacheLimit: 100,
	}
}

// ConnCacheTimes parses the connection cache's idle and reuse time limits
// (after Validate they parse).
func (q Queue) ConnCacheTimes() (idle, reuse time.Duration) {
	idle, _ = time.ParseDuration(q.ConnectionCacheTimeLimit)
	reuse, _ = time.ParseDuration(q.ConnectionReuseTimeLimit)
	return idle, reuse
}

// Durations parses the queue's durations (after Validate they parse).
func (q Queue) Durations() (retry []time.Duration, lifetime, warning time.Duration) {
	for _, s := range q.RetrySchedule {
		d, _ := time.ParseDuration(s)
		retry = append(retry, d)
	}
	lifetime, _ = time.ParseDuration(q.MaxLifetime)
	warning, _ = time.ParseDuration(q.DelayWarning)
	return
}

func (c *Config) validateOutbound(bad reporter) {
	q := c.Queue
	if len(q.RetrySchedule) == 0 {
		bad("queue.retry_schedule", "must list at least one duration")
	}
	for _, s := range q.RetrySchedule {
		if d, err := time.ParseDuration(s); err != nil || d <= 0 {
			bad("queue.retry_schedule", "%q is not a positive duration such as 5m", s)
		}
	}
	if d, err := time.ParseDuration(q.MaxLifetime); err != nil || d <= 0 {
		bad("queue.max_lifetime", "must be a positive duration such as 120h, got %q", q.MaxLifetime)
	}
	if d, err := time.ParseDuration(q.DelayWarning); err != nil || d < 0 {
		bad("queue.delay_warning", "must be a duration such as 4h, or 0 for none, got %q", q.DelayWarning)
	}
	between(bad, "queue.workers", q.Workers, 1, 1000)
	between(bad, "queue.destination_concurrency", q.DestinationConcurrency, 1, 1000)
	between(bad, "queue.lease_seconds", q.LeaseSeconds, 10, 86400)
	if d, err := time.ParseDuration(q.ConnectionCacheTimeLimit); err != nil || d <= 0 || d > 5*time.Minute {
		bad("queue.connection_cache_time_limit", "must be a duration from 1ms to 5m such as 2s, got %q", q.ConnectionCacheTimeLimit)
	}
	if d, err := time.ParseDuration(q.ConnectionReuseTimeLimit); err != nil || d <= 0 {
		bad("queue.connection_reuse_time_limit", "must be a positive duration such as 300s, got %q", q.ConnectionReuseTimeLimit)
	}
	between(bad, "queue.connection_reuse_count_limit", q.ConnectionReuseCountLimit, 1, 100000)
	between(bad, "queue.connection_cache_destination_limit", q.ConnectionCacheDestinationLimit, 1, 1000)
	between(bad, "queue.connection_cache_limit", q.ConnectionCacheLimit, 1, 10000)
	oneOf(bad, "smtp.outbound_tls", c.SMTP.OutboundTLS, TLSPolicies...)
	if f := c.SMTP.RelayhostCAFile; f != "" {
		if _, err := LoadCAFile(f); err != nil {
			bad("smtp.relayhost_ca_file", "%v", err)
		}
	}
	if _, err := c.SMTP.TLSDomains(); err != nil {
		bad("smtp.outbound_tls_domains", "%v", err)
	}
	c.validateDNS(bad)
}

// TLSPolicies are the outbound TLS policies (smtp.outbound_tls), weakest
// first.
var TLSPolicies = []string{"none", "may", "dane", "encrypt", "verify"}

// TLSDomains parses smtp.outbound_tls_domains into domain -> policy.
func (s SMTP) TLSDomains() (map[string]string, error) {
	out := map[string]string{}
	for _, e := range s.OutboundTLSDomains {
		d, p, ok := strings.Cut(e, "=")
		d = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
		if !ok || d == "" || !slices.Contains(TLSPolicies, p) {
			return nil, fmt.Errorf("%q must be domain=POLICY, POLICY one of %s", e, strings.Join(TLSPolicies, ", "))
		}
		out[d] = p
	}
	return out, nil
}

// LoadCAFile returns the system's roots with the PEM CA certificates of
// path added (smtp.relayhost_ca_file): the roots of outbound TLS
// verification.
func LoadCAFile(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}
