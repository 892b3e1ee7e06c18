package config

import (
	"strconv"
	"strings"
)

// Sieve bounds the users' filter scripts (RFC 5228) and what they may do.
type Sieve struct {
	MaxScriptSize   int `toml:"max_script_size" help:"largest Sieve script accepted, in bytes"`
	MaxScripts      int `toml:"max_scripts" help:"Sieve scripts a mailbox may hold"`
	MaxActions      int `toml:"max_actions" help:"actions one delivery's scripts may take (keep, fileinto, redirect...)"`
	MaxRedirects    int `toml:"max_redirects" help:"redirects one delivery's scripts may make"`
	RedirectsPerDay int `toml:"redirects_per_day" help:"redirects a mailbox's scripts may make per day (UTC); past it the message is kept and the owner told"`
	MaxRunMS        int `toml:"max_run_ms" help:"milliseconds one delivery's scripts may run before they fail (the message then goes to INBOX)"`
}

// ManageSieve configures the ManageSieve server (RFC 5804).
type ManageSieve struct {
	MaxConnsPerClient int `toml:"max_connections_per_client" help:"concurrent ManageSieve connections from one client (IPv6: one /64); 0 = unlimited"`
}

// QuotaWarnings configures the messages a mailbox's owner gets as it fills.
type QuotaWarnings struct {
	Thresholds string `toml:"thresholds" help:"percentages of the quota (comma-separated, ascending) whose crossing going up sends the owner a warning, once per crossing; empty: none"`
}

// Percentages returns the thresholds as numbers; nil when one is not a
// number (Validate reports it).
func (q QuotaWarnings) Percentages() []int {
	var out []int
	for _, f := range strings.FieldsFunc(q.Thresholds, func(r rune) bool { return r == ',' || r == ' ' }) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil
		}
		out = append(out, n)
	}
	return out
}

func defaultSieve() Sieve {
	return Sieve{MaxScriptSize: 64 << 10, MaxScripts: 20, MaxActions: 32, MaxRedirects: 4,
		RedirectsPerDay: 100, MaxRunMS: 1000}
}

func (c *Config) validateSieve(bad reporter) {
	s := c.Sieve
	for _, f := range []struct {
		key    string
		v, min int
		max    int
	}{
		{"sieve.max_script_size", s.MaxScriptSize, 1024, 1 << 20},
		{"sieve.max_scripts", s.MaxScripts, 1, 1000},
		{"sieve.max_actions", s.MaxActions, 1, 1000},
		{"sieve.max_redirects", s.MaxRedirects, 0, 100},
		{"sieve.redirects_per_day", s.RedirectsPerDay, 0, 1000000},
		{"sieve.max_run_ms", s.MaxRunMS, 10, 60000},
	} {
		if f.v < f.min || f.v > f.max {
			bad(f.key, "must be from %d to %d, got %d", f.min, f.max, f.v)
		}
	}
	if c.ManageSieve.MaxConnsPerClient < 0 {
		bad("managesieve.max_connections_per_client", "must be 0 (unlimited) or more, got %d", c.ManageSieve.MaxConnsPerClient)
	}
	last := 0
	ps := c.QuotaWarnings.Percentages()
	if ps == nil && strings.TrimSpace(c.QuotaWarnings.Thresholds) != "" {
		bad("quota_warnings.thresholds", "must be percentages such as 80,95, got %q", c.QuotaWarnings.Thresholds)
	}
	for _, t := range ps {
		if t <= last || t > 100 {
			bad("quota_warnings.thresholds", "must be percentages from 1 to 100 in ascending order, got %v", c.QuotaWarnings.Thresholds)
			break
		}
		last = t
	}
}
