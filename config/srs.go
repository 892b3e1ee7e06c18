package config

// SRS configures the Sender Rewriting Scheme of forwarded mail (package
// srs). The secrets are not here: they live in the database (table
// srs_secrets, generated on first use), so that every node signs and
// checks with the same ones.
type SRS struct {
	Enabled    bool   `toml:"enabled" help:"rewrite the envelope sender of mail forwarded to other domains (aliases, forwarding) with SRS, and relay bounces to valid SRS addresses back to the original sender"`
	Domain     string `toml:"domain" help:"domain of the SRS addresses (SRS0=...@domain); it must route to this server (MX or A record); empty: hostname"`
	MaxAgeDays int    `toml:"max_age_days" help:"days an SRS address stays valid for bounces; older ones are refused (550 5.1.1)"`
}

func defaultSRS() SRS { return SRS{Enabled: true, MaxAgeDays: 21} }

// SRSDomain is the domain of the SRS addresses: srs.domain or hostname.
func (c *Config) SRSDomain() string {
	if c.SRS.Domain != "" {
		return c.SRS.Domain
	}
	return c.Hostname
}

func (c *Config) validateSRS(bad reporter) {
	if c.SRS.MaxAgeDays < 1 || c.SRS.MaxAgeDays > 1000 {
		bad("srs.max_age_days", "must be from 1 to 1000 days, got %d", c.SRS.MaxAgeDays)
	}
	if d := c.SRS.Domain; d != "" && (len(d) > 253 || !hostnameRE.MatchString(d)) {
		bad("srs.domain", "must be a domain name such as fwd.example.com, got %q", d)
	}
}
