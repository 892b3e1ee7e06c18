package config

import "time"

// DKIM configures the signing keys' rotation (the keys live in the
// database, one RSA and one Ed25519 pair per local domain).
type DKIM struct {
	Sign          bool   `toml:"sign" help:"sign mail leaving from hosted domains with their DKIM keys (RSA and Ed25519)"`
	CheckInterval string `toml:"check_interval" help:"how often a node looks up the DNS records of rotated DKIM keys, to sign with them once published, and retires old keys (Go duration)"`
	GracePeriod   string `toml:"grace_period" help:"how long a replaced DKIM key stays published (on the DNS page) after its successor signs, so mail signed with it still verifies (Go duration)"`
}

// MTASTS configures the MTA-STS policy (RFC 8461) that the HTTP listener
// serves at https://mta-sts.<domain>/.well-known/mta-sts.txt for every
// local domain.
type MTASTS struct {
	Mode   string `toml:"mode" help:"policy mode of every hosted domain: testing (senders report failures) or enforce (senders refuse unverified TLS); none withdraws the policy"`
	MaxAge int    `toml:"max_age" help:"seconds senders may cache the policy (RFC 8461 3.2: at most 31557600)"`
}

func defaultDKIM() DKIM {
	return DKIM{Sign: true, CheckInterval: "10m", GracePeriod: "168h"}
}

func defaultMTASTS() MTASTS {
	return MTASTS{Mode: "testing", MaxAge: 604800}
}

// Durations parses the DKIM durations (after Validate they parse).
func (d DKIM) Durations() (check, grace time.Duration) {
	check, _ = time.ParseDuration(d.CheckInterval)
	grace, _ = time.ParseDuration(d.GracePeriod)
	return check, grace
}

func (c *Config) validateDKIM(bad func(key, format string, a ...any)) {
	for _, d := range []struct {
		key, v string
		min    time.Duration
	}{
		{"dkim.check_interval", c.DKIM.CheckInterval, time.Second},
		{"dkim.grace_period", c.DKIM.GracePeriod, 0},
	} {
		if v, err := time.ParseDuration(d.v); err != nil || v < d.min {
			bad(d.key, "must be a Go duration of at least %s (such as 10m or 168h), got %q", d.min, d.v)
		}
	}
	oneOf(bad, "mta_sts.mode", c.MTASTS.Mode, "testing", "enforce", "none")
	if a := c.MTASTS.MaxAge; a < 1 || a > 31557600 {
		bad("mta_sts.max_age", "must be from 1 to 31557600 seconds (RFC 8461 3.2), got %d", a)
	}
}
